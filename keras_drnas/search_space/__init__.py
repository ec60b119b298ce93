"""What can be chosen: candidate ops, search spaces (one module each,
registered by name), and genotypes (the discrete architectures of a space)."""

from keras_drnas.search_space.derivation import derive_genotype, random_genotype
from keras_drnas.search_space.derived_network import DerivedNetwork
from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.ops import OP_NAMES, create_op
from keras_drnas.search_space.space import GenotypeError, SearchSpace, get_space, register_space, space_names
# The built-in spaces register themselves on import.
from keras_drnas.search_space.darts import DARTS, DartsSpace
from keras_drnas.search_space.mobilenet import MOBILENET, MobileNetSpace
from keras_drnas.search_space.nas_bench_201 import NAS_BENCH_201, NASBench201Space

# What a cell, a supernet or the command line searches unless told: the
# paper's benchmark space.
DEFAULT_SPACE = NAS_BENCH_201.name

__all__ = [
    "DARTS", "DEFAULT_SPACE", "DartsSpace", "DerivedNetwork", "Genotype", "GenotypeError", "MOBILENET",
    "MobileNetSpace", "NASBench201Space", "NAS_BENCH_201",
    "OP_NAMES", "SearchSpace", "create_op", "derive_genotype", "get_space", "random_genotype", "register_space",
    "space_names",
]
