
import numpy as np
import pytest
import tensorflow as tf

from keras_drnas.data import DataError, search_pairs


def test_bad_labels_inside_a_tf_data_pipeline_are_named():
    x = np.random.rand(64, 8, 8, 1).astype("float32")
    y = np.full(64, 11, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    pairs = search_pairs(dataset, dataset, 16, num_classes=10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be in 0..9"):
        next(iter(pairs))


def test_bad_arrays_get_clear_errors():
    x = np.random.rand(64, 8, 8, 1).astype("float32")
    y = np.arange(64) % 10
    with pytest.raises(DataError, match="labels must be >= 0 and below num_classes=10; found labels from 3 to 12"):
        search_pairs((x, y + 3), (x, y), 16, num_classes=10)
    bad = x.copy()
    bad[5, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="1 images contain NaN or infinite values \\(first at index 5\\)"):
        search_pairs((bad, y), (x, y), 16)
    with pytest.raises(DataError, match="empty"):
        search_pairs((x[:0], y[:0]), (x, y), 16)
    with pytest.raises(DataError, match="batch_size=100 is larger than the train half \\(64 examples\\)"):
        search_pairs((x, y), (x, y), 100)
    with pytest.raises(DataError, match="must be \\(examples, height, width, channels\\)"):
        search_pairs((x[..., 0], y), (x, y), 16)


def test_pairs_are_batched_pairs_and_epoch_streams_repeat_exactly():
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    y = np.arange(64) % 10
    pairs = search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 8, seed=1)
    (xt, yt), (xv, yv) = next(iter(pairs))
    assert xt.shape == (8, 8, 8, 1) and xv.shape == (8, 8, 8, 1) and yt.dtype == tf.int32
    stream = search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 8, seed=1, augment=True, epochs=3)
    resumed = search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 8, seed=1, augment=True, epochs=3, initial_epoch=2)
    assert int(stream.cardinality()) == 12 and int(resumed.cardinality()) == 4
    last_epoch = list(stream.skip(8).as_numpy_iterator())
    for (a_train, a_val), (b_train, b_val) in zip(last_epoch, resumed.as_numpy_iterator()):
        np.testing.assert_array_equal(a_train[0], b_train[0])
        np.testing.assert_array_equal(a_val[1], b_val[1])
