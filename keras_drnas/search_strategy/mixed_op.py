"""The mixed operation on one edge: a Dirichlet-weighted sum of candidate ops."""

import keras
from keras import ops

from keras_drnas.search_space.ops import check_op_name, create_op, is_zero_op
from keras_drnas.search_strategy import fused_ops
from keras_drnas.search_strategy.distribution import owned_distribution
from keras_drnas.search_strategy.widening import widen_weights
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError


def channel_shuffle(x, groups):
    """PyTorch's channel_shuffle on NHWC: interleaves `groups` channel blocks."""
    if groups == 1:
        return x
    batch, height, width, channels = ops.shape(x)
    x = ops.reshape(x, (batch, height, width, groups, channels // groups))
    x = ops.transpose(x, (0, 1, 2, 4, 3))
    return ops.reshape(x, (batch, height, width, channels))


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


def apply_layer(layer, x, training):
    """`layer(x)`; on TensorFlow with its batch norms fused (`fused_ops.apply`)."""
    if keras.backend.backend() == "tensorflow":
        return fused_ops.apply(layer, x, training)
    return layer(x, training=training)


def weighted_op(op, x, weight, training, activated=None):
    """`weight * op(x)`, the term of one op in a mixed op.

    On TensorFlow, `fused_ops.weighted_op` computes it with a smaller graph
    (and takes `activated`, the ReLU of `x` shared by a node's edges);
    elsewhere `plain_weighted_op` does, with the same result.
    """
    if keras.backend.backend() == "tensorflow":
        return fused_ops.weighted_op(op, x, weight, training, activated)
    return plain_weighted_op(op, x, weight, training)


def plain_weighted_op(op, x, weight, training):
    """`weight * op(x)` with Keras' own layers, on any backend. (Its batch
    norms update their moving variance with the biased batch variance, as
    Keras does; the fused path uses the unbiased one, as PyTorch does.)"""
    return keras.ops.cast(weight, x.dtype) * op(x, training=training)


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
        relaxation: see `ArchitectureDistribution`; only with `own_concentration=True`.
        inference: see `ArchitectureDistribution`; only with `own_concentration=True`.
        seed: see `ArchitectureDistribution`; only with `own_concentration=True`.

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
            raise InputError(
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
            raise InputError(
                f"{self.name} expects {self.channels} input channels, got "
                f"input shape {tuple(input_shape)}."
            )
        if self.distribution is not None:
            self.distribution.build()
        self._create_ops()
        self.built = True

    def _create_ops(self):
        for column, (name, on) in enumerate(zip(self.op_names, self.op_mask)):
            if on and not is_zero_op(name):
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
            raise InputError(
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
            raise InputError(f"cannot unmask ops that were pruned: {revived}.")
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
        return tuple(ops.split(inputs, [self.op_channels], axis=-1))

    def call(self, inputs, op_weights=None, training=None, activated=None):
        """Mixes the ops on `inputs`.

        `activated`, if given, is `relu(self.split(inputs)[0])` computed once
        by the caller for all edges leaving a node: ops that start with a
        ReLU then skip their own, which saves the compute and the memory of
        one activation per op and edge.
        """
        if op_weights is None:
            if self.distribution is None:
                raise InputError(
                    f"{self.name} was built with own_concentration=False; pass "
                    "`op_weights` (one weight per op) when calling it."
                )
            op_weights = self.distribution.op_weights(training=training)[0]
        x, rest = self.split(inputs)
        mixed = self.mix(x, op_weights, training, activated)
        if rest is None:
            return mixed
        return channel_shuffle(ops.concatenate([mixed, self.bypass(rest)], axis=-1), self.partial_channels)

    def mix(self, x, op_weights, training=None, activated=None):
        """The weighted sum of the ops on `x`, the first C/K channels."""
        mixed = None
        weights = ops.unstack(op_weights)  # one op, not one slice per op
        for column, op in zip(self._op_columns, self.candidate_ops):
            y = weighted_op(op, x, weights[column], training, activated)
            mixed = y if mixed is None else mixed + y
        if mixed is None:  # only `none` is left on this edge
            mixed = ops.zeros_like(x[:, :: self.stride, :: self.stride, :])
        return mixed

    def bypass(self, rest):
        """The channels that skip the ops (2x2 max-pooled on stride-2 edges)."""
        return ops.max_pool(rest, 2, 2, "valid") if self.stride == 2 else rest

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
