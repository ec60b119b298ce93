"""Run directories written by tiny real searches, shared by the plot tests."""

import json

import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.search_strategy import GenotypeLogger
from keras_drnas.search_strategy.exploration import ExplorationRecorder
from keras_drnas.utils.files import atomic_write_text
from tests.helpers import compiled, tiny_pairs

SMALL_DARTS = kd.DARTS.with_ops(["max_pool_3x3", "skip_connect", "sep_conv_3x3"]).with_intermediate_nodes(2)


def _write_results(run, search, history):
    search.genotype().save(str(run / "genotype.json"))
    atomic_write_text(str(run / "concentrations.json"), json.dumps(search.concentration_report()))
    record = {"history": history, "genotypes": [g.to_dict() for g in search.genotype_history]}
    atomic_write_text(str(run / "history.json"), json.dumps(record))


@pytest.fixture(scope="session")
def nb201_run(tmp_path_factory):
    """A 3-epoch NAS-Bench-201 search, as `keras-drnas search` writes it,
    plus the exploration record. (HessianEigenvalue would add 6 s of tracing;
    tests/search_strategy/test_hessian.py covers its logs.)"""
    run = tmp_path_factory.mktemp("nb201_run")
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), arch_learning_rate=0.05)
    pairs = tiny_pairs(n=64, batch_size=16)
    callbacks = [
        ExplorationRecorder(pairs, str(run / "exploration.json"), num_samples=5, num_batches=1, seed=0),
        GenotypeLogger(str(run / "genotypes.jsonl")),
    ]
    history = search.fit(pairs, epochs=3, verbose=0, callbacks=callbacks)
    _write_results(run, search, history.history)
    return run


@pytest.fixture(scope="session")
def darts_run(tmp_path_factory):
    """Two epochs of a small DARTS search (2 intermediate nodes, 3 ops; the
    full space takes minutes to trace), stepped eagerly, one step an epoch,
    with the callbacks driven by hand, and one op pruned on every edge."""
    run = tmp_path_factory.mktemp("darts_run")
    supernet = kd.DartsSupernet(channels=4, num_cells=3, seed=0, space=SMALL_DARTS)
    search = compiled(supernet, arch_learning_rate=0.05)
    pairs = tiny_pairs(n=32, batch_size=8)
    search.build_for(pairs)
    logger = GenotypeLogger(str(run / "genotypes.jsonl"))
    recorder = ExplorationRecorder(pairs, str(run / "exploration.json"), num_samples=4, num_batches=1, seed=0)
    history = {}
    for callback in (logger, recorder):
        callback.set_model(search)
        callback.on_train_begin()
    for epoch, batch in enumerate(pairs.take(2)):
        logs = {k: float(np.asarray(v)) for k, v in search.train_step(batch).items()}
        if epoch == 1:
            supernet.prune(2)
        search.genotype_history.append(search.genotype())
        logger.on_epoch_end(epoch, logs)
        recorder.on_epoch_end(epoch, logs)
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
    _write_results(run, search, history)
    return run
