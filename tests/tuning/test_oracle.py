import json

import numpy as np
from keras_tuner.engine.trial import Trial, TrialStatus

from keras_drnas.search_space import DARTS, NAS_BENCH_201
from keras_drnas.tuning import Budget, DirichletOracle, GenotypeSampler, SearchResult, genotype_from_value

NETWORK = {"channels": 4, "cells_per_stage": 1, "input_shape": (8, 8, 1), "num_classes": 10}


def make_oracle(tmp_path, budget, **kwargs):
    beta = np.random.default_rng(0).uniform(0.5, 3.0, (6, 5))
    oracle = DirichletOracle(GenotypeSampler(NAS_BENCH_201, {"normal": beta}), NETWORK, budget, seed=3, **kwargs)
    oracle._set_project_dir(str(tmp_path), "oracle")  # what a Tuner does
    return oracle


def test_trials_are_within_budget_and_state_round_trips(tmp_path):
    budget = Budget(max_parameters=12_000)
    oracle = make_oracle(tmp_path, budget, max_trials=5)
    first = oracle.create_trial("tuner0")
    assert first.status == TrialStatus.RUNNING
    values = first.hyperparameters.values
    assert values["parameters"] <= 12_000 and genotype_from_value(NAS_BENCH_201, values["genotype"])
    assert set(oracle.candidates) >= {values["genotype"]} and oracle.draws >= 1
    # The chief/worker mode and keras-tuner's reload rebuild the oracle from its JSON state.
    state = json.loads(json.dumps(oracle.get_state()))
    restored = make_oracle(tmp_path / "restored", budget, max_trials=5)
    restored.trials = dict(oracle.trials)
    restored.set_state(state)
    assert restored.draws == oracle.draws and restored.candidates == oracle.candidates
    assert restored.ongoing_trials["tuner0"].trial_id == first.trial_id
    nxt, restored_nxt = oracle.create_trial("tuner1"), restored.create_trial("tuner1")
    assert nxt.hyperparameters.values == restored_nxt.hyperparameters.values  # the same sample sequence
    assert nxt.hyperparameters.values["genotype"] != values["genotype"]  # no architecture twice
    # Workers receive trials as protocol buffers: the genotype and its measures survive.
    assert Trial.from_proto(nxt.to_proto()).hyperparameters.values == nxt.hyperparameters.values


def test_stops_when_every_candidate_is_over_budget(tmp_path, capsys):
    oracle = make_oracle(tmp_path, Budget(max_parameters=100), max_rejections=3)
    assert oracle.create_trial("tuner0").status == TrialStatus.STOPPED
    assert len(oracle.rejected()) == 3 and not oracle.trials
    assert all(c["violations"][0].startswith("parameters ") for c in oracle.rejected().values())
    assert "3 candidates in a row exceed the budget (parameters <= 100)" in capsys.readouterr().out


def test_darts_candidates_from_a_run_directory(darts_run, tmp_path):
    result = SearchResult.load(darts_run)
    sampler = GenotypeSampler(result.space, result.concentrations, result.op_masks)
    oracle = DirichletOracle(sampler, result.network_settings(), Budget(max_multiply_adds=10**9), seed=0)
    oracle._set_project_dir(str(tmp_path), "darts")
    values = oracle.create_trial("tuner0").hyperparameters.values
    genotype = genotype_from_value(DARTS, values["genotype"])
    assert genotype.space == "darts" and genotype.reduce is not None
    assert values["multiply_adds"] == oracle.candidates[values["genotype"]]["multiply_adds"] > 0
