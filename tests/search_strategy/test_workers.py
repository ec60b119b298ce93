import os
import tempfile
import types

import pytest

import keras_drnas as kd
from keras_drnas.callbacks import ExportDerived, GenotypeLogger, SearchCheckpoint
from keras_drnas.search_strategy import checkpoint, genotype_logger, workers
from keras_drnas.search_strategy.exploration import ExplorationRecorder
from tests.helpers import compiled, tiny_pairs


def _strategy(chief):
    return types.SimpleNamespace(extended=types.SimpleNamespace(should_checkpoint=chief))


@pytest.mark.parametrize("chief", [True, False])
def test_writable_directory_is_the_directory_on_the_chief_only(tmp_path, monkeypatch, chief):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    with workers.writable_path(str(tmp_path / "out" / "log.txt"), _strategy(chief)) as path:
        assert os.path.basename(path) == "log.txt"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("x")
    assert os.path.isfile(tmp_path / "out" / "log.txt") == chief
    assert os.listdir(tmp_path / "tmp") == []  # a worker's temporary directory is removed


def test_on_a_non_chief_worker_the_callbacks_leave_no_files(tmp_path, monkeypatch):
    """Every writing callback runs its code on every worker (collective ops
    must match), but only the chief's files remain."""
    for module in (workers, genotype_logger, checkpoint):
        monkeypatch.setattr(module, "is_chief", lambda strategy=None: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    out = tmp_path / "out"
    pairs = tiny_pairs(n=64, batch_size=16)
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0))
    callbacks = [
        GenotypeLogger(str(out / "genotypes.jsonl"), str(out / "tensorboard")),
        ExportDerived(str(out / "export"), dict(channels=4, cells_per_stage=1, num_classes=10, input_shape=(8, 8, 1))),
        ExplorationRecorder(pairs, str(out / "exploration.json"), epochs=[1], num_samples=2, num_batches=1, seed=0),
        SearchCheckpoint(str(out / "checkpoint")),
    ]
    history = search.fit(pairs, epochs=1, verbose=0, callbacks=callbacks)
    assert "exploration_derived_accuracy" in history.history  # the recorder did its work
    assert not out.exists()
    assert not [n for n in os.listdir(tmp_path / "tmp") if n.startswith("keras-drnas-worker-")]
