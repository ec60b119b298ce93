"""Candidate operations of both search spaces, built from Keras layers only.

Every op is a small `keras.Sequential` (or functional) model of built-in
layers, so the same factory serves the supernet during search and the plain
derived network that is shipped: a saved derived model needs no custom
objects and converts to TFLite with built-in ops only.

Ops follow the reference code: ReLU-Conv-BN blocks, separable and dilated
convolutions as in DARTS, pools followed by a non-affine batch norm in search
(DARTS space), and a factorized reduce for `skip_connect` on stride-2 edges.
Padding is Keras' `"same"`: identical to the reference at stride 1, shifted
by one pixel at stride 2 (TensorFlow pads asymmetrically).

What makes an op fast in a search: on TensorFlow the mixed op fuses batch
norms and folds the mixing weight into an op's last one
(`keras_drnas.search_strategy.fused_ops`). It recognises a `Sequential`
ending in `BatchNormalization` (a leading `ReLU` is then shared by all
edges leaving a node), a `Sequential` of pools and `Identity` only, and a
functional model ending in `BatchNormalization`. A new op of another shape
is correct but runs as `weight * op(x)`.
"""

import keras
from keras import layers

from keras_drnas.utils.errors import InputError

ZERO_OP = "none"

# PyTorch's default conv init (kaiming_uniform, a=sqrt(5)) as in the reference.
CONV_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"},
}
BN_MOMENTUM = 0.9  # PyTorch momentum 0.1
BN_EPSILON = 1e-5


def batch_norm(affine, name=None):
    return layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        center=affine,
        scale=affine,
        name=name,
    )


def conv(filters, kernel_size, stride=1, dilation=1, name=None):
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        dilation_rate=dilation,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_INIT,
        name=name,
    )


def separable_conv(filters, kernel_size, stride=1, dilation=1, name=None):
    return layers.SeparableConv2D(
        filters,
        kernel_size,
        strides=stride,
        dilation_rate=dilation,
        padding="same",
        use_bias=False,
        depthwise_initializer=CONV_INIT,
        pointwise_initializer=CONV_INIT,
        name=name,
    )


def subsample():
    """Takes every second pixel: a stride-2 dilated conv done as stride 1."""
    return layers.MaxPooling2D(pool_size=1, strides=2)


def relu_conv_bn(channels, kernel_size, stride, affine, name):
    return keras.Sequential(
        [
            layers.ReLU(),
            conv(channels, kernel_size, stride),
            batch_norm(affine),
        ],
        name=name,
    )


def sep_conv(channels, kernel_size, stride, affine, name):
    """DARTS SepConv: two ReLU-separable-BN blocks, only the first strided."""
    return keras.Sequential(
        [
            layers.ReLU(),
            separable_conv(channels, kernel_size, stride),
            batch_norm(affine),
            layers.ReLU(),
            separable_conv(channels, kernel_size, 1),
            batch_norm(affine),
        ],
        name=name,
    )


def dil_conv(channels, kernel_size, stride, affine, name):
    """DARTS DilConv: ReLU, dilation-2 separable conv, BN.

    TensorFlow forbids dilation and stride together, so a stride-2 edge
    convolves at stride 1 and keeps every second pixel, which is the same
    function.
    """
    stack = [layers.ReLU(), separable_conv(channels, kernel_size, 1, dilation=2)]
    if stride == 2:
        stack.append(subsample())
    stack.append(batch_norm(affine))
    return keras.Sequential(stack, name=name)


def pool(kind, stride, affine, with_bn, name):
    pool_layer = {"avg": layers.AveragePooling2D, "max": layers.MaxPooling2D}[kind]
    # "same" average pooling excludes padding, like count_include_pad=False.
    stack = [pool_layer(pool_size=3, strides=stride, padding="same")]
    if with_bn:
        stack.append(batch_norm(affine))
    return keras.Sequential(stack, name=name)


