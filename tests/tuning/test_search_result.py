import json

import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.search_space import NAS_BENCH_201
from keras_drnas.tuning import SearchResult
from keras_drnas.utils.errors import InputError
from tests.helpers import compiled, tiny_pairs
from tests.tuning.search_files import write_run


def test_reads_the_files_of_a_search(nb201_run):
    result = SearchResult.load(nb201_run)
    assert result.space is NAS_BENCH_201 and result.genotype.space == "nas-bench-201"
    assert result.concentrations["normal"].shape == (6, 5) and result.op_masks["normal"].all()
    settings = result.network_settings(channels=8, cells_per_stage=None)
    assert settings == {"channels": 8, "cells_per_stage": 1, "num_cells": 2, "stem": "cifar", "num_classes": 10,
                        "input_shape": (8, 8, 1), "mean": [0.3], "std": [0.4]}


def test_missing_and_broken_files_get_clear_errors(tmp_path):
    with pytest.raises(InputError, match="is not a directory"):
        SearchResult.load(tmp_path / "nowhere")
    run = write_run(tmp_path / "run")
    (run / "history.json").unlink()
    with pytest.raises(InputError, match="has no history.json"):
        SearchResult.load(run)
    for name, entry, message in [
        ("wrong_shape", {"concentration": np.ones((6, 4)).tolist()}, r"is \(6, 4\).*has 6 edges x 5 ops"),
        ("negative", {"concentration": (-np.ones((6, 5))).tolist()}, "must be positive"),
        ("empty_edge", {"op_mask": [[False] * 5] + [[True] * 5] * 5}, "leaves an edge with no op"),
    ]:
        run = write_run(tmp_path / name)
        report = json.loads((run / "concentrations.json").read_text())
        report["normal"].update(entry)
        (run / "concentrations.json").write_text(json.dumps(report))
        with pytest.raises(InputError, match=message):
            SearchResult.load(run)
    run = write_run(tmp_path / "broken")
    (run / "concentrations.json").write_text("{")
    with pytest.raises(InputError, match="concentrations.json is not valid JSON"):
        SearchResult.load(run)
    run = write_run(tmp_path / "no_shape")
    (run / "history.json").write_text(json.dumps({"args": {}}))
    with pytest.raises(InputError, match="lacks image_shape or num_classes"):
        SearchResult.load(run)


def test_from_a_search_in_memory():
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    search.build_for(tiny_pairs(n=32, batch_size=16))
    result = SearchResult.from_search(search, (8, 8, 1), 10, mean=np.array([0.5]), std=np.array([0.25]))
    assert result.genotype == search.genotype() and result.space is NAS_BENCH_201
    np.testing.assert_allclose(result.concentrations["normal"], search.concentrations()["normal"], rtol=1e-6)
    assert result.network_settings()["channels"] == 4 and result.network_settings()["mean"] == [0.5]
