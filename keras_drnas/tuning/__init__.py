"""Budget search (paper section 2.2, left there to future work): sample
architectures from the Dirichlet distributions a search learnt, keep those
within a parameter, multiply-add or latency budget, and train them as
keras-tuner trials.

It sits above the other roles: it reads a search's results, builds derived
networks and feeds them data."""

from keras_drnas.derived_model.latency import tflite_latency_ms
from keras_drnas.tuning.budget import Budget
from keras_drnas.tuning.genotype_sampler import GenotypeSampler, genotype_from_value, genotype_value
from keras_drnas.tuning.hypermodel import DerivedNetworkHyperModel
from keras_drnas.tuning.oracle import DirichletOracle
from keras_drnas.tuning.search_result import SearchResult
from keras_drnas.tuning.tuner import BudgetTuner

__all__ = [
    "Budget", "BudgetTuner", "DerivedNetworkHyperModel", "DirichletOracle", "GenotypeSampler", "SearchResult",
    "genotype_from_value", "genotype_value", "tflite_latency_ms",
]
