"""keras-drnas: Dirichlet Neural Architecture Search (DrNAS) for Keras 3.

The package is laid out by role: `search_space` (what can be chosen),
`search_strategy` (how it is learnt), `derived_model` (what is shipped) and
`data`. Users reach it through the names below and the namespaces
`kd.layers`, `kd.callbacks`, `kd.presets` and `kd.data`.
"""

from keras_drnas import callbacks, data, layers, presets
from keras_drnas.derived_model import (
    DerivedNetwork,
    RetrainRecipe,
    build_network,
    count_flops,
    count_parameters,
    export_all,
    retrain,
)
from keras_drnas.search_space import DARTS, NAS_BENCH_201, Genotype, GenotypeError, SearchSpace, get_space
from keras_drnas.search_strategy import (
    ArchitectureDistribution,
    DartsSupernet,
    DirichletMixedOp,
    DrNASCell,
    NASBench201Supernet,
    SearchModel,
)

__all__ = [
    "ArchitectureDistribution", "DARTS", "DartsSupernet", "DerivedNetwork", "DirichletMixedOp", "DrNASCell",
    "Genotype", "GenotypeError", "NASBench201Supernet", "NAS_BENCH_201", "RetrainRecipe", "SearchModel",
    "SearchSpace", "build_network", "callbacks", "count_flops", "count_parameters", "data", "export_all",
    "get_space", "layers", "presets", "retrain",
]
__version__ = "0.1.0"
