"""The derived network: a genotype as a plain Keras model (what is shipped).

Built only from Keras' built-in layers, so `keras.models.load_model` needs no
custom objects and TFLite converts it with built-in ops. Drop-path is a
`Dropout` whose noise shape drops whole examples (DARTS' drop_path), and the
auxiliary head exists only in the training model.
"""

import dataclasses

import keras
from keras import layers

from keras_drnas.genotype import Genotype, GenotypeError
from keras_drnas.ops import batch_norm, conv, create_op, factorized_reduce, relu_conv_bn, resnet_basic_block
from keras_drnas.supernets import darts_stem, reduction_layers
from keras_drnas.spaces import NAS_BENCH_201


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
    if rate is None:
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


def nas_bench_201_network(genotype, C=16, N=5, num_classes=10, input_shape=(32, 32, 3), mean=None, std=None):
    """The NAS-Bench-201 evaluation network of a genotype (affine BN)."""
    _check_genotype(genotype, NAS_BENCH_201.name)
    inputs, x = _inputs(input_shape, mean, std)
    x = conv(C, 3, name="stem_conv")(x)
    x = batch_norm(True, name="stem_bn")(x)
    width = C
    for stage in range(3):
        if stage:
            x = resnet_basic_block(width, width * 2, 2, f"reduction_{stage}")(x)
            width *= 2
        for i in range(N):
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
    C=36,
    layers_count=20,
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
        C, layers_count: initial channels and cells (CIFAR 36 / 20; ImageNet 48 / 14).
        stem: `"cifar"` or `"imagenet"` (three stride-2 convs).
        auxiliary: add the auxiliary head at 2/3 depth (training model only).
        drop_path: drop-path rate (None: no drop-path layers); change it per
            epoch with `keras_drnas.callbacks.DropPathSchedule`.
        mean, std: per-channel input normalization built into the model.
    """
    _check_genotype(genotype, "darts")
    inputs, x = _inputs(input_shape, mean, std)
    drop_layers = []
    if stem == "imagenet":
        stem0, stem1 = darts_stem("imagenet", C, 3)
        s0 = stem0(x)
        s1 = stem1(s0)
        reduction_prev = True
    else:
        s0 = s1 = darts_stem("cifar", C, 3)[0](x)
        reduction_prev = False
    reductions = reduction_layers(layers_count)
    width = C
    aux_input = None
    for i in range(layers_count):
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
        if i == 2 * layers_count // 3:
            aux_input = s1
    x = layers.GlobalAveragePooling2D(name="global_pooling")(s1)
    logits = layers.Dense(num_classes, name="classifier")(x)
    model = keras.Model(inputs, logits, name="darts_network")
    training_model = model
    if auxiliary and aux_input is not None:
        if aux_input.shape[1] is not None and aux_input.shape[1] < 5:
            raise ValueError(
                f"The auxiliary head pools 5x5 windows of the 2/3-depth features, which are "
                f"{aux_input.shape[1]}x{aux_input.shape[2]} for {input_shape[0]}x{input_shape[1]} "
                "inputs. Use larger images (CIFAR: 32x32) or auxiliary=False."
            )
        aux_logits = _auxiliary_head(aux_input, num_classes, stem == "imagenet")
        training_model = keras.Model(inputs, [logits, aux_logits], name="darts_network_with_auxiliary")
    return DerivedNetwork(model, training_model, drop_layers)


def build_network(genotype, **kwargs):
    """Dispatches on the genotype's space; see the two builders for args."""
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"Expected a Genotype, got {type(genotype).__name__}.")
    if genotype.space == NAS_BENCH_201.name:
        allowed = {"C", "N", "num_classes", "input_shape", "mean", "std"}
        return nas_bench_201_network(genotype, **{k: v for k, v in kwargs.items() if k in allowed})
    allowed = {"C", "layers_count", "num_classes", "input_shape", "stem", "auxiliary", "drop_path", "mean", "std"}
    return darts_network(genotype, **{k: v for k, v in kwargs.items() if k in allowed})


