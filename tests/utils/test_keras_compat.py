"""Each private Keras access the library relies on, checked against the
installed Keras: when an upgrade moves one, the failure names it here."""

import keras
import numpy as np
import tensorflow as tf

from keras_drnas.utils import keras_compat


class Holder(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.inner = [keras.layers.Dense(2)]

    def build(self, input_shape):
        self.inner[0].build(input_shape)
        self.built = True

    def call(self, x):
        return self.inner[0](x)


def test_flatten_layers_reaches_layers_in_lists():
    holder = Holder()
    model = keras.Sequential([keras.Input((3,)), holder])
    found = keras_compat.flatten_layers(model)
    assert holder in found and holder.inner[0] in found
    assert model not in keras_compat.flatten_layers(model, include_self=False)


def test_unlocked_state_lets_a_built_layer_track_new_layers():
    holder = Holder()
    holder.build((None, 3))
    with keras_compat.unlocked_state(holder):
        extra = keras.layers.Dense(4)
        extra.build((None, 3))
        holder.inner.append(extra)
    assert any(v is extra.kernel for v in holder.weights)


def test_optimizer_slots_of_sgd_and_adam():
    variable = keras.Variable(np.ones((2, 2), np.float32))
    other = keras.Variable(np.ones(3, np.float32))
    sgd = keras.optimizers.SGD(0.1, momentum=0.9)
    sgd.build([variable])
    assert list(keras_compat.optimizer_slots(sgd, variable)) == ["momentums"]
    assert keras_compat.optimizer_slots(sgd, other) == {}
    adam = keras.optimizers.Adam()
    adam.build([variable])
    slots = keras_compat.optimizer_slots(adam, variable)
    assert {"_momentums", "_velocities"} <= set(slots) and slots["_momentums"].shape == (2, 2)


def test_learning_rate_schedule_is_the_schedule_object():
    schedule = keras.optimizers.schedules.CosineDecay(0.1, 10)
    assert keras_compat.learning_rate_schedule(keras.optimizers.SGD(schedule)) is schedule
    assert keras_compat.learning_rate_schedule(keras.optimizers.SGD(0.1)) is None


def test_built_input_shape_of_functional_and_subclassed_models():
    inputs = keras.Input((8, 8, 3))
    functional = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    assert keras_compat.built_input_shape(functional) == (None, 8, 8, 3)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 1)

        def build(self, input_shape):
            self.conv.build(input_shape)
            self.built = True

        def call(self, x):
            return self.conv(x)

    sub = Sub()
    sub.build((None, 6, 6, 1))
    assert keras_compat.built_input_shape(sub) == (None, 6, 6, 1)


def test_loss_tracker_and_compiled_metrics_build():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    tracker = keras_compat.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and tracker.name == "loss"
    compiled_metrics = [m for m in model.metrics if m.name == "compile_metrics"][0]
    assert not compiled_metrics.built
    keras_compat.build_compiled_metrics(model, tf.TensorSpec((None, 4)), tf.TensorSpec((None,), tf.int32))
    assert compiled_metrics.built
