"""The two backends side by side: the entropy and KL anchor, supernets
computing on JAX what they compute on TensorFlow from the same weights; a
search on JAX without TensorFlow, and over two devices. The backend-neutral
tests (the sampler's gradient, checkpoints and resume, ...) run on JAX too,
in `make test`'s second run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import JAX_TEST_XLA_FLAGS
from tests.search_strategy.jax_reference import ETA, IMAGES, LABELS, fixed_op_weights, supernets

pytest.importorskip("jax")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _both_backends(folder):
    """Saves the TensorFlow side's supernet weights, runs the JAX process on them."""
    tensorflow_side = {}
    for name, supernet in supernets().items():
        for variable in supernet.weights:  # away from the initial values, so a mix-up shows
            variable.assign(variable.numpy() + np.random.default_rng(len(variable.path)).normal(0, 0.1, variable.shape))
        supernet.save_weights(str(folder / f"{name}.weights.h5"))
        tensorflow_side[name] = (supernet(IMAGES, training=False).numpy(), supernet.genotype().to_string(),
                                 *_loss_and_gradients(supernet))
    _run_on_jax("tests.search_strategy.jax_process", folder, folder / "out.npz")
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


def test_both_backends_compute_the_same_entropy_kl_logits_losses_and_gradients(tmp_path):
    """One JAX process (a compile of its own) for all comparisons."""
    import keras_drnas as kd

    jax_side, tensorflow_side = _both_backends(tmp_path)
    dist = kd.layers.ArchitectureDistribution(*ETA.shape, op_mask=ETA > -1.5)
    dist.build()
    dist.eta.assign(ETA)
    np.testing.assert_allclose(jax_side["entropy"], float(dist.entropy()), rtol=1e-5)
    np.testing.assert_allclose(jax_side["kl"], float(dist.kl_to_uniform()), rtol=1e-5)
    np.testing.assert_allclose(jax_side["sample_sums"], 1.0, rtol=1e-5)
    for name in ("nb201", "darts"):
        logits, genotype, loss, grads = tensorflow_side[name]
        assert np.std(logits) > 1e-3  # not a constant output
        np.testing.assert_allclose(jax_side[f"logits_{name}"], logits, rtol=1e-4, atol=1e-5, err_msg=name)
        assert str(jax_side[f"genotype_{name}"]) == genotype
        # The same training loss and gradients for one fixed op-weight sample (batch statistics in the batch norms).
        np.testing.assert_allclose(float(jax_side[f"loss_{name}"]), loss, rtol=1e-5, err_msg=name)
        assert sum(np.abs(g).sum() for g in grads) > 0
        for k, grad in enumerate(grads):
            np.testing.assert_allclose(jax_side[f"grad_{name}_{k}"], grad, rtol=2e-3, atol=2e-5,
                                       err_msg=f"{name} variable {k}")


def _run_on_jax(module, *args, xla_flags="", **env):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS=f"{JAX_TEST_XLA_FLAGS} {xla_flags}", **env)
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
    beta, initial = np.load(tmp_path / "concentration.npy"), np.load(tmp_path / "initial_concentration.npy")
    assert np.abs(beta - initial).max() > 1e-3  # its 5 arch steps (Adam at 3e-4) moved them
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


def test_data_parallel_over_two_devices_searches_as_one_device(tmp_path):
    _run_on_jax("tests.search_strategy.jax_devices_process", tmp_path / "out.npz",
                xla_flags="--xla_force_host_platform_device_count=2")
    out = np.load(tmp_path / "out.npz")
    assert int(out["eta_devices"]) == 2  # eta lives on both devices
    assert np.abs(out["one"] - out["initial"]).max() > 2e-3  # the arch steps moved them
    np.testing.assert_allclose(out["both"], out["one"], rtol=1e-5)
    np.testing.assert_allclose(out["both_loss"], out["one_loss"], rtol=1e-5)
    assert str(out["both_genotype"]) == str(out["one_genotype"])
