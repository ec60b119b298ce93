"""Supernets: whole search networks of the NAS-Bench-201 and DARTS spaces.

All cells of one type share one `ArchitectureDistribution`; each forward
pass draws one sample per type and hands it to every cell of that type.
"""

import keras
import numpy as np
from keras import layers

from keras_drnas.cells import DrNASCell
from keras_drnas.concentration import ArchitectureDistribution
from keras_drnas.genotype import derive_genotype
from keras_drnas.ops import batch_norm, conv, resnet_basic_block
from keras_drnas.spaces import DARTS, NAS_BENCH_201


def check_image_shape(inputs, downsampling, model_name):
    """Clear errors for inputs a supernet cannot take."""
    shape = inputs.shape
    if len(shape) != 4:
        raise ValueError(
            f"{model_name} takes images of shape (batch, height, width, channels), "
            f"got a tensor of shape {tuple(shape)}."
        )
    for size in shape[1:3]:
        if size is not None and (size < downsampling or size % downsampling):
            raise ValueError(
                f"{model_name} halves the resolution {int(np.log2(downsampling))} "
                f"times, so height and width must be multiples of {downsampling}; "
                f"got {shape[1]}x{shape[2]}. Resize or pad the images."
            )


class Supernet(keras.Model):
    """Common API of the supernets: distributions, genotype, pruning."""

    space = None

    def build(self, input_shape):
        # Tracing `call` symbolically creates every sub-layer's variables.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))
        self.built = True

    def distributions(self):
        """{cell type: ArchitectureDistribution}."""
        raise NotImplementedError

    def cells(self):
        return [layer for layer in self._flatten_layers(include_self=False) if isinstance(layer, DrNASCell)]

    def expected_op_weights(self):
        """{cell type: edges x ops numpy array of Dirichlet means}."""
        return {k: keras.ops.convert_to_numpy(d.expected_weights()) for k, d in self.distributions().items()}

    def concentrations(self):
        """{cell type: edges x ops numpy array of beta}."""
        return {k: keras.ops.convert_to_numpy(d.concentration()) for k, d in self.distributions().items()}

    def genotype(self):
        """The architecture of largest Dirichlet mean (see `derive_genotype`)."""
        return derive_genotype(self.space, self.expected_op_weights())

    def prune(self, k):
        """Keeps the top-k ops per edge by concentration in every cell type."""
        for cell_type, distribution in self.distributions().items():
            mask = distribution.prune(k)
            for cell in self.cells():
                if self._cell_type(cell) == cell_type:
                    cell.set_op_mask(mask)

    def widen(self, partial_channels, seed=None):
        """Sets K for every cell and widens their ops (progressive learning).

        Returns the (old variable, new variable, index) triples.
        """
        rng = np.random.default_rng(seed)
        pairs = []
        for cell in self.cells():
            pairs += cell.widen(partial_channels, rng)
        self.partial_channels = int(partial_channels)
        return pairs

    def _cell_type(self, cell):
        return "reduce" if cell.reduction else "normal"

    def _make_distribution(self, name, mask, seed_offset):
        distribution = ArchitectureDistribution(
            self.space.num_edges,
            self.space.num_ops,
            relaxation=self.relaxation,
            inference=self.inference,
            op_mask=mask,
            # Distinct seeds, or both cell types would draw the same theta.
            seed=None if self.seed is None else self.seed + seed_offset,
            name=name,
        )
        distribution.build()
        return distribution


