"""CIFAR-10/100, ImageNet16-120 and ImageNet through tensorflow-datasets,
read only from a prepared local copy unless a download is asked for."""

import os
import socket


from keras_drnas.data.search_data import SearchData
from keras_drnas.data.validation import DataError
from keras_drnas.utils.optional import tensorflow as tf

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
    its train split for weights / architecture, as the paper's ImageNet search.

    Args:
        name: one of `TFDS_SOURCES`.
        data_dir: the tensorflow-datasets data directory.
        download: let tensorflow-datasets download and prepare the data.
        seed: unused by the split (tfds slices are fixed); kept for symmetry.
        image_size: ImageNet only, the (height, width) to resize to.
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
                "and run tfds build, or read an ImageFolder tree with image_folder_search_data(directory=...)."
            )
        if not download:
            raise DataError(
                f"{tfds_name} is not in {where}. Pass download=True to fetch it with "
                "tensorflow-datasets, data_dir=... where it is, or read an ImageFolder tree with "
                "image_folder_search_data(directory=...) (e.g. the CIFAR-10 JPEGs)."
            )
        if not _network_reachable():
            raise DataError(
                f"{tfds_name} is not in {where} and the network is unreachable, so it cannot "
                "be downloaded. Copy a prepared tfds folder there, or read an ImageFolder tree with "
                "image_folder_search_data(directory=...)."
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
        train.map(as_pair, num_parallel_calls=tf.data.AUTOTUNE),
        validation.map(as_pair, num_parallel_calls=tf.data.AUTOTUNE),
        num_classes,
        image_shape,
        name,
        test=test.map(as_pair, num_parallel_calls=tf.data.AUTOTUNE),
    )
