import os

import pytest

from keras_drnas.utils.files import atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "sub" / "state.json"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["state.json"]


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "model.keras"
    atomic_write_text(path, "good")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            assert tmp.endswith("model.keras") and tmp != str(path)
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("crash while writing")
    assert path.read_text() == "good"
    assert os.listdir(tmp_path) == ["model.keras"]
