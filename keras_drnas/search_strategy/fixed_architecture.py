"""A supernet at fixed op weights: what the diagnostics of a search evaluate.

The exploration record (paper Section 4.4) evaluates discrete architectures
inside the trained supernet, and the Hessian diagnostic (Appendix A.4)
differentiates a deterministic validation loss. Both need a fixed set of
validation batches and a way to make every cell use chosen op weights
instead of a fresh Dirichlet sample.
"""

import contextlib

import numpy as np

from keras_drnas.search_strategy.supernet import Supernet
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.optional import require_tensorflow_backend, tensorflow as tf

DATA_HINT = (
    "a tf.data.Dataset of batched (x, y) validation pairs, or the search's "
    "((x_train, y_train), (x_val, y_val)) batches (their validation half is used)"
)


def check_validation_data(data, owner):
    """`data` as a dataset of (x, y) batches, or a clear error."""
    require_tensorflow_backend(owner)  # it evaluates fixed architectures in a tf.function
    if not isinstance(data, tf.data.Dataset):
        raise InputError(f"{owner} takes validation_data as {DATA_HINT}; got {type(data).__name__}.")
    spec = data.element_spec
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tuple) and len(s) == 2 for s in spec):
        data = data.map(lambda train, validation: validation)
        spec = data.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec)):
        raise InputError(f"{owner} takes validation_data as {DATA_HINT}; got elements {spec}.")
    if spec[0].shape.rank != 4:
        raise InputError(
            f"{owner} needs batches of images (batch, height, width, channels), got x of shape "
            f"{spec[0].shape}; batch the dataset (dataset.batch(64))."
        )
    return data


def take_batches(data, num_batches, owner):
    """The first `num_batches` (x, y) batches, as a list of tensors: the
    same examples at every epoch, so the numbers compare across epochs."""
    if num_batches < 1:
        raise InputError(f"num_batches must be at least 1, got num_batches={num_batches}.")
    batches = list(data.take(num_batches))
    if not batches:
        raise InputError(f"{owner}: validation_data is empty.")
    return batches


def check_supernet(search, owner):
    """The `Supernet` a `SearchModel` wraps, or a clear error."""
    supernet = getattr(search, "supernet", None)
    if not isinstance(supernet, Supernet):
        raise InputError(
            f"{owner} works on a SearchModel around a supernet (see build_supernet), "
            f"got {type(supernet).__name__}."
        )
    return supernet


@contextlib.contextmanager
def fixed_op_weights(distributions, op_weights):
    """Within the block, `distributions[name].op_weights(...)` returns
    `op_weights[name]` (an edges x ops tensor) instead of a sample or mean.

    Only forward passes traced inside the block see the override; the
    search's compiled train step keeps its own sampling.
    """
    for name, distribution in distributions.items():
        weights = op_weights[name]
        distribution.op_weights = lambda training=False, weights=weights: weights
    try:
        yield
    finally:
        for distribution in distributions.values():
            del distribution.op_weights  # the class's method is visible again


def cell_edges(space, pairs):
    """(row of the architecture matrix, op column) of each genotype pair."""
    return [(row, space.op_names.index(op)) for row, _, _, op in space.kept_edges(pairs)]


def genotype_op_weights(space, genotype):
    """{cell type: edges x ops float32 one-hot weights} of a genotype: 1 on
    each kept (edge, op), rows of edges the genotype drops all 0."""
    weights = {}
    for cell_type in space.cell_types:
        matrix = np.zeros((space.num_edges, space.num_ops), np.float32)
        for row, column in cell_edges(space, getattr(genotype, cell_type)):
            matrix[row, column] = 1.0
        weights[cell_type] = matrix
    return weights
