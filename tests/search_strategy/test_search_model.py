
import keras
import numpy as np
import pytest
from scipy.special import digamma, gammaln

import keras_drnas as kd
from keras_drnas.utils import keras_compat
from keras_drnas.data import load_digits, search_pairs, split_half
from keras_drnas.search_strategy import SearchModel
from tests.helpers import changed, compiled, gradients, snapshot, tiny_pairs, to_numpy


@pytest.mark.parametrize("frozen", ["none", "weights", "arch"])
def test_each_step_moves_only_its_own_variables(frozen):
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0),
                      learning_rate=0.0 if frozen == "weights" else 0.05,
                      arch_learning_rate=0.0 if frozen == "arch" else 3e-3,
                      weight_decay=0.0 if frozen == "weights" else 3e-4)
    pairs = tiny_pairs()
    search.build_for(pairs)
    weights, arch = search.weight_variables, search.architecture_variables
    assert {id(v) for v in weights}.isdisjoint({id(v) for v in arch})
    w0, a0 = snapshot(weights), snapshot(arch)
    search.fit(pairs, epochs=1, steps_per_epoch=1, verbose=0)
    assert changed(w0, weights) == (frozen != "weights")
    assert changed(a0, arch) == (frozen != "arch")
    assert int(search.optimizer.iterations) == 1 and int(search.arch_optimizer.iterations) == 1


def test_anchor_gradient_is_lambda_times_eta():
    search = SearchModel(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), anchor_strength=0.3)
    eta = search.architecture_variables[0]
    eta.assign(keras.random.normal(eta.shape))
    _, (grad,) = gradients(search.anchor_loss, [eta])
    np.testing.assert_allclose(grad, 0.3 * to_numpy(eta), rtol=1e-6)
    kl = SearchModel(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), anchor="kl")
    assert float(kl.anchor_loss()) >= 0.0


def _kl_to_dirichlet_one(beta):
    """KL(Dir(beta) || Dir(1)) per row, in closed form."""
    total = beta.sum(axis=-1)
    return (gammaln(total) - gammaln(beta).sum(axis=-1) - gammaln(beta.shape[-1])
            + ((beta - 1.0) * (digamma(beta) - digamma(total)[..., None])).sum(axis=-1))


@pytest.mark.parametrize("space", ["nas-bench-201", "darts"])
def test_kl_anchor_is_lambda_times_closed_form_kl_summed_over_edges(space):
    """anchor="kl": anchor_strength * sum over edges (of every cell type) of
    KL(Dir(beta) || Dir(1)), beta = ELU(eta) + 1, at an eta far from 0."""
    supernet = (kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0) if space == "nas-bench-201"
                else kd.DartsSupernet(channels=4, num_cells=3, seed=0))
    kl = SearchModel(supernet, anchor="kl", anchor_strength=0.3)
    rng = np.random.default_rng(0)
    expected = 0.0
    for variable in kl.architecture_variables:
        eta = rng.uniform(-3.0, 3.0, variable.shape).astype("float32")
        variable.assign(eta)
        beta = np.where(eta > 0, eta.astype(np.float64) + 1.0, np.exp(eta.astype(np.float64)))
        expected += _kl_to_dirichlet_one(beta).sum()
    assert len(kl.architecture_variables) == (1 if space == "nas-bench-201" else 2)
    assert expected > 1.0  # far from the anchor: a constant 0, or a KL of the wrong pair, is far off
    np.testing.assert_allclose(float(kl.anchor_loss()), 0.3 * expected, rtol=1e-5)


def test_arch_warmup_holds_architecture():
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), arch_warmup_epochs=1)
    pairs = tiny_pairs()
    search.build_for(pairs)
    a0 = snapshot(search.architecture_variables)
    search.fit(pairs, epochs=1, verbose=0)
    assert not changed(a0, search.architecture_variables)
    search.fit(pairs, epochs=2, initial_epoch=1, verbose=0)
    assert changed(a0, search.architecture_variables)


