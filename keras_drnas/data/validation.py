"""Checks of a user's arrays, with errors that say what to do."""

import numpy as np

from keras_drnas.utils.errors import InputError


class DataError(InputError):
    """Input data that a search cannot use, with what to do about it."""


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
