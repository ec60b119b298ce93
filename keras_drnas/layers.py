"""Public namespace: the searchable Keras layers."""

from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.distribution import ArchitectureDistribution
from keras_drnas.search_strategy.mixed_op import DirichletMixedOp

__all__ = ["ArchitectureDistribution", "DirichletMixedOp", "DrNASCell"]
