"""Data: sources (digits, ImageFolder trees, tensorflow-datasets), the
50/50 split, the search pairs, augmentation and the checks of a user's data.

It stands beside the three roles: it imports none of them."""

from keras_drnas.data.augmentation import cutout, random_crop_flip
from keras_drnas.data.digits import digits_search_data, load_digits
from keras_drnas.data.image_folder import image_folder_search_data
from keras_drnas.data.pairs import channel_stats, pairs_per_epoch, search_pairs, split_half
from keras_drnas.data.search_data import SearchData
from keras_drnas.data.tfds_sources import TFDS_SOURCES, tfds_search_data
from keras_drnas.data.validation import DataError, validate_arrays

__all__ = [
    "DataError", "SearchData", "TFDS_SOURCES", "channel_stats", "cutout", "digits_search_data",
    "image_folder_search_data", "load_digits", "pairs_per_epoch", "random_crop_flip", "search_pairs", "split_half",
    "tfds_search_data", "validate_arrays",
]
