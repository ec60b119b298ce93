"""Any ImageFolder tree (`class_name/image.jpg`) as search data."""

import os

import keras

from keras_drnas.data.search_data import SearchData
from keras_drnas.data.validation import DataError
from keras_drnas.utils.optional import tensorflow as tf


def image_folder_search_data(directory, image_size=None, seed=0, max_images=None):
    """Any ImageFolder tree (`class_name/image.jpg`), split 50/50.

    A folder with `train/` (and optionally `test/`) inside, such as the
    CIFAR-10 images as JPEG files, is also accepted.

    Args:
        directory: the tree's root.
        image_size: (height, width) to resize to; default: the first image's.
        seed: the 50/50 split and the order.
        max_images: use at most this many training images (quick runs).
    """
    if not os.path.isdir(directory):
        raise DataError(f"directory={directory!r} does not exist or is not a folder.")
    name = os.path.basename(os.path.normpath(directory))
    test_dir = None
    if os.path.isdir(os.path.join(directory, "train")):
        test_dir = os.path.join(directory, "test")
        directory = os.path.join(directory, "train")
    classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
    if len(classes) < 2:
        raise DataError(
            f"{directory} must hold one sub-folder per class (at least 2), found {classes}. "
            "Expected the ImageFolder layout class_name/image.jpg."
        )
    if image_size is None:
        image_size = _first_image_size(directory, classes)

    def load(path, subset=None):
        kwargs = dict(validation_split=0.5, subset=subset) if subset else {}
        return keras.utils.image_dataset_from_directory(
            path, labels="inferred", label_mode="int", class_names=classes, image_size=image_size,
            batch_size=None, shuffle=True, seed=seed, verbose=False, **kwargs
        )

    try:
        train, validation = load(directory, "both")
        test = load(test_dir) if test_dir and os.path.isdir(test_dir) else None
    except ValueError as error:
        raise DataError(f"Cannot read images from {directory}: {error}") from None
    if max_images:
        train, validation = train.take(max_images // 2), validation.take(max_images // 2)

    def to_unit(x, y):
        return tf.cast(x, tf.float32) / 255.0, tf.cast(y, tf.int32)

    # Decoding JPEGs is the slow part: keep the decoded uint8 pixels in memory.
    def cached(ds):
        return ds.map(lambda x, y: (tf.cast(x, tf.uint8), y), num_parallel_calls=tf.data.AUTOTUNE).cache().map(to_unit)

    return SearchData(
        cached(train), cached(validation), len(classes), tuple(image_size) + (3,),
        name, test=test.map(to_unit) if test is not None else None,
    )


def _first_image_size(directory, classes):
    folder = os.path.join(directory, classes[0])
    for name in sorted(os.listdir(folder)):
        try:
            image = tf.io.decode_image(tf.io.read_file(os.path.join(folder, name)), expand_animations=False)
            return tuple(int(d) for d in image.shape[:2])
        except tf.errors.InvalidArgumentError:
            continue
    raise DataError(f"No readable image found in {folder}.")
