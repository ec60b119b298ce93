"""Every use of a private Keras attribute, in one place.

Keras has no public API for these: walking all nested layers, adding
layers to a built layer, finding an optimizer's slot variables, the
learning-rate schedule object of an optimizer, the input shape a
subclassed model was built with, the compiled loss tracker, and building
compiled metrics from symbolic tensors. `tests/test_utils.py` checks each
of them against the installed Keras, so an upgrade that moves one fails
there, by name, rather than deep inside a search.
"""

import contextlib

import keras

# Slot-variable lists of Keras' optimizers (SGD: momentums; Adam: the rest).
SLOT_LISTS = ("momentums", "_momentums", "_velocities", "_velocity_hats")


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
    batch = tuple(keras.KerasTensor(s.shape, s.dtype.name) for s in (x_spec, y_spec))
    model._symbolic_build(data_batch=batch + (None,))
