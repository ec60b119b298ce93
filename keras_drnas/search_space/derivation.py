"""Derivation: the discrete architecture of largest expected op weight
(paper 2.3), each cell derived by its space's rule."""

import numpy as np

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.space import get_space


def derive_genotype(space, weights):
    """Builds a `Genotype` from the expected op weights of each cell type.

    Args:
        space: a `SearchSpace` (or its name).
        weights: {cell type: edges x ops array}, usually the Dirichlet means
            beta / sum(beta), for each of the space's `cell_types`.
    """
    space = get_space(space)
    return Genotype(space.name, **{t: space.derive_cell(weights[t]) for t in space.cell_types})


def random_genotype(space, seed=None):
    """A genotype drawn uniformly from `space`: the baseline a search must beat.

    Example:
    >>> random_genotype("nas-bench-201", seed=0).space
    'nas-bench-201'
    """
    space = get_space(space)
    rng = np.random.default_rng(seed)
    return Genotype(space.name, **{t: space.random_cell(rng) for t in space.cell_types})
