import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.search_strategy.hessian import HessianEigenvalue, dominant_eigenvalue
from keras_drnas.utils.errors import InputError
from tests.helpers import compiled, tiny_pairs


def dense_hessian(supernet, x, y):
    """The full Hessian of the mean validation loss over eta, by tape.jacobian."""
    eta = supernet.normal_distribution.eta
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            logits = supernet(x, training=False)  # inference="mean": the Dirichlet mean
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grad = inner.gradient(loss, eta)
    hessian = outer.jacobian(grad, eta)
    size = int(np.prod(eta.shape))
    return tf.reshape(hessian, (size, size)).numpy().astype(np.float64)


def test_power_iteration_matches_a_dense_eigendecomposition():
    supernet = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0)
    search = compiled(supernet)
    pairs = tiny_pairs(n=64)
    search.build_for(pairs)
    (_, _), (x, y) = next(iter(pairs))
    # A point away from the uniform Dirichlet, so that the Hessian has structure.
    supernet.normal_distribution.eta.assign(np.random.default_rng(1).normal(0, 0.5, (6, 5)))
    hessian = dense_hessian(supernet, x, y)
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-4 * np.abs(hessian).max())
    eigenvalues = np.linalg.eigvalsh((hessian + hessian.T) / 2)
    expected = eigenvalues[np.argmax(np.abs(eigenvalues))]
    assert abs(expected) > 1e-4

    callback = HessianEigenvalue(tf.data.Dataset.from_tensors((x, y)), num_batches=1, iterations=300,
                                 tolerance=1e-7, seed=0)
    callback.set_model(search)
    assert callback.eigenvalue() == pytest.approx(expected, rel=0.02)


def test_power_iteration_finds_the_largest_magnitude():
    matrix = np.diag([0.5, -3.0, 2.0, 1.0])
    found = dominant_eigenvalue(lambda v: [tf.linalg.matvec(tf.constant(matrix, tf.float32), v[0])], [(4,)],
                                iterations=200, tolerance=1e-9, seed=0)
    assert found == pytest.approx(-3.0, rel=1e-3)


def test_logged_every_n_epochs_into_history_and_tensorboard(tmp_path):
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    pairs = tiny_pairs(n=32, batch_size=16)
    callback = HessianEigenvalue(pairs, every=2, num_batches=1, iterations=5, log_dir=str(tmp_path), seed=0)
    history = search.fit(pairs, epochs=3, verbose=0, callbacks=[callback])
    values = history.history["hessian_eigenvalue"]
    assert len(values) == 2  # epochs 2 and 3 (the last)
    assert all(np.isfinite(values)) and all(v != 0 for v in values)
    events = list((tmp_path / "architecture").glob("events.out.tfevents*"))
    assert events and events[0].stat().st_size > 0


def test_darts_supernet_with_an_unused_cell_type():
    # One DARTS cell is a reduction cell: the normal eta is not in the loss
    # and its part of every Hessian-vector product is zero.
    search = compiled(kd.DartsSupernet(channels=4, num_cells=1, seed=0))
    pairs = tiny_pairs(n=16, batch_size=8)
    search.build_for(pairs)
    callback = HessianEigenvalue(pairs, num_batches=1, iterations=5, seed=0)
    callback.set_model(search)
    callback.on_train_begin()
    logs = {}
    callback.on_epoch_end(0, logs)
    assert np.isfinite(logs["hessian_eigenvalue"]) and logs["hessian_eigenvalue"] != 0


def test_bad_input_is_explained():
    with pytest.raises(InputError, match="iterations must be at least 1"):
        HessianEigenvalue(tiny_pairs(n=16, batch_size=8), iterations=0)
    with pytest.raises(InputError, match="batch the dataset"):
        HessianEigenvalue(tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1)), np.zeros(4))))
    with pytest.raises(InputError, match="tf.data.Dataset"):
        HessianEigenvalue((np.zeros((4, 8, 8, 1)), np.zeros(4)))
