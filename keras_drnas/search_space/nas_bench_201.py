"""The NAS-Bench-201 space (Dong & Yang, 2020): one cell type of four nodes
and six edges, every edge keeping its strongest op (`none` included), in a
network of three stages joined by residual blocks."""

import re

import keras
from keras import layers

from keras_drnas.search_space.derived_network import (
    DerivedNetwork,
    check_genotype,
    network_inputs,
)
from keras_drnas.search_space.ops import batch_norm, conv, create_op, is_zero_op, relu_conv_bn
from keras_drnas.search_space.space import GenotypeError, SearchSpace, get_space, register_space

# ASCII digits only (str.isdigit also accepts '²' and '٣'), written as the
# benchmark writes them (no leading zeros), so a parsed string prints back equal.
_ITEM = re.compile(r"([a-z0-9_]+)~(0|[1-9][0-9]{0,8})", re.ASCII)


@register_space
class NASBench201Space(SearchSpace):
    """NAS-Bench-201: nodes 0 (input) to 3 (output), edges 1<-0, 2<-0, 2<-1,
    3<-0, 3<-1, 3<-2, five candidate ops.

    Its genotype string is the benchmark's `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
    """

    name = "nas-bench-201"
    display_name = "NAS-Bench-201"
    aliases = ("nas_bench_201", "nasbench201", "nb201")
    default_op_names = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    string_key = "nb201_string"
    network_arguments = ("channels", "cells_per_stage", "num_classes", "input_shape", "mean", "std")

    def to_string(self, genotype):
        nodes, k = [], 0
        for node in range(1, self.num_nodes):
            nodes.append("|" + "|".join(f"{op}~{src}" for op, src in genotype.normal[k : k + node]) + "|")
            k += node
        return "+".join(nodes)

    def parse(self, text):
        nodes = text.strip().split("+")
        if len(nodes) != self.num_nodes - 1:
            raise GenotypeError(
                f"A NAS-Bench-201 string has {self.num_nodes - 1} '+'-separated nodes, got {len(nodes)}: {text[:80]!r}."
            )
        pairs = []
        for node, node_text in enumerate(nodes, 1):
            if not (len(node_text) > 1 and node_text.startswith("|") and node_text.endswith("|")):
                raise GenotypeError(f"Not a NAS-Bench-201 string (node {node_text[:80]!r}): {text[:80]!r}.")
            items = node_text[1:-1].split("|")
            if len(items) != node:
                raise GenotypeError(f"Node {node} of a NAS-Bench-201 string takes {node} inputs, got {node_text[:80]!r}.")
            for item in items:
                match = _ITEM.fullmatch(item)
                if not match:
                    raise GenotypeError(
                        "Expected 'op~input' (an op name and an input node number) in a NAS-Bench-201 string, "
                        f"got {item[:80]!r}."
                    )
                pairs.append((match[1], int(match[2])))
        return {"normal": pairs}

    def build_network(self, genotype, channels=16, cells_per_stage=5, num_classes=10, input_shape=(32, 32, 3),
                      mean=None, std=None):
        """The NAS-Bench-201 evaluation network of a genotype (affine BN).

        Args:
            genotype: a NAS-Bench-201 `Genotype`.
            channels: C, the width of the first stage (16).
            cells_per_stage: the paper's N (5).
            num_classes: the classifier's outputs.
            input_shape: the images' (height, width, channels).
            mean: per-channel input mean, normalized inside the model (None: no normalization).
            std: per-channel input standard deviation, with `mean`.

        Example:
        >>> from keras_drnas.search_space import Genotype
        >>> genotype = Genotype.from_string(
        ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        ...     "nb201")
        >>> net = NAS_BENCH_201.build_network(genotype, channels=8, cells_per_stage=1, input_shape=(8, 8, 1))
        >>> net.model.output_shape
        (None, 10)
        """
        check_genotype(genotype, self)
        inputs, x = network_inputs(input_shape, mean, std)
        x = stem(channels)(x)
        width = channels
        for stage in range(3):
            if stage:
                x = residual_block(width, width * 2, 2, f"reduction_{stage}")(x)
                width *= 2
            for i in range(cells_per_stage):
                nodes = [x]
                for node in range(1, self.num_nodes):
                    terms = []
                    for (dst, src), (op, _) in zip(self.edges, genotype.normal):
                        if dst == node and not is_zero_op(op):
                            name = f"cell_{stage}_{i}_edge_{dst}_{src}_{op}"
                            terms.append(create_op(op, width, 1, affine=True, layer_name=name)(nodes[src]))
                    if not terms:  # every input edge is 'none': the node is zero
                        terms = [layers.Rescaling(0.0, name=f"cell_{stage}_{i}_zero_{node}")(nodes[0])]
                    nodes.append(terms[0] if len(terms) == 1 else layers.Add(name=f"cell_{stage}_{i}_node_{node}")(terms))
                x = nodes[-1]
        x = batch_norm(True, name="lastact_bn")(x)
        x = layers.ReLU(name="lastact_relu")(x)
        x = layers.GlobalAveragePooling2D(name="global_pooling")(x)
        outputs = layers.Dense(num_classes, name="classifier")(x)
        model = keras.Model(inputs, outputs, name="nas_bench_201_network")
        return DerivedNetwork(model, model, [])


NAS_BENCH_201 = get_space(NASBench201Space.name)


def stem(channels, name="stem"):
    """A 3x3 conv and an affine batch norm."""
    return keras.Sequential([conv(channels, 3), batch_norm(True)], name=name)


def residual_block(in_channels, channels, stride, name):
    """NAS-Bench-201's residual block between stages (affine batch norms).

    The shortcut is a 2x2 average pool and a 1x1 conv at stride 2, a
    ReLU-1x1-conv-BN when only the width changes, and the identity otherwise.
    """
    inputs = keras.Input((None, None, in_channels))
    x = relu_conv_bn(channels, 3, stride, True, "conv_a")(inputs)
    x = relu_conv_bn(channels, 3, 1, True, "conv_b")(x)
    if stride == 2:
        shortcut = layers.AveragePooling2D(2, 2)(inputs)
        shortcut = conv(channels, 1, name="downsample")(shortcut)
    elif in_channels != channels:
        shortcut = relu_conv_bn(channels, 1, 1, True, "downsample")(inputs)
    else:
        shortcut = inputs
    outputs = layers.Add()([shortcut, x])
    return keras.Model(inputs, outputs, name=name)
