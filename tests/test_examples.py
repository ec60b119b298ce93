"""Every script in examples/ runs end to end in its --smoke mode, in its own process."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What each script must print once it has done its job.
EXPECTED = {
    "nb201_image_folder.py": ["images of (16, 16, 3), 3 classes", "NAS-Bench-201 cell:",
                              "Mean op weights per edge"],
    "progressive_darts.py": ["in 2 stages", "After the last stage: K=1", "cells keep 4-4 of 7 ops per edge",
                             "DARTS reduce cell"],
    "custom_cell_model.py": ["functional_with_cell: accuracy", "subclassed_with_cell: accuracy",
                             "NAS-Bench-201 cell:"],
    "search_retrain_tflite.py": ["1. Searched 1 epochs", "2. Retrained 1 epochs", "tflite_float32",
                                 "tflite_int8", "top-1 agreement"],
    "budget_search.py": ["2. Budget: parameters <=", "Results summary", "Best: |"],
}


# The least top-1 agreement with Keras each script must print per TFLite file.
AGREEMENT = {"search_retrain_tflite.py": {"tflite_float32": 1.0, "tflite_int8": 0.95}}


def test_every_example_is_tested():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_smoke_mode(script):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--smoke"], check=False, cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for text in EXPECTED[script]:
        assert text in done.stdout, f"{script} did not print {text!r}:\n{done.stdout[-3000:]}"
    printed = dict(re.findall(r"^\s*(tflite_\w+)\s.*top-1 agreement ([0-9.]+)\s*$", done.stdout, re.MULTILINE))
    assert sorted(printed) == sorted(AGREEMENT.get(script, {})), done.stdout[-3000:]
    for kind, least in AGREEMENT.get(script, {}).items():
        assert float(printed[kind]) >= least, f"{script}: {kind} top-1 agreement {printed[kind]} < {least}"
