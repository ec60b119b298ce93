"""The pair pipeline of a search: the 50/50 split and the batches of
`((x_train, y_train), (x_val, y_val))`, with the reference augmentation
(crop with padding 4, horizontal flip) and per-channel normalization."""

import keras
import numpy as np

from keras_drnas.data.array_pairs import ArrayPairs
from keras_drnas.data.augmentation import random_crop_flip
from keras_drnas.data.validation import DataError, validate_arrays
from keras_drnas.utils.optional import is_tf_dataset, tensorflow as tf


def split_half(x, y, seed=0):
    """Splits one training set 50/50 into weight-train and arch-validation
    halves, as the paper does (after a seeded shuffle, since some sources
    are sorted by class)."""
    x, y = validate_arrays(x, y)
    order = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    return (x[order[:half]], y[order[:half]]), (x[order[half:]], y[order[half:]])


def channel_stats(dataset, max_images=5000):
    """Per-channel mean and std of an unbatched image dataset."""
    return _stats(np.stack([x for x, _ in dataset.take(max_images).as_numpy_iterator()]))


def _stats(images, max_images=5000):
    images = np.asarray(images[:max_images], "float32")
    if not np.all(np.isfinite(images)):
        raise DataError("The training images contain NaN or infinite values; clean them before searching.")
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2)) + 1e-7


def _arrays(data, name, num_classes):
    try:
        x, y = data
    except (TypeError, ValueError):
        raise DataError(f"{name} must be an (images, labels) pair or a tf.data.Dataset.") from None
    x, y = validate_arrays(x, y, num_classes, name=name)
    return x.astype("float32"), y.astype("int32")


def as_dataset(data, name, num_classes=None):
    """(x, y) arrays or an unbatched (image, label) dataset -> dataset."""
    if is_tf_dataset(data):
        spec = data.element_spec
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise DataError(f"{name} must yield (image, label) pairs, got {spec}.")
        if spec[0].shape.rank != 3:
            raise DataError(
                f"{name} must yield single (height, width, channels) images, got shape "
                f"{spec[0].shape}. Pass it unbatched (dataset.unbatch())."
            )
        return data
    return tf.data.Dataset.from_tensor_slices(_arrays(data, name, num_classes))


def _count(dataset):
    n = int(dataset.cardinality())
    if n >= 0:
        return n
    return sum(1 for _ in dataset)


def prepare(dataset, batch_size, mean, std, augment, shuffle, seed, num_classes, drop_remainder=True,
            reshuffle=True):
    """Shuffles, augments, normalizes and batches one half, with checks
    that name the problem if the data is broken at run time."""
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    def transform(example, augment_seed):
        x, y = example
        x = tf.cast(x, tf.float32)
        x = tf.debugging.assert_all_finite(x, "NaN or infinite values in an input image: clean the data")
        if augment:
            x = random_crop_flip(x, augment_seed)
        return (x - mean) / std, y

    def check_labels(x, y):
        y = tf.cast(y, tf.int32)
        ok = tf.reduce_all((y >= 0) & (y < num_classes))
        with tf.control_dependencies(
            [tf.debugging.Assert(ok, [f"labels must be in 0..{num_classes - 1}, got", y], summarize=8)]
        ):
            return tf.identity(x), tf.identity(y)

    if shuffle:
        # reshuffle=False when the seed is already an epoch's own seed.
        dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=reshuffle)
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    # Search uses full batches only: a fixed shape keeps one compiled step.
    return dataset.batch(batch_size, drop_remainder=drop_remainder).map(check_labels)


