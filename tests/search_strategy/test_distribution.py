"""The architecture distribution on either backend; the comparisons with
TFP's own Dirichlet run on TensorFlow."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_drnas.search_strategy import ArchitectureDistribution, DrNASCell
from keras_drnas.search_strategy.distribution import eta_to_log_concentration, sample_dirichlet, top_k_mask
from tests.helpers import gradients, tensorflow_only, to_numpy

# float64 samples need JAX's x64 mode on JAX; there the library samples in float32.
DTYPES = ["float32", pytest.param("float64", marks=tensorflow_only)]


def stateless_seed(a, b):
    """TFP's int32 seed pair on TensorFlow, an integer seed on JAX."""
    return np.array([a, b], np.int32) if keras.backend.backend() == "tensorflow" else 1000 * a + b


def closed_form_gradient(eta, c):
    """d/d eta of E[sum(c * theta)] = sum(c * beta) / sum(beta), per row."""
    beta = np.where(eta > 0, eta + 1, np.exp(eta))
    total = beta.sum(axis=-1, keepdims=True)
    mean_c = (c * beta).sum(axis=-1, keepdims=True) / total
    return (c - mean_c) / total * np.where(eta > 0, 1.0, beta)


def test_gradient_matches_closed_form_within_monte_carlo_error():
    """d/d eta of E[sum(c * theta)], estimated through the layer's samples."""
    eta0 = np.array([0.4, -0.3, 1.2, 0.0, -0.8], np.float32)
    c = np.array([1.0, -2.0, 0.5, 3.0, -1.0], np.float32)
    rows = 100_000  # each row: one independent sample of the same Dirichlet
    dist = ArchitectureDistribution(rows, 5, seed=1)
    dist.build()
    dist.eta.assign(np.tile(eta0, (rows, 1)))
    _, (per_row,) = gradients(lambda: ops.sum(dist.sample() * c), [dist.eta], [dist])

    expected = closed_form_gradient(eta0, c)

    estimate = per_row.mean(axis=0)
    stderr = per_row.std(axis=0) / np.sqrt(rows)
    np.testing.assert_array_less(np.abs(estimate - expected), 4 * stderr + 1e-4)
    # A wrong gradient (e.g. the sign flipped) would be far outside that band.
    assert np.all(np.abs(expected) > 10 * stderr)


