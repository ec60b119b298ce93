"""Retraining recipes: the paper's evaluation-phase settings, and a short
one for a laptop."""

import dataclasses


@dataclasses.dataclass
class RetrainRecipe:
    """How a derived network is trained from scratch.

    The defaults are the paper's CIFAR-10 recipe (DARTS' evaluation phase):
    SGD with momentum 0.9 and a cosine schedule, weight decay 3e-4, cutout
    16, drop-path 0.3 (rising linearly over the epochs), auxiliary head
    weight 0.4, 600 epochs at batch 96. `paper_imagenet()` adds label
    smoothing 0.1; `cpu()` is a short run.

    Example:
    >>> RetrainRecipe.cpu(epochs=5).epochs
    5
    """

    epochs: int = 600
    batch_size: int = 96
    learning_rate: float = 0.025
    min_learning_rate: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    cutout: int = 16
    drop_path: float = 0.3
    auxiliary_weight: float = 0.4
    label_smoothing: float = 0.0
    augment: bool = True
    grad_clip: float = 5.0

    @classmethod
    def paper_cifar(cls):
        return cls()

    @classmethod
    def paper_imagenet(cls):
        return cls(epochs=250, batch_size=1024, learning_rate=0.5, weight_decay=3e-5, cutout=0, drop_path=0.0,
                   label_smoothing=0.1)

    @classmethod
    def cpu(cls, epochs=10, augment=True):
        """A short run for a laptop: same recipe, fewer epochs, smaller batch."""
        return cls(epochs=epochs, batch_size=64, learning_rate=0.05, cutout=0, drop_path=0.0, augment=augment)
