
import numpy as np
import pytest
import tensorflow as tf

from keras_drnas.search_strategy import ArchitectureDistribution, DrNASCell
from keras_drnas.search_strategy.distribution import MIN_SAMPLING_CONCENTRATION, top_k_mask


def test_gradient_matches_closed_form_within_monte_carlo_error():
    """d/d eta of E[sum(c * theta)], estimated through the layer's samples."""
    eta0 = np.array([0.4, -0.3, 1.2, 0.0, -0.8], np.float32)
    c = tf.constant([1.0, -2.0, 0.5, 3.0, -1.0])
    rows = 100_000  # each row: one independent sample of the same Dirichlet
    dist = ArchitectureDistribution(rows, 5, seed=1)
    dist.build()
    dist.eta.assign(np.tile(eta0, (rows, 1)))
    with tf.GradientTape() as tape:
        theta = dist.sample()
        objective = tf.reduce_sum(theta * c)
    per_row = tape.gradient(objective, dist.eta).numpy()

    beta = np.where(eta0 > 0, eta0 + 1, np.exp(eta0))
    total = beta.sum()
    mean_c = (c.numpy() * beta).sum() / total
    d_beta = (c.numpy() - mean_c) / total
    expected = d_beta * np.where(eta0 > 0, 1.0, np.exp(eta0))

    estimate = per_row.mean(axis=0)
    stderr = per_row.std(axis=0) / np.sqrt(rows)
    np.testing.assert_array_less(np.abs(estimate - expected), 4 * stderr + 1e-4)
    # A wrong gradient (e.g. the sign flipped) would be far outside that band.
    assert np.all(np.abs(expected) > 10 * stderr)


@pytest.mark.parametrize("eta_value", [-5.0, 5.0])
def test_no_nan_in_samples_or_gradients_at_extreme_eta(eta_value):
    cell = DrNASCell("nas-bench-201", channels=4, seed=3)
    x = tf.random.normal((2, 8, 8, 4))
    cell(x, training=True)
    eta = np.full((6, 5), eta_value, np.float32)
    eta[:, 0] = -eta_value  # mix tiny and large concentrations on every edge
    cell.distribution.eta.assign(eta)
    for _ in range(20):
        with tf.GradientTape() as tape:
            theta = cell.distribution.op_weights(training=True)
            loss = tf.reduce_sum(cell(x, op_weights=theta, training=True) ** 2)
        grads = tape.gradient(loss, [cell.distribution.eta] + cell.trainable_weights)
        assert np.all(np.isfinite(theta.numpy()))
        np.testing.assert_allclose(theta.numpy().sum(axis=1), 1.0, rtol=1e-5)
        for g in grads:
            assert g is not None and np.all(np.isfinite(tf.convert_to_tensor(g).numpy()))


def test_guard_floor_is_what_keeps_float32_sampling_finite():
    """Without the floor, TFP's float32 gradient is NaN at beta ~ 0.007."""
    import tensorflow_probability as tfp

    beta = tf.Variable(tf.fill((14, 7), 0.0067))
    with tf.GradientTape() as tape:
        theta = tfp.distributions.Dirichlet(beta).sample(seed=tf.constant([1, 2], tf.int32))
        loss = tf.reduce_sum(theta * tf.range(7, dtype=tf.float32))
    assert not np.all(np.isfinite(tape.gradient(loss, beta).numpy()))
    assert MIN_SAMPLING_CONCENTRATION >= 0.04


def test_masked_ops_get_zero_weight_and_rows_sum_to_one():
    mask = [[True, False, True, False, True]] * 3 + [[False, True, True, True, True]] * 3
    dist = ArchitectureDistribution(6, 5, op_mask=mask, seed=0)
    dist.build()
    for theta in (dist.sample(), dist.mean(), dist.softmax()):
        theta = theta.numpy()
        assert np.all(theta[~np.array(mask)] == 0)
        np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-5)


def test_mean_is_beta_over_sum_and_inference_modes():
    dist = ArchitectureDistribution(2, 3, seed=0)
    dist.build()
    dist.eta.assign([[0.5, -1.0, 0.0], [2.0, 2.0, -0.5]])
    beta = np.array([[1.5, np.exp(-1.0), 1.0], [3.0, 3.0, np.exp(-0.5)]])
    np.testing.assert_allclose(dist.mean().numpy(), beta / beta.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(dist.op_weights(training=False).numpy(), dist.mean().numpy())
    a, b = dist.op_weights(training=True).numpy(), dist.op_weights(training=True).numpy()
    assert not np.allclose(a, b)  # fresh sample per forward pass


def test_same_seed_same_samples():
    def draws(seed):
        dist = ArchitectureDistribution(6, 5, seed=seed)
        dist.build()
        return [dist.sample().numpy() for _ in range(3)]

    for a, b in zip(draws(7), draws(7)):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(draws(7)[0], draws(8)[0])


def test_top_k_mask_keeps_largest():
    eta = [[0.1, 0.5, -0.2, 0.3], [1.0, -1.0, 0.0, 2.0]]
    assert top_k_mask(eta, 2) == [[False, True, False, True], [True, False, False, True]]
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        top_k_mask(eta, 5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="relaxation must be one of"):
        ArchitectureDistribution(2, 2, relaxation="gumbel")
    with pytest.raises(ValueError, match=r"op_mask must have shape \(2, 3\)"):
        ArchitectureDistribution(2, 3, op_mask=[[True, True]])
    with pytest.raises(ValueError, match="leaves no op on edges"):
        ArchitectureDistribution(1, 2, op_mask=[[False, False]])
