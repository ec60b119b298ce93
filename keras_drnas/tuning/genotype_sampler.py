"""Sampling architectures from the learnt Dirichlet distributions.

The paper (section 2.2) notes that a search learns a distribution, not one
architecture, and that it "can be used to find architectures under resource
restrictions in a post search phase". A sample draws op weights
theta ~ Dir(beta / temperature) on every edge and derives a genotype from
them exactly as the search derives its own from the Dirichlet mean, by
the space's rule (`SearchSpace.derive_cell`).
"""

import numpy as np

from keras_drnas.search_space.derivation import derive_genotype
from keras_drnas.search_space.genotype import Genotype
from keras_drnas.utils.errors import InputError


class GenotypeSampler:
    """Draws genotypes from learnt concentrations.

    Args:
        space: the `SearchSpace` searched.
        concentrations: `{cell type: edges x ops}` concentrations (beta).
        op_masks: `{cell type: edges x ops}` bools; masked (pruned) ops are
            never drawn. Default: every op.
        temperature: divides beta. 1 samples the learnt distribution;
            below 1 the samples gather around the derived genotype (at 0+
            they are it); above 1 they spread out, towards choosing each op
            with its mean probability beta_o / sum(beta).

    Example:
    >>> import numpy as np
    >>> from keras_drnas.search_space import NAS_BENCH_201
    >>> beta = np.ones((6, 5)); beta[:, 3] = 50.0  # nor_conv_3x3 learnt on every edge
    >>> sampler = GenotypeSampler(NAS_BENCH_201, {"normal": beta}, temperature=0.5)
    >>> sampler.sample(np.random.default_rng(0)).normal[0]
    ('nor_conv_3x3', 0)
    """

    def __init__(self, space, concentrations, op_masks=None, temperature=1.0):
        if not temperature > 0:
            raise InputError(f"temperature must be positive, got temperature={temperature}.")
        self.space = space
        self.concentrations = {k: np.asarray(v, np.float64) for k, v in concentrations.items()}
        self.op_masks = {k: np.asarray((op_masks or {}).get(k, np.ones(v.shape, bool)), bool)
                         for k, v in self.concentrations.items()}
        self.temperature = float(temperature)

    def _weights(self, sample_edge):
        weights = {}
        for cell_type, beta in self.concentrations.items():
            theta = np.zeros_like(beta)  # masked ops keep weight 0 and are never the argmax
            for edge, (row, kept) in enumerate(zip(beta, self.op_masks[cell_type])):
                theta[edge, kept] = sample_edge(row[kept])
            weights[cell_type] = theta
        return weights

    def sample(self, rng):
        """One genotype, drawn with the NumPy `Generator` `rng`."""
        return derive_genotype(self.space, self._weights(lambda beta: rng.dirichlet(beta / self.temperature)))

    def most_likely(self):
        """The genotype of largest Dirichlet mean (what the search derived)."""
        return derive_genotype(self.space, self._weights(lambda beta: beta / beta.sum()))


def genotype_value(genotype):
    """A genotype as the one-line text a trial's hyperparameters hold
    (`Genotype.to_string()`; keras-tuner values are plain strings and numbers)."""
    return genotype.to_string()


def genotype_from_value(space, text):
    """The genotype of `genotype_value` text, in `space`."""
    return Genotype.from_string(text, space)
