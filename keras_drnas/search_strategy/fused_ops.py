"""TensorFlow's fast path for the ops of a mixed op: a smaller graph.

The mixed ops run every candidate op on every edge, twice per step. On the
TensorFlow backend this module runs the batch norms they contain as one
fused op each (`FusedBatchNormV3`) and folds the mixing weight into the
last batch norm's scale and offset, which makes the supernet's graph several
times smaller to trace and optimize and keeps one activation less per op.

It recognises these op structures (see `keras_drnas.search_space.ops`):

- a `keras.Sequential` whose last layer is a `BatchNormalization`
  (ReLU-conv-BN, separable and dilated convs, pools with a batch norm): the
  weight goes into that batch norm, and a leading `ReLU` can be shared by
  all edges leaving a node (`activated`);
- a `keras.Sequential` of pooling and `Identity` layers only: the weight
  scales the input (a pool commutes with a non-negative scale);
- a functional `keras.Model` ending in a `BatchNormalization` (the
  factorized reduce): the part before the norm runs as a model, the norm
  is fused.

Any other op runs as `weight * op(x)`. The plain path
(`keras_drnas.search_strategy.mixed_op.weighted_op` on other backends) is
the same function.
"""

import contextlib
import threading
import weakref

import keras

from keras_drnas.utils.optional import tensorflow as tf

_state = threading.local()  # per thread: MirroredStrategy traces each replica in its own


@contextlib.contextmanager
def moving_statistics_frozen(frozen=True):
    """Batch norms traced inside use batch statistics but leave the moving
    statistics alone: a forward pass recomputed for the backward pass
    (`DrNASCell(remat=True)`) must not update them a second time."""
    previous = getattr(_state, "frozen", False)
    _state.frozen = frozen
    try:
        yield
    finally:
        _state.frozen = previous


def moving_statistics_are_frozen():
    return getattr(_state, "frozen", False)


def fused_batch_norm(bn, x, training, weight=None):
    """`bn(x)`, times `weight` if given, as one fused TensorFlow op.

    Keras' `BatchNormalization` traces about 45 ops per call (moments,
    moving averages, the affine transform) and as many again for their
    gradient; the fused op is one each. A mixing weight goes into the op's
    scale and offset: its gradient then needs only `x`, which the op keeps
    for its own backward pass anyway, where a separate multiply would keep
    the normalized output alive as well. The op also updates the moving
    statistics, as PyTorch's `BatchNorm2d` in the reference code does: with
    the unbiased batch variance (Keras' layer uses the biased one).

    Args:
        bn: a built `keras.layers.BatchNormalization` (channels last); its
            variables and settings are used, its `call` is not.
        x: NHWC input, in any float dtype the fused op takes (float32,
            float16, bfloat16); statistics and affine terms are float32.
        training: batch statistics and moving-average updates if true and
            the layer is trainable; the moving statistics otherwise.
        weight: optional scalar that multiplies the output.
    """
    channels = x.shape[-1]
    weight = None if weight is None else tf.cast(weight, tf.float32)
    if bn.scale:
        scale = bn.gamma if weight is None else bn.gamma * weight
    else:
        scale = tf.ones([channels]) if weight is None else tf.fill([channels], weight)
    offset = tf.zeros([channels])
    if bn.center:
        offset = bn.beta if weight is None else bn.beta * weight
    if training and bn.trainable:
        y, mean, variance = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=scale, offset=offset, mean=tf.convert_to_tensor(bn.moving_mean),
            variance=tf.convert_to_tensor(bn.moving_variance), epsilon=bn.epsilon,
            exponential_avg_factor=1.0 - bn.momentum, data_format="NHWC", is_training=True)[:3]
        if not moving_statistics_are_frozen():
            bn.moving_mean.assign(mean)
            bn.moving_variance.assign(variance)
        return y
    return tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=tf.convert_to_tensor(bn.moving_mean),
        variance=tf.convert_to_tensor(bn.moving_variance), epsilon=bn.epsilon, data_format="NHWC",
        is_training=False)[0]


_before_norm = weakref.WeakKeyDictionary()  # functional op -> the same op without its final batch norm


def _final_norm(op):
    """(op up to its final batch norm, that norm) for a functional op that
    ends in one (the factorized reduce), else None. The first part shares
    the op's layers and variables."""
    if isinstance(op, keras.Sequential) or not isinstance(op, keras.Model):
        return None
    norm = op.layers[-1]
    if not isinstance(norm, keras.layers.BatchNormalization):
        return None
    if op not in _before_norm:
        _before_norm[op] = keras.Model(op.inputs, norm.input, name=f"{op.name}_before_norm")
    return _before_norm[op], norm


def apply(layer, x, training):
    """`layer(x)`, with the batch norms of a `Sequential`, and the final one
    of a functional model, fused (see `fused_batch_norm`)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return fused_batch_norm(layer, x, training)
    if isinstance(layer, keras.Sequential):
        for inner in layer.layers:
            x = apply(inner, x, training)
        return x
    split = _final_norm(layer)
    if split is not None:
        before, norm = split
        return fused_batch_norm(norm, before(x, training=training), training)
    return layer(x, training=training)


def weighted_op(op, x, weight, training, activated=None):
    """weight * op(x), arranged so that no extra activation is kept (see the
    structures in this module's docstring)."""
    split = _final_norm(op)
    if split is not None:  # the factorized reduce: the weight goes into its batch norm
        before, norm = split
        return fused_batch_norm(norm, before(x, training=training), training, weight)
    layers = op.layers if isinstance(op, keras.Sequential) else None
    if layers is None:
        return tf.cast(weight, x.dtype) * op(x, training=training)
    y = x
    if activated is not None and isinstance(layers[0], keras.layers.ReLU):
        y, layers = activated, layers[1:]
    if isinstance(layers[-1], keras.layers.BatchNormalization):
        for layer in layers[:-1]:
            y = apply(layer, y, training)
        return fused_batch_norm(layers[-1], y, training, weight)
    if all(isinstance(l, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D, keras.layers.Identity))
           for l in layers):
        y = tf.cast(weight, y.dtype) * y
        for layer in layers:
            y = layer(y, training=training)
        return y
    for layer in layers:
        y = apply(layer, y, training)
    return tf.cast(weight, y.dtype) * y
