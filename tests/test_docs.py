"""The manual cannot drift from the code: it builds with mkdocs --strict
(a broken link or an API reference to a missing name fails), and every
Python block of the README and the guides runs."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from tests.conftest import JAX_TEST_XLA_FLAGS

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page):
    return BLOCK.findall(page.read_text())


def test_the_manual_builds_strict(tmp_path):
    mkdocs = pathlib.Path(sys.executable).with_name("mkdocs")
    result = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stderr[-4000:]
    api = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "site" / "reference" / "api" / "index.html").read_text()))
    assert "The cell of one search space and what differs between spaces." in api  # docstrings, not just names


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_of_a_page_runs(page, tmp_path):
    # A page's blocks run in order in one fresh interpreter, in a scratch folder (XLA's quick compile
    # for a page that switches to JAX, as in the JAX tests).
    script = "\n\n".join(python_blocks(page))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg",
               XLA_FLAGS=JAX_TEST_XLA_FLAGS)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, f"{page.name}:\n{result.stderr[-4000:]}"
