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


def test_supernet_output_shapes_and_sharing():
    nb = kd.nas_bench_201(C=4, N=2, num_classes=7, K=2, seed=0)
    assert nb(tf.zeros((3, 16, 16, 3)), training=True).shape == (3, 7)
    assert len(nb.cells()) == 6
    etas = [w for w in nb.weights if w.path.endswith("/eta")]
    assert len(etas) == 1 and etas[0].shape == (6, 5)  # one matrix for all cells

    dn = kd.darts(C=4, layers=5, num_classes=3, K=2, seed=0)
    assert dn(tf.zeros((2, 16, 16, 1)), training=True).shape == (2, 3)
    assert [c.reduction for c in dn.cells()] == [False, True, False, True, False]
    assert [tuple(w.shape) for w in dn.weights if w.path.endswith("/eta")] == [(14, 7), (14, 7)]

    imagenet = kd.darts(C=8, layers=3, stem="imagenet", seed=0)
    assert imagenet(tf.zeros((1, 64, 64, 3))).shape == (1, 10)


def test_cells_of_one_type_see_one_sample():
    net = kd.nas_bench_201(C=4, N=1, seed=0)
    net(tf.zeros((1, 8, 8, 3)))
    seen = []
    for cell in net.cells():
        original = cell.call

        def spy(inputs, op_weights=None, training=None, _original=original):
            seen.append(op_weights)
            return _original(inputs, op_weights=op_weights, training=training)

        cell.call = spy
    net(tf.zeros((1, 8, 8, 3)), training=True)
    assert len(seen) == 3
    for theta in seen[1:]:
        np.testing.assert_array_equal(theta.numpy(), seen[0].numpy())


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


def test_clear_errors_for_bad_inputs():
    net = kd.nas_bench_201(C=4, N=1)
    with pytest.raises(ValueError, match="multiples of 4; got 6x6"):
        net(tf.zeros((1, 6, 6, 3)))
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        net(tf.zeros((1, 8, 8)))
    dn = kd.darts(C=4, layers=3, stem="imagenet")
    with pytest.raises(ValueError, match="multiples of 32"):
        dn(tf.zeros((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="divisible by the partial-channel"):
        kd.nas_bench_201(C=6, N=1, K=4)
    with pytest.raises(ValueError, match="two inputs"):
        kd.DrNASCell("darts", channels=4)(tf.zeros((1, 8, 8, 4)))
    with pytest.raises(ValueError, match="Unknown search space 'resnet'"):
        kd.DrNASCell("resnet", channels=4)
    with pytest.raises(ValueError, match="takes \\(batch, height, width, 8\\)"):
        kd.DrNASCell("nb201", channels=8)(tf.zeros((1, 8, 8, 4)))
