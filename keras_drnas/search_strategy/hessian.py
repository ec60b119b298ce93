"""The dominant eigenvalue of the validation-loss Hessian over eta (paper Appendix A.4).

A large dominant eigenvalue of the Hessian of the validation loss with
respect to the architecture parameters goes with poor generalization of the
derived architecture (Zela et al., 2020, cited in the paper's Section 2.3);
the paper's Figure 4 shows it growing about tenfold under DARTS while DrNAS
keeps it low.
`HessianEigenvalue` tracks it during a search by power iteration on
Hessian-vector products, never forming the Hessian.
"""

import os

import keras
import numpy as np

from keras_drnas.search_strategy.fixed_architecture import (
    check_supernet,
    check_validation_data,
    fixed_op_weights,
    take_batches,
)
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.optional import tensorflow as tf


def hessian_vector_product_function(search):
    """A compiled `(x, y, vectors) -> H v` for one batch, H the Hessian of
    the mean validation loss over `search.architecture_variables` (double
    backpropagation: the gradient of <grad, v>).

    The loss is deterministic: every cell mixes its ops with the expected
    weights (the Dirichlet mean, the softmax for the DARTS baseline), as
    derivation does, and batch norm uses its moving statistics.
    """
    variables = search.architecture_variables
    distributions = search.distributions()

    @tf.function
    def hessian_vector_product(x, y, vectors):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                weights = {k: d.expected_weights() for k, d in distributions.items()}
                with fixed_op_weights(distributions, weights):
                    logits = search.supernet(x, training=False)
                loss = search.compute_loss(x=x, y=y, y_pred=logits, training=False)
            grads = _zeros_for_none(inner.gradient(loss, variables), variables)
            grad_dot_vectors = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(grads, vectors)])
        return _zeros_for_none(outer.gradient(grad_dot_vectors, variables), variables)

    return hessian_vector_product


def _zeros_for_none(grads, variables):
    # A cell type the network does not use (e.g. a DARTS net without normal
    # cells) leaves its eta out of the loss. TF's UnconnectedGradients.ZERO
    # fails on Keras variables, whose dtype is a string.
    return [tf.zeros(v.shape) if g is None else g for g, v in zip(grads, variables)]


def dominant_eigenvalue(matvec, shapes, iterations=20, tolerance=1e-3, seed=None):
    """The eigenvalue of largest magnitude of a symmetric operator, by power
    iteration from a random start.

    Args:
        matvec: maps a list of vectors (one per shape) to the product.
        shapes: the shapes of the variables the operator acts on.
        iterations: at most this many products.
        tolerance: stops when the Rayleigh quotient changes by less than
            this fraction of itself.
        seed: seeds the random start.
    """
    rng = np.random.default_rng(seed)
    vectors = [rng.standard_normal(shape) for shape in shapes]
    norm = np.sqrt(sum(np.sum(v * v) for v in vectors))
    vectors = [v / norm for v in vectors]
    eigenvalue = None
    for _ in range(iterations):
        product = [np.asarray(p, np.float64) for p in matvec([tf.constant(v, tf.float32) for v in vectors])]
        estimate = float(sum(np.sum(v * p) for v, p in zip(vectors, product)))  # Rayleigh quotient, |v| = 1
        norm = np.sqrt(sum(np.sum(p * p) for p in product))
        if norm == 0.0:
            return 0.0
        vectors = [p / norm for p in product]
        converged = eigenvalue is not None and abs(estimate - eigenvalue) <= tolerance * abs(estimate)
        eigenvalue = estimate
        if converged:
            break
    return eigenvalue