@keras.saving.register_keras_serializable(package="keras_drnas")
class NASBench201Supernet(Supernet):
    """The NAS-Bench-201 search network.

    Stem conv3x3 + BN, then three stages of N cells at C, 2C and 4C channels
    joined by stride-2 residual blocks, BN-ReLU, global pooling and a dense
    classifier that returns logits.

    Args:
        channels: C, the width of the first stage (paper: 16).
        cells_per_stage: N (paper: 5).
        num_classes: classifier outputs.
        partial_channels: K; every stage width must be divisible by K.
        op_names: candidate ops (default: the five of NAS-Bench-201).
        op_mask: edges x ops booleans for a pruned search.
        relaxation, inference, seed: see `ArchitectureDistribution`.

    Example:
    >>> net = NASBench201Supernet(channels=8, cells_per_stage=1, seed=0)
    >>> net(keras.ops.zeros((2, 16, 16, 3))).shape
    TensorShape([2, 10])
    >>> net.genotype().space
    'nas-bench-201'
    """

    def __init__(
        self,
        channels=16,
        cells_per_stage=5,
        num_classes=10,
        partial_channels=1,
        op_names=None,
        op_mask=None,
        relaxation="dirichlet",
        inference="mean",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.space = NAS_BENCH_201 if op_names is None else NAS_BENCH_201.with_ops(op_names)
        self.channels = int(channels)
        self.cells_per_stage = int(cells_per_stage)
        self.num_classes = int(num_classes)
        self.partial_channels = int(partial_channels)
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed
        self.normal_distribution = self._make_distribution("normal_distribution", op_mask, 0)
        self.stem = keras.Sequential([conv(self.channels, 3), batch_norm(True)], name="stem")
        self.body = []
        width = self.channels
        for stage in range(3):
            if stage:
                self.body.append(resnet_basic_block(width, width * 2, 2, f"reduction_{stage}"))
                width *= 2
            for i in range(self.cells_per_stage):
                self.body.append(
                    DrNASCell(
                        self.space,
                        width,
                        partial_channels=self.partial_channels,
                        op_mask=self.normal_distribution.op_mask,
                        own_concentration=False,
                        name=f"cell_{stage}_{i}",
                    )
                )
        self.head = keras.Sequential(
            [batch_norm(True), layers.ReLU(), layers.GlobalAveragePooling2D()], name="lastact"
        )
        self.classifier = layers.Dense(self.num_classes, dtype="float32", name="classifier")

    def distributions(self):
        return {"normal": self.normal_distribution}

    def call(self, inputs, training=None):
        check_image_shape(inputs, 4, "The NAS-Bench-201 supernet")
        op_weights = self.normal_distribution.op_weights(training=training)
        x = self.stem(inputs, training=training)
        for layer in self.body:
            if isinstance(layer, DrNASCell):
                x = layer(x, op_weights=op_weights, training=training)
            else:
                x = layer(x, training=training)
        return self.classifier(self.head(x, training=training))

    def get_config(self):
        return {
            "name": self.name,
            "channels": self.channels,
            "cells_per_stage": self.cells_per_stage,
            "num_classes": self.num_classes,
            "partial_channels": self.partial_channels,
            "op_names": list(self.space.op_names),
            "op_mask": self.normal_distribution.op_mask,
            "relaxation": self.relaxation,
            "inference": self.inference,
            "seed": self.seed,
        }


def darts_stem(kind, channels, stem_multiplier):
    """CIFAR: one conv (3C channels). ImageNet: three stride-2 convs."""
    if kind == "cifar":
        return [keras.Sequential([conv(channels * stem_multiplier, 3), batch_norm(True)], name="stem")]
    if kind == "imagenet":
        return [
            keras.Sequential(
                [
                    conv(channels // 2, 3, 2),
                    batch_norm(True),
                    layers.ReLU(),
                    conv(channels, 3, 2),
                    batch_norm(True),
                ],
                name="stem0",
            ),
            keras.Sequential([layers.ReLU(), conv(channels, 3, 2), batch_norm(True)], name="stem1"),
        ]
    raise ValueError(f"stem must be 'cifar' or 'imagenet', got {kind!r}.")


def reduction_layers(num_cells):
    """DARTS reduces at 1/3 and 2/3 of the depth."""
    return sorted({num_cells // 3, 2 * num_cells // 3})


@keras.saving.register_keras_serializable(package="keras_drnas")
class DartsSupernet(Supernet):
    """The DARTS-space search network (normal and reduction cells).

    Args:
        channels: C of the first cells (proxy 16; direct search 36 / 48).
        num_cells: total cells (proxy 8; CIFAR direct search 20).
        steps: intermediate nodes per cell (4).
        num_classes: classifier outputs.
        partial_channels: K, the partial-channel divisor.
        stem: `"cifar"` (one conv, 3C channels) or `"imagenet"` (three
            stride-2 convs, inputs a multiple of 32).
        stem_multiplier: width of the CIFAR stem in units of C.
        op_names: candidate ops (default: the seven of the reference code).
        op_mask: `{"normal": mask, "reduce": mask}` for a pruned search.
        relaxation, inference, seed: see `ArchitectureDistribution`.

    Example:
    >>> net = DartsSupernet(channels=8, num_cells=3, seed=0)
    >>> net(keras.ops.zeros((2, 16, 16, 3))).shape
    TensorShape([2, 10])
    """

    def __init__(
        self,
        channels=16,
        num_cells=8,
        steps=4,
        num_classes=10,
        partial_channels=1,
        stem="cifar",
        stem_multiplier=3,
        op_names=None,
        op_mask=None,
        relaxation="dirichlet",
        inference="mean",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        space = DARTS if op_names is None else DARTS.with_ops(op_names)
        self.space = space.with_steps(steps) if steps != space.intermediate_nodes else space
        self.channels = int(channels)
        self.num_cells = int(num_cells)
        self.steps = int(steps)
        self.num_classes = int(num_classes)
        self.partial_channels = int(partial_channels)
        self.stem_kind = stem
        self.stem_multiplier = int(stem_multiplier)
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed
        op_mask = op_mask or {}
        self.normal_distribution = self._make_distribution("normal_distribution", op_mask.get("normal"), 0)
        self.reduce_distribution = self._make_distribution("reduce_distribution", op_mask.get("reduce"), 1)
        self.stems = darts_stem(stem, self.channels, self.stem_multiplier)
        reductions = reduction_layers(self.num_cells)
        width = self.channels
        reduction_prev = stem == "imagenet"
        self.cells_list = []
        for i in range(self.num_cells):
            reduction = i in reductions
            if reduction:
                width *= 2
            distribution = self.reduce_distribution if reduction else self.normal_distribution
            self.cells_list.append(
                DrNASCell(
                    self.space,
                    width,
                    reduction=reduction,
                    reduction_prev=reduction_prev,
                    partial_channels=self.partial_channels,
                    op_mask=distribution.op_mask,
                    own_concentration=False,
                    name=f"cell_{i}",
                )
            )
            reduction_prev = reduction
        self.head = layers.GlobalAveragePooling2D(name="global_pooling")
        self.classifier = layers.Dense(self.num_classes, dtype="float32", name="classifier")

    @property
    def downsampling(self):
        return 2 ** (len(reduction_layers(self.num_cells)) + (3 if self.stem_kind == "imagenet" else 0))

    def distributions(self):
        return {"normal": self.normal_distribution, "reduce": self.reduce_distribution}

    def call(self, inputs, training=None):
        check_image_shape(inputs, self.downsampling, "The DARTS supernet")
        weights = {k: d.op_weights(training=training) for k, d in self.distributions().items()}
        if self.stem_kind == "imagenet":
            s0 = self.stems[0](inputs, training=training)
            s1 = self.stems[1](s0, training=training)
        else:
            s0 = s1 = self.stems[0](inputs, training=training)
        for cell in self.cells_list:
            out = cell([s0, s1], op_weights=weights[self._cell_type(cell)], training=training)
            s0, s1 = s1, out
        return self.classifier(self.head(s1))

    def get_config(self):
        return {
            "name": self.name,
            "channels": self.channels,
            "num_cells": self.num_cells,
            "steps": self.steps,
            "num_classes": self.num_classes,
            "partial_channels": self.partial_channels,
            "stem": self.stem_kind,
            "stem_multiplier": self.stem_multiplier,
            "op_names": list(self.space.op_names),
            "op_mask": {k: d.op_mask for k, d in self.distributions().items()},
            "relaxation": self.relaxation,
            "inference": self.inference,
            "seed": self.seed,
        }


def nas_bench_201(C=16, N=5, num_classes=10, K=1, **kwargs):
    """The NAS-Bench-201 supernet in the paper's notation (C, N, K)."""
    return NASBench201Supernet(C, N, num_classes, partial_channels=K, **kwargs)


def darts(C=16, layers=8, steps=4, num_classes=10, K=1, stem="cifar", **kwargs):  # noqa: A002
    """The DARTS-space supernet in the paper's notation (C, layers, K)."""
    return DartsSupernet(C, layers, steps, num_classes, partial_channels=K, stem=stem, **kwargs)


SUPERNETS = {NAS_BENCH_201.name: nas_bench_201, DARTS.name: darts}
