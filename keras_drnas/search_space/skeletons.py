"""The fixed parts around the searched cells: stems, the NAS-Bench-201
residual block between stages, and where DARTS networks reduce.

Supernets (search) and derived networks (shipped) are built on the same
skeleton, so both take these pieces from here.
"""

import keras
from keras import layers

from keras_drnas.search_space.ops import batch_norm, conv, relu_conv_bn
from keras_drnas.utils.errors import InputError

STEMS = ("cifar", "imagenet")


def nas_bench_201_stem(channels, name="stem"):
    """A 3x3 conv and an affine batch norm."""
    return keras.Sequential([conv(channels, 3), batch_norm(True)], name=name)


def resnet_basic_block(in_channels, channels, stride, name):
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


def check_stem(stem):
    if stem not in STEMS:
        raise InputError(f"stem must be one of {STEMS}, got {stem!r}.")
    return stem


def darts_stem(stem, channels, stem_multiplier=3):
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
