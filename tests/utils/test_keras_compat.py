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


def test_start_at_epoch_from_on_train_begin():
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)

    class Resume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            keras_compat.start_at_epoch(self.model, 3)

    assert model.fit(x, y, epochs=5, verbose=0, callbacks=[Resume()]).epoch == [3, 4]
    keras_compat.start_at_epoch(model, None)
    assert model.fit(x, y, epochs=2, verbose=0).epoch == [0, 1]


def test_a_built_model_skips_the_symbolic_build_of_fit(monkeypatch):
    calls = []
    keras_build = keras.Model._maybe_symbolic_build  # the Keras method the mixin overrides

    def counted(self, iterator=None, data_batch=None):
        calls.append(self)
        return keras_build(self, iterator=iterator, data_batch=data_batch)

    monkeypatch.setattr(keras.Model, "_maybe_symbolic_build", counted)

    class Model(keras_compat.SkipsRedundantSymbolicBuild, keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Model()
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    model.fit(x, y, verbose=0)  # nothing built yet: Keras builds
    model.fit(x, y, verbose=0)  # all built: skipped
    assert calls == [model]


def test_reducible_logs_are_unchanged_outside_multi_worker_runs():
    logs = {"loss": tf.constant(1.0)}
    assert keras_compat.reducible_logs(logs) is logs
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        assert keras_compat.reducible_logs(logs) is logs


def test_fit_across_workers_changes_nothing_outside_multi_worker_runs():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    train_step = model.train_step
    with keras_compat.fit_across_workers(model, (tf.TensorSpec((None, 4)), tf.TensorSpec((None, 2)))):
        assert model.train_step == train_step
    assert model.train_step == train_step


def test_variable_values_keep_the_variables_dtype_under_autocast():
    layer = keras.layers.Dense(2, dtype="mixed_float16")
    layer.build((None, 3))
    seen = {}

    def call(x):
        seen["inside"] = keras_compat.variable_values([layer.kernel])[0].dtype
        return x

    layer.call = call
    layer(np.ones((1, 3), np.float32))
    assert seen["inside"] == tf.float32


def test_in_stateless_scope_tells_symbolic_and_stateless_calls():
    assert not keras_compat.in_stateless_scope()
    with keras.StatelessScope():
        assert keras_compat.in_stateless_scope()
