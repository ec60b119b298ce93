"""How it is learnt: the Dirichlet distribution over ops, the mixed op,
cells, supernets, the bilevel search model, its optimizers, Net2Net
widening and the search callbacks."""

from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.checkpoint import SearchCheckpoint
from keras_drnas.search_strategy.darts_supernet import DartsSupernet
from keras_drnas.search_strategy.distribution import ArchitectureDistribution
from keras_drnas.search_strategy.genotype_logger import GenotypeLogger
from keras_drnas.search_strategy.latency import LatencyObjective, LatencyTable
from keras_drnas.search_strategy.mixed_op import DirichletMixedOp
from keras_drnas.search_strategy.mobilenet_supernet import MobileNetSupernet
from keras_drnas.search_strategy.nas_bench_201_supernet import NASBench201Supernet
from keras_drnas.search_strategy.progressive import ProgressiveLearning, Stage, default_stages
from keras_drnas.search_strategy.search_model import SearchModel
from keras_drnas.search_strategy.supernet import Supernet, build_supernet, register_supernet

__all__ = [
    "ArchitectureDistribution", "DartsSupernet", "DirichletMixedOp", "DrNASCell", "GenotypeLogger",
    "LatencyObjective", "LatencyTable", "MobileNetSupernet", "NASBench201Supernet", "ProgressiveLearning", "SearchCheckpoint", "SearchModel", "Stage", "Supernet",
    "build_supernet", "default_stages", "register_supernet",
]