def test_user_functional_model_with_one_cell_searches():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = kd.DrNASCell("nas-bench-201", channels=8, seed=0)(x)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    search = compiled(keras.Model(inputs, outputs))
    history = search.fit(tiny_pairs(), epochs=2, verbose=0)
    assert {"loss", "accuracy", "arch_loss", "arch_accuracy", "entropy"} <= set(history.history)
    genotype = search.genotype()
    assert genotype.space == "nas-bench-201" and len(search.genotype_history) == 2


def test_digits_search_lowers_loss_and_moves_concentrations():
    (xt, yt), (xv, yv) = split_half(*load_digits())
    pairs = search_pairs((xt, yt), (xv, yv), batch_size=64, seed=0)
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), learning_rate=0.05, arch_learning_rate=3e-3)
    history = search.fit(pairs, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    beta = search.supernet.concentrations()["normal"]
    assert np.abs(beta - 1.0).max() > 0.02  # init is within 1e-3 * N(0, 1) of 1
    held_out = (xv - xt.mean(axis=(0, 1, 2))) / (xt.std(axis=(0, 1, 2)) + 1e-7)  # as the search's batches
    evaluation = search.evaluate(held_out, yv, batch_size=64, verbose=0, return_dict=True)
    assert set(evaluation) == {"loss", "accuracy"} and evaluation["accuracy"] > 0.3


@pytest.fixture
def op_determinism():
    """Op determinism on for one test, then back to what it was before (TF
    exports only `enable_op_determinism`; its switch-off and query live in
    tensorflow.python.framework.config)."""
    if keras.backend.backend() != "tensorflow":  # XLA's CPU kernels are deterministic
        yield
        return
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    was_enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    assert tf_config.is_op_determinism_enabled()
    yield
    if not was_enabled:
        tf_config.disable_op_determinism()
    assert tf_config.is_op_determinism_enabled() == was_enabled, "op determinism was not switched back off"


def _search_once(seed):
    keras.utils.set_random_seed(seed)
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=seed))
    search.fit(tiny_pairs(seed=seed), epochs=2, verbose=0)
    return search.genotype(), search.supernet.concentrations()["normal"]


def test_same_seed_same_genotype_and_concentrations(op_determinism):
    g1, b1 = _search_once(3)
    g2, b2 = _search_once(3)
    assert g1 == g2
    # Equal up to float32 rounding: CPU kernels may sum in another order (seen: 1 ulp, once).
    np.testing.assert_allclose(b1, b2, rtol=1e-6, atol=0)
    _, b3 = _search_once(4)
    assert not np.array_equal(b1, b3)


def test_images_must_fit_the_built_model():
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    search.fit(tiny_pairs(size=8, channels=1), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="the height differs"):
        search.fit(tiny_pairs(size=16, channels=1), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="the channels differs"):
        search.fit(tiny_pairs(size=8, channels=3), epochs=1, verbose=0)
    x, y = np.zeros((16, 8, 8, 1), np.float32), np.zeros(16, np.int32)
    with pytest.raises(ValueError, match="search_pairs"):
        search.fit(x, y, batch_size=8, epochs=1, verbose=0)


def test_mixed_precision_search_step_keeps_float32_architecture():
    """The GPU recipe (a mixed policy) on the CPU: bfloat16 compute, float32 eta and logits."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, partial_channels=2, seed=0))
        history = search.fit(tiny_pairs(), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["arch_loss"][0])
        eta = search.architecture_variables[0]
        assert eta.dtype == "float32" and np.all(np.isfinite(to_numpy(eta)))
        assert search.supernet.classifier.compute_dtype == "float32"
        conv = [layer for layer in keras_compat.flatten_layers(search.supernet)
                if isinstance(layer, keras.layers.Conv2D)][0]
        assert conv.compute_dtype == "bfloat16"
        # Evaluation uses the Dirichlet mean, computed from float32 concentrations.
        x = np.random.default_rng(0).random((32, 8, 8, 1)).astype("float32")
        evaluation = search.evaluate(x, np.arange(32) % 10, batch_size=16, verbose=0, return_dict=True)
        assert np.isfinite(evaluation["loss"])
        np.testing.assert_allclose(search.supernet.expected_op_weights()["normal"].sum(axis=1), 1.0, rtol=1e-6)
    finally:
        keras.mixed_precision.set_global_policy("float32")