@pytest.mark.parametrize("eta_value", [-5.0, 5.0])
def test_no_nan_in_samples_or_gradients_at_extreme_eta(eta_value):
    cell = DrNASCell("nas-bench-201", channels=4, seed=3)
    x = keras.random.normal((2, 8, 8, 4))
    cell(x, training=True)
    eta = np.full((6, 5), eta_value, np.float32)
    eta[:, 0] = -eta_value  # mix tiny and large concentrations on every edge
    cell.distribution.eta.assign(eta)
    assert any(w is cell.distribution.eta for w in cell.trainable_weights)

    def loss():
        return ops.sum(cell(x, op_weights=cell.distribution.op_weights(training=True), training=True) ** 2)

    for _ in range(20):
        _, grads = gradients(loss, cell.trainable_weights, [cell])
        for g in grads:
            assert g is not None and np.all(np.isfinite(g))
        theta = to_numpy(cell.distribution.op_weights(training=True))
        assert np.all(np.isfinite(theta))
        np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_matches_closed_form_for_small_concentrations(dtype):
    """Edges mixing eta in {-10, -5, -3, 0, 3}: the Monte-Carlo gradient of
    E[sum(c * theta)] through the samples matches the closed form."""
    edges = np.array([[-10, 0, 1, -3], [-5, 0.5, -1, 3], [-3, 3, 0, -10], [0, -5, 3, -3]])
    c = np.array([[1, -2, 0.5, 3], [3, 1, -2, 0.5], [-2, 0.5, 3, 1], [0.5, 3, 1, -2]])
    draws = 25_000  # independent samples of each edge's Dirichlet
    eta = keras.Variable(np.repeat(edges, draws, axis=0), dtype=dtype)
    costs = np.repeat(c, draws, axis=0).astype(dtype)
    _, (per_draw,) = gradients(
        lambda: ops.sum(sample_dirichlet(eta_to_log_concentration(eta), stateless_seed(1, 2)) * costs), [eta])
    per_draw = per_draw.reshape(len(edges), draws, -1)

    expected = closed_form_gradient(edges, c)
    estimate = per_draw.mean(axis=1)
    stderr = per_draw.std(axis=1) / np.sqrt(draws)
    np.testing.assert_array_less(np.abs(estimate - expected), 4 * stderr + 1e-4)
    # The band resolves every gradient down to eta = -5 (about 0.003; a
    # floored sampler gives exactly 0 there, far outside it). At eta = -10
    # the gradient (2e-5) is below what 25,000 draws resolve ...
    resolvable = (edges >= -5) & (np.abs(expected) > 1e-3)
    assert np.all(np.abs(expected[resolvable]) > 8 * stderr[resolvable])
    assert resolvable[edges == -5].all() and resolvable[edges == -3].all()

    # ... so eta = -10 has an edge of its own: two ops, [-10, 0], costs far
    # apart, 10^6 draws. Its gradient, (c_0 - mean c) / sum(beta) * beta_0 =
    # 2.3e-4 (beta_0 = e^-10), comes from the ~beta_0 * 10^6 draws in which
    # theta_0 is not ~0; the estimator's standard error is then about a
    # tenth of it, and no absolute slack is allowed.
    tiny_edge, tiny_c, tiny_draws = np.array([[-10.0, 0.0]]), np.array([[3.0, -2.0]]), 1_000_000
    eta = keras.Variable(np.repeat(tiny_edge, tiny_draws, axis=0), dtype=dtype)
    costs = np.repeat(tiny_c, tiny_draws, axis=0).astype(dtype)
    _, (per_draw,) = gradients(
        lambda: ops.sum(sample_dirichlet(eta_to_log_concentration(eta), stateless_seed(3, 4)) * costs), [eta])
    per_draw = per_draw.astype(np.float64)
    expected = closed_form_gradient(tiny_edge, tiny_c)[0]
    estimate, stderr = per_draw.mean(axis=0), per_draw.std(axis=0) / np.sqrt(tiny_draws)
    print("eta = -10 edge: expected", expected, "estimate", estimate, "stderr", stderr)
    assert abs(expected[0]) > 8 * stderr[0]  # resolved: a floor anywhere above eta = -10 is caught
    np.testing.assert_array_less(np.abs(estimate - expected), 4 * stderr)


def test_sample_mean_follows_small_concentrations():
    """eta = [-4, 0, 1]: the first op's mean weight is 0.0061 (a sampler
    floored at beta = 0.05 gives 0.0170)."""
    eta = np.array([-4.0, 0.0, 1.0])
    beta = np.array([np.exp(-4.0), 1.0, 2.0])
    mean = beta / beta.sum()
    draws = 100_000  # rows of one layer, each an independent sample
    dist = ArchitectureDistribution(draws, 3, seed=4)
    dist.build()
    dist.eta.assign(np.tile(eta, (draws, 1)))
    theta = to_numpy(dist.sample())
    stderr = np.sqrt(mean * (1 - mean) / (beta.sum() + 1) / draws)  # the Dirichlet's own variance
    np.testing.assert_array_less(np.abs(theta.mean(axis=0) - mean), 4 * stderr)
    assert 4 * stderr[0] < 0.001  # tight enough to tell 0.0061 from 0.0170


