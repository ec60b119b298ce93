import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.cli import main
from keras_drnas.data import DataError, load_digits, search_pairs, split_half
from keras_drnas.search_model import SearchModel, default_arch_optimizer, default_weight_optimizer


def tiny_pairs(n=128, size=8, channels=1, classes=10, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, channels)).astype("float32")
    y = rng.integers(0, classes, n).astype("int32")
    return search_pairs((x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :]), batch_size, classes, seed=seed)


def compiled(model, lr=0.05, arch_lr=3e-3, **kwargs):
    search = SearchModel(model, **kwargs)
    search.compile(optimizer=default_weight_optimizer(lr, 0.0), arch_optimizer=default_arch_optimizer(arch_lr),
                   metrics=["accuracy"])
    return search


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return any(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))


@pytest.mark.parametrize("frozen", ["none", "weights", "arch"])
def test_each_step_moves_only_its_own_variables(frozen):
    search = compiled(kd.nas_bench_201(C=4, N=1, seed=0),
                      lr=0.0 if frozen == "weights" else 0.05,
                      arch_lr=0.0 if frozen == "arch" else 3e-3,
                      weight_decay=0.0 if frozen == "weights" else 3e-4)
    pairs = tiny_pairs()
    search.build_for(pairs)
    weights, arch = search.weight_variables, search.architecture_variables
    assert {id(v) for v in weights}.isdisjoint({id(v) for v in arch})
    w0, a0 = snapshot(weights), snapshot(arch)
    search.fit(pairs.take(1), epochs=1, verbose=0)
    assert changed(w0, weights) == (frozen != "weights")
    assert changed(a0, arch) == (frozen != "arch")
    assert search.optimizer.iterations.numpy() == 1 and search.arch_optimizer.iterations.numpy() == 1


def test_anchor_gradient_is_lambda_times_eta():
    search = SearchModel(kd.nas_bench_201(C=4, N=1, seed=0), anchor_strength=0.3)
    eta = search.architecture_variables[0]
    eta.assign(tf.random.normal(eta.shape))
    with tf.GradientTape() as tape:
        anchor = search.anchor_loss()
    np.testing.assert_allclose(tape.gradient(anchor, eta).numpy(), 0.3 * eta.numpy(), rtol=1e-6)
    kl = SearchModel(kd.nas_bench_201(C=4, N=1, seed=0), anchor="kl")
    assert float(kl.anchor_loss()) >= 0.0


def test_arch_warmup_holds_architecture():
    search = compiled(kd.nas_bench_201(C=4, N=1, seed=0), arch_warmup_epochs=1)
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
    search = compiled(kd.nas_bench_201(C=8, N=1, seed=0), lr=0.05, arch_lr=3e-3)
    history = search.fit(pairs, epochs=4, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    beta = search.model.concentrations()["normal"]
    assert np.abs(beta - 1.0).max() > 0.02  # init is within 1e-3 * N(0, 1) of 1
    evaluation = search.evaluate(search_pairs((xv, yv), (xv, yv), 64).map(lambda t, v: t), verbose=0,
                                 return_dict=True)
    assert set(evaluation) == {"loss", "accuracy"} and evaluation["accuracy"] > 0.3


def _search_once(seed):
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    search = compiled(kd.nas_bench_201(C=4, N=1, seed=seed))
    search.fit(tiny_pairs(seed=seed), epochs=2, verbose=0)
    return search.genotype(), search.model.concentrations()["normal"]


def test_same_seed_same_genotype_and_concentrations():
    g1, b1 = _search_once(3)
    g2, b2 = _search_once(3)
    assert g1 == g2
    # Equal up to float32 rounding: CPU kernels may sum in another order (seen: 1 ulp, once).
    np.testing.assert_allclose(b1, b2, rtol=1e-6, atol=0)
    _, b3 = _search_once(4)
    assert not np.array_equal(b1, b3)


def test_bad_data_gets_clear_errors():
    x = np.random.rand(64, 8, 8, 1).astype("float32")
    y = np.arange(64) % 10
    with pytest.raises(DataError, match="labels must be >= 0 and below num_classes=10; found labels from 3 to 12"):
        search_pairs((x, y + 3), (x, y), 16, num_classes=10)
    bad = x.copy()
    bad[5, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="1 images contain NaN or infinite values \\(first at index 5\\)"):
        search_pairs((bad, y), (x, y), 16)
    with pytest.raises(DataError, match="empty"):
        search_pairs((x[:0], y[:0]), (x, y), 16)
    with pytest.raises(DataError, match="batch size 100 is larger than the train half \\(64 examples\\)"):
        search_pairs((x, y), (x, y), 100)
    with pytest.raises(DataError, match="must be \\(examples, height, width, channels\\)"):
        search_pairs((x[..., 0], y), (x, y), 16)

    search = compiled(kd.nas_bench_201(C=4, N=1, seed=0))
    search.fit(tiny_pairs(size=8, channels=1), epochs=1, verbose=0)
    with pytest.raises(DataError, match="the height differs"):
        search.fit(tiny_pairs(size=16, channels=1), epochs=1, verbose=0)
    with pytest.raises(DataError, match="the channels differs"):
        search.fit(tiny_pairs(size=8, channels=3), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="search_pairs"):
        search.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)


