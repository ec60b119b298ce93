"""Input pipelines for a search: datasets, the 50/50 split, search pairs.

A search step needs a training batch (for the weights) and a validation
batch (for the architecture). `search_pairs` zips two halves into
`((x_train, y_train), (x_val, y_val))` batches, from NumPy arrays or
`tf.data` datasets, with the reference augmentation (crop with padding 4,
horizontal flip) and per-channel normalization.
"""

import dataclasses
import os
import socket

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE

CIFAR_MEAN = {"cifar10": (0.4914, 0.4822, 0.4465), "cifar100": (0.5071, 0.4865, 0.4409)}
CIFAR_STD = {"cifar10": (0.2470, 0.2435, 0.2616), "cifar100": (0.2673, 0.2564, 0.2762)}


class DataError(ValueError):
    """Input data that a search cannot use, with what to do about it."""


@dataclasses.dataclass
class SearchData:
    """The two halves of a search and what the model needs to know of them."""

    train: tf.data.Dataset  # unbatched (image, label), float32 in [0, 1]
    validation: tf.data.Dataset
    num_classes: int
    image_shape: tuple
    name: str
    test: tf.data.Dataset = None


# Checks -------------------------------------------------------------------


def validate_arrays(x, y, num_classes=None, name="data"):
    """Clear errors for arrays a classifier search cannot use."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[0] == 0:
        raise DataError(f"{name} is empty: it has no examples.")
    if x.ndim != 4:
        raise DataError(
            f"{name}: images must be (examples, height, width, channels), got shape "
            f"{x.shape}. Add a channel axis for grayscale images (x[..., None])."
        )
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{name}: {x.shape[0]} images but {y.shape[0]} labels.")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{name}: images must be numeric, got dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        bad = np.unique(np.nonzero(~np.isfinite(x.reshape(len(x), -1)))[0])
        raise DataError(
            f"{name}: {bad.size} images contain NaN or infinite values (first at "
            f"index {bad[0]}). Clean or drop them before searching."
        )
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise DataError(f"{name}: labels must be a 1-D array of integer class ids, got {y.dtype} {y.shape}.")
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        limit = f" and below num_classes={num_classes}" if num_classes is not None else ""
        raise DataError(
            f"{name}: labels must be >= 0{limit}; found labels from {y.min()} to {y.max()}. "
            "Remap them to 0..num_classes-1 or raise num_classes."
        )
    return x, y


def check_model_input(image_shape, model_input_shape, what="the model"):
    """Image size and channels must match what the model was built for."""
    expected = tuple(model_input_shape[-3:])
    for got, want, axis in zip(image_shape, expected, ("height", "width", "channels")):
        if want is not None and got is not None and got != want:
            raise DataError(
                f"Images are {tuple(image_shape)} but {what} expects {expected}: the "
                f"{axis} differs. Resize the images or rebuild the model for this input."
            )


# Sources ------------------------------------------------------------------


def load_digits():
    """scikit-learn's bundled 8x8 digits: 1,797 real images, no network.

    Returns (x, y): float32 images in [0, 1] of shape (1797, 8, 8, 1) and
    int32 labels 0..9.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return x, digits.target.astype("int32")


def split_half(x, y, seed=0):
    """Splits one training set 50/50 into weight-train and arch-validation
    halves, as the paper does (after a seeded shuffle, since some sources
    are sorted by class)."""
    x, y = validate_arrays(x, y)
    order = np.random.default_rng(seed).permutation(len(x))
    half = len(x) // 2
    return (x[order[:half]], y[order[:half]]), (x[order[half:]], y[order[half:]])


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


def image_folder_search_data(directory, image_size=None, seed=0, max_images=None):
    """Any ImageFolder tree (`class_name/image.jpg`), split 50/50.

    A folder with `train/` (and optionally `test/`) inside, like the
    CIFAR-10 JPEGs of ../shared/data, is also accepted.
    """
    import keras

    if not os.path.isdir(directory):
        raise DataError(f"--data-dir {directory} does not exist or is not a folder.")
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
        return ds.map(lambda x, y: (tf.cast(x, tf.uint8), y), num_parallel_calls=AUTOTUNE).cache().map(to_unit)

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


