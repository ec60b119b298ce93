"""The built wheel works without the source tree: a missing package file or
entry point fails here even though the editable install hides it."""

import os
import pathlib
import shutil
import site
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def test_the_wheel_installs_and_searches_from_a_fresh_environment(tmp_path):
    # Built from a copy without build outputs: setuptools would pack a stale build/lib's files too.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "runs", "*.egg-info", "__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source)])
    wheel, = (tmp_path / "dist").glob("keras_drnas-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # The dependencies come from this environment's site-packages, added as a plain path: its .pth
    # files (the editable install's among them) are not processed, so keras_drnas comes only from the wheel.
    fresh_site = next(venv.glob("lib/python*/site-packages"))
    (fresh_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    where = run([str(venv / "bin" / "python"), "-c", "import keras_drnas; print(keras_drnas.__file__)"],
                cwd=tmp_path, env=env)
    assert where.strip().startswith(str(fresh_site)), where
    assert "search" in run([str(venv / "bin" / "keras-drnas"), "--help"], cwd=tmp_path, env=env)
    out = run([str(venv / "bin" / "keras-drnas"), "search", "--epochs", "1", "--channels", "4", "--cells-per-stage",
               "1", "--max-images", "128", "--batch-size", "32", "--exploration-samples", "0", "--verbose", "0",
               "--output-dir", "run"], cwd=tmp_path, env=env)
    assert "Wrote genotype.json" in out and (tmp_path / "run" / "plots" / "cell_normal.png").exists()
