"""Public namespace: every callback of a search and of retraining."""

from keras_drnas.derived_model.drop_path import DropPathSchedule
from keras_drnas.derived_model.export_callback import ExportDerived
from keras_drnas.search_strategy.benchmark_logger import BenchmarkLogger
from keras_drnas.search_strategy.checkpoint import SearchCheckpoint
from keras_drnas.search_strategy.exploration import ExplorationRecorder
from keras_drnas.search_strategy.genotype_logger import GenotypeLogger
from keras_drnas.search_strategy.hessian import HessianEigenvalue
from keras_drnas.search_strategy.progressive import ProgressiveLearning, Stage

__all__ = [
    "BenchmarkLogger", "DropPathSchedule", "ExplorationRecorder", "ExportDerived", "GenotypeLogger",
    "HessianEigenvalue", "ProgressiveLearning", "SearchCheckpoint", "Stage",
]
