"""What can be chosen: candidate ops, search spaces, cell skeletons and
stems, and genotypes (the discrete architectures of a space)."""

from keras_drnas.search_space.derivation import derive_cell, derive_genotype, random_genotype
from keras_drnas.search_space.genotype import Genotype, GenotypeError
from keras_drnas.search_space.ops import OP_NAMES, create_op
from keras_drnas.search_space.spaces import DARTS, NAS_BENCH_201, SearchSpace, get_space

__all__ = [
    "DARTS", "Genotype", "GenotypeError", "NAS_BENCH_201", "OP_NAMES", "SearchSpace", "create_op", "derive_cell",
    "derive_genotype", "get_space", "random_genotype",
]
