"""The layers and the search on JAX: the Dirichlet sampler's gradient
against its closed form, the entropy and KL anchor, supernets computing what
they compute on TensorFlow from the same weights; a search without
TensorFlow, resumed after SIGKILL, and over two devices."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.search_strategy.jax_reference import COSTS, EDGES, ETA, IMAGES, LABELS, fixed_op_weights, supernets
from tests.search_strategy.test_distribution import closed_form_gradient

pytest.importorskip("jax")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def on_jax(tmp_path_factory):
    """Saves the TensorFlow side's supernet weights, runs the JAX process on them."""
    folder = tmp_path_factory.mktemp("jax")
    tensorflow_side = {}
    for name, supernet in supernets().items():
        for variable in supernet.weights:  # away from the initial values, so a mix-up shows
            variable.assign(variable.numpy() + np.random.default_rng(len(variable.path)).normal(0, 0.1, variable.shape))
        supernet.save_weights(str(folder / f"{name}.weights.h5"))
        tensorflow_side[name] = (supernet(IMAGES, training=False).numpy(), supernet.genotype().to_string(),
                                 *_loss_and_gradients(supernet))
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "tests.search_strategy.jax_process", str(folder),
                             str(folder / "out.npz")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return np.load(folder / "out.npz"), tensorflow_side


def _loss_and_gradients(supernet):
    import keras
    import tensorflow as tf

    from keras_drnas.search_strategy.fixed_architecture import fixed_op_weights as fixed

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with fixed(supernet.distributions(), fixed_op_weights(supernet)), tf.GradientTape() as tape:
        loss = loss_fn(LABELS, supernet(IMAGES, training=True))
    grads = tape.gradient(loss, supernet.trainable_variables)
    zeros = [np.zeros(v.shape, "float32") for v in supernet.trainable_variables]  # eta: unused with a fixed sample
    return float(loss), [z if g is None else g.numpy() for g, z in zip(grads, zeros, strict=True)]


def test_the_jax_sampler_gradient_matches_the_closed_form(on_jax):
    jax_side, _ = on_jax
    expected = closed_form_gradient(EDGES, COSTS)
    np.testing.assert_array_less(np.abs(jax_side["estimate"] - expected), 4 * jax_side["stderr"] + 1e-4)
    resolvable = (EDGES >= -5) & (np.abs(expected) > 1e-3)  # as on TensorFlow: down to eta = -5
    assert np.all(np.abs(expected[resolvable]) > 8 * jax_side["stderr"][resolvable])
    tiny = closed_form_gradient(np.array([[-10.0, 0.0]]), np.array([[3.0, -2.0]]))[0]
    assert abs(tiny[0]) > 8 * jax_side["tiny_stderr"][0][0]  # eta = -10 resolved: no floor, no NaN
    np.testing.assert_array_less(np.abs(jax_side["tiny_estimate"][0] - tiny), 4 * jax_side["tiny_stderr"][0])


