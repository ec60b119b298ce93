"""Per-example augmentations with stateless ops and explicit seeds, so a
parallel `map` is reproducible and a resumed run sees the same images; and
the reference augmentation in NumPy for `ArrayPairs` (no TensorFlow)."""

import numpy as np

from keras_drnas.utils.optional import tensorflow as tf


def random_crop_flip(image, seed, padding=4, flip=True):
    """The reference augmentation: random crop after zero padding, h-flip.

    Stateless ops with a per-example seed, so parallel `map` stays
    reproducible.
    """
    shape = tf.shape(image)
    if padding:
        padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
        image = tf.image.stateless_random_crop(padded, shape, seed=seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    return image


def cutout(image, size, seed):
    """Zeroes one random size x size square (clipped at the border)."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    size_hw = tf.cast(tf.stack([height, width]), tf.float32)
    center = tf.cast(tf.random.stateless_uniform([2], seed) * size_hw, tf.int32)
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= center[0] - size // 2) & (rows < center[0] + (size + 1) // 2)
    inside &= (cols >= center[1] - size // 2) & (cols < center[1] + (size + 1) // 2)
    return image * tf.cast(~inside, image.dtype)[..., None]


def random_crop_flip_batch(images, rng, padding=4):
    """The reference augmentation for a batch of (height, width, channels)
    images, each with its own crop offset and coin flip from `rng`."""
    n, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    rows, cols = rng.integers(0, 2 * padding + 1, size=(2, n))
    flips = rng.random(n) < 0.5
    out = np.empty_like(images)
    for i in range(n):
        crop = padded[i, rows[i]:rows[i] + height, cols[i]:cols[i] + width]
        out[i] = crop[:, ::-1] if flips[i] else crop
    return out