@pytest.mark.parametrize("dtype", DTYPES)
def test_samples_and_gradients_finite_for_eta_in_minus_20_to_20(dtype):
    rng = np.random.default_rng(0)
    grid = np.linspace(-20, 20, 81)
    grid_rows = np.stack([np.roll(grid, shift)[:7] for shift in range(0, 81, 3)])  # 27 rows, every grid value
    random_rows = rng.uniform(-20, 20, (200, 7))
    tiny_rows = np.full((20, 7), -20.0)  # every concentration exp(-20)
    mask = rng.random((247, 7)) < 0.8
    mask[np.arange(247), rng.integers(0, 7, 247)] = True  # at least one op kept per row
    eta = keras.Variable(np.concatenate([grid_rows, random_rows, tiny_rows]), dtype=dtype)
    assert set(np.round(to_numpy(eta)[:27].ravel(), 6)) == set(np.round(grid, 6))
    for seed in range(5):
        for op_mask in (None, mask):
            costs = rng.normal(size=(247, 7)).astype(dtype)
            draw = lambda: sample_dirichlet(eta_to_log_concentration(eta), stateless_seed(seed, 0), mask=op_mask)  # noqa: E731
            _, (gradient,) = gradients(lambda: ops.sum(draw() * costs), [eta])
            theta = to_numpy(draw())
            assert theta.dtype == dtype
            assert np.all(np.isfinite(theta)) and np.all(np.isfinite(gradient))
            np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-5)
            if op_mask is not None:
                assert np.all(theta[~mask] == 0) and np.all(gradient[~mask] == 0)


@tensorflow_only
def test_concentrations_down_to_the_limit_use_tfps_own_gamma_draw_and_gradient():
    """Where TFP's float64 Gamma draw is exact (beta >= 0.05, eta >= -3), the
    sample and its gradient are TFP's: normalized Gamma(beta) draws, same seed."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    seed = tf.constant([3, 4], tf.int32)
    eta = tf.Variable(np.random.default_rng(1).uniform(-2.99, 20, (14, 7)), dtype=tf.float64)
    assert eta.numpy().min() < -2.5 and np.mean(eta.numpy() < 0) > 0.05
    with tf.GradientTape(persistent=True) as tape:
        ours = sample_dirichlet(eta_to_log_concentration(eta), seed)
        beta = tf.where(eta > 0, eta + 1.0, tf.exp(tf.minimum(eta, 0.0)))
        gamma = tfp.distributions.Gamma(beta, rate=tf.ones((), tf.float64)).sample(seed=tfp.random.split_seed(seed)[0])
        tfps = gamma / tf.reduce_sum(gamma, axis=-1, keepdims=True)
        weights = tf.range(7, dtype=tf.float64)
        our_loss, tfp_loss = tf.reduce_sum(ours * weights), tf.reduce_sum(tfps * weights)
    np.testing.assert_allclose(ours.numpy(), tfps.numpy(), rtol=1e-10)
    np.testing.assert_allclose(tape.gradient(our_loss, eta).numpy(), tape.gradient(tfp_loss, eta).numpy(), rtol=1e-8, atol=1e-14)


@tensorflow_only
def test_gradient_noise_is_the_implicit_estimators_near_beta_one():
    """The paper's estimator: per op, the gradient's standard deviation at
    eta in {-0.5, -0.1, -0.01, 0.01} equals that of TFP's own Dirichlet
    (implicit reparameterization, independent draws) within Monte-Carlo
    error. The shape augmentation, used for every beta < 1 before, is 13-15%
    noisier there with this objective."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    eta_row = np.array([-0.5, -0.1, -0.01, 0.01, 0.5])
    c = tf.constant([1.0, -1.0, 1.0, -1.0, 0.5], tf.float64)
    draws = 50_000  # each row: one independent sample of the same Dirichlet
    dist = ArchitectureDistribution(draws, 5, seed=11)
    dist.build()
    dist.eta.assign(np.tile(eta_row, (draws, 1)))
    with tf.GradientTape() as tape:
        objective = tf.reduce_sum(tf.cast(dist.sample(), tf.float64) * c)
    ours = tape.gradient(objective, dist.eta).numpy().astype(np.float64)

    eta = tf.Variable(np.tile(eta_row, (draws, 1)))
    with tf.GradientTape() as tape:
        beta = tf.where(eta > 0, eta + 1.0, tf.exp(tf.minimum(eta, 0.0)))
        theta = tfp.distributions.Dirichlet(beta).sample(seed=tf.constant([5, 6], tf.int32))
        objective = tf.reduce_sum(theta * c)
    reference = tape.gradient(objective, eta).numpy()

    def std_and_error(grads):
        std = grads.std(axis=0)
        kurtosis = np.mean((grads - grads.mean(axis=0)) ** 4, axis=0) / std**4
        return std, std * np.sqrt((kurtosis - 1) / (4 * draws))  # the sample std's standard error

    (ours_std, ours_err), (tfp_std, tfp_err) = std_and_error(ours), std_and_error(reference)
    band = 4 * np.hypot(ours_err, tfp_err)
    print("gradient std, ours / TFP's, per op:", np.round(ours_std / tfp_std, 4), "allowed:", np.round(band / tfp_std, 4))
    np.testing.assert_array_less(np.abs(ours_std - tfp_std), band)
    assert np.all(band < 0.08 * tfp_std)  # tight enough to tell an estimator 13% noisier


