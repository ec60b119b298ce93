"""Derivation: the discrete cell of largest expected op weight (paper 2.3).

NAS-Bench-201 keeps every edge with its strongest op (`none` allowed);
DARTS keeps, per intermediate node, the two incoming edges whose strongest
non-`none` op weighs most, as the reference code does.
"""

import numpy as np

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.spaces import get_space
from keras_drnas.utils.errors import InputError


def derive_cell(space, weights):
    """Picks `(op, input)` pairs of one cell from its edges x ops weights.

    Every edge takes its op of largest weight. In the DARTS space, each
    intermediate node then keeps the `edges_kept_per_node` incoming edges
    whose best op weighs most; `none` is never chosen there.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (space.num_edges, space.num_ops):
        raise InputError(
            f"weights must be edges x ops = ({space.num_edges}, {space.num_ops}), got {weights.shape}."
        )
    if space.edges_kept_per_node is None:
        return [(space.op_names[int(np.argmax(w))], src) for w, (_, src) in zip(weights, space.edges)]
    candidates = np.array([name != "none" for name in space.op_names])
    pairs = []
    for node in range(space.num_input_nodes, space.num_nodes):
        incoming = space.incoming(node)
        best = []
        for row, src in incoming:
            w = np.where(candidates, weights[row], -np.inf)
            best.append((src, int(np.argmax(w)), float(np.max(w))))
        best.sort(key=lambda item: -item[2])  # stable: ties keep the lower input
        pairs += [(space.op_names[op], src) for src, op, _ in best[: space.edges_kept_per_node]]
    return pairs


def derive_genotype(space, weights):
    """Builds a `Genotype` from the expected op weights of each cell type.

    Args:
        space: a `SearchSpace` (or its name).
        weights: dict with `"normal"` (and, for DARTS, `"reduce"`) edges x ops
            arrays, usually the Dirichlet means beta / sum(beta).
    """
    space = get_space(space)
    normal = derive_cell(space, weights["normal"])
    if space.num_input_nodes == 1:
        return Genotype(space.name, normal)
    return Genotype(space.name, normal, derive_cell(space, weights["reduce"]))


def random_genotype(space, seed=None):
    """A genotype drawn uniformly from `space`: the baseline a search must beat.

    NAS-Bench-201: every edge takes any op (`none` included). DARTS: every
    intermediate node reads two distinct earlier nodes through any op but
    `none`, in both cells.

    Example:
    >>> random_genotype("nas-bench-201", seed=0).space
    'nas-bench-201'
    """
    space = get_space(space)
    rng = np.random.default_rng(seed)
    if space.edges_kept_per_node is None:
        return Genotype(space.name, [(str(rng.choice(space.op_names)), src) for _, src in space.edges])
    ops = [name for name in space.op_names if name != "none"]

    def cell():
        pairs = []
        for node in range(space.num_input_nodes, space.num_nodes):
            inputs = sorted(rng.choice(node, size=space.edges_kept_per_node, replace=False))
            pairs += [(str(rng.choice(ops)), int(src)) for src in inputs]
        return pairs

    return Genotype(space.name, cell(), cell())