TFDS_SOURCES = {
    # name: (tfds name, number of classes kept, manual download)
    "cifar10": ("cifar10", 10, False),
    "cifar100": ("cifar100", 100, False),
    "imagenet16-120": ("imagenet_resized/16x16", 120, False),
    "imagenet": ("imagenet2012", 1000, True),
}


def _network_reachable(host="storage.googleapis.com", port=443, timeout=3.0):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def tfds_search_data(name, data_dir=None, download=False, seed=0, image_size=None):
    """CIFAR-10/100, ImageNet16-120 or ImageNet through tensorflow-datasets.

    The local copy is checked first; without it the call fails at once with
    what to do, instead of tfds retrying a download for minutes.
    ImageNet16-120 is `imagenet_resized/16x16` restricted to its first 120
    classes (as NAS-Bench-201). ImageNet uses random 10% / 2.5% subsets of
    its train split for weights / architecture (SPEC section 5).
    """
    import tensorflow_datasets as tfds

    if name not in TFDS_SOURCES:
        raise DataError(f"Unknown dataset {name!r}. Choose from digits, {', '.join(TFDS_SOURCES)}.")
    tfds_name, num_classes, manual = TFDS_SOURCES[name]
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    if not builder.is_prepared():
        where = builder.data_dir
        if manual:
            raise DataError(
                f"{tfds_name} is not prepared in {where}. It needs a manual download: place "
                f"the archives in {os.path.join(os.path.dirname(os.path.dirname(where)), 'downloads', 'manual')} "
                "and run tfds build, or pass an ImageFolder tree with --data-dir."
            )
        if not download:
            raise DataError(
                f"{tfds_name} is not in {where}. Add --download to fetch it with "
                "tensorflow-datasets, set --tfds-dir to where it is, or pass an ImageFolder "
                "tree with --data-dir (e.g. the CIFAR-10 JPEGs)."
            )
        if not _network_reachable():
            raise DataError(
                f"{tfds_name} is not in {where} and the network is unreachable, so it cannot "
                "be downloaded. Copy a prepared tfds folder there, or use --data-dir."
            )
        builder.download_and_prepare()
    as_pair = lambda ex: (tf.cast(ex["image"], tf.float32) / 255.0, tf.cast(ex["label"], tf.int32))  # noqa: E731
    if name == "imagenet":
        size = image_size or (224, 224)
        as_pair = lambda ex: (  # noqa: E731
            tf.image.resize(tf.cast(ex["image"], tf.float32) / 255.0, size),
            tf.cast(ex["label"], tf.int32),
        )
        train = builder.as_dataset(split="train[:10%]", shuffle_files=True)
        validation = builder.as_dataset(split="train[90%:92.5%]", shuffle_files=True)
    else:
        train = builder.as_dataset(split="train[:50%]")
        validation = builder.as_dataset(split="train[50%:]")
    test = builder.as_dataset(split="test" if "test" in builder.info.splits else "validation")
    if num_classes < builder.info.features["label"].num_classes:
        keep = lambda ex: ex["label"] < num_classes  # noqa: E731
        train, validation, test = train.filter(keep), validation.filter(keep), test.filter(keep)
    shape = builder.info.features["image"].shape
    image_shape = (tuple(image_size or (224, 224)) + (3,)) if name == "imagenet" else tuple(shape)
    return SearchData(
        train.map(as_pair, num_parallel_calls=AUTOTUNE),
        validation.map(as_pair, num_parallel_calls=AUTOTUNE),
        num_classes,
        image_shape,
        name,
        test=test.map(as_pair, num_parallel_calls=AUTOTUNE),
    )


# Pipelines -----------------------------------------------------------------


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


def channel_stats(dataset, max_images=5000):
    """Per-channel mean and std of an unbatched image dataset."""
    images = np.stack([x for x, _ in dataset.take(max_images).as_numpy_iterator()])
    if not np.all(np.isfinite(images)):
        raise DataError("The training images contain NaN or infinite values; clean them before searching.")
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2)) + 1e-7


