"""benchmarks/gpu_check.sh's argument handling, and the JAX benchmark it runs, on CPU JAX."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import JAX_TEST_XLA_FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu_check.sh")


def _check(*args, **env):
    return subprocess.run(["bash", SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **env))


def test_usage_and_missing_wheels_are_clear(tmp_path):
    usage = _check("--help")
    assert usage.returncode == 2 and "pip download" in usage.stdout and "WHEELS_DIR" in usage.stdout
    missing = _check(tmp_path / "nowhere")
    assert missing.returncode == 2 and "no wheels in" in missing.stderr
    (tmp_path / "absl_py-2.5.1-py3-none-any.whl").write_bytes(b"")
    partial = _check(tmp_path)
    assert partial.returncode == 2 and "has no keras wheel" in partial.stderr


def test_the_jax_benchmark_prints_its_figures_without_tensorflow():
    pytest.importorskip("jax")
    code = ("import runpy, sys; sys.modules['tensorflow'] = None; "
            "sys.argv = ['search_speed.py', *sys.argv[1:]]; "
            "runpy.run_path('benchmarks/search_speed.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, "--backend", "jax", "--channels", "4",
                             "--cells-per-stage", "1", "--batch-size", "8", "--repeats", "2", "--warmup", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, PYTHONPATH=ROOT, XLA_FLAGS=JAX_TEST_XLA_FLAGS))
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout[result.stdout.index("{"):])
    assert figures["config"]["backend"] == "jax" and figures["device"] == "cpu"
    assert 0 < figures["seconds_per_iteration_min"] <= figures["seconds_per_iteration_median"]
    assert figures["first_step_seconds"] > figures["seconds_per_iteration_median"]  # trace + compile
    assert figures["step_memory_mb"] >= 0
