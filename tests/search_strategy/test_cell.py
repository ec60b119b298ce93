
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd


def test_nb201_cell_shape_and_own_concentration():
    cell = kd.DrNASCell("nas-bench-201", channels=8, partial_channels=2, seed=0)
    y = cell(tf.random.normal((2, 16, 16, 8)), training=True)
    assert y.shape == (2, 16, 16, 8)
    assert cell.distribution.eta.shape == (6, 5)
    assert len(cell.edges) == 6


@pytest.mark.parametrize("reduction,reduction_prev", [(False, False), (True, False), (False, True)])
def test_darts_cell_shapes(reduction, reduction_prev):
    s0 = tf.random.normal((2, 16 if reduction_prev else 8, 16 if reduction_prev else 8, 12))
    s1 = tf.random.normal((2, 8, 8, 20))
    cell = kd.DrNASCell("darts", channels=8, reduction=reduction, reduction_prev=reduction_prev, seed=0)
    y = cell([s0, s1], training=True)
    size = 4 if reduction else 8
    assert y.shape == (2, size, size, 32)  # concat of 4 nodes x 8 channels
    assert cell.distribution.eta.shape == (14, 7)
    strided = [e.stride for e in cell.edges]
    assert strided.count(2) == (8 if reduction else 0)  # 4 nodes x 2 input edges


def test_cell_in_user_functional_model_trains_eta():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = kd.DrNASCell("nas-bench-201", channels=8, seed=0, name="searched")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    eta = model.get_layer("searched").distribution.eta
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(tf.random.normal((4, 8, 8, 3)), training=True) ** 2)
    assert np.any(tape.gradient(loss, eta).numpy() != 0)


def test_cell_in_subclassed_model():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.stem = keras.layers.Conv2D(16, 1)
            self.cell = kd.DrNASCell("darts", channels=4, seed=0)
            self.out = keras.layers.Dense(2)

        def call(self, x, training=None):
            x = self.stem(x)
            x = self.cell([x, x], training=training)
            return self.out(tf.reduce_mean(x, axis=[1, 2]))

    model = Tiny()
    assert model(tf.zeros((2, 8, 8, 3)), training=True).shape == (2, 2)
    assert any(w.path.endswith("/eta") for w in model.trainable_weights)
