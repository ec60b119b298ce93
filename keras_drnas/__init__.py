"""keras-drnas: Dirichlet Neural Architecture Search (DrNAS) for Keras 3."""

from keras_drnas.cells import DrNASCell
from keras_drnas.concentration import ArchitectureDistribution, concentration
from keras_drnas.derived import DerivedNetwork, build_network, count_parameters, darts_network, nas_bench_201_network
from keras_drnas.genotype import DRNAS_CIFAR10, DRNAS_IMAGENET, Genotype, GenotypeError, derive_genotype
from keras_drnas.mixed_op import DirichletMixedOp, channel_shuffle
from keras_drnas.ops import OP_NAMES, create_op
from keras_drnas.search_model import SearchModel
from keras_drnas.spaces import DARTS, NAS_BENCH_201, SearchSpace, get_space
from keras_drnas.supernets import DartsSupernet, NASBench201Supernet, Supernet, darts, nas_bench_201

__all__ = [
    "ArchitectureDistribution", "DARTS", "DRNAS_CIFAR10", "DRNAS_IMAGENET", "DartsSupernet", "DerivedNetwork",
    "DirichletMixedOp", "DrNASCell", "Genotype", "GenotypeError", "NASBench201Supernet", "NAS_BENCH_201",
    "OP_NAMES", "SearchModel", "SearchSpace", "Supernet", "build_network", "channel_shuffle", "concentration",
    "count_parameters", "create_op", "darts", "darts_network", "derive_genotype", "get_space", "nas_bench_201",
    "nas_bench_201_network",
]
__version__ = "0.1.0"