def test_bad_labels_inside_a_tf_data_pipeline_are_named():
    x = np.random.rand(64, 8, 8, 1).astype("float32")
    y = np.full(64, 11, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    pairs = search_pairs(dataset, dataset, 16, num_classes=10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in 0..9"):
        next(iter(pairs))


def _write_image_folder(root, classes=3, per_class=12, size=16):
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((size, size, 3)) * 255).astype("uint8")
            pixels[..., c] = 255  # learnable signal
            (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())


def test_cli_search_on_an_image_folder(tmp_path, capsys):
    _write_image_folder(tmp_path / "images")
    out = tmp_path / "out"
    code = main(["search", "--data-dir", str(tmp_path / "images"), "--C", "4", "--N", "1", "--epochs", "2",
                 "--batch-size", "8", "--output-dir", str(out), "--verbose", "0"])
    assert code == 0
    genotype = kd.Genotype.load(out / "genotype.json")
    assert genotype.space == "nas-bench-201"
    assert genotype.to_nb201_string() in capsys.readouterr().out
    record = json.loads((out / "history.json").read_text())
    assert record["num_classes"] == 3 and record["image_shape"] == [16, 16, 3]
    assert len(record["history"]["loss"]) == 2
    beta = json.loads((out / "concentrations.json").read_text())["normal"]["beta"]
    assert np.array(beta).shape == (6, 5)
    # A checkpoint is never overwritten by accident; --resume continues it.
    args = ["search", "--data-dir", str(tmp_path / "images"), "--C", "4", "--N", "1", "--batch-size", "8",
            "--output-dir", str(out), "--verbose", "0"]
    assert main(args + ["--epochs", "3"]) == 2
    assert "holds a search checkpoint after epoch 2" in capsys.readouterr().err
    assert main(args + ["--epochs", "3", "--resume"]) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    record = json.loads((out / "history.json").read_text())
    assert len(record["history"]["loss"]) == 3 and len(record["genotypes"]) == 3


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["search", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    _write_image_folder(tmp_path / "few", classes=2, per_class=4)
    assert main(["search", "--data-dir", str(tmp_path / "few"), "--batch-size", "64", "--C", "4", "--N", "1"]) == 2
    assert "batch size 64 is larger than the train half" in capsys.readouterr().err
    assert main(["search", "--dataset", "cifar10", "--tfds-dir", str(tmp_path / "tfds")]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "tfds" / "downloads")


def _resumable_run(tmp_path, epochs, stop_after=None, progressive=False):
    """A search of `epochs` epochs, optionally stopped after `stop_after` and
    resumed from its checkpoint in a fresh Keras session."""
    from keras_drnas.callbacks import ProgressiveLearning, SearchCheckpoint, Stage

    rng = np.random.default_rng(0)
    x = rng.random((96, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype("int32")
    directory = str(tmp_path / "checkpoint")

    def session(initial_epoch, last_epoch, state=None):
        keras.backend.clear_session()
        keras.utils.set_random_seed(123)  # as the CLI does with --seed, which a checkpoint keeps
        tf.config.experimental.enable_op_determinism()
        stages = ProgressiveLearning([Stage(2, 2, 5), Stage(2, 1, 3)], seed=0) if progressive else None
        supernet = (SearchCheckpointed.supernet_from(state) if state
                    else kd.nas_bench_201(C=4, N=1, num_classes=2, K=2 if progressive else 1, seed=0))
        search = compiled(supernet)
        pairs = search_pairs((x[:48], y[:48]), (x[48:], y[48:]), 16, 2, seed=0,
                             epochs=epochs, initial_epoch=initial_epoch)
        search.build_for(pairs)
        if state:
            SearchCheckpointed.restore(search, directory, state, stages)
        callbacks = ([stages] if stages else []) + [SearchCheckpoint(directory, stages), Interrupt(last_epoch)]
        search.fit(pairs, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=3, verbose=0,
                   callbacks=callbacks)
        return search

    class Interrupt(keras.callbacks.Callback):
        """Stops the run after an epoch, as a crash right after a checkpoint would."""

        def __init__(self, last_epoch):
            super().__init__()
            self.last_epoch = last_epoch

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == self.last_epoch:
                self.model.stop_training = True

    SearchCheckpointed = SearchCheckpoint
    if stop_after is None:
        search = session(0, epochs)
    else:
        session(0, stop_after)
        state = SearchCheckpoint.load_state(directory)
        assert state["epoch"] == stop_after
        search = session(stop_after, epochs, state)
    return search


@pytest.mark.parametrize("progressive", [False, True])
def test_resumed_search_continues_exactly(tmp_path, progressive):
    straight = _resumable_run(tmp_path / "a", 4, progressive=progressive)
    resumed = _resumable_run(tmp_path / "b", 4, stop_after=3 if progressive else 2, progressive=progressive)
    assert resumed.genotype() == straight.genotype()
    assert len(resumed.genotype_history) == 4
    assert resumed.optimizer.iterations.numpy() == straight.optimizer.iterations.numpy() == 12
    for a, b in zip(straight.model.weights, resumed.model.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7, err_msg=a.path)


def test_tfds_path_with_mock_data(monkeypatch):
    import tensorflow_datasets as tfds

    from keras_drnas.data import tfds_search_data

    # mock_data replaces reading the prepared files; is_prepared stands in for them.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=400):
        data = tfds_search_data("imagenet16-120", data_dir="/nonexistent")
        images = list(data.train.take(8).as_numpy_iterator())
    assert data.num_classes == 120 and data.image_shape == (16, 16, 3)
    assert all(x.shape == (16, 16, 3) and 0.0 <= x.min() and x.max() <= 1.0 and 0 <= y < 120 for x, y in images)
    pairs = search_pairs(data.train, data.validation, 4, data.num_classes, seed=0)
    (xt, yt), (xv, yv) = next(iter(pairs))
    assert xt.shape == (4, 16, 16, 3) and xv.shape == (4, 16, 16, 3)


def test_mixed_precision_search_step_keeps_float32_architecture():
    """The GPU recipe (a mixed policy) on the CPU: bfloat16 compute, float32 eta and logits."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        search = compiled(kd.nas_bench_201(C=4, N=1, K=2, seed=0))
        history = search.fit(tiny_pairs(), epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0]) and np.isfinite(history.history["arch_loss"][0])
        eta = search.architecture_variables[0]
        assert eta.dtype == "float32" and np.all(np.isfinite(eta.numpy()))
        assert search.model.classifier.compute_dtype == "float32"
        conv = [l for l in search.model._flatten_layers() if isinstance(l, keras.layers.Conv2D)][0]
        assert conv.compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