def factorized_reduce(in_channels, channels, affine, name):
    """Halves the resolution with two offset 1x1 stride-2 convs (DARTS)."""
    if channels % 2:
        raise InputError(
            f"factorized_reduce needs an even channel count, got {channels}. "
            "Choose C and K so that C // K is even on reduction edges."
        )
    inputs = keras.Input((None, None, in_channels))
    x = layers.ReLU()(inputs)
    even = conv(channels // 2, 1, 2)(x)
    odd = conv(channels // 2, 1, 2)(layers.Cropping2D(((1, 0), (1, 0)))(x))
    x = layers.Concatenate()([even, odd])
    outputs = batch_norm(affine)(x)
    return keras.Model(inputs, outputs, name=name)


def zero(stride, name):
    stack = [subsample()] if stride == 2 else []
    stack.append(layers.Rescaling(0.0))
    return keras.Sequential(stack, name=name)


def identity(name):
    return keras.Sequential([layers.Identity()], name=name)


def _skip(channels, stride, affine, name):
    if stride == 1:
        return identity(name)
    return factorized_reduce(channels, channels, affine, name)


# name -> builder(channels, stride, affine, name, pool_bn)
_BUILDERS = {
    ZERO_OP: lambda c, s, a, n, pb: zero(s, n),
    "skip_connect": lambda c, s, a, n, pb: _skip(c, s, a, n),
    "nor_conv_1x1": lambda c, s, a, n, pb: relu_conv_bn(c, 1, s, a, n),
    "nor_conv_3x3": lambda c, s, a, n, pb: relu_conv_bn(c, 3, s, a, n),
    "avg_pool_3x3": lambda c, s, a, n, pb: pool("avg", s, a, pb, n),
    "max_pool_3x3": lambda c, s, a, n, pb: pool("max", s, a, pb, n),
    "sep_conv_3x3": lambda c, s, a, n, pb: sep_conv(c, 3, s, a, n),
    "sep_conv_5x5": lambda c, s, a, n, pb: sep_conv(c, 5, s, a, n),
    "dil_conv_3x3": lambda c, s, a, n, pb: dil_conv(c, 3, s, a, n),
    "dil_conv_5x5": lambda c, s, a, n, pb: dil_conv(c, 5, s, a, n),
}

OP_NAMES = tuple(_BUILDERS)


def is_zero_op(name):
    """Whether `name` is the op that outputs zeros: it is never built in a
    mixed op, never drawn, and a space that chooses edges never keeps it."""
    return name == ZERO_OP


def check_op_name(name):
    """Raises a clear error for a name that is not a known candidate op."""
    if not isinstance(name, str) or name not in _BUILDERS:
        raise InputError(
            f"Unknown op name {name!r}. Known ops: {', '.join(OP_NAMES)}."
        )
    return name


def create_op(name, channels, stride=1, affine=False, pool_bn=False, layer_name=None):
    """Builds one candidate op as a model of built-in Keras layers.

    Args:
        name: op name, one of `OP_NAMES`.
        channels: input and output channels.
        stride: 1, or 2 on reduction edges.
        affine: whether batch norms learn scale and offset (False in search).
        pool_bn: append a non-affine batch norm to pooling ops (DARTS search).
        layer_name: Keras name of the op model; defaults to `name`.

    Returns:
        A built `keras.Model` mapping (B, H, W, channels) to
        (B, H / stride, W / stride, channels).

    Example:
    >>> op = create_op("sep_conv_3x3", channels=8, stride=2)
    >>> tuple(op(keras.ops.zeros((1, 8, 8, 8))).shape)
    (1, 4, 4, 8)
    """
    check_op_name(name)
    if stride not in (1, 2):
        raise InputError(f"stride must be 1 or 2, got {stride}.")
    op = _BUILDERS[name](channels, stride, affine, layer_name or name, pool_bn)
    op.build((None, None, None, channels))
    return op
