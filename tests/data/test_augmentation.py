import numpy as np
import tensorflow as tf

from keras_drnas.data import cutout, random_crop_flip


def test_cutout_zeroes_one_clipped_square():
    image = tf.ones((16, 16, 3))
    for seed in range(20):
        out = cutout(image, 6, tf.constant([seed, 1])).numpy()
        zero = np.all(out == 0, axis=-1)
        rows, cols = np.nonzero(zero)
        assert zero.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # one rectangle
        assert rows.max() - rows.min() < 6 and cols.max() - cols.min() < 6
        assert np.all(out[~zero] == 1)  # nothing else touched
    inside = cutout(image, 6, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(inside, cutout(image, 6, tf.constant([3, 4])).numpy())  # seeded
    sizes = {int((cutout(image, 6, tf.constant([s, 0])).numpy() == 0).all(axis=-1).sum()) for s in range(40)}
    assert 36 in sizes and min(sizes) < 36  # full squares inside, clipped ones at the border


def test_random_crop_flip_is_a_shifted_or_mirrored_copy():
    image = tf.reshape(tf.range(8 * 8 * 1, dtype=tf.float32), (8, 8, 1)) + 1.0
    out = random_crop_flip(image, tf.constant([5, 7]), padding=2).numpy()
    assert out.shape == (8, 8, 1)
    source = image.numpy()[..., 0]
    padded = np.pad(source, 2)
    candidates = [padded[r:r + 8, c:c + 8] for r in range(5) for c in range(5)]
    candidates += [np.fliplr(c) for c in candidates]
    assert any(np.array_equal(out[..., 0], c) for c in candidates)
    again = random_crop_flip(image, tf.constant([5, 7]), padding=2).numpy()
    np.testing.assert_array_equal(out, again)