def as_dataset(data, name, num_classes=None):
    """(x, y) arrays or an unbatched (image, label) dataset -> dataset."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not (isinstance(spec, tuple) and len(spec) == 2):
            raise DataError(f"{name} must yield (image, label) pairs, got {spec}.")
        if spec[0].shape.rank != 3:
            raise DataError(
                f"{name} must yield single (height, width, channels) images, got shape "
                f"{spec[0].shape}. Pass it unbatched (dataset.unbatch())."
            )
        return data
    try:
        x, y = data
    except (TypeError, ValueError):
        raise DataError(f"{name} must be an (images, labels) pair or a tf.data.Dataset.") from None
    x, y = validate_arrays(x, y, num_classes, name=name)
    return tf.data.Dataset.from_tensor_slices((x.astype("float32"), y.astype("int32")))


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
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(transform, num_parallel_calls=AUTOTUNE)
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
        mean, std: per-channel normalization (default: from `train`).
        seed: shuffling and augmentation seed.
        epochs, initial_epoch: if `epochs` is given, a stream of the epochs
            `initial_epoch..epochs-1` whose order and augmentation depend on
            (seed, epoch) only, so a resumed search sees exactly the batches
            the interrupted one would have; fit it with
            `steps_per_epoch=pairs_per_epoch(...)`.

    Returns:
        A `tf.data.Dataset`, one epoch long (the shorter half decides), or
        the epoch stream.

    Example:
    >>> (xt, yt), (xv, yv) = split_half(*load_digits())
    >>> pairs = search_pairs((xt, yt), (xv, yv), batch_size=32)
    >>> (x, y), (xv_, yv_) = next(iter(pairs))
    >>> tuple(x.shape), tuple(xv_.shape)
    ((32, 8, 8, 1), (32, 8, 8, 1))
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be positive, got {batch_size}.")
    if num_classes is None:
        labels = [np.asarray(d[1]) for d in (train, validation) if not isinstance(d, tf.data.Dataset)]
        labels = [label for label in labels if label.size]
        if not labels:
            raise DataError("Pass num_classes when both halves are tf.data datasets.")
        num_classes = int(max(label.max() for label in labels)) + 1
    halves = {
        "train": as_dataset(train, "train", num_classes),
        "validation": as_dataset(validation, "validation", num_classes),
    }
    for name, data in halves.items():
        n = _count(data)
        if n == 0:
            raise DataError(f"The {name} half is empty: it has no examples.")
        if n < batch_size:
            raise DataError(
                f"batch size {batch_size} is larger than the {name} half ({n} examples); "
                f"use a batch size of at most {n}."
            )
    if halves["train"].element_spec[0].shape != halves["validation"].element_spec[0].shape:
        raise DataError(
            f"train images are {halves['train'].element_spec[0].shape} but validation images are "
            f"{halves['validation'].element_spec[0].shape}; both halves need one image size."
        )
    if mean is None or std is None:
        mean, std = channel_stats(halves["train"])
    if epochs is None:
        sides = [
            prepare(d, batch_size, mean, std, augment, True, None if seed is None else seed + i, num_classes)
            for i, d in enumerate(halves.values())
        ]
        return tf.data.Dataset.zip(tuple(sides)).prefetch(AUTOTUNE)
    base = 0 if seed is None else int(seed)

    def one_epoch(epoch):
        # Python-int seeds per epoch: tf.data mixes tensor seeds badly with a global seed of 0.
        sides = [
            prepare(d, batch_size, mean, std, augment, True, (base * 1_000_003 + epoch) * 2 + i, num_classes,
                    reshuffle=False)
            for i, d in enumerate(halves.values())
        ]
        return tf.data.Dataset.zip(tuple(sides))

    steps = pairs_per_epoch(_count(halves["train"]), _count(halves["validation"]), batch_size)
    stream = None
    for epoch in range(initial_epoch, epochs):
        stream = one_epoch(epoch) if stream is None else stream.concatenate(one_epoch(epoch))
    if stream is None:
        raise DataError(f"No epochs left: initial_epoch={initial_epoch} is not below epochs={epochs}.")
    stream = stream.apply(tf.data.experimental.assert_cardinality(steps * (epochs - initial_epoch)))
    return stream.prefetch(AUTOTUNE)


def pairs_per_epoch(train_examples, validation_examples, batch_size):
    """Search steps per epoch: full batches of the shorter half."""
    return min(train_examples, validation_examples) // batch_size
