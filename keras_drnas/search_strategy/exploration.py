"""Exploration v. exploitation during a search (the paper's Section 4.4, Figure 1).

At chosen epochs, `ExplorationRecorder` samples discrete architectures from
the learnt Dirichlets and measures each inside the supernet, beside the
derived architecture: a wide accuracy range means the search still
explores, a narrow one that it has committed.
"""

import json
import os

import keras
import numpy as np

from keras_drnas.search_space.derivation import derive_genotype
from keras_drnas.search_strategy.fixed_architecture import (
    check_supernet,
    check_validation_data,
    fixed_op_weights,
    genotype_op_weights,
    take_batches,
)
from keras_drnas.search_strategy.workers import strategy_of, writable_path
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_write_text
from keras_drnas.utils.optional import tensorflow as tf


def sample_op_weights(concentration, op_mask, rng):
    """One theta ~ Dir(beta) per edge over its unmasked ops (NumPy, so the
    search's own samplers are not advanced; NumPy's Dirichlet is exact for
    concentrations of any size, so none is floored)."""
    theta = np.zeros(concentration.shape)
    for row, (beta, kept) in enumerate(zip(concentration, np.asarray(op_mask, bool))):
        columns = np.flatnonzero(kept)
        theta[row, columns] = rng.dirichlet(beta[columns])
    return theta


def _correct(y, logits):
    if len(y.shape) == len(logits.shape):  # one-hot labels
        y = tf.argmax(y, axis=-1)
    hits = tf.equal(tf.cast(tf.reshape(y, [-1]), tf.int64), tf.argmax(logits, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.int64))


