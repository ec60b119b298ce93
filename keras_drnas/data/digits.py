"""scikit-learn's bundled 8x8 digits: real images with no network."""

import numpy as np

from keras_drnas.data.pairs import split_half
from keras_drnas.data.search_data import SearchData
from keras_drnas.utils.optional import tensorflow as tf


def load_digits():
    """scikit-learn's bundled 8x8 digits: 1,797 real images, no network.

    Returns (x, y): float32 images in [0, 1] of shape (1797, 8, 8, 1) and
    int32 labels 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return x, digits.target.astype("int32")


def digits_search_data(seed=0, test_fraction=0.2):
    """Digits: a held-out test part, the rest split 50/50 for the search."""
    x, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, rest = order[:n_test], order[n_test:]
    (xt, yt), (xv, yv) = split_half(x[rest], y[rest], seed)
    return SearchData(
        tf.data.Dataset.from_tensor_slices((xt, yt)),
        tf.data.Dataset.from_tensor_slices((xv, yv)),
        num_classes=10,
        image_shape=x.shape[1:],
        name="digits",
        test=tf.data.Dataset.from_tensor_slices((x[test], y[test])),
    )
