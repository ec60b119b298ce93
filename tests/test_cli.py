import json
import os

import numpy as np

import keras_drnas as kd
from keras_drnas.cli import main
from tests.helpers import write_image_folder


def test_cli_search_on_an_image_folder(tmp_path, capsys):
    write_image_folder(tmp_path / "images")
    out = tmp_path / "out"
    code = main(["search", "--data-dir", str(tmp_path / "images"), "--channels", "4", "--cells-per-stage", "1", "--epochs", "2",
                 "--batch-size", "8", "--output-dir", str(out), "--verbose", "0"])
    assert code == 0
    genotype = kd.Genotype.load(out / "genotype.json")
    assert genotype.space == "nas-bench-201"
    assert genotype.to_nb201_string() in capsys.readouterr().out
    record = json.loads((out / "history.json").read_text())
    assert record["num_classes"] == 3 and record["image_shape"] == [16, 16, 3]
    assert len(record["history"]["loss"]) == 2
    beta = json.loads((out / "concentrations.json").read_text())["normal"]["concentration"]
    assert np.array(beta).shape == (6, 5)
    # A checkpoint is never overwritten by accident; --resume continues it.
    args = ["search", "--data-dir", str(tmp_path / "images"), "--channels", "4", "--cells-per-stage", "1", "--batch-size", "8",
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
    write_image_folder(tmp_path / "few", classes=2, per_class=4)
    assert main(["search", "--data-dir", str(tmp_path / "few"), "--batch-size", "64", "--channels", "4", "--cells-per-stage", "1"]) == 2
    assert "--batch-size 64 is larger than the train half" in capsys.readouterr().err
    assert main(["search", "--dataset", "cifar10", "--tfds-dir", str(tmp_path / "tfds")]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "tfds" / "downloads")


def test_demo_then_retrain_and_export_from_the_command_line(tmp_path, capsys):
    runs = tmp_path / "demo"
    tiny = ["--channels", "4", "--cells-per-stage", "1", "--verbose", "0"]
    assert main(["demo", *tiny, "--epochs", "1", "--retrain-epochs", "1", "--output-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    for part in ("search/genotype.json", "retrain/model.keras", "export/model_float32.tflite",
                 "export/model_int8.tflite"):
        assert (runs / part).is_file() and str(runs / part) in out
    retrained = json.loads((runs / "retrain" / "retrain.json").read_text())
    assert 0.0 <= retrained["test_accuracy"] <= 1.0 and retrained["parameters"] > 0

    genotype = str(runs / "search" / "genotype.json")
    assert main(["retrain", "--genotype", genotype, *tiny, "--retrain-epochs", "2",
                 "--output-dir", str(tmp_path / "retrain")]) == 0
    record = json.loads((tmp_path / "retrain" / "retrain.json").read_text())
    assert len(record["history"]["loss"]) == 2
    assert main(["export", "--model", str(tmp_path / "retrain" / "model.keras"), "--check-images", "20",
                 "--output-dir", str(tmp_path / "export")]) == 0
    report = json.loads((tmp_path / "export" / "export.json").read_text())
    assert report["tflite_float32"]["max_abs_difference"] < 1e-4
    capsys.readouterr()

    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["retrain", "--genotype", str(broken)]) == 2
    assert "broken.json: Genotype is not valid JSON" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err
