"""A search that turns non-finite stops at once, saying where."""

import math

import keras
import numpy as np

from keras_drnas.utils.errors import InputError

# The losses `SearchModel.train_step` logs: the weight step's and the architecture step's.
LOSSES = ("loss", "arch_loss")


class NonFiniteError(InputError, FloatingPointError):
    """A search diverged: a loss or a variable became NaN or infinite.

    An `InputError` (the command line prints it without a traceback): the
    usual cause is a learning rate too high for the data.
    """


def non_finite_variables(model):
    """The paths of `model`'s variables that hold NaN or infinity.

    Example:
    >>> layer = keras.layers.Dense(2)
    >>> layer.build((None, 3))
    >>> non_finite_variables(layer)
    []
    >>> _ = layer.bias.assign([0.0, float("nan")])
    >>> [path.split("/")[-1] for path in non_finite_variables(layer)]
    ['bias']
    """
    return [v.path for v in model.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(v)))]


def describe_non_finite(variables, limit=3):
    """'2 variables hold NaN or infinity (a, b)'."""
    shown = ", ".join(variables[:limit]) + (", ..." if len(variables) > limit else "")
    return f"{len(variables)} variable{'s' * (len(variables) != 1)} hold{'s' * (len(variables) == 1)} NaN or infinity ({shown})"


class StopOnNonFinite(keras.callbacks.Callback):
    """Raises `NonFiniteError` after the first step whose logged loss, or
    any variable, is NaN or infinite.

    Like `keras.callbacks.TerminateOnNaN`, but it names the epoch and step,
    and it also catches a non-finite gradient, which shows as non-finite
    weights right after its update (the loss is computed before it);
    `SearchModel` checks its variables inside the step for this. (On JAX
    reading that flag would copy the search's whole state out of the
    compiled loop after every step: there the variables are checked after
    each epoch, and a non-finite weight shows in the next step's loss.)
    `SearchModel.fit` always adds it; together with `SearchCheckpoint`,
    which never writes non-finite weights, the last checkpoint on disk is
    the last finite state of the search.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, logs, variables=keras.backend.backend() != "jax")

    def on_epoch_end(self, epoch, logs=None):
        steps = (self.params or {}).get("steps")
        if keras.backend.backend() == "jax" and steps:
            self._check(steps - 1, {}, variables=True)

    def _check(self, batch, logs, variables):
        losses = {k: float(logs[k]) for k in LOSSES if logs and k in logs}
        bad_losses = [f"{k} is {v}" for k, v in losses.items() if not math.isfinite(v)]
        if not (bad_losses or variables):
            return
        checked_in_step = getattr(self.model, "weights_finite", None)  # SearchModel's
        finite = checked_in_step is not None and float(keras.ops.convert_to_numpy(checked_in_step)) == 1.0
        bad_variables = [] if finite else non_finite_variables(self.model)
        if not (bad_losses or bad_variables):
            return
        steps = (self.params or {}).get("steps")
        where = f"epoch {self.epoch + 1}, step {batch + 1}" + (f" of {steps}" if steps else "")
        problems = bad_losses + ([describe_non_finite(bad_variables)] if bad_variables else [])
        raise NonFiniteError(
            f"The search diverged at {where}: {'; '.join(problems)}. Nothing non-finite is checkpointed: "
            "a SearchCheckpoint holds the last finite state. Lower the learning rate (weights or architecture)."
        )