def count_parameters(model):
    """Trainable + batch-norm parameters, as PyTorch counts them (the paper
    excludes the auxiliary head, which lives only in the training model)."""
    return sum(int(keras.ops.size(w)) for w in model.weights if "moving_" not in w.path and "normalize" not in w.path)


def _copy_matching(source, target):
    """Copies weights of equal name and shape, in order; returns the count.

    Search batch norms have no scale/offset (only statistics), so those of
    the derived network keep their initial values.
    """
    pool = {}
    for weight in source.weights:
        pool.setdefault(weight.name, []).append(weight)
    copied = 0
    for weight in target.weights:
        candidates = pool.get(weight.name, [])
        if candidates and tuple(candidates[0].shape) == tuple(weight.shape):
            weight.assign(candidates.pop(0))
            copied += 1
    return copied


def _supernet_pairs(model, supernet, genotype):
    """(derived layer, supernet layer) pairs that compute the same thing."""
    from keras_drnas.supernets import NASBench201Supernet

    if isinstance(supernet, NASBench201Supernet):
        pairs = [("stem_conv", supernet.stem.layers[0]), ("stem_bn", supernet.stem.layers[1]),
                 ("lastact_bn", supernet.head.layers[0]), ("classifier", supernet.classifier)]
        for layer in supernet.body:
            if layer.name.startswith("reduction_"):
                pairs.append((layer.name, layer))
            else:
                for edge in layer.edges:
                    for op in edge.candidate_ops:
                        pairs.append((f"{layer.name}_{edge.name}_{op.name}", op))
        return pairs
    pairs = [(stem.name, stem) for stem in supernet.stems] + [("classifier", supernet.classifier)]
    for cell in supernet.cells_list:
        pairs += [(f"{cell.name}_{p.name}", p) for p in cell.preprocess]
        cell_pairs = genotype.reduce if cell.reduction else genotype.normal
        for k, (op_name, src) in enumerate(cell_pairs):
            node = 2 + k // 2
            edge = cell.edges[cell.space.edges.index((node, src))]
            for op in edge.candidate_ops:
                if op.name == op_name:
                    pairs.append((f"{cell.name}_node_{node}_{k % 2}_{op_name}", op))
    return pairs


def inherit_supernet_weights(model, supernet, genotype):
    """Initializes a derived network from the matching parts of a searched
    supernet: stem, reduction blocks, preprocessing, the chosen op of every
    edge, classifier. Ops are inherited only where widths agree (K = 1 in
    the last stage); search batch norms carry statistics but no scale/offset.

    Returns (weights copied, weights of the derived network).
    """
    names = {layer.name for layer in model.layers}
    copied = 0
    for name, source in _supernet_pairs(model, supernet, genotype):
        if name in names:
            copied += _copy_matching(source, model.get_layer(name))
    return copied, len(model.weights)


def count_flops(model, input_shape=None):
    """Multiply-adds of one image through the convolutions and dense layers
    (the "FLOPs" NAS papers report), read off the traced TensorFlow graph.

    Stride-2 dilated convolutions are counted as computed here (at stride 1,
    then subsampled), which is more than a framework with strided dilation
    would spend.
    """
    import numpy as np
    import tensorflow as tf

    shape = tuple(input_shape or model.inputs[0].shape[1:])
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1,) + shape, tf.float32)
    ).graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("Conv2D", "DepthwiseConv2dNative"):
            out = op.outputs[0].shape.as_list()
            kernel = op.inputs[1].shape.as_list()
            total += int(np.prod(out[1:3])) * int(np.prod(kernel))
        elif op.type == "MatMul":
            a, b = op.inputs[0].shape.as_list(), op.inputs[1].shape.as_list()
            total += a[0] * a[1] * b[1]
    return total
