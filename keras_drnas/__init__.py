"""keras-drnas: Dirichlet Neural Architecture Search (DrNAS) for Keras 3."""

from keras_drnas.cells import DrNASCell
from keras_drnas.concentration import ArchitectureDistribution, concentration
from keras_drnas.genotype import Genotype, GenotypeError, derive_genotype
from keras_drnas.mixed_op import DirichletMixedOp, channel_shuffle
from keras_drnas.ops import OP_NAMES, create_op
from keras_drnas.spaces import DARTS, NAS_BENCH_201, SearchSpace, get_space
from keras_drnas.supernets import (
    DartsSupernet,
    NASBench201Supernet,
    Supernet,
    darts,
    nas_bench_201,
)

__version__ = "0.1.0"
