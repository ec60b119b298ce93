"""Small builders shared by the tests, and what lets one test run on either backend."""

import keras
import numpy as np
import pytest

from keras_drnas.data import search_pairs
from keras_drnas.search_strategy import SearchModel
from keras_drnas.search_strategy.optimizers import default_arch_optimizer, default_weight_optimizer

tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="needs the TensorFlow backend")
to_numpy = keras.ops.convert_to_numpy


def gradients(loss_fn, variables, layers=(), compiled=False):
    """`loss_fn()` and its gradients with respect to `variables`, as NumPy,
    on either backend. The other variables of `layers` (batch-norm
    statistics, seed states) are updated as a call updates them. On JAX the
    gradient is always traced; `compiled` traces it on TensorFlow too."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def tape_gradient():
            with tf.GradientTape() as tape:
                loss = loss_fn()
            return loss, tape.gradient(loss, variables)

        loss, grads = tf.function(tape_gradient)() if compiled else tape_gradient()
        return to_numpy(loss), [None if g is None else to_numpy(tf.convert_to_tensor(g)) for g in grads]
    import jax

    carried = [v for layer in layers for v in layer.variables if not any(v is w for w in variables)]

    def pure(values, carried_values):
        with keras.StatelessScope(state_mapping=[*zip(variables, values), *zip(carried, carried_values)]) as scope:
            loss = loss_fn()
        return loss, [scope.get_current_value(v) for v in carried]

    (loss, updates), grads = jax.value_and_grad(pure, has_aux=True)([v.value for v in variables],
                                                                    [v.value for v in carried])
    for variable, update in zip(carried, updates):
        if update is not None:
            variable.assign(update)
    return to_numpy(loss), [to_numpy(g) for g in grads]


def tiny_pairs(n=128, size=8, channels=1, classes=10, batch_size=32, seed=0):
    """Random images and labels as search pairs."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, channels)).astype("float32")
    y = rng.integers(0, classes, n).astype("int32")
    return search_pairs((x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :]), batch_size, classes, seed=seed)


def compiled(model, learning_rate=0.05, arch_learning_rate=3e-3, **kwargs):
    """A compiled SearchModel with fast learning rates and no min_learning_rate."""
    search = SearchModel(model, **kwargs)
    search.compile(optimizer=default_weight_optimizer(learning_rate, 0.0),
                   arch_optimizer=default_arch_optimizer(arch_learning_rate), metrics=["accuracy"])
    return search


def snapshot(variables):
    return [to_numpy(v).copy() for v in variables]


def changed(before, variables):
    return any(not np.array_equal(b, to_numpy(v)) for b, v in zip(before, variables))


def write_image_folder(root, classes=3, per_class=12, size=16):
    """An ImageFolder tree of PNGs with a learnable signal per class."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((size, size, 3)) * 255).astype("uint8")
            pixels[..., c] = 255
            (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
