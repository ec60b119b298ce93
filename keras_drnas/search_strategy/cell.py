"""Search cells: a DAG of Dirichlet mixed ops, wired as their space says."""

import keras
from keras import ops

from keras_drnas.search_space.ops import factorized_reduce, relu_conv_bn
from keras_drnas.search_space import DEFAULT_SPACE
from keras_drnas.search_space.space import get_space
from keras_drnas.search_strategy.distribution import full_mask, owned_distribution, validate_mask
from keras_drnas.search_strategy.fused_ops import moving_statistics_frozen
from keras_drnas.search_strategy.mixed_op import DirichletMixedOp, apply_layer, channel_shuffle, check_partial_channels
from keras_drnas.utils.errors import InputError


def add_n(tensors):
    """The sum of `tensors`: one n-ary op on TensorFlow, a chain elsewhere."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.add_n(tensors)
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total


@keras.saving.register_keras_serializable(package="keras_drnas")
class DrNASCell(keras.layers.Layer):
    """One searchable cell of a search space (NAS-Bench-201, DARTS, ...).

    NAS-Bench-201: one input with `channels` channels, 4 nodes, 6 edges; a
    node sums its incoming edges and node 3 is the output.

    DARTS: inputs `[c_{k-2}, c_{k-1}]`, each preprocessed to `channels`
    (a factorized reduce for c_{k-2} when the previous cell reduced), four
    intermediate nodes over 14 edges, output the concatenation of the four
    nodes (4 x `channels`). A reduction cell halves the resolution with
    stride-2 edges from its input nodes.

    By default a cell learns its own architecture distribution, so it can be
    dropped into any Keras model. Supernets create their cells with
    `own_concentration=False` and pass one `op_weights` sample (edges x ops)
    to every cell of the same type, as the reference code does.

    Args:
        space: a `SearchSpace`, its name or its config.
        channels: channels of every node (C).
        reduction: whether this cell halves the resolution (spaces with
            reduction cells).
        reduction_prev: two-input cells only: whether c_{k-2} is at twice
            the resolution of c_{k-1} (the previous cell reduced).
        partial_channels: the paper's K: every edge mixes its ops on C/K
            of the channels.
        op_mask: edges x ops booleans, False for pruned ops.
        own_concentration: learn an own `eta` (True) or take `op_weights`.
        remat: keep only the cell's inputs and output for the backward pass
            and recompute everything in between there (`keras.remat`):
            memory for one cell's activations instead of every cell's, for
            one more forward pass per gradient. Batch-norm moving statistics
            are updated once, by the first pass.
        relaxation: `"dirichlet"` or `"softmax"`, see `ArchitectureDistribution`.
        inference: `"mean"` or `"sample"`, see `ArchitectureDistribution`.
        seed: the sampler's seed, see `ArchitectureDistribution`.

    Example:
    >>> cell = DrNASCell("nas-bench-201", channels=8)
    >>> tuple(cell(keras.ops.ones((2, 16, 16, 8)), training=True).shape)
    (2, 16, 16, 8)
    """

    def __init__(
        self,
        space=DEFAULT_SPACE,
        channels=16,
        reduction=False,
        reduction_prev=False,
        partial_channels=1,
        op_mask=None,
        own_concentration=True,
        remat=False,
        relaxation="dirichlet",
        inference="mean",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.space = get_space(space)
        self.channels = int(channels)
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        if self.reduction and "reduce" not in self.space.cell_types:
            raise InputError(f"{self.space.name} cells never reduce; the network reduces between them.")
        if self.reduction_prev and not self.takes_two_inputs:
            raise InputError(f"reduction_prev is for two-input cells; a {self.space.name} cell takes one input.")
        check_partial_channels(self.channels, partial_channels)
        self.partial_channels = int(partial_channels)
        self.op_mask = validate_mask(
            op_mask if op_mask is not None else full_mask(self.space.num_edges, self.space.num_ops),
            self.space.num_edges,
            self.space.num_ops,
        )
        self.own_concentration = own_concentration
        self.remat = bool(remat)
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed
        self.distribution = None
        if own_concentration:
            self.distribution = owned_distribution(self, self.space.num_edges, self.space.num_ops, self.op_mask)
        self.preprocess = []
        self.edges = []

    @property
    def takes_two_inputs(self):
        """Cells of two inputs `[c_{k-2}, c_{k-1}]` preprocess each to
        `channels` (DARTS); one-input cells take it as it is."""
        return self.space.num_input_nodes == 2

    @property
    def output_channels(self):
        return self.channels * len(self.space.output_nodes)

    def build(self, input_shape):
        shapes = self._input_shapes(input_shape)
        if self.distribution is not None:
            self.distribution.build()
        if self.takes_two_inputs:
            (prev_prev, prev) = shapes
            first = (
                factorized_reduce(prev_prev[-1], self.channels, False, "preprocess0")
                if self.reduction_prev
                else relu_conv_bn(self.channels, 1, 1, False, "preprocess0")
            )
            second = relu_conv_bn(self.channels, 1, 1, False, "preprocess1")
            first.build(prev_prev)
            second.build(prev)
            self.preprocess = [first, second]
        for row, (dst, src) in enumerate(self.space.edges):
            stride = 2 if self.reduction and src < self.space.num_input_nodes else 1
            edge = DirichletMixedOp(
                self.space.op_names,
                self.channels,
                stride=stride,
                partial_channels=self.partial_channels,
                affine=False,
                pool_bn=self.space.pool_batch_norm,
                op_mask=self.op_mask[row],
                own_concentration=False,
                name=f"edge_{dst}_{src}",
            )
            edge.build((None, None, None, self.channels))
            self.edges.append(edge)
        self.built = True

    def _input_shapes(self, input_shape):
        if self.takes_two_inputs:
            if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
                    and isinstance(input_shape[0], (list, tuple))):
                raise InputError(
                    f"A {self.space.name} cell takes two inputs [c_{{k-2}}, c_{{k-1}}], got input "
                    f"shape {input_shape}."
                )
            return [tuple(s) for s in input_shape]
        if len(input_shape) != 4 or input_shape[-1] not in (None, self.channels):
            raise InputError(
                f"A {self.space.name} cell with channels={self.channels} takes "
                f"(batch, height, width, {self.channels}) inputs, got {tuple(input_shape)}."
            )
        return [tuple(input_shape)]

    def set_op_mask(self, op_mask):
        """Prunes masked ops from every edge (their weights are released)."""
        self.op_mask = validate_mask(op_mask, self.space.num_edges, self.space.num_ops)
        for edge, row in zip(self.edges, self.op_mask):
            edge.set_op_mask(row)
        if self.distribution is not None:
            self.distribution.op_mask = self.op_mask

    def widen(self, partial_channels, rng):
        """Progressive learning: every edge goes to C/K channels (Net2Net)."""
        check_partial_channels(self.channels, partial_channels)
        pairs = []
        for edge in self.edges:
            pairs += edge.widen(partial_channels, rng)
        self.partial_channels = int(partial_channels)
        return pairs

    def call(self, inputs, op_weights=None, training=None):
        if op_weights is None:
            if self.distribution is None:
                raise InputError(
                    f"{self.name} was built with own_concentration=False; pass "
                    "`op_weights` (edges x ops) when calling it."
                )
            op_weights = self.distribution.op_weights(training=training)
        inputs = list(inputs) if self.takes_two_inputs else [inputs]
        if not (self.remat and training):
            return self._forward(inputs, op_weights, training)
        if keras.backend.backend() == "jax":
            return self._remat_pure(inputs, op_weights, training)
        traced = []

        def forward(*tensors):
            # A second trace is the backward pass's recomputation.
            with moving_statistics_frozen(bool(traced)):
                traced.append(True)
                return self._forward(list(tensors[:-1]), tensors[-1], training)

        return keras.remat(forward)(*inputs, op_weights)

    def _remat_pure(self, inputs, op_weights, training):
        """`jax.checkpoint` takes a pure function, traced once: the cell's
        variables go in as arguments (a nested `StatelessScope` sees only its
        own mapping) and the batch-norm updates come out as outputs instead of
        assignments, which would leak its tracers."""
        variables = self.variables

        def forward(values, *tensors):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
                outputs = self._forward(list(tensors[:-1]), tensors[-1], training)
            return outputs, [scope.get_current_value(v) for v in variables]

        outputs, updated = keras.remat(forward)([v.value for v in variables], *inputs, op_weights)
        for variable, value in zip(variables, updated):
            if not variable.trainable:
                variable.assign(value)
        return outputs

    def _forward(self, inputs, op_weights, training):
        if self.takes_two_inputs:
            nodes = [apply_layer(p, x, training) for p, x in zip(self.preprocess, inputs)]
        else:
            nodes = list(inputs)
        edge_weights = ops.unstack(op_weights)  # one op, not one slice per edge
        parts, activated = {}, {}  # per source node: one split, one ReLU for all its edges
        for node in range(self.space.num_input_nodes, self.space.num_nodes):
            mixed, bypassed = [], []
            for row, src in self.space.incoming(node):
                edge = self.edges[row]
                if src not in parts:
                    parts[src] = edge.split(nodes[src])
                if src not in activated and edge.uses_relu:
                    activated[src] = ops.relu(parts[src][0])
                x, rest = parts[src]
                mixed.append(edge.mix(x, edge_weights[row], training, activated.get(src)))
                if rest is not None:
                    bypassed.append(edge.bypass(rest))
            if self.partial_channels == 1:
                nodes.append(add_n(mixed))
            else:
                # Concat and shuffle are linear and the same on every edge
                # into a node: apply them once to the sums, not per edge.
                both = ops.concatenate([add_n(mixed), add_n(bypassed)], axis=-1)
                nodes.append(channel_shuffle(both, self.partial_channels))
        if len(self.space.output_nodes) == 1:
            return nodes[self.space.output_nodes[0]]
        return ops.concatenate([nodes[n] for n in self.space.output_nodes], axis=-1)

    def compute_output_shape(self, input_shape):
        shape = self._input_shapes(input_shape)[-1]
        if self.reduction:
            shape = [d if d is None else d // 2 for d in shape]
        return (shape[0], shape[1], shape[2], self.output_channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            space=self.space.config(),
            channels=self.channels,
            reduction=self.reduction,
            reduction_prev=self.reduction_prev,
            partial_channels=self.partial_channels,
            op_mask=self.op_mask,
            own_concentration=self.own_concentration,
            remat=self.remat,
            relaxation=self.relaxation,
            inference=self.inference,
            seed=self.seed,
        )
        return config