def search_pairs(train, validation, batch_size=64, num_classes=None, augment=False,
                 mean=None, std=None, seed=None, epochs=None, initial_epoch=0):
    """Zips two halves into `((x_train, y_train), (x_val, y_val))` batches.

    Args:
        train: (images, labels) arrays or an unbatched tf.data dataset of
            (image, label); the weight-training half.
        validation: the same for the architecture half.
        batch_size: examples per batch on each side.
        num_classes: label range to check (default: from the NumPy labels).
        augment: random crop (padding 4) and horizontal flip.
        mean: per-channel mean of the normalization (default: from `train`).
        std: per-channel standard deviation of the normalization (default: from `train`).
        seed: shuffling and augmentation seed.
        epochs: if given, a stream of the epochs
            `initial_epoch..epochs-1` whose order and augmentation depend on
            (seed, epoch) only, so a resumed search sees exactly the batches
            the interrupted one would have; its `steps_per_epoch` attribute
            (`pairs_per_epoch(...)`) is what `SearchModel.fit` uses.
        initial_epoch: the first epoch of the stream (a resumed search's).

    Returns:
        A `tf.data.Dataset`, one epoch long (the shorter half decides), or
        the epoch stream; on other backends, for arrays, a
        `keras.utils.PyDataset` of the same batches (`ArrayPairs`, NumPy's
        random streams, no TensorFlow needed). Its `num_classes` attribute is the label range it
        checks (given or inferred), which `SearchModel.fit` compares with
        the model's outputs before training.

    Example:
    >>> from keras_drnas.data.digits import load_digits
    >>> (xt, yt), (xv, yv) = split_half(*load_digits())
    >>> pairs = search_pairs((xt, yt), (xv, yv), batch_size=32)
    >>> (x, y), (xv_, yv_) = next(iter(pairs))
    >>> tuple(x.shape), tuple(xv_.shape)
    ((32, 8, 8, 1), (32, 8, 8, 1))
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got batch_size={batch_size}.")
    if num_classes is None:
        labels = [np.asarray(d[1]) for d in (train, validation) if not is_tf_dataset(d)]
        labels = [label for label in labels if label.size]
        if not labels:
            raise DataError("Pass num_classes when both halves are tf.data datasets.")
        num_classes = int(max(label.max() for label in labels)) + 1
    # On TensorFlow a tf.data pipeline; elsewhere arrays need no TensorFlow.
    from_arrays = keras.backend.backend() != "tensorflow" and not any(map(is_tf_dataset, (train, validation)))
    halves = {name: (_arrays if from_arrays else as_dataset)(data, name, num_classes)
              for name, data in (("train", train), ("validation", validation))}
    counts, shapes = {}, {}
    for name, data in halves.items():
        counts[name] = len(data[0]) if from_arrays else _count(data)
        shapes[name] = tuple(data[0].shape[1:]) if from_arrays else tuple(data.element_spec[0].shape)
        if counts[name] == 0:
            raise DataError(f"The {name} half is empty: it has no examples.")
        if counts[name] < batch_size:
            raise DataError(
                f"batch_size={batch_size} is larger than the {name} half ({counts[name]} examples); "
                f"use batch_size={counts[name]} or less."
            )
    if shapes["train"] != shapes["validation"]:
        raise DataError(
            f"train images are {shapes['train']} but validation images are "
            f"{shapes['validation']}; both halves need one image size."
        )
    if epochs is not None and initial_epoch >= epochs:
        raise DataError(f"No epochs left: initial_epoch={initial_epoch} is not below epochs={epochs}.")
    if mean is None or std is None:
        mean, std = _stats(halves["train"][0]) if from_arrays else channel_stats(halves["train"])
    steps = pairs_per_epoch(counts["train"], counts["validation"], batch_size)
    if from_arrays:
        return ArrayPairs(halves["train"], halves["validation"], batch_size, steps, mean, std, augment, seed,
                          num_classes, epochs, initial_epoch)
    if epochs is None:
        sides = [
            prepare(d, batch_size, mean, std, augment, True, None if seed is None else seed + i, num_classes)
            for i, d in enumerate(halves.values())
        ]
        return _with_classes(tf.data.Dataset.zip(tuple(sides)).prefetch(tf.data.AUTOTUNE), num_classes)
    base = 0 if seed is None else int(seed)

    def one_epoch(epoch):
        # Python-int seeds per epoch: tf.data mixes tensor seeds badly with a global seed of 0.
        sides = [
            prepare(d, batch_size, mean, std, augment, True, (base * 1_000_003 + epoch) * 2 + i, num_classes,
                    reshuffle=False)
            for i, d in enumerate(halves.values())
        ]
        return tf.data.Dataset.zip(tuple(sides))

    stream = one_epoch(initial_epoch)
    for epoch in range(initial_epoch + 1, epochs):
        stream = stream.concatenate(one_epoch(epoch))
    stream = stream.apply(tf.data.experimental.assert_cardinality(steps * (epochs - initial_epoch)))
    stream = _with_classes(stream.prefetch(tf.data.AUTOTUNE), num_classes)
    stream.steps_per_epoch = steps  # `SearchModel.fit` reads it when not given steps_per_epoch
    return stream


def _with_classes(dataset, num_classes):
    dataset.num_classes = int(num_classes)
    return dataset


def pairs_per_epoch(train_examples, validation_examples, batch_size):
    """Search steps per epoch: full batches of the shorter half."""
    return min(train_examples, validation_examples) // batch_size
