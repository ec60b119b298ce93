"""A keras-tuner Oracle that proposes architectures sampled from a search's
learnt Dirichlet distributions and keeps only those within a budget."""

import keras_tuner
import numpy as np
from keras_tuner.engine.trial import TrialStatus

from keras_drnas.derived_model.network import build_network
from keras_drnas.tuning.budget import Budget
from keras_drnas.tuning.genotype_sampler import genotype_value

GENOTYPE = "genotype"
# Draws in a row that bring nothing new (a genotype already tried or already
# rejected) before the distribution counts as exhausted; they cost no model build.
MAX_REPEATS = 200


class DirichletOracle(keras_tuner.Oracle):
    """Samples genotypes from learnt concentrations, rejects those over a
    budget, and hands the rest to the tuner as trials.

    Each trial's hyperparameters are `genotype` (its `Genotype.to_string()`
    text) and the candidate's measured cost beside it (`parameters`,
    `multiply_adds` and, under a latency limit, `latency_ms`), so
    `results_summary()` shows what every trained network costs. Every
    distinct candidate is measured once; the measurements, and the number of
    draws (which, with the seed, fixes the next sample), are part of the
    oracle's state, so a reloaded or distributed (chief/worker) tuning
    continues the same sequence.

    Args:
        sampler: a `GenotypeSampler` over the learnt concentrations.
        network: `build_network` keyword arguments of the candidates
            (channels, cells, input shape, classes, normalization).
        budget: a `Budget` (default: no limits).
        max_trials: trials to train.
        max_rejections: distinct candidates over budget in a row after which
            the search stops (raise the budget or lower the temperature).
        objective: what the trials maximize (`"val_accuracy"`).
        seed: seed of the samples.
        **kwargs: other `keras_tuner.Oracle` arguments.
    """

    def __init__(self, sampler, network, budget=None, max_trials=10, max_rejections=50,
                 objective="val_accuracy", seed=None, **kwargs):
        hyperparameters = keras_tuner.HyperParameters()
        hyperparameters.Fixed(GENOTYPE, genotype_value(sampler.most_likely()))
        super().__init__(objective=objective, max_trials=max_trials, hyperparameters=hyperparameters,
                         seed=seed, **kwargs)
        if seed is not None:  # keras-tuner draws a random seed for 0 as for None
            self.seed = int(seed)
        self.sampler = sampler
        self.network = dict(network)
        self.budget = budget or Budget()
        self.max_rejections = int(max_rejections)
        self.draws = 0
        self.candidates = {}  # genotype value -> {measures..., "violations": [...]}

    def _draw(self):
        rng = np.random.default_rng([self.seed, self.draws])  # reproducible from (seed, draws) alone
        self.draws += 1
        return self.sampler.sample(rng)

    def measure(self, genotype):
        """The candidate's measures and violated limits (cached per genotype)."""
        value = genotype_value(genotype)
        if value not in self.candidates:
            measures = self.budget.measure(build_network(genotype, **self.network).model, genotype)
            self.candidates[value] = dict(measures, violations=self.budget.violations(measures))
        return self.candidates[value]

    def populate_space(self, trial_id):
        rejected = repeats = 0
        while rejected < self.max_rejections and repeats < MAX_REPEATS:
            genotype = self._draw()
            value = genotype_value(genotype)
            known = value in self.candidates
            candidate = self.measure(genotype)
            values = {GENOTYPE: value, **{k: v for k, v in candidate.items() if k != "violations"}}
            if candidate["violations"]:
                repeats, rejected = (repeats + 1, rejected) if known else (0, rejected + 1)
            elif self._duplicate(values):
                repeats += 1
            else:
                return {"status": TrialStatus.RUNNING, "values": values}
        if rejected >= self.max_rejections:
            print(f"DirichletOracle: {rejected} candidates in a row exceed the budget ({self.budget.describe()}); "
                  "stopping. Raise the budget or lower the temperature.")
        else:
            print(f"DirichletOracle: the last {repeats} samples were all tried or rejected before; stopping.")
        return {"status": TrialStatus.STOPPED, "values": None}

    def rejected(self):
        """`{genotype value: measures and violations}` of every candidate over budget."""
        return {value: c for value, c in self.candidates.items() if c["violations"]}

    def get_state(self):
        state = super().get_state()
        state.update(draws=self.draws, candidates=self.candidates)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.draws = state["draws"]
        self.candidates = state["candidates"]
