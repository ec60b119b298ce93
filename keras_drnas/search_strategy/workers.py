"""Runs on several workers (`tf.distribute.MultiWorkerMirroredStrategy`,
or several JAX processes): every worker runs the same code, and only the
chief's files remain."""

import contextlib
import os
import shutil
import tempfile

import keras


def strategy_of(model):
    """The `tf.distribute` strategy `model` runs under; None on JAX."""
    return getattr(model, "distribute_strategy", None)


def is_chief(strategy=None):
    """Whether this process keeps what it writes: always, except on the
    non-chief workers of a multi-worker strategy (`TF_CONFIG`'s chief, or
    worker 0 when the cluster has no chief, is the one that keeps them);
    on JAX, process 0.

    Example:
    >>> is_chief()
    True
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.process_index() == 0
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


@contextlib.contextmanager
def writable_directory(directory, strategy=None):
    """Yields `directory` on the chief; on the other workers a temporary
    directory, removed when the block ends. Every worker thus runs the
    same writing code, as Keras' own multi-worker callbacks do, while
    only the chief's files remain.

    Example:
    >>> with writable_directory("runs/search") as directory:
    ...     directory
    'runs/search'
    """
    if is_chief(strategy):
        yield directory
        return
    temporary = tempfile.mkdtemp(prefix="keras-drnas-worker-")
    try:
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


@contextlib.contextmanager
def writable_path(path, strategy=None):
    """`writable_directory` for one file: yields `path` on the chief, a
    path of the same name in a removed temporary directory elsewhere.

    Example:
    >>> with writable_path("runs/search/genotypes.jsonl") as path:
    ...     path
    'runs/search/genotypes.jsonl'
    """
    directory, name = os.path.split(path)
    with writable_directory(directory, strategy) as writable:
        yield os.path.join(writable, name)
