"""The mixed operation on one edge: a Dirichlet-weighted sum of candidate ops."""

import contextlib
import threading
import weakref

import keras
import tensorflow as tf

from keras_drnas.search_space.ops import check_op_name, create_op
from keras_drnas.search_strategy.distribution import owned_distribution
from keras_drnas.search_strategy.widening import widen_weights
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError


def channel_shuffle(x, groups):
    """PyTorch's channel_shuffle on NHWC: interleaves `groups` channel blocks."""
    if groups == 1:
        return x
    shape = tf.shape(x)
    channels = x.shape[-1]
    x = tf.reshape(x, tf.stack([shape[0], shape[1], shape[2], groups, channels // groups]))
    x = tf.transpose(x, [0, 1, 2, 4, 3])
    return tf.reshape(x, tf.stack([shape[0], shape[1], shape[2], channels]))


def check_partial_channels(channels, partial_channels):
    """Raises a clear error unless `partial_channels` (K) divides `channels`."""
    if partial_channels < 1 or channels % partial_channels:
        raise InputError(
            f"channels ({channels}) must be divisible by partial_channels "
            f"(the paper's K, {partial_channels}). Pick a divisor of the channel "
            "count of every cell, e.g. partial_channels=1, 2 or 4 for channels=16."
        )


def _starts_with_relu(op):
    return isinstance(op, keras.Sequential) and isinstance(op.layers[0], keras.layers.ReLU)


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
    gradient; the fused op is one each, which makes the supernet's graph
    several times smaller to trace and optimize. A mixing weight goes into
    the op's scale and offset: its gradient then needs only `x`, which the
    op keeps for its own backward pass anyway, where a separate multiply
    would keep the normalized output alive as well. The op also updates the
    moving statistics, as PyTorch's `BatchNorm2d` in the reference code
    does: with the unbiased batch variance (Keras' layer uses the biased one).

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


def apply_fused(layer, x, training):
    """`layer(x)`, with the batch norms of a `Sequential`, and the final one
    of a functional model, fused (see `fused_batch_norm`)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return fused_batch_norm(layer, x, training)
    if isinstance(layer, keras.Sequential):
        for inner in layer.layers:
            x = apply_fused(inner, x, training)
        return x
    split = _final_norm(layer)
    if split is not None:
        before, norm = split
        return fused_batch_norm(norm, before(x, training=training), training)
    return layer(x, training=training)


def _weighted_op(op, x, weight, training, activated):
    """weight * op(x), arranged so that no extra activation is kept."""
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
            y = apply_fused(layer, y, training)
        return fused_batch_norm(layers[-1], y, training, weight)
    if all(isinstance(l, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D, keras.layers.Identity))
           for l in layers):
        # Pools commute with a non-negative scale: pool(w x) = w pool(x).
        y = tf.cast(weight, y.dtype) * y
        for layer in layers:
            y = layer(y, training=training)
        return y
    for layer in layers:
        y = apply_fused(layer, y, training)
    return tf.cast(weight, y.dtype) * y


@keras.saving.register_keras_serializable(package="keras_drnas")
class DirichletMixedOp(keras.layers.Layer):
    """Mixes candidate ops with weights theta ~ Dir(ELU(eta) + 1).

    With partial channels (divisor K) only the first C/K channels go through
    the ops; the rest bypass them (through a 2x2 max pool on stride-2 edges),
    are concatenated back and the result is channel-shuffled with K groups,
    as in PC-DARTS. Masked ops are neither built nor computed, and `none` is
    never computed (it adds zero).

    Args:
        op_names: candidate op names (see `keras_drnas.search_space.OP_NAMES`).
        channels: input channels C; outputs have C channels too.
        stride: 1, or 2 for an edge that halves the resolution.
        partial_channels: the paper's K: only C/K channels go through the
            ops; `channels` must be divisible by it.
        affine: learnable batch-norm scale/offset inside the ops.
        pool_bn: batch norm after pooling ops (the DARTS search space).
        op_mask: booleans per op, False for pruned ops.
        own_concentration: if True the layer learns its own `eta`; if False
            the caller passes `op_weights` (a cell sharing one sample).
        relaxation, inference, seed: see `ArchitectureDistribution`; used
            only with `own_concentration=True`.

    Example:
    >>> mixed = DirichletMixedOp(["skip_connect", "nor_conv_3x3"], channels=8)
    >>> tuple(mixed(keras.ops.ones((2, 8, 8, 8)), training=True).shape)
    (2, 8, 8, 8)
    """

    def __init__(
        self,
        op_names,
        channels,
        stride=1,
        partial_channels=1,
        affine=False,
        pool_bn=False,
        op_mask=None,
        own_concentration=True,
        relaxation="dirichlet",
        inference="mean",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.op_names = [check_op_name(n) for n in op_names]
        self.channels = int(channels)
        self.stride = int(stride)
        check_partial_channels(self.channels, partial_channels)
        self.partial_channels = int(partial_channels)
        self.affine = affine
        self.pool_bn = pool_bn
        self.op_mask = list(op_mask) if op_mask is not None else [True] * len(self.op_names)
        if len(self.op_mask) != len(self.op_names) or not any(self.op_mask):
            raise ValueError(
                f"op_mask needs one boolean per op ({len(self.op_names)}) and at "
                f"least one True, got {self.op_mask}."
            )
        self.own_concentration = own_concentration
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed
        self.distribution = None
        if own_concentration:
            self.distribution = owned_distribution(self, 1, len(self.op_names), [self.op_mask])
        self.candidate_ops = []
        self._op_columns = []

    @property
    def op_channels(self):
        return self.channels // self.partial_channels

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.channels:
            raise ValueError(
                f"{self.name} expects {self.channels} input channels, got "
                f"input shape {tuple(input_shape)}."
            )
        if self.distribution is not None:
            self.distribution.build()
        self._create_ops()
        self.built = True

    def _create_ops(self):
        for column, (name, on) in enumerate(zip(self.op_names, self.op_mask)):
            if on and name != "none":
                self.candidate_ops.append(
                    create_op(name, self.op_channels, self.stride, self.affine, self.pool_bn)
                )
                self._op_columns.append(column)

    def widen(self, partial_channels, rng):
        """Progressive learning: K shrinks, every op grows to C/K channels.

        The ops are rebuilt wider and initialized by the Net2Net mapping
        (`keras_drnas.search_strategy.widening`). Returns the (old, new,
        index) variable triples, so optimizer slots can follow.
        """
        check_partial_channels(self.channels, partial_channels)
        if partial_channels > self.partial_channels:
            raise ValueError(
                f"widening needs fewer partial_channels: {self.partial_channels} -> {partial_channels} "
                "would narrow the ops."
            )
        self.partial_channels = int(partial_channels)
        old_ops = [self.candidate_ops.pop() for _ in range(len(self.candidate_ops))][::-1]
        self._op_columns = []
        with keras_compat.unlocked_state(self):  # Keras locks a built layer
            self._create_ops()
        pairs = []
        for old, new in zip(old_ops, self.candidate_ops):
            pairs += widen_weights(old.weights, new.weights, rng)
        return pairs

    def set_op_mask(self, op_mask):
        """Prunes: drops the layers (and variables) of newly masked ops.

        Ops cannot be revived: a pruned op's weights are gone.
        """
        op_mask = [bool(m) for m in op_mask]
        revived = [n for n, old, new in zip(self.op_names, self.op_mask, op_mask) if new and not old]
        if revived:
            raise ValueError(f"cannot unmask ops that were pruned: {revived}.")
        for position in reversed(range(len(self._op_columns))):
            if not op_mask[self._op_columns[position]]:
                del self.candidate_ops[position]
                del self._op_columns[position]
        self.op_mask = op_mask
        if self.distribution is not None:
            self.distribution.op_mask = [op_mask]

    @property
    def uses_relu(self):
        """Whether any active op starts with a ReLU (and so can share one)."""
        return any(_starts_with_relu(op) for op in self.candidate_ops)

    def split(self, inputs):
        """(first C/K channels, the rest); the rest is None when K = 1.

        One split per node (rather than two slices per edge) keeps the
        backward pass to one full-size gradient per node.
        """
        if self.partial_channels == 1:
            return inputs, None
        return tuple(tf.split(inputs, [self.op_channels, self.channels - self.op_channels], axis=-1))

    def call(self, inputs, op_weights=None, training=None, activated=None):
        """Mixes the ops on `inputs`.

        `activated`, if given, is `relu(self.split(inputs)[0])` computed once
        by the caller for all edges leaving a node: ops that start with a
        ReLU then skip their own, which saves the compute and the memory of
        one activation per op and edge.
        """
        if op_weights is None:
            if self.distribution is None:
                raise ValueError(
                    f"{self.name} was built with own_concentration=False; pass "
                    "`op_weights` (one weight per op) when calling it."
                )
            op_weights = self.distribution.op_weights(training=training)[0]
        x, rest = self.split(inputs)
        mixed = self.mix(x, op_weights, training, activated)
        if rest is None:
            return mixed
        return channel_shuffle(tf.concat([mixed, self.bypass(rest)], axis=-1), self.partial_channels)

    def mix(self, x, op_weights, training=None, activated=None):
        """The weighted sum of the ops on `x`, the first C/K channels."""
        mixed = None
        weights = tf.unstack(op_weights)  # one op, not one slice per op
        for column, op in zip(self._op_columns, self.candidate_ops):
            y = _weighted_op(op, x, weights[column], training, activated)
            mixed = y if mixed is None else mixed + y
        if mixed is None:  # only `none` is left on this edge
            mixed = tf.zeros_like(x[:, :: self.stride, :: self.stride, :])
        return mixed

    def bypass(self, rest):
        """The channels that skip the ops (2x2 max-pooled on stride-2 edges)."""
        return tf.nn.max_pool2d(rest, 2, 2, "VALID") if self.stride == 2 else rest

    def compute_output_shape(self, input_shape):
        def reduce(d):
            return None if d is None else d // self.stride

        return (input_shape[0], reduce(input_shape[1]), reduce(input_shape[2]), self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            op_names=self.op_names,
            channels=self.channels,
            stride=self.stride,
            partial_channels=self.partial_channels,
            affine=self.affine,
            pool_bn=self.pool_bn,
            op_mask=self.op_mask,
            own_concentration=self.own_concentration,
            relaxation=self.relaxation,
            inference=self.inference,
            seed=self.seed,
        )
        return config
