"""`keras-drnas tune` (keras_drnas/cli.py)."""

import json

import keras

from keras_drnas.cli import main


def test_tune_command_writes_the_best_model_and_a_report(nb201_run, tmp_path, capsys):
    out = tmp_path / "tune"
    args = ["tune", str(nb201_run), "--max-params", "12000", "--trials", "1", "--epochs", "1",
            "--output-dir", str(out), "--verbose", "0"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "tune.json").read_text())
    best = record["best"]
    assert best["parameters"] <= 12_000 and 0.0 <= best["test_accuracy"] <= 1.0
    assert record["samples"] >= 1 and best["genotype"] in record["candidates"]
    assert "Budget: parameters <= 12,000" in printed and best["genotype"] in printed
    assert keras.models.load_model(out / "best_model.keras").count_params() > 0

    assert main(args) == 2  # an existing tuning is continued only on request
    assert "holds a tuning already; pass --resume to continue it" in capsys.readouterr().err
    assert main(["tune", str(nb201_run), "--output-dir", str(tmp_path / "other")]) == 2
    assert "Give a budget: --max-params" in capsys.readouterr().err
    assert main(["tune", str(nb201_run), "--max-params", "0", "--output-dir", str(tmp_path / "other")]) == 2
    assert "--max-params 0 is no limit" in capsys.readouterr().err
    assert main(["tune", str(nb201_run), "--max-params", "9", "--latency-table", "t.csv"]) == 2
    assert "--latency-table predicts a latency budget; give it with --max-latency-ms" in capsys.readouterr().err
    table = tmp_path / "table.csv"
    table.write_text("# space: mobilenet\nblock,op,latency_ms\nfixed,,0.4\n")
    assert main(["tune", str(nb201_run), "--max-latency-ms", "1", "--latency-table", str(table)]) == 2
    assert "table.csv is a latency table of the mobilenet space, not of nas-bench-201" in capsys.readouterr().err