@tensorflow_only
def test_raw_tfp_float32_gradient_is_nan_for_small_concentrations():
    """Why `sample_dirichlet` exists: TFP's own float32 Dirichlet gradient is
    NaN at beta ~ 0.007 (eta = -5), where ours is finite."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    seed = tf.constant([1, 2], tf.int32)
    eta = tf.Variable(tf.fill((14, 7), -5.0))
    with tf.GradientTape(persistent=True) as tape:
        raw = tfp.distributions.Dirichlet(tf.exp(eta)).sample(seed=seed)
        ours = sample_dirichlet(eta_to_log_concentration(eta), seed)
        raw_loss = tf.reduce_sum(raw * tf.range(7, dtype=tf.float32))
        our_loss = tf.reduce_sum(ours * tf.range(7, dtype=tf.float32))
    assert not np.all(np.isfinite(tape.gradient(raw_loss, eta).numpy()))
    assert np.all(np.isfinite(tape.gradient(our_loss, eta).numpy()))


def test_masked_ops_get_zero_weight_and_rows_sum_to_one():
    mask = [[True, False, True, False, True]] * 3 + [[False, True, True, True, True]] * 2
    mask += [[False, False, True, False, False]]  # one op left: it weighs exactly 1
    dist = ArchitectureDistribution(6, 5, op_mask=mask, seed=0)
    dist.build()
    dist.eta.assign(np.random.default_rng(0).uniform(-20, 20, (6, 5)))
    for theta in (dist.sample(), dist.mean(), dist.softmax()):
        assert keras.backend.standardize_dtype(theta.dtype) == "float32"
        theta = to_numpy(theta)
        assert np.all(theta[~np.array(mask)] == 0)
        assert theta[5, 2] == 1.0
        np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-5)


def test_mean_is_beta_over_sum_and_inference_modes():
    dist = ArchitectureDistribution(2, 3, seed=0)
    dist.build()
    dist.eta.assign([[0.5, -1.0, 0.0], [2.0, 2.0, -0.5]])
    beta = np.array([[1.5, np.exp(-1.0), 1.0], [3.0, 3.0, np.exp(-0.5)]])
    np.testing.assert_allclose(to_numpy(dist.mean()), beta / beta.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(dist.op_weights(training=False)), to_numpy(dist.mean()))
    a, b = to_numpy(dist.op_weights(training=True)), to_numpy(dist.op_weights(training=True))
    assert not np.allclose(a, b)  # fresh sample per forward pass


def test_same_seed_same_samples():
    def draws(seed):
        dist = ArchitectureDistribution(6, 5, seed=seed)
        dist.build()
        return [to_numpy(dist.sample()) for _ in range(3)]

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
