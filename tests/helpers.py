"""Small builders shared by the tests."""

import numpy as np
import tensorflow as tf

from keras_drnas.data import search_pairs
from keras_drnas.search_strategy import SearchModel
from keras_drnas.search_strategy.optimizers import default_arch_optimizer, default_weight_optimizer


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
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return any(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))


def write_image_folder(root, classes=3, per_class=12, size=16):
    """An ImageFolder tree of PNGs with a learnable signal per class."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((size, size, 3)) * 255).astype("uint8")
            pixels[..., c] = 255
            (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
