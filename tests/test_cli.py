import json
import os

import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.cli import main
from keras_drnas.search_strategy import SearchCheckpoint
from tests.helpers import write_image_folder


def test_cli_search_on_an_image_folder(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    determinism = []
    monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: determinism.append(True))
    write_image_folder(tmp_path / "images")
    out = tmp_path / "out"
    code = main(["search", "--data-dir", str(tmp_path / "images"), "--channels", "4", "--cells-per-stage", "1", "--epochs", "2",
                 "--batch-size", "8", "--output-dir", str(out), "--verbose", "0", "--no-deterministic"])
    assert code == 0 and determinism == []
    genotype = kd.Genotype.load(out / "genotype.json")
    assert genotype.space == "nas-bench-201"
    assert genotype.to_string() in capsys.readouterr().out
    record = json.loads((out / "history.json").read_text())
    assert record["num_classes"] == 3 and record["image_shape"] == [16, 16, 3]
    assert len(record["history"]["loss"]) == 2
    beta = json.loads((out / "concentrations.json").read_text())["normal"]["concentration"]
    assert np.array(beta).shape == (6, 5)
    # A checkpoint is never overwritten by accident; --resume continues it.
    args = ["search", "--data-dir", str(tmp_path / "images"), "--channels", "4", "--cells-per-stage", "1", "--batch-size", "8",
            "--output-dir", str(out), "--verbose", "0"]
    assert main(args + ["--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "holds a search checkpoint after epoch 2. Pass --resume to continue it, --overwrite to start over" in err
    assert main(args + ["--epochs", "3", "--resume", "--overwrite"]) == 2
    assert "Pass --resume or --overwrite, not both" in capsys.readouterr().err
    assert main(args + ["--epochs", "3", "--resume", "--no-deterministic"]) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    assert determinism == [True]  # resuming exactly needs it, whatever the flag says
    record = json.loads((out / "history.json").read_text())
    assert len(record["history"]["loss"]) == 3 and len(record["genotypes"]) == 3
    # Resuming a finished search only writes its results again.
    os.remove(out / "genotype.json")
    assert main(args + ["--epochs", "3", "--resume", "--no-plots"]) == 0
    assert "resuming after epoch 3" in capsys.readouterr().out and (out / "genotype.json").is_file()
    # --overwrite starts over instead, without the old run's results.
    assert main(args + ["--epochs", "2", "--overwrite"]) == 0
    record = json.loads((out / "history.json").read_text())
    assert len(record["history"]["loss"]) == 2
    assert len((out / "genotypes.jsonl").read_text().splitlines()) == 2


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["search", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
    write_image_folder(tmp_path / "few", classes=2, per_class=4)
    assert main(["search", "--data-dir", str(tmp_path / "few"), "--batch-size", "64", "--channels", "4", "--cells-per-stage", "1"]) == 2
    assert "--batch-size 64 is larger than the train half" in capsys.readouterr().err
    assert main(["search", "--dataset", "cifar10", "--tfds-dir", str(tmp_path / "tfds")]) == 2
    assert "--data-dir" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "tfds" / "downloads")


def _assert_tflite_agrees(report, printed):
    """The exported TFLite files pick the Keras model's class: float32 on
    every check image, int8 on at least 95% of them; and the run printed
    those numbers."""
    float32, int8 = report["tflite_float32"]["top1_agreement"], report["tflite_int8"]["top1_agreement"]
    assert float32 == 1.0 and int8 >= 0.95, report
    for kind, agreement in (("tflite_float32", float32), ("tflite_int8", int8)):
        line = [row for row in printed.splitlines() if row.startswith(kind + " ")]
        assert len(line) == 1 and f"top-1 agreement with Keras {agreement:.3f}" in line[0], printed


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
    _assert_tflite_agrees(json.loads((runs / "export" / "export.json").read_text()), out)

    genotype = str(runs / "search" / "genotype.json")
    assert main(["retrain", "--genotype", genotype, *tiny, "--retrain-epochs", "2",
                 "--output-dir", str(tmp_path / "retrain")]) == 0
    record = json.loads((tmp_path / "retrain" / "retrain.json").read_text())
    assert len(record["history"]["loss"]) == 2
    assert main(["export", "--model", str(tmp_path / "retrain" / "model.keras"), "--check-images", "20",
                 "--output-dir", str(tmp_path / "export")]) == 0
    report = json.loads((tmp_path / "export" / "export.json").read_text())
    assert report["tflite_float32"]["max_abs_difference"] < 1e-4
    _assert_tflite_agrees(report, capsys.readouterr().out)

    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["retrain", "--genotype", str(broken)]) == 2
    assert "broken.json: Genotype is not valid JSON" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "missing.keras")]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err


