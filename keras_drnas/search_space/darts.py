"""The DARTS space (Liu et al., 2019): normal and reduction cells of two
inputs and four intermediate nodes over 14 edges, each node keeping its two
strongest incoming edges, in a network that reduces at 1/3 and 2/3 of its
depth (the reference code's NetworkCIFAR and NetworkImageNet)."""

import keras
import numpy as np
from keras import layers

from keras_drnas.search_space.derived_network import DerivedNetwork, check_genotype, network_inputs
from keras_drnas.search_space.derived_network import drop_path as drop_path_layer
from keras_drnas.search_space.ops import OP_NAMES, batch_norm, conv, create_op, factorized_reduce, is_zero_op, relu_conv_bn
from keras_drnas.search_space.space import GenotypeError, SearchSpace, get_space, register_space
from keras_drnas.utils.errors import InputError

STEMS = ("cifar", "imagenet")
INPUT_NAMES = {0: "c_{k-2}", 1: "c_{k-1}"}  # the outputs of the two previous cells


@register_space
class DartsSpace(SearchSpace):
    """DARTS: inputs c_{k-2} (node 0) and c_{k-1} (node 1), intermediate
    nodes 2..5 each reading every earlier node, output the concatenation
    of the intermediate nodes.

    Derivation keeps, per intermediate node, the two incoming edges whose
    strongest op other than `none` weighs most, as the reference code does.
    The paper's eighth op, `none`, is disabled in the reference code; pass
    `DARTS.with_ops(("none",) + DARTS.op_names)` to search with it.
    """

    name = "darts"
    display_name = "DARTS"
    default_op_names = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                        "dil_conv_3x3", "dil_conv_5x5")
    num_input_nodes = 2
    default_intermediate_nodes = 4
    configurable_nodes = True
    cell_types = ("normal", "reduce")
    concatenates = True
    pool_batch_norm = True
    search_learning_rates = {"learning_rate": 0.1, "min_learning_rate": 0.0, "arch_learning_rate": 6e-4}
    progressive_stages = ((25, 6, 7), (25, 4, 4))
    edges_kept_per_node = 2
    network_arguments = ("channels", "num_cells", "num_classes", "input_shape", "stem", "auxiliary", "drop_path",
                         "mean", "std")

    def progressive_stages_for(self, stem="cifar", **network_kwargs):
        # ImageNet search keeps 3 of the 4 channel groups in its second stage.
        return ((25, 6, 7), (25, 3, 4)) if stem == "imagenet" else self.progressive_stages

    def derive_cell(self, weights):
        weights = self.check_weights(weights)
        candidates = np.array([not is_zero_op(name) for name in self.op_names])
        pairs = []
        for node in range(self.num_input_nodes, self.num_nodes):
            best = []
            for row, src in self.incoming(node):
                w = np.where(candidates, weights[row], -np.inf)
                best.append((src, int(np.argmax(w)), float(np.max(w))))
            best.sort(key=lambda item: -item[2])  # stable: ties keep the lower input
            pairs += [(self.op_names[op], src) for src, op, _ in best[: self.edges_kept_per_node]]
        return pairs

    def random_cell(self, rng):
        ops = [name for name in self.op_names if not is_zero_op(name)]
        pairs = []
        for node in range(self.num_input_nodes, self.num_nodes):
            inputs = sorted(rng.choice(node, size=self.edges_kept_per_node, replace=False))
            pairs += [(str(rng.choice(ops)), int(src)) for src in inputs]
        return pairs

    def genotype_ops(self):
        return tuple(op for op in OP_NAMES if not is_zero_op(op))

    def check_cell(self, pairs, cell_type):
        kept = self.edges_kept_per_node
        if len(pairs) % kept or not pairs:
            raise GenotypeError(
                f"{cell_type}: a DARTS cell keeps exactly {kept} input edges per node, so the edge count must "
                f"be even and positive (8 for 4 nodes), got {len(pairs)}."
            )
        for k, (op, src) in enumerate(pairs):
            node = self.num_input_nodes + k // kept
            self.check_genotype_op(op, cell_type)
            if not 0 <= src < node:
                raise GenotypeError(
                    f"{cell_type}: node {node} takes input node {src}, but a node can only read nodes "
                    f"0..{node - 1} (0 and 1 are the cell inputs)."
                )
        return len(pairs) // kept

    def kept_edges(self, pairs):
        space = self.with_intermediate_nodes(len(pairs) // self.edges_kept_per_node)
        found = []
        for k, (op, src) in enumerate(pairs):
            dst = self.num_input_nodes + k // self.edges_kept_per_node
            found.append((space.edges.index((dst, src)), dst, src, op))
        return found

    def describe(self, genotype):
        lines = []
        for cell in self.cell_types:
            lines.append(f"{self.display_name} {cell} cell (output: concat of nodes {list(getattr(genotype, cell + '_concat'))}):")
            pairs = getattr(genotype, cell)
            for k in range(0, len(pairs), 2):
                inputs = " + ".join(f"{op}({INPUT_NAMES.get(src, f'node {src}')})" for op, src in pairs[k : k + 2])
                lines.append(f"  node {2 + k // 2} = {inputs}")
        return "\n".join(lines)

    def node_names(self):
        names = super().node_names()
        names.update({node: f"${name}$" for node, name in INPUT_NAMES.items()})
        names[self.num_nodes] = "$c_{k}$"
        return names

    def build_network(self, genotype, channels=36, num_cells=20, num_classes=10, input_shape=(32, 32, 3),
                      stem="cifar", auxiliary=False, drop_path=None, mean=None, std=None):
        """The DARTS-space evaluation network (NetworkCIFAR / NetworkImageNet).

        Args:
            genotype: a DARTS-space `Genotype`.
            channels: C of the first cells (CIFAR 36; ImageNet 48).
            num_cells: cells in all (CIFAR 20; ImageNet 14).
            num_classes: the classifier's outputs.
            input_shape: the images' (height, width, channels).
            stem: `"cifar"` or `"imagenet"` (three stride-2 convs).
            auxiliary: add the auxiliary head at 2/3 depth (training model only).
            drop_path: drop-path rate (None or 0: no drop-path layers); change it per
                epoch with `keras_drnas.callbacks.DropPathSchedule`.
            mean: per-channel input mean, normalized inside the model (None: no normalization).
            std: per-channel input standard deviation, with `mean`.

        Example:
        >>> from keras_drnas.presets import DRNAS_CIFAR10
        >>> net = DARTS.build_network(DRNAS_CIFAR10, channels=8, num_cells=3, input_shape=(16, 16, 3))
        >>> net.model.output_shape
        (None, 10)
        """
        check_genotype(genotype, self)
        inputs, x = network_inputs(input_shape, mean, std)
        drop_layers = []
        stem_layers = stems(stem, channels)
        s0 = stem_layers[0](x)
        s1 = stem_layers[1](s0) if len(stem_layers) > 1 else s0
        reduction_prev = stem == "imagenet"
        reductions = reduction_cells(num_cells)
        width = channels
        aux_input = None
        for i in range(num_cells):
            reduction = i in reductions
            if reduction:
                width *= 2
            pairs = genotype.reduce if reduction else genotype.normal
            concat = genotype.reduce_concat if reduction else genotype.normal_concat
            prefix = f"cell_{i}"
            if reduction_prev:
                p0 = factorized_reduce(s0.shape[-1], width, True, f"{prefix}_preprocess0")(s0)
            else:
                p0 = relu_conv_bn(width, 1, 1, True, f"{prefix}_preprocess0")(s0)
            p1 = relu_conv_bn(width, 1, 1, True, f"{prefix}_preprocess1")(s1)
            nodes = [p0, p1]
            for k in range(0, len(pairs), 2):
                node = 2 + k // 2
                terms = []
                for j, (op, src) in enumerate(pairs[k : k + 2]):
                    stride = 2 if reduction and src < 2 else 1
                    y = create_op(op, width, stride, affine=True, layer_name=f"{prefix}_node_{node}_{j}_{op}")(nodes[src])
                    if not (op == "skip_connect" and stride == 1):
                        y = drop_path_layer(y, drop_path, drop_layers, f"{prefix}_node_{node}_{j}_drop_path")
                    terms.append(y)
                nodes.append(layers.Add(name=f"{prefix}_node_{node}")(terms))
            out = layers.Concatenate(name=f"{prefix}_concat")([nodes[n] for n in concat])
            s0, s1 = s1, out
            reduction_prev = reduction
            if i == 2 * num_cells // 3:
                aux_input = s1
        x = layers.GlobalAveragePooling2D(name="global_pooling")(s1)
        logits = layers.Dense(num_classes, name="classifier")(x)
        model = keras.Model(inputs, logits, name="darts_network")
        training_model = model
        if auxiliary and aux_input is not None:
            if aux_input.shape[1] is not None and aux_input.shape[1] < 5:
                raise InputError(
                    f"The auxiliary head pools 5x5 windows of the 2/3-depth features, which are "
                    f"{aux_input.shape[1]}x{aux_input.shape[2]} for {input_shape[0]}x{input_shape[1]} "
                    "inputs. Use larger images (CIFAR: 32x32) or auxiliary=False."
                )
            aux_logits = _auxiliary_head(aux_input, num_classes, stem == "imagenet")
            training_model = keras.Model(inputs, [logits, aux_logits], name="darts_network_with_auxiliary")
        return DerivedNetwork(model, training_model, drop_layers)


DARTS = get_space(DartsSpace.name)


def _auxiliary_head(x, num_classes, imagenet):
    """DARTS' auxiliary classifier on the 2/3-depth features."""
    pool = layers.AveragePooling2D(5, strides=2 if imagenet else 3, padding="valid", name="aux_pool")
    x = pool(layers.ReLU(name="aux_relu0")(x))
    x = conv(128, 1, name="aux_conv1")(x)
    x = layers.ReLU(name="aux_relu1")(batch_norm(True, name="aux_bn1")(x))
    x = layers.Conv2D(768, 2, use_bias=False, name="aux_conv2")(x)
    x = batch_norm(True, name="aux_bn2")(x) if not imagenet else x
    x = layers.ReLU(name="aux_relu2")(x)
    x = layers.GlobalAveragePooling2D(name="aux_flatten")(x)
    return layers.Dense(num_classes, name="aux_classifier")(x)


def check_stem(stem):
    if stem not in STEMS:
        raise InputError(f"stem must be one of {STEMS}, got {stem!r}.")
    return stem


def stems(stem, channels, stem_multiplier=3):
    """The stem layers of a DARTS-space network.

    CIFAR: one 3x3 conv to `stem_multiplier * channels`. ImageNet: two
    stride-2 convs (stem0) then one more (stem1), as the reference code.
    """
    if check_stem(stem) == "cifar":
        return [keras.Sequential([conv(channels * stem_multiplier, 3), batch_norm(True)], name="stem")]
    return [
        keras.Sequential(
            [conv(channels // 2, 3, 2), batch_norm(True), layers.ReLU(), conv(channels, 3, 2), batch_norm(True)],
            name="stem0",
        ),
        keras.Sequential([layers.ReLU(), conv(channels, 3, 2), batch_norm(True)], name="stem1"),
    ]


def stem_downsampling(stem):
    """How many times the stem halves the resolution."""
    return 3 if check_stem(stem) == "imagenet" else 0


def reduction_cells(num_cells):
    """Indices of the reduction cells: DARTS reduces at 1/3 and 2/3 of the depth."""
    return sorted({num_cells // 3, 2 * num_cells // 3})
