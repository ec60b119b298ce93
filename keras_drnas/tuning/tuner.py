"""Budget search: the best architectures of a search's learnt distribution
that fit a budget, found and trained with keras-tuner."""

import keras_tuner

from keras_drnas.tuning.budget import Budget
from keras_drnas.tuning.genotype_sampler import GenotypeSampler
from keras_drnas.tuning.hypermodel import DerivedNetworkHyperModel
from keras_drnas.tuning.oracle import DirichletOracle
from keras_drnas.tuning.search_result import SearchResult


class BudgetTuner(keras_tuner.Tuner):
    """A keras-tuner `Tuner` over the architectures of a finished search.

    A `DirichletOracle` samples genotypes from the search's learnt
    concentrations and rejects those over `budget`; every kept candidate is
    trained briefly as a trial by a `DerivedNetworkHyperModel`. All of
    keras-tuner's API applies: `search`, `results_summary`,
    `get_best_models` (plain Keras models of built-in layers with the weights
    of each trial's best epoch, uncompiled like any derived network),
    `get_best_hyperparameters`, `directory` / `project_name` / `overwrite`
    (with `overwrite=False` an interrupted tuning reloads and continues), and
    its distributed chief/worker mode (`KERASTUNER_TUNER_ID`,
    `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`).

    Args:
        result: a `SearchResult` or the output directory of a search.
        budget: a `Budget`.
        max_trials: candidates to train.
        temperature: see `GenotypeSampler` (1: the learnt distribution).
        network: `build_network` overrides, e.g. `dict(channels=32)` to
            scale the candidates beyond the search's network.
        recipe: the `RetrainRecipe` of a trial (its epochs come from `search`).
        max_rejections: see `DirichletOracle`.
        seed: seed of the samples, initializations and data order.
        **kwargs: `keras_tuner.Tuner` arguments (`directory`,
            `project_name`, `overwrite`, `executions_per_trial`, ...).

    Example:
    ```python
    tuner = BudgetTuner("runs/search", Budget(max_parameters=50_000), max_trials=5,
                        directory="runs/tune", project_name="digits")
    tuner.search(data.train, validation_data=data.validation, epochs=3)
    tuner.results_summary()
    best = tuner.get_best_models(1)[0]
    ```
    """

    def __init__(self, result, budget=None, max_trials=10, temperature=1.0, network=None, recipe=None,
                 max_rejections=50, seed=0, **kwargs):
        self.result = result if isinstance(result, SearchResult) else SearchResult.load(result)
        self.budget = budget or Budget()
        settings = self.result.network_settings(**(network or {}))
        sampler = GenotypeSampler(self.result.space, self.result.concentrations, self.result.op_masks, temperature)
        oracle = DirichletOracle(sampler, settings, self.budget, max_trials=max_trials,
                                 max_rejections=max_rejections, seed=seed)
        hypermodel = DerivedNetworkHyperModel(self.result.space, settings, recipe, seed)
        super().__init__(oracle, hypermodel, **kwargs)


    def search(self, train, validation_data=None, epochs=None, **kwargs):
        """`Tuner.search` on unbatched `(image, label)` datasets (or arrays)
        of pixels in [0, 1]: `train` trains every trial, `validation_data`
        ranks them. Bad data fails here, before the first trial."""
        self.hypermodel.check_data(train, validation_data, epochs)
        return super().search(train, validation_data=validation_data, epochs=epochs, **kwargs)
