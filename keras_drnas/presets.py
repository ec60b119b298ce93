"""Public namespace: the cells DrNAS published (paper, Figures 2 and 3)."""

from keras_drnas.derived_model.presets import DRNAS_CIFAR10, DRNAS_IMAGENET

__all__ = ["DRNAS_CIFAR10", "DRNAS_IMAGENET"]