class ExplorationRecorder(keras.callbacks.Callback):
    """Records the accuracy of architectures sampled from the learnt
    distribution and of the derived one, as in the paper's Figure 1.

    At each chosen epoch it draws `num_samples` theta ~ Dir(beta) per cell
    type, derives a discrete architecture from each exactly as the final one
    is derived (argmax op per edge; in DARTS the two strongest edges per
    node), and evaluates the supernet with those one-hot op weights on the
    same `num_batches` validation batches every time (inference mode: batch
    norm uses its moving statistics, as `SearchModel.evaluate` does). The
    derived architecture (largest Dirichlet mean) is evaluated the same way.
    The paper ranks its samples by their NAS-Bench-201 accuracy after full
    training; inside the supernet the numbers are weight-sharing accuracies.

    Results go to `path`, a JSON object `{epoch: {"sampled": [accuracy, ...],
    "derived": accuracy}}` (epochs 1-based as in `genotypes.jsonl`, written
    atomically after every recorded epoch, kept across a resumed run), and
    into the epoch's `logs` as `exploration_derived_accuracy` and
    `exploration_sampled_accuracy_min` / `_mean` / `_max`, which History and
    TensorBoard pick up when they come after this callback.

    Args:
        validation_data: a `tf.data.Dataset` of (x, y) batches, or the
            search's `((x_train, y_train), (x_val, y_val))` pairs (their
            validation half is used).
        path: the JSON file, e.g. `RUN_DIR/exploration.json`.
        epochs: an int n records every n-th epoch and the last one; a list
            records those (1-based) epochs.
        num_samples: architectures sampled per recorded epoch (paper: 100).
        num_batches: validation batches each architecture is measured on.
        seed: seeds the sampling of each epoch (with the epoch number), so
            a resumed search records the same architectures.

    Example:
    ```python
    recorder = ExplorationRecorder(pairs, "run/exploration.json", epochs=5, num_samples=100)
    search.fit(pairs, epochs=50, callbacks=[recorder])
    ```
    """

    def __init__(self, validation_data, path, epochs=1, num_samples=100, num_batches=2, seed=None):
        super().__init__()
        self.validation_data = check_validation_data(validation_data, "ExplorationRecorder")
        self.path = path
        if isinstance(epochs, int) and epochs < 1:
            raise InputError(f"epochs must be a positive int or a list of epoch numbers, got epochs={epochs}.")
        self.epochs = epochs if isinstance(epochs, int) else sorted(int(e) for e in epochs)
        if num_samples < 1:
            raise InputError(f"num_samples must be at least 1, got num_samples={num_samples}.")
        self.num_samples = int(num_samples)
        self.num_batches = int(num_batches)
        self.seed = seed
        self.records = {}
        self._batches = None
        self._evaluate = None
        self._evaluate_key = None
        self._first_epoch = False

    def on_train_begin(self, logs=None):
        check_supernet(self.model, "ExplorationRecorder")
        softmax = [k for k, d in self.model.distributions().items() if d.relaxation != "dirichlet"]
        if softmax:
            raise InputError(
                f"ExplorationRecorder samples from the learnt Dirichlets, but the {softmax} cells use the "
                "softmax relaxation (the DARTS baseline), which learns no distribution to sample."
            )
        if self._batches is None:
            self._batches = take_batches(self.validation_data, self.num_batches, "ExplorationRecorder")
        if os.path.isfile(self.path):  # a resumed search keeps the epochs it recorded
            with open(self.path, encoding="utf-8") as f:
                self.records = {int(epoch): record for epoch, record in json.load(f).items()}
        self._first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch:  # epochs from here on are (re)done: drop stale records
            self.records = {e: r for e, r in self.records.items() if e <= epoch}
            self._first_epoch = False

    def is_recorded(self, epoch):
        """Whether the 1-based `epoch` is one to record."""
        if isinstance(self.epochs, int):
            return epoch % self.epochs == 0 or epoch == (self.params or {}).get("epochs")
        return epoch in self.epochs

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if not self.is_recorded(epoch):
            return
        record = self.record(epoch)
        self.records[epoch] = record
        with writable_path(self.path, strategy_of(self.model)) as path:  # the chief's only
            atomic_write_text(path, json.dumps({str(e): r for e, r in sorted(self.records.items())}, indent=1))
        if logs is not None:
            sampled = record["sampled"]
            logs.update(
                exploration_derived_accuracy=record["derived"],
                exploration_sampled_accuracy_min=min(sampled),
                exploration_sampled_accuracy_mean=float(np.mean(sampled)),
                exploration_sampled_accuracy_max=max(sampled),
            )

    def record(self, epoch=0):
        """{"sampled": [accuracy, ...], "derived": accuracy} of the model's
        current distribution; `epoch` seeds the samples together with `seed`."""
        if self._batches is None:
            self.on_train_begin()
        search = self.model
        space = check_supernet(search, "ExplorationRecorder").space
        distributions = search.distributions()
        concentrations = search.concentrations()
        rng = np.random.default_rng(None if self.seed is None else [int(self.seed), int(epoch)])
        accuracies = {}  # samples of a confident distribution repeat: measure each architecture once

        def accuracy(genotype):
            if genotype not in accuracies:
                accuracies[genotype] = self._accuracy(genotype_op_weights(space, genotype))
            return accuracies[genotype]

        sampled = []
        for _ in range(self.num_samples):
            theta = {k: sample_op_weights(beta, distributions[k].op_mask, rng) for k, beta in concentrations.items()}
            sampled.append(accuracy(derive_genotype(space, theta)))
        return {"sampled": sampled, "derived": accuracy(search.genotype())}

    def _accuracy(self, op_weights):
        evaluate = self._evaluator()
        weights = {k: tf.constant(w) for k, w in op_weights.items()}
        correct = sum(int(evaluate(x, y, weights)) for x, y in self._batches)
        return correct / sum(int(tf.shape(x)[0]) for x, _ in self._batches)

    def _evaluator(self):
        """A compiled forward pass, rebuilt when pruning or widening has
        replaced the supernet's variables."""
        search = self.model
        key = tuple(id(v) for v in search.supernet.variables)
        if key != self._evaluate_key:
            distributions = search.distributions()

            @tf.function
            def evaluate(x, y, op_weights):
                with fixed_op_weights(distributions, op_weights):
                    logits = search.supernet(x, training=False)
                return _correct(y, logits)

            self._evaluate, self._evaluate_key = evaluate, key
        return self._evaluate
