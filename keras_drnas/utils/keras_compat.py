"""Every use of a private Keras attribute, in one place.

Keras has no public API for these: walking all nested layers, adding
layers to a built layer, finding an optimizer's slot variables, the
learning-rate schedule object of an optimizer, the input shape a
subclassed model was built with, the compiled loss tracker, building
compiled metrics from symbolic tensors (and skipping Keras' own build when
it is done), starting a `fit` call at a restored epoch, step logs that
a multi-worker `fit` can reduce, reading variables without autocasting,
and telling a stateless call. `tests/utils/test_keras_compat.py` checks each
of them against the installed Keras, so an upgrade that moves one fails
there, by name, rather than deep inside a search.
"""

import contextlib

import keras
from keras.src.backend.common.stateless_scope import in_stateless_scope as _in_stateless_scope
from keras.src.backend.common.variables import AutocastScope

from keras_drnas.utils.optional import tensorflow as tf

# Slot-variable lists of Keras' optimizers (SGD: momentums; Adam: the rest).
SLOT_LISTS = ("momentums", "_momentums", "_velocities", "_velocity_hats")


def variable_values(variables):
    """The variables' values as tensors, in their own dtypes (not cast to a
    mixed-precision compute dtype by an enclosing layer call)."""
    with AutocastScope(None):
        return [keras.ops.convert_to_tensor(v.value) for v in variables]


def in_stateless_scope():
    """Whether Keras runs the current call statelessly (symbolic shape
    inference, `stateless_call`)."""
    return _in_stateless_scope()


def flatten_layers(layer, include_self=True):
    """Every layer nested in `layer` (lists and dicts of layers included)."""
    return list(layer._flatten_layers(include_self=include_self))


@contextlib.contextmanager
def unlocked_state(layer):
    """Lets a built layer track new sub-layers (a deliberate rebuild, as
    `Layer._untrack_variable` does for removals), then locks it again."""
    locked = layer._tracker.locked
    layer._tracker.unlock()
    try:
        yield
    finally:
        if locked:
            layer._lock_state()


def optimizer_slots(optimizer, variable):
    """{slot list name: slot variable of `variable`}; empty when the
    optimizer has not seen `variable`."""
    try:
        index = optimizer._get_variable_index(variable)
    except KeyError:
        return {}
    slots = {}
    for name in SLOT_LISTS:
        values = getattr(optimizer, name, None)
        if values:
            slots[name] = values[index]
    return slots


def learning_rate_schedule(optimizer):
    """The optimizer's schedule object, or None for a constant rate."""
    schedule = getattr(optimizer, "_learning_rate", None)
    return schedule if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) else None


def built_input_shape(model):
    """The input shape a model was built with, or None."""
    if getattr(model, "inputs", None):  # functional
        return tuple(model.inputs[0].shape)
    shapes = getattr(model, "_build_shapes_dict", None)
    return tuple(next(iter(shapes.values()))) if shapes else None


def loss_tracker(model):
    """The `Mean` metric behind the `loss` entry of `fit`'s logs."""
    return model._loss_tracker


def build_compiled_metrics(model, x_spec, y_spec):
    """Creates the compiled loss and metric state from symbolic inputs, as
    `fit` would from a batch (which, for a search, is a pair of batches)."""
    batch = keras.tree.map_structure(
        lambda s: keras.KerasTensor(tuple(s.shape), keras.backend.standardize_dtype(s.dtype)), (x_spec, y_spec))
    model._symbolic_build(data_batch=batch + (None,))


def start_at_epoch(model, epoch):
    """Makes the `fit` call under way start at `epoch`, whatever its
    `initial_epoch`, as `keras.callbacks.BackupAndRestore` does from
    `on_train_begin`; `None` gives `fit` its own `initial_epoch` back."""
    model._initial_epoch = epoch


class SkipsRedundantSymbolicBuild:
    """A `keras.Model` mixin: `fit` and `evaluate` skip Keras' symbolic
    build when the model, its compiled loss and its metrics are built
    already (`SearchModel.build_for` builds them).

    Under a distribution strategy that build first averages the first batch
    across replicas with `strategy.reduce`, which
    `MultiWorkerMirroredStrategy` cannot do for a nested batch such as a
    search's pair of batches (TensorFlow: "support `value` being a nest").
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        parts = [getattr(self, "_compile_metrics", None), getattr(self, "_compile_loss", None)]
        built = all(layer.built for layer in self._flatten_layers()) and all(p is None or p.built for p in parts)
        if not built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def reducible_logs(logs):
    """A train or test step's logs, as Keras can reduce them across workers.

    Keras 3.15 averages each log of a multi-worker step with
    `strategy.reduce("MEAN", value, axis=0)`, which fails for a scalar
    ("Invalid reduction dimension 0", tensorflow/tensorflow#72388). Given a
    batch axis of one, that mean is the mean over the replicas: a scalar, as
    one process with several replicas reports. Unchanged elsewhere.
    """
    if keras.backend.backend() != "tensorflow" or not _multi_worker(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def _multi_worker(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return False
    jobs = resolver.cluster_spec().as_dict()
    return sum(len(jobs.get(job, [])) for job in ("chief", "worker")) > 1


@contextlib.contextmanager
def fit_across_workers(model, batch_spec):
    """Lets a plain Keras model `fit` under a multi-worker strategy, which
    Keras 3.15 cannot do for an (x, y) batch: for the calls in the block
    the compiled loss and metrics are built from `batch_spec` up front and
    Keras' own symbolic build is skipped (see `SkipsRedundantSymbolicBuild`),
    and the train step's logs are made reducible (`reducible_logs`).
    Changes nothing outside a multi-worker run."""
    if not _multi_worker(model.distribute_strategy):
        yield
        return
    with model.distribute_strategy.scope():
        build_compiled_metrics(model, *batch_spec)
    train_step = model.train_step
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    model.train_step = lambda data: reducible_logs(train_step(data))
    model.train_function = None
    try:
        yield
    finally:
        del model._maybe_symbolic_build, model.train_step
        model.train_function = None
