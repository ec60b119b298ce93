"""The derived network: a genotype as a plain Keras model (what is shipped).

Built only from Keras' built-in layers, so `keras.models.load_model` needs no
custom objects and TFLite converts it with built-in ops. Drop-path is a
`Dropout` whose noise shape drops whole examples (DARTS' drop_path), and the
auxiliary head exists only in the training model.
"""

import dataclasses

import keras
from keras import layers

from keras_drnas.search_space.genotype import Genotype, GenotypeError
from keras_drnas.search_space.ops import batch_norm, conv, create_op, factorized_reduce, relu_conv_bn
from keras_drnas.search_space.skeletons import darts_stem, nas_bench_201_stem, reduction_cells, resnet_basic_block
from keras_drnas.search_space.spaces import NAS_BENCH_201
from keras_drnas.utils.errors import InputError


@dataclasses.dataclass
class DerivedNetwork:
    """`model` is shipped (one output); `training_model` adds the auxiliary
    logits when there is an auxiliary head. Both share every layer."""

    model: keras.Model
    training_model: keras.Model
    drop_path_layers: list


def _inputs(input_shape, mean, std):
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if mean is not None and std is not None:
        # Ship the normalization inside the model: it takes raw [0, 1] pixels.
        x = layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="normalize")(x)
    return inputs, x


def _drop_path(x, rate, registry, name):
    if not rate:  # Keras' Dropout draws no noise at rate 0, so a later schedule could not raise it
        return x
    layer = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=name)
    registry.append(layer)
    return layer(x)


def _check_genotype(genotype, space_name):
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"Expected a Genotype, got {type(genotype).__name__}; load files with Genotype.load.")
    if genotype.space != space_name:
        raise GenotypeError(
            f"This builder makes {space_name} networks but the genotype is of the "
            f"{genotype.space} space."
        )


def nas_bench_201_network(genotype, channels=16, cells_per_stage=5, num_classes=10, input_shape=(32, 32, 3),
                          mean=None, std=None):
    """The NAS-Bench-201 evaluation network of a genotype (affine BN).

    Args:
        genotype: a NAS-Bench-201 `Genotype`.
        channels: C, the width of the first stage (16).
        cells_per_stage: the paper's N (5).
        num_classes, input_shape: the classifier's outputs and inputs.
        mean, std: per-channel input normalization built into the model.

    Example:
    >>> genotype = Genotype.from_nb201_string(
    ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> model = nas_bench_201_network(genotype, channels=8, cells_per_stage=1, input_shape=(8, 8, 1)).model
    >>> model.output_shape
    (None, 10)
    """
    _check_genotype(genotype, NAS_BENCH_201.name)
    inputs, x = _inputs(input_shape, mean, std)
    x = nas_bench_201_stem(channels)(x)
    width = channels
    for stage in range(3):
        if stage:
            x = resnet_basic_block(width, width * 2, 2, f"reduction_{stage}")(x)
            width *= 2
        for i in range(cells_per_stage):
            nodes = [x]
            for node in range(1, NAS_BENCH_201.num_nodes):
                terms = []
                for (dst, src), (op, _) in zip(NAS_BENCH_201.edges, genotype.normal):
                    if dst == node and op != "none":
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


def darts_network(
    genotype,
    channels=36,
    num_cells=20,
    num_classes=10,
    input_shape=(32, 32, 3),
    stem="cifar",
    auxiliary=False,
    drop_path=None,
    mean=None,
    std=None,
):
    """The DARTS-space evaluation network (NetworkCIFAR / NetworkImageNet).

    Args:
        genotype: a DARTS-space `Genotype`.
        channels: C of the first cells (CIFAR 36; ImageNet 48).
        num_cells: cells in all (CIFAR 20; ImageNet 14).
        num_classes, input_shape: the classifier's outputs and inputs.
        stem: `"cifar"` or `"imagenet"` (three stride-2 convs).
        auxiliary: add the auxiliary head at 2/3 depth (training model only).
        drop_path: drop-path rate (None or 0: no drop-path layers); change it per
            epoch with `keras_drnas.callbacks.DropPathSchedule`.
        mean, std: per-channel input normalization built into the model.

    Example:
    >>> from keras_drnas.derived_model.presets import DRNAS_CIFAR10
    >>> net = darts_network(DRNAS_CIFAR10, channels=8, num_cells=3, input_shape=(16, 16, 3))
    >>> net.model.output_shape
    (None, 10)
    """
    _check_genotype(genotype, "darts")
    inputs, x = _inputs(input_shape, mean, std)
    drop_layers = []
    stem_layers = darts_stem(stem, channels)
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
                    y = _drop_path(y, drop_path, drop_layers, f"{prefix}_node_{node}_{j}_drop_path")
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


NAS_BENCH_201_ARGUMENTS = ("channels", "cells_per_stage", "num_classes", "input_shape", "mean", "std")
DARTS_ARGUMENTS = ("channels", "num_cells", "num_classes", "input_shape", "stem", "auxiliary", "drop_path", "mean", "std")


def build_network(genotype, **kwargs):
    """The evaluation network of `genotype`, for its space.

    Takes the arguments of `nas_bench_201_network` or `darts_network`. The
    arguments of the other space are accepted and ignored, so one set of
    settings serves both (`cells_per_stage` for NAS-Bench-201, `num_cells`,
    `stem`, `auxiliary` and `drop_path` for DARTS); any other keyword is an
    error.
    """
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"Expected a Genotype, got {type(genotype).__name__}.")
    known = set(NAS_BENCH_201_ARGUMENTS) | set(DARTS_ARGUMENTS)
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InputError(f"build_network got unknown arguments {unknown}; it takes {', '.join(sorted(known))}.")
    if genotype.space == NAS_BENCH_201.name:
        return nas_bench_201_network(genotype, **{k: v for k, v in kwargs.items() if k in NAS_BENCH_201_ARGUMENTS})
    return darts_network(genotype, **{k: v for k, v in kwargs.items() if k in DARTS_ARGUMENTS})