def _error_of(argv, capsys):
    """main's exit code and the one line it printed, which must not be a traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_every_kind_of_input_error_exits_2_with_a_message(tmp_path, capsys):
    tiny = ["--channels", "4", "--cells-per-stage", "1", "--verbose", "0", "--batch-size", "8", "--epochs", "1"]
    out = ["--output-dir", str(tmp_path / "out")]
    (tmp_path / "stray.json").write_text('{"space": "nb201", "normal": [], "reduce_concta": [2]}')
    write_image_folder(tmp_path / "tiny_images", classes=2, per_class=8, size=6)
    (tmp_path / "a_file").write_text("")
    (tmp_path / "text.keras").write_text("not a model")
    checkpoint = tmp_path / "run" / "checkpoint"
    checkpoint.mkdir(parents=True)
    (checkpoint / "state.json").write_text('{"epoch": ')
    (checkpoint / "search.weights.h5").write_bytes(b"")
    cases = [
        (["retrain", "--genotype", str(tmp_path / "stray.json")], "stray.json: Unknown genotype keys ['reduce_concta']"),
        (["retrain", "--genotype", str(tmp_path / "missing.json")], "Cannot read genotype file"),
        (["export", "--model", str(tmp_path / "text.keras")], "text.keras is not a model.keras written by retrain"),
        (["search", "--progressive", "--stages", "0:4:5", *tiny, *out], "Stage '0:4:5': epochs must be at least 1"),
        (["search", "--progressive", "--stages", "25:²:7", *tiny, *out], "three positive integers"),
        (["search", "--progressive", "--stages", "1:1:3,1:2:3", *tiny, *out], "1:1:3 then 1:2:3"),
        (["search", "--partial-channels", "3", *tiny, *out], "e.g. --partial-channels 1, 2 or 4"),
        (["search", *tiny, "--channels", "0", *out], "got --channels 0"),
        (["search", "--data-dir", str(tmp_path / "tiny_images"), *tiny, *out], "must be multiples of 4, at least 8 (its last cells would see one pixel otherwise); got 6x6"),
        (["search", *tiny, "--output-dir", str(tmp_path / "a_file")], "a_file"),  # an OSError
        (["search", *tiny, "--resume", "--output-dir", str(tmp_path / "run")], "state.json is not a search checkpoint"),
        (["search", *tiny, "--latency-target-ms", "3", *out], "need a chain space such as --space mobilenet"),
        (["search", "--space", "mobilenet", "--latency-table", str(tmp_path / "stray.json"), *tiny, *out],
         "stray.json: the first row must be the header block,op,latency_ms"),
        (["search", "--space", "mobilenet", "--latency-table", str(tmp_path / "none.csv"), *tiny, *out],
         "Cannot read the latency table"),
    ]
    for argv, message in cases:
        code, err = _error_of(argv, capsys)
        assert code == 2 and err.startswith("keras-drnas: error: ") and message in err, (argv, err)


def test_pipeline_checks_exit_2_but_library_bugs_keep_their_traceback(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    from keras_drnas.cli import search as search_command
    from keras_drnas.utils.errors import InputError

    argv = ["search", "--channels", "4", "--cells-per-stage", "1", "--output-dir", str(tmp_path)]

    def failing(error):
        def load_search_data(args):
            raise error
        return load_search_data

    monkeypatch.setattr(search_command, "load_search_data", failing(tf.errors.InvalidArgumentError(None, None, "labels must be in 0..9\nmore")))
    assert _error_of(argv, capsys) == (2, "keras-drnas: error: labels must be in 0..9\n")
    monkeypatch.setattr(search_command, "load_search_data", failing(InputError("Pass download=True or data_dir=...")))
    assert _error_of(argv, capsys) == (2, "keras-drnas: error: Pass --download or --tfds-dir ...\n")
    for bug in (KeyError("stem"), RuntimeError("bug"), ValueError("a shape mismatch inside the library"), TypeError("x")):
        monkeypatch.setattr(search_command, "load_search_data", failing(bug))
        with pytest.raises(type(bug)):
            main(argv)


def test_a_search_with_remat_learns_what_the_plain_search_learns(tmp_path):
    """--remat only recomputes: a progressive search (prune, widen) gives the
    same losses and concentrations, and its checkpoint rebuilds with it."""
    option = "remat"
    write_image_folder(tmp_path / "images")
    records = {}
    for flag in ([], ["--remat"]):
        out = tmp_path / ("option" if flag else "plain")
        assert main(["search", "--data-dir", str(tmp_path / "images"), "--channels", "4",
                     "--cells-per-stage", "1", "--batch-size", "8", "--progressive", "--stages", "1:2:3,1:1:2",
                     "--output-dir", str(out), "--verbose", "0", "--no-plots", *flag]) == 0
        records[bool(flag)] = (json.loads((out / "history.json").read_text())["history"],
                               json.loads((out / "concentrations.json").read_text()))
        records[bool(flag)] += (SearchCheckpoint(out / "checkpoint").supernet(),)
    (plain, plain_beta, plain_net), (opted, opted_beta, opted_net) = records[False], records[True]
    for key in ("loss", "arch_loss"):
        np.testing.assert_allclose(opted[key], plain[key], rtol=1e-4)
    for cell_type in plain_beta:
        np.testing.assert_allclose(opted_beta[cell_type]["concentration"], plain_beta[cell_type]["concentration"],
                                   rtol=1e-4)
    assert [getattr(c, option) for c in opted_net.cells()] == [True] * 3
    assert not any(getattr(c, option) for c in plain_net.cells())
    assert opted_net.partial_channels == 1  # the last stage's widened supernet
