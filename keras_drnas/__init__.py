"""keras-drnas: Dirichlet Neural Architecture Search (DrNAS) for Keras 3.

The package is laid out by role: `search_space` (what can be chosen),
`search_strategy` (how it is learnt), `derived_model` (what is shipped) and
`data`. Users reach it through the names below and the namespaces
`kd.layers`, `kd.callbacks`, `kd.presets` and `kd.data`.
"""

import os
import sys

from keras_drnas.utils.quiet import filtered_native_stderr, wants_quiet

if os.path.basename(sys.argv[0]) == "keras-drnas":  # the command line is quiet unless asked otherwise
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with filtered_native_stderr(enabled=wants_quiet() and "tensorflow" not in sys.modules):
    import keras  # (on TensorFlow, its first import: native libraries print their start-up lines here)

    if keras.backend.backend() == "tensorflow":  # on JAX, only the features that need TensorFlow import it
        import tensorflow

        tensorflow.config.list_physical_devices()  # (and when devices are first probed)
        del tensorflow

from keras_drnas import callbacks, data, layers, presets  # noqa: E402
from keras_drnas.derived_model import (  # noqa: E402
    DerivedNetwork,
    RetrainRecipe,
    build_network,
    count_flops,
    count_parameters,
    export_all,
    retrain,
)
from keras_drnas.search_space import (  # noqa: E402
    DARTS,
    MOBILENET,
    NAS_BENCH_201,
    Genotype,
    GenotypeError,
    SearchSpace,
    get_space,
)
from keras_drnas.search_strategy import (  # noqa: E402
    ArchitectureDistribution,
    DartsSupernet,
    DirichletMixedOp,
    DrNASCell,
    LatencyObjective,
    LatencyTable,
    MobileNetSupernet,
    NASBench201Supernet,
    SearchModel,
)
from keras_drnas.utils.errors import InputError  # noqa: E402

__all__ = [
    "ArchitectureDistribution", "DARTS", "DartsSupernet", "DerivedNetwork", "DirichletMixedOp", "DrNASCell",
    "Genotype", "GenotypeError", "InputError", "LatencyObjective", "LatencyTable", "MOBILENET", "MobileNetSupernet",
    "NASBench201Supernet", "NAS_BENCH_201", "RetrainRecipe", "SearchModel",
    "SearchSpace", "build_network", "callbacks", "count_flops", "count_parameters", "data", "export_all",
    "get_space", "layers", "presets", "retrain",
]
__version__ = "0.1.0"
del os, sys, keras, filtered_native_stderr, wants_quiet


def __dir__():  # what `dir(kd)` and tab completion show: the public names only
    return sorted(__all__)
