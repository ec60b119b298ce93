"""The derived network: a genotype as a plain Keras model (what is shipped).

Each space builds its own evaluation network (`SearchSpace.build_network`)
from Keras' built-in layers only; this is the one entry point for all.
"""

from keras_drnas.search_space.genotype import Genotype, GenotypeError
from keras_drnas.search_space.space import get_space, space_names
from keras_drnas.utils.errors import InputError


def build_network(genotype, **kwargs):
    """The evaluation network of `genotype`, for its space: a
    `DerivedNetwork` whose `model` is shipped.

    Takes the keyword arguments of the space's `build_network` (e.g.
    `channels`, `num_classes`, `input_shape`, `mean`, `std`). Arguments
    that only another registered space takes are accepted and ignored, so
    one set of settings serves every space (`cells_per_stage` for
    NAS-Bench-201; `num_cells`, `stem`, `auxiliary`, `drop_path` for
    DARTS); any other keyword is an error.

    Example:
    >>> from keras_drnas.presets import DRNAS_CIFAR10
    >>> net = build_network(DRNAS_CIFAR10, channels=8, num_cells=3, cells_per_stage=1, input_shape=(16, 16, 3))
    >>> net.model.output_shape
    (None, 10)
    """
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"Expected a Genotype, got {type(genotype).__name__}; load files with Genotype.load.")
    space = get_space(genotype.space)
    known = {name for other in space_names() for name in get_space(other).network_arguments}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InputError(f"build_network got unknown arguments {unknown}; it takes {', '.join(sorted(known))}.")
    return space.build_network(genotype, **{k: v for k, v in kwargs.items() if k in space.network_arguments})
