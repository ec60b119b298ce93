

from keras_drnas.data import search_pairs


def test_tfds_path_with_mock_data(monkeypatch):
    import tensorflow_datasets as tfds

    from keras_drnas.data import tfds_search_data

    # mock_data replaces reading the prepared files; is_prepared stands in for them.
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=400):
        data = tfds_search_data("imagenet16-120", data_dir="/nonexistent")
        images = list(data.train.take(8).as_numpy_iterator())
    assert data.num_classes == 120 and data.image_shape == (16, 16, 3)
    assert all(x.shape == (16, 16, 3) and 0.0 <= x.min() and x.max() <= 1.0 and 0 <= y < 120 for x, y in images)
    pairs = search_pairs(data.train, data.validation, 4, data.num_classes, seed=0)
    (xt, yt), (xv, yv) = next(iter(pairs))
    assert xt.shape == (4, 16, 16, 3) and xv.shape == (4, 16, 16, 3)
