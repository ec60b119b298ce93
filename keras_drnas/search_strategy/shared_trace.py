"""One traced forward pass per distinct cell shape, not one per cell.

A supernet repeats the same cell many times (15 in NAS-Bench-201, 8 to 20
in DARTS). Traced inline, every cell call and its gradient add their own
ops to the step's graph, in each of the two steps. Here the first cell of
each shape traces its forward pass once, as a function of its variables'
values (under `keras.StatelessScope`); every cell of that shape, in both
steps, calls that function with its own values, and TensorFlow builds the
function's gradient once.
"""

import weakref

import keras
import tensorflow as tf

from keras_drnas.search_strategy.fused_ops import moving_statistics_are_frozen, moving_statistics_frozen
from keras_drnas.utils import keras_compat

_shared = {}  # key -> _SharedForward


def forward_variables(cell):
    """The variables the cell's forward pass reads (not the distribution's)."""
    return [v for layer in cell.preprocess + cell.edges for v in layer.variables]


def _signature(tensor):
    return tuple(tensor.shape), tf.as_dtype(tensor.dtype).name


def _key(cell, inputs, op_weights, training):
    config = cell.get_config()
    for name in ("name", "remat", "shared_trace", "seed", "own_concentration", "relaxation", "inference"):
        config.pop(name, None)
    return (
        type(cell).__name__,
        repr(sorted(config.items())),
        cell.dtype_policy.name,
        tuple(_signature(x) for x in inputs),
        _signature(op_weights),
        bool(training),
        tuple((tuple(v.shape), v.dtype, v.trainable) for v in forward_variables(cell)),
    )


class _SharedForward:
    """The traced forward of one cell shape, over a template cell."""

    def __init__(self, template, training):
        self.template = weakref.ref(template)
        self.training = training
        self.updated = None  # indices of the variables the forward assigns
        self.function = tf.function(self._forward, autograph=False)

    def _forward(self, inputs, op_weights, values):
        template = self.template()
        variables = forward_variables(template)
        # Always trace the updates; the caller decides whether to apply them.
        with moving_statistics_frozen(False), keras.StatelessScope(list(zip(variables, values))) as scope:
            before = [scope.get_current_value(v) for v in variables]
            outputs = template._forward(list(inputs), op_weights, self.training)
            after = [scope.get_current_value(v) for v in variables]
        self.updated = [i for i, (old, new) in enumerate(zip(before, after)) if new is not old]
        return outputs, [after[i] for i in self.updated]


def forget(cell):
    """Drops the functions traced over `cell` (its shape changed: pruned or
    widened), and those whose template cell is gone (`cell=None`)."""
    for key in [k for k, entry in _shared.items() if entry.template() is cell]:
        del _shared[key]


def can_share(training):
    """Sharing applies to concrete calls with a Python `training` flag, not
    to Keras' symbolic shape inference or a user's stateless call."""
    return (training is None or isinstance(training, bool)) and not keras_compat.in_stateless_scope()


def shared_forward(cell, inputs, op_weights, training):
    """`cell._forward(inputs, op_weights, training)` through the function
    traced for its shape; applies the moving-statistics updates it returns
    unless they are frozen (a recomputed pass)."""
    key = _key(cell, inputs, op_weights, training)
    entry = _shared.get(key)
    if entry is None or entry.template() is None:
        forget(None)
        entry = _shared[key] = _SharedForward(cell, bool(training))
    variables = forward_variables(cell)
    outputs, updates = entry.function(list(inputs), op_weights, keras_compat.variable_values(variables))
    if not moving_statistics_are_frozen():
        for index, value in zip(entry.updated, updates):
            variables[index].assign(value)
    return outputs
