"""How big a derived network is: parameters and multiply-adds."""

import keras
import numpy as np

from keras_drnas.utils.optional import tensorflow as tf


def count_parameters(model):
    """Trainable + batch-norm parameters, as PyTorch counts them (the paper
    excludes the auxiliary head, which lives only in the training model)."""
    return sum(int(keras.ops.size(w)) for w in model.weights if "moving_" not in w.path and "normalize" not in w.path)


def count_flops(model, input_shape=None):
    """Multiply-adds of one image through the convolutions and dense layers
    (the "FLOPs" NAS papers report), read off the traced TensorFlow graph.

    Stride-2 dilated convolutions are counted as computed here (at stride 1,
    then subsampled), which is more than a framework with strided dilation
    would spend.
    """
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
