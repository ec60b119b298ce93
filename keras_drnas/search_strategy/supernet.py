"""What every supernet offers: its distributions, genotype, pruning, widening.

A supernet holds one `ArchitectureDistribution` per cell type; each forward
pass draws one sample per type and hands it to every cell of that type, as
the reference code does.
"""

import keras
import numpy as np

from keras_drnas.search_space.derivation import derive_genotype
from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.distribution import owned_distribution
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError


def check_image_shape(inputs, downsampling, model_name):
    """Clear errors for inputs a supernet cannot take."""
    shape = inputs.shape
    if len(shape) != 4:
        raise InputError(
            f"{model_name} takes images of shape (batch, height, width, channels), "
            f"got a tensor of shape {tuple(shape)}."
        )
    for size in shape[1:3]:
        if size is not None and (size < 2 * downsampling or size % downsampling):
            raise InputError(
                f"{model_name} halves the resolution {int(np.log2(downsampling))} "
                f"times, so height and width must be multiples of {downsampling}, at least {2 * downsampling} "
                f"(its last cells would see one pixel otherwise); got {shape[1]}x{shape[2]}. Resize or pad the images."
            )


def check_positive(**sizes):
    """Clear errors for sizes that must be at least 1 (channels, cells, classes)."""
    for name, value in sizes.items():
        if value < 1:
            raise InputError(f"{name} must be at least 1, got {name}={value}.")


def check_input_shape(image_shape, model_input_shape, what="the model"):
    """Image size and channels must match what the model was built for."""
    expected = tuple(model_input_shape[-3:])
    for got, want, axis in zip(image_shape, expected, ("height", "width", "channels")):
        if want is not None and got is not None and got != want:
            raise InputError(
                f"Images are {tuple(image_shape)} but {what} expects {expected}: the "
                f"{axis} differs. Resize the images or rebuild the model for this input."
            )


class Supernet(keras.Model):
    """Common API of the supernets: distributions, genotype, pruning, and
    the arguments every supernet takes.

    Subclasses set `space` and create their distributions with
    `make_distribution` in `__init__`, after calling this one.

    Args:
        channels: C, the width of the first cells (16).
        num_classes: classifier outputs (10).
        partial_channels: the paper's K: every edge mixes its ops on C/K of
            the channels (1); every cell width must be divisible by it.
        remat: recompute each cell's activations in the backward pass
            (see `DrNASCell`): less memory, one more forward pass per step.
        relaxation, inference, seed: see `ArchitectureDistribution`.
    """

    space = None

    def __init__(self, channels=16, num_classes=10, partial_channels=1, remat=False, relaxation="dirichlet",
                 inference="mean", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.num_classes = int(num_classes)
        self.partial_channels = int(partial_channels)
        check_positive(channels=self.channels, num_classes=self.num_classes)
        self.remat = bool(remat)
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=self.channels,
            num_classes=self.num_classes,
            partial_channels=self.partial_channels,
            op_names=list(self.space.op_names),
            remat=self.remat,
            relaxation=self.relaxation,
            inference=self.inference,
            seed=self.seed,
        )
        return config

    def build(self, input_shape):
        # Tracing `call` symbolically creates every sub-layer's variables.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))
        self.built = True

    def distributions(self):
        """{cell type: ArchitectureDistribution}."""
        raise NotImplementedError

    def cells(self):
        """Every `DrNASCell` of the network, in order."""
        return [layer for layer in keras_compat.flatten_layers(self, include_self=False)
                if isinstance(layer, DrNASCell)]

    def expected_op_weights(self):
        """{cell type: edges x ops NumPy array of Dirichlet means}."""
        return {k: keras.ops.convert_to_numpy(d.expected_weights()) for k, d in self.distributions().items()}

    def concentrations(self):
        """{cell type: edges x ops NumPy array of concentrations (beta)}."""
        return {k: keras.ops.convert_to_numpy(d.concentration()) for k, d in self.distributions().items()}

    def genotype(self):
        """The architecture of largest Dirichlet mean (see `derive_genotype`)."""
        return derive_genotype(self.space, self.expected_op_weights())

    def prune(self, ops_kept):
        """Keeps the `ops_kept` ops of largest concentration per edge in every cell type."""
        for cell_type, distribution in self.distributions().items():
            mask = distribution.prune(ops_kept)
            for cell in self.cells():
                if self.cell_type(cell) == cell_type:
                    cell.set_op_mask(mask)

    def widen(self, partial_channels, seed=None):
        """Sets `partial_channels` for every cell and widens their ops
        (progressive learning, Net2Net). Returns the (old variable, new
        variable, index) triples."""
        rng = np.random.default_rng(seed)
        pairs = []
        for cell in self.cells():
            pairs += cell.widen(partial_channels, rng)
        self.partial_channels = int(partial_channels)
        return pairs

    @staticmethod
    def cell_type(cell):
        """`"reduce"` or `"normal"`, the key of the cell's distribution."""
        return "reduce" if cell.reduction else "normal"

    def make_distribution(self, cell_type, op_mask, seed_offset):
        distribution = owned_distribution(
            self, self.space.num_edges, self.space.num_ops, op_mask, f"{cell_type}_distribution", seed_offset
        )
        distribution.build()
        return distribution
