"""Checks that a written picture shows something."""

import os

import numpy as np
from matplotlib import image


def assert_picture(path, min_kb=10, min_ink=0.02):
    """A PNG that decodes, weighs at least `min_kb` and is not blank: enough
    non-white pixels and enough variation between them."""
    assert os.path.getsize(path) > min_kb * 1024, f"{path} is only {os.path.getsize(path)} bytes"
    pixels = image.imread(path)[..., :3]
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300
    ink = np.mean(np.any(pixels < 0.9, axis=-1))
    assert ink > min_ink, f"{path}: only {ink:.1%} of the pixels are drawn on"
    assert pixels.std() > 0.05
    return pixels