def test_entropy_and_kl_anchor_agree_with_tensorflow(on_jax):
    import keras_drnas as kd

    jax_side, _ = on_jax
    dist = kd.layers.ArchitectureDistribution(*ETA.shape, op_mask=ETA > -1.5)
    dist.build()
    dist.eta.assign(ETA)
    np.testing.assert_allclose(jax_side["entropy"], float(dist.entropy()), rtol=1e-5)
    np.testing.assert_allclose(jax_side["kl"], float(dist.kl_to_uniform()), rtol=1e-5)
    np.testing.assert_allclose(jax_side["sample_sums"], 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_supernets_compute_the_same_logits_and_genotype_on_both_backends(on_jax, name):
    jax_side, tensorflow_side = on_jax
    logits, genotype, loss, grads = tensorflow_side[name]
    assert np.std(logits) > 1e-3  # not a constant output
    np.testing.assert_allclose(jax_side[f"logits_{name}"], logits, rtol=1e-4, atol=1e-5)
    assert str(jax_side[f"genotype_{name}"]) == genotype
    # The same training loss and gradients for one fixed op-weight sample (batch statistics in the batch norms).
    np.testing.assert_allclose(float(jax_side[f"loss_{name}"]), loss, rtol=1e-5)
    assert sum(np.abs(g).sum() for g in grads) > 0
    for k, grad in enumerate(grads):
        np.testing.assert_allclose(jax_side[f"grad_{name}_{k}"], grad, rtol=2e-3, atol=2e-5, err_msg=f"variable {k}")


def _run_on_jax(module, *args, **env):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", **env)
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_a_digits_search_on_jax_needs_no_tensorflow_and_its_network_exports_on_tensorflow(tmp_path):
    import keras

    from keras_drnas.derived_model.export import run_tflite, to_tflite
    from keras_drnas.search_space import Genotype

    _run_on_jax("tests.search_strategy.jax_search_process", tmp_path)  # `import tensorflow` fails there
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["pairs"] == "ArrayPairs" and not result["tensorflow_imported"]
    history = result["history"]
    assert history["arch_loss"][0] == 0.0 and history["arch_loss"][-1] > 0  # one warm-up epoch, then arch steps
    assert history["loss"][-1] < history["loss"][0]
    beta = np.load(tmp_path / "concentration.npy")
    assert np.abs(beta - np.load(tmp_path / "initial_concentration.npy")).max() > 2e-3  # the arch steps moved them
    Genotype.from_string(result["genotype"], "nb201")
    assert set(result["evaluation"]) == {"loss", "accuracy"} and result["evaluation"]["accuracy"] > 0.1
    # TensorFlow-only features say so on JAX.
    assert "TensorFlow backend only" in result["errors"]["tflite"] and ".keras" in result["errors"]["tflite"]
    assert "ExplorationRecorder runs on Keras' TensorFlow backend only" in result["errors"]["exploration"]
    assert "The search diverged at epoch 1, step " in result["errors"]["diverged"]  # a NaN loss stops it

    model = keras.models.load_model(tmp_path / "derived.keras")  # built-in layers only
    images = np.load(tmp_path / "images.npy")
    outputs = model.predict(images, verbose=0)
    np.testing.assert_allclose(outputs, np.load(tmp_path / "outputs.npy"), rtol=1e-4, atol=1e-5)
    tflite = run_tflite(to_tflite(model), images)
    np.testing.assert_array_equal(tflite.argmax(-1), outputs.argmax(-1))


def test_a_jax_search_killed_mid_epoch_resumes_exactly(tmp_path):
    """The progressive search of the checkpoint tests, on JAX: SIGKILLed
    after a step of its second epoch, then resumed, it ends as the run
    that was never stopped."""
    import signal

    script = [sys.executable, "-m", "tests.search_strategy.search_process"]
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    _run_on_jax("tests.search_strategy.search_process", tmp_path / "reference", tmp_path / "reference.npz")
    process = subprocess.Popen([*script, str(tmp_path / "run"), str(tmp_path / "run.npz")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in process.stdout:
            if line.strip() == "STEP 1 2":
                process.send_signal(signal.SIGKILL)
                break
        assert process.wait(timeout=300) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    resumed = _run_on_jax("tests.search_strategy.search_process", tmp_path / "run", tmp_path / "run.npz")
    assert resumed.stdout.splitlines()[0] == "EPOCH 1"
    reference, run = (np.load(tmp_path / f"{n}.npz", allow_pickle=True) for n in ("reference", "run"))
    assert list(run["names"]) == list(reference["names"])
    for name, a, b in zip(reference["names"], reference["weights"], run["weights"], strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for key in ("iterations", "genotype", "history", "concentration_normal"):
        np.testing.assert_array_equal(run[key], reference[key], err_msg=key)


def test_data_parallel_over_two_devices_searches_as_one_device(tmp_path):
    _run_on_jax("tests.search_strategy.jax_devices_process", tmp_path / "out.npz",
                XLA_FLAGS="--xla_force_host_platform_device_count=2")
    out = np.load(tmp_path / "out.npz")
    assert int(out["eta_devices"]) == 2  # eta lives on both devices
    assert np.abs(out["one"] - out["initial"]).max() > 2e-3  # the arch steps moved them
    np.testing.assert_allclose(out["both"], out["one"], rtol=1e-5)
    np.testing.assert_allclose(out["both_loss"], out["one_loss"], rtol=1e-5)
    assert str(out["both_genotype"]) == str(out["one_genotype"])
