"""TensorFlow, imported where it is first used.

A search runs on JAX without TensorFlow installed. The features built on it
(tf.data pipelines, TFLite export, TensorBoard summaries, tfds sources,
`tf.distribute`) reach it through `tensorflow` below, which imports it on
first use and, where it is missing, says which install is needed.
"""

import importlib
import sys
import types

import keras

from keras_drnas.utils.errors import InputError

TENSORFLOW_PIN = "tensorflow==2.21.0"


class _LazyModule(types.ModuleType):
    def __init__(self, name):
        super().__init__(name)
        self._module = None

    def __getattr__(self, attribute):
        if self._module is None:
            try:
                self._module = importlib.import_module(self.__name__)
            except ImportError:
                raise InputError(
                    f"This needs TensorFlow, which is not installed (pip install {TENSORFLOW_PIN}). "
                    "A search, its callbacks and the derived network's .keras file work without it on JAX; "
                    "tf.data sources, tfds, TFLite export and tf.distribute strategies do not."
                ) from None
        return getattr(self._module, attribute)


tensorflow = _LazyModule("tensorflow")


def is_tf_dataset(value):
    """Whether `value` is a `tf.data.Dataset` (never importing TensorFlow)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


def require_tensorflow_backend(feature, hint="set KERAS_BACKEND=tensorflow"):
    """A clear error where `feature` runs on Keras' TensorFlow backend only."""
    if keras.backend.backend() != "tensorflow":
        raise InputError(f"{feature} runs on Keras' TensorFlow backend only, and Keras runs on "
                         f"{keras.backend.backend()} here: {hint}.")
