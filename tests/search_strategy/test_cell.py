
import keras
import numpy as np
import pytest
from keras import ops

import keras_drnas as kd
from tests.helpers import gradients, to_numpy


def test_nb201_cell_shape_and_own_concentration():
    cell = kd.DrNASCell("nas-bench-201", channels=8, partial_channels=2, seed=0)
    y = cell(keras.random.normal((2, 16, 16, 8)), training=True)
    assert y.shape == (2, 16, 16, 8)
    assert cell.distribution.eta.shape == (6, 5)
    assert len(cell.edges) == 6


@pytest.mark.parametrize("reduction,reduction_prev", [(False, False), (True, False), (False, True)])
def test_darts_cell_shapes(reduction, reduction_prev):
    s0 = keras.random.normal((2, 16 if reduction_prev else 8, 16 if reduction_prev else 8, 12))
    s1 = keras.random.normal((2, 8, 8, 20))
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
    x = keras.random.normal((4, 8, 8, 3))
    _, (grad,) = gradients(lambda: ops.mean(model(x, training=True) ** 2), [eta], [model])
    assert np.any(grad != 0)


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
            return self.out(ops.mean(x, axis=[1, 2]))

    model = Tiny()
    assert model(ops.zeros((2, 8, 8, 3)), training=True).shape == (2, 2)
    assert any(w.path.endswith("/eta") for w in model.trainable_weights)


def _cell_step(remat, space, inline=False, **kwargs):
    """Loss, gradients (inputs, op weights, variables) and moving statistics
    after one compiled training pass of a fresh cell: through its call, or
    traced inline (`inline`, the cell's own forward without recomputation)."""
    keras.utils.set_random_seed(0)
    cell = kd.DrNASCell(space, channels=8, own_concentration=False, remat=remat, **kwargs)
    rng = np.random.default_rng(0)
    if space == "darts":
        size = 16 if kwargs.get("reduction_prev") else 8
        inputs = [keras.Variable(rng.normal(size=(4, size, size, 12)), dtype="float32"),
                  keras.Variable(rng.normal(size=(4, 8, 8, 20)), dtype="float32")]
        op_weights = keras.Variable(rng.dirichlet(np.ones(7), size=14), dtype="float32")
    else:
        inputs = [keras.Variable(rng.normal(size=(4, 8, 8, 8)), dtype="float32")]
        op_weights = keras.Variable(rng.dirichlet(np.ones(5), size=6), dtype="float32")
    probe = rng.normal(size=cell([x.value for x in inputs] if space == "darts" else inputs[0].value,
                                 op_weights=op_weights.value).shape).astype("float32")  # builds the cell
    def loss():
        values = [x.value for x in inputs]
        if inline:
            y = cell._forward(values, op_weights.value, training=True)
        else:
            y = cell(values if space == "darts" else values[0], op_weights=op_weights.value, training=True)
        return ops.sum(y**2 * probe)

    value, grads = gradients(loss, inputs + [op_weights] + cell.trainable_weights, [cell], compiled=True)
    statistics = [to_numpy(v) for v in cell.non_trainable_weights]
    return value, grads, statistics


@pytest.mark.parametrize("space,kwargs", [
    ("nas-bench-201", dict(partial_channels=2)),
    ("darts", dict(reduction=True, reduction_prev=True, partial_channels=2)),  # factorized reduces
])
def test_a_recomputed_pass_equals_the_inline_pass_and_updates_statistics_once(space, kwargs):
    plain = _cell_step(False, space, inline=True, **kwargs)
    recomputed = _cell_step(True, space, **kwargs)
    np.testing.assert_allclose(recomputed[0], plain[0], rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(recomputed[1], plain[1], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())
    assert len(plain[2]) > 0
    for ours, theirs in zip(recomputed[2], plain[2], strict=True):  # a second update would move them further
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(s, 0) or np.allclose(s, 1) for s in plain[2])


def test_remat_is_kept_in_the_config():
    cell = kd.DrNASCell("darts", channels=8, remat=True)
    assert kd.DrNASCell.from_config(cell.get_config()).remat
    net = kd.DartsSupernet(channels=8, num_cells=3, remat=True)
    assert all(c.remat for c in kd.DartsSupernet.from_config(net.get_config()).cells())
