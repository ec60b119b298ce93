"""What a new Keras user tries in the first hour: each case ends in what a
Keras user expects, or in an error that names the fix."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.cli import main
from keras_drnas.data import load_digits, search_pairs, split_half
from keras_drnas.utils.errors import InputError
from tests.helpers import compiled, tiny_pairs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CellModel(keras.Model):
    """A subclassed model around a searchable cell, never called before fit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stem = keras.layers.Conv2D(8, 3, padding="same")
        self.cell = kd.layers.DrNASCell("nas-bench-201", channels=8, partial_channels=2, seed=0)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(10)

    def call(self, x, training=None):
        return self.head(self.pool(self.cell(self.stem(x), training=training)))


def test_a_cell_in_a_subclassed_model_searches_without_a_first_call():
    search = kd.SearchModel(CellModel(name="sub"))
    search.compile()
    history = search.fit(tiny_pairs(), epochs=1, verbose=0)
    assert len(search.architecture_variables) == 1 and np.isfinite(history.history["arch_loss"][0])
    assert search.genotype().space == "nas-bench-201"


def test_labels_beyond_the_models_outputs_fail_before_training():
    x, y = load_digits()
    y = y.copy()
    y[:12] = np.arange(12)  # labels 0..11 for a 10-class supernet
    pairs = search_pairs(*split_half(x[:256], y[:256]), batch_size=16)
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0))
    with pytest.raises(InputError, match=r"labels up to 11 \(12 classes\) but the model has 10 outputs: "
                                         r"build it with num_classes=12"):
        search.fit(pairs, epochs=1, verbose=0)
    # The same check for a functional model, read from its output shape.
    inputs = keras.Input((8, 8, 1))
    features = kd.layers.DrNASCell("nas-bench-201", channels=1, seed=0)(inputs)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    with pytest.raises(InputError, match="but the model has 10 outputs"):
        compiled(keras.Model(inputs, outputs)).fit(pairs, epochs=1, verbose=0)


def test_fit_before_compile_and_after_load_model_says_compile(tmp_path):
    search = kd.SearchModel(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    with pytest.raises(InputError, match=r"Call compile\(\) before fit\(\)"):
        search.fit(tiny_pairs(), epochs=1, verbose=0)
    search.compile()
    search.fit(tiny_pairs(), epochs=1, verbose=0)
    search.save(tmp_path / "search.keras")
    loaded = keras.models.load_model(tmp_path / "search.keras")
    with pytest.raises(InputError, match=r"needs compile\(\) again"):
        loaded.fit(tiny_pairs(), epochs=1, verbose=0)
    loaded.compile()
    assert "loss" in loaded.fit(tiny_pairs(), epochs=1, verbose=0).history


def test_fit_with_x_and_y_names_the_pairs():
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    x, y = np.zeros((32, 8, 8, 1), np.float32), np.zeros(32, np.int32)
    with pytest.raises(InputError, match=r"one dataset of \(\(x_train, y_train\), \(x_val, y_val\)\) batches"):
        search.fit(x, y, epochs=1)
    with pytest.raises(InputError, match="not x, y or batch_size"):
        search.fit(x, y=y, epochs=1)


def test_build_network_rejects_unknown_keywords_and_names_the_input_shape():
    genotype = kd.presets.DRNAS_CIFAR10
    with pytest.raises(InputError, match=r"unknown arguments \['chanels'\]"):
        kd.build_network(genotype, chanels=4, cells_per_stage=1)
    # The other space's arguments are accepted and ignored.
    network = kd.build_network(genotype, channels=4, num_cells=3, cells_per_stage=1, input_shape=(8, 8, 1))
    assert network.model.output_shape == (None, 10)
    default = kd.build_network(genotype, channels=4, num_cells=3)  # input_shape (32, 32, 3)
    x, y = load_digits()
    train = tf.data.Dataset.from_tensor_slices((x[:64], y[:64]))
    with pytest.raises(InputError, match=r"images are \(8, 8, 1\) but the network was built for \(32, 32, 3\): "
                                         r"build it with build_network\(\.\.\., input_shape=\(8, 8, 1\)\)"):
        kd.retrain(default, train, kd.RetrainRecipe.cpu(epochs=1), num_classes=10, verbose=0)


def test_darts_supernet_refuses_inputs_its_reductions_shrink_to_one_pixel():
    small = kd.DARTS.with_ops(["skip_connect", "sep_conv_3x3"]).with_intermediate_nodes(2)  # cheap to build
    net = kd.DartsSupernet(channels=4, num_cells=5, seed=0, space=small)
    with pytest.raises(InputError, match=r"at least 8 \(its last cells would see one pixel otherwise\); got 4x4"):
        net(keras.ops.zeros((2, 4, 4, 3)))
    assert net(keras.ops.zeros((2, 8, 8, 3))).shape == (2, 10)


def test_the_package_namespace_holds_only_its_public_names():
    public = {name for name in dir(kd) if not name.startswith("_")}
    assert public == set(kd.__all__)
    for leaked in ("os", "sys", "tensorflow"):
        assert not hasattr(kd, leaked)


def test_the_readme_snippet_starts_quietly():
    """The README's Python snippet imports keras_drnas first, so TensorFlow's
    native start-up lines are filtered out as its quiet-output section says."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    imports = "\n".join(line for line in snippet.splitlines() if line.startswith(("import ", "from ")))
    assert imports.splitlines()[0].startswith("import keras_drnas as kd")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1")
    result = subprocess.run([sys.executable, "-c", imports], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert not re.search(r"^I\d{4} |oneDNN|cuda", result.stderr, re.M), result.stderr


def test_progressive_splits_epochs_over_the_stages(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["search", "--progressive", "--channels", "8", "--cells-per-stage", "1", "--batch-size", "32",
            "--output-dir", str(out), "--verbose", "0", "--no-plots", "--exploration-samples", "0"]
    assert main(args + ["--epochs", "2"]) == 0
    printed = capsys.readouterr().out
    assert "for 2 epochs in stages 1:4:5,1:2:3" in printed
    history = json.loads((out / "history.json").read_text())
    assert len(history["history"]["loss"]) == 2
    assert main(args + ["--epochs", "3", "--stages", "1:4:5,1:2:3", "--overwrite"]) == 2
    assert "--epochs 3 disagrees with --stages 1:4:5,1:2:3 (2 epochs in all)" in capsys.readouterr().err
    assert main(args + ["--epochs", "1", "--overwrite"]) == 2
    assert "1 epochs cannot be split over 2 stages" in capsys.readouterr().err


def test_help_shows_defaults_and_bad_data_leaves_no_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 64)" in text and "(default: nas-bench-201)" in text and "(default: 0)" in text
    out = tmp_path / "out"
    assert main(["search", "--data-dir", str(tmp_path / "no" / "such"), "--output-dir", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
