"""The pairs a search gets from arrays on JAX (`ArrayPairs`), tested here on
any backend: the same checks, batches and augmentation as tf.data's."""

import numpy as np
import pytest

from keras_drnas.data import DataError
from keras_drnas.data.array_pairs import ArrayPairs
from keras_drnas.data.augmentation import random_crop_flip_batch


def _pairs(epochs=None, initial_epoch=0, augment=True, seed=1):
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    y = (np.arange(64) % 10).astype("int32")
    return ArrayPairs((x[:32], y[:32]), (x[32:], y[32:]), batch_size=8, steps_per_epoch=4, mean=[0.5], std=[0.25],
                      augment=augment, seed=seed, num_classes=10, epochs=epochs, initial_epoch=initial_epoch), x, y


def test_batches_are_normalized_pairs_from_each_half_without_repeats_in_an_epoch():
    pairs, x, y = _pairs(augment=False)
    assert len(pairs) == 4
    batches = [pairs[i] for i in range(len(pairs))]
    (xt, yt), (xv, yv) = batches[0]
    assert xt.shape == (8, 8, 8, 1) and yv.shape == (8,) and yt.dtype == np.int32
    seen = np.concatenate([b[0][0] for b in batches]) * 0.25 + 0.5
    np.testing.assert_allclose(np.sort(seen.reshape(32, -1), axis=0), np.sort(x[:32].reshape(32, -1), axis=0),
                               atol=1e-6)  # every training image once, normalized
    validation_labels = np.concatenate([b[1][1] for b in batches])
    assert sorted(validation_labels) == sorted(y[32:])
    pairs.on_epoch_end()  # the next epoch is reshuffled
    assert not np.array_equal(pairs[0][0][1], yt) or not np.array_equal(pairs[1][0][1], batches[1][0][1])
    with pytest.raises(IndexError):
        pairs[4]


def test_an_epoch_stream_resumes_with_the_same_batches():
    stream, _, _ = _pairs(epochs=3)
    resumed, _, _ = _pairs(epochs=3, initial_epoch=2)
    assert len(stream) == 12 and len(resumed) == 4
    for step in range(4):
        for side in (0, 1):
            for part in (0, 1):
                np.testing.assert_array_equal(stream[8 + step][side][part], resumed[step][side][part])
    assert not np.array_equal(stream[0][0][0], stream[4][0][0])  # epochs differ


def test_the_augmentation_crops_within_the_padding_and_flips():
    images = np.arange(2 * 8 * 8, dtype="float32").reshape(2, 8, 8, 1) + 1
    outputs = [random_crop_flip_batch(images, np.random.default_rng(seed)) for seed in range(40)]
    for out in outputs:
        assert out.shape == images.shape
        for i in range(2):  # a crop of the zero-padded image, possibly mirrored
            padded = np.pad(images[i, ..., 0], 4)
            windows = [padded[r:r + 8, c:c + 8] for r in range(9) for c in range(9)]
            assert any(np.array_equal(out[i, ..., 0], w) or np.array_equal(out[i, ..., 0], w[:, ::-1])
                       for w in windows)
    assert len({o.tobytes() for o in outputs}) > 20  # varied crops
    unpadded = [random_crop_flip_batch(images, np.random.default_rng(seed), padding=0)[0] for seed in range(40)]
    mirrored = sum(np.array_equal(o, images[0, :, ::-1]) for o in unpadded)
    assert sum(np.array_equal(o, images[0]) for o in unpadded) + mirrored == 40 and 0 < mirrored < 40


def test_search_pairs_gives_array_pairs_on_jax_only(monkeypatch):
    import keras

    from keras_drnas.data import search_pairs

    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    y = np.arange(64) % 10
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    pairs = search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 8, seed=1, epochs=2)
    assert isinstance(pairs, ArrayPairs) and pairs.steps_per_epoch == 4 and pairs.num_classes == 10
    np.testing.assert_allclose(pairs.mean, x[:32].mean(axis=(0, 1, 2)), rtol=1e-5)
    with pytest.raises(DataError, match="batch_size=100 is larger than the train half"):
        search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 100)
    with pytest.raises(DataError, match="No epochs left"):
        search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 8, epochs=2, initial_epoch=2)