def dominant_hessian_eigenvalue(search, batches, iterations=20, tolerance=1e-3, seed=None, product=None):
    """The dominant eigenvalue of the Hessian of the validation loss (the
    mean over `batches`, a list of (x, y)) with respect to eta.

    See `hessian_vector_product_function` for the loss; pass its result as
    `product` to reuse a compiled one.
    """
    product = product or hessian_vector_product_function(search)
    sizes = [int(tf.shape(x)[0]) for x, _ in batches]

    def matvec(vectors):
        total = None
        for (x, y), size in zip(batches, sizes):  # the mean over all examples
            part = [size / sum(sizes) * p for p in product(x, y, vectors)]
            total = part if total is None else [t + p for t, p in zip(total, part)]
        return total

    shapes = [tuple(v.shape) for v in search.architecture_variables]
    return dominant_eigenvalue(matvec, shapes, iterations, tolerance, seed)


class HessianEigenvalue(keras.callbacks.Callback):
    """Logs the dominant eigenvalue of the Hessian of the validation loss
    with respect to eta (every architecture variable), as in the paper's
    Appendix A.4.

    Power iteration on Hessian-vector products over a fixed set of
    validation batches. The loss must not change between products, so the
    cells mix their ops with the Dirichlet mean (not a sample) and batch norm
    uses its moving statistics; see `hessian_vector_product_function`.

    The value goes into the epoch's `logs` as `hessian_eigenvalue` (History,
    `SearchCheckpoint` and Keras' TensorBoard callback record it when they
    come after this callback) and, with `log_dir`, into a TensorBoard scalar
    beside `GenotypeLogger`'s.

    Args:
        validation_data: a `tf.data.Dataset` of (x, y) batches, or the
            search's `((x_train, y_train), (x_val, y_val))` pairs (their
            validation half is used).
        every: computes it every `every` epochs and at the last one; the
            logs of other epochs have no `hessian_eigenvalue`.
        num_batches: validation batches the loss is averaged over.
        iterations: at most this many Hessian-vector products per estimate.
        tolerance: relative change of the estimate at which to stop.
        log_dir: optional TensorBoard directory.
        seed: seeds the power iteration's random start.

    Example:
    ```python
    search.fit(pairs, epochs=50, callbacks=[HessianEigenvalue(pairs, every=5)])
    ```
    """

    def __init__(self, validation_data, every=1, num_batches=2, iterations=20, tolerance=1e-3, log_dir=None,
                 seed=None):
        super().__init__()
        self.validation_data = check_validation_data(validation_data, "HessianEigenvalue")
        if every < 1:
            raise InputError(f"every must be at least 1, got every={every}.")
        self.every = int(every)
        self.num_batches = int(num_batches)
        if iterations < 1:
            raise InputError(f"iterations must be at least 1, got iterations={iterations}.")
        self.iterations = int(iterations)
        self.tolerance = float(tolerance)
        self.log_dir = log_dir
        self.seed = seed
        self._batches = None
        self._writer = None
        self._product = None
        self._product_key = None

    def on_train_begin(self, logs=None):
        check_supernet(self.model, "HessianEigenvalue")
        if self._batches is None:
            self._batches = take_batches(self.validation_data, self.num_batches, "HessianEigenvalue")
        if self.log_dir:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "architecture"))

    def on_epoch_end(self, epoch, logs=None):
        epoch += 1
        if epoch % self.every and epoch != (self.params or {}).get("epochs"):
            return
        value = self.eigenvalue()
        if logs is not None:
            logs["hessian_eigenvalue"] = value
        if self._writer is not None:
            with self._writer.as_default(step=epoch):
                tf.summary.scalar("hessian_eigenvalue", value)
            self._writer.flush()

    def eigenvalue(self):
        """The dominant eigenvalue for the model's current state."""
        if self._batches is None:
            self._batches = take_batches(self.validation_data, self.num_batches, "HessianEigenvalue")
        key = tuple(id(v) for v in self.model.supernet.variables)  # pruning and widening replace variables
        if key != self._product_key:
            self._product, self._product_key = hessian_vector_product_function(self.model), key
        return dominant_hessian_eigenvalue(
            self.model, self._batches, self.iterations, self.tolerance, self.seed, self._product
        )

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
