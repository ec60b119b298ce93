"""What a data source hands to a search."""

import dataclasses


@dataclasses.dataclass
class SearchData:
    """The two halves of a search and what the model needs to know of them.

    `train` and `validation` are unbatched (image, label) datasets of float32
    images in [0, 1]; `test`, if the source has one, is held out of both.
    """

    train: object  # tf.data.Dataset
    validation: object  # tf.data.Dataset
    num_classes: int
    image_shape: tuple
    name: str
    test: object = None  # tf.data.Dataset
