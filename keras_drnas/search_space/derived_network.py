"""What every space's evaluation network shares: the built model pair,
input normalization inside the model, drop-path, and the genotype check.

Evaluation networks are built only from Keras' built-in layers, so
`keras.models.load_model` needs no custom objects and TFLite converts them
with built-in ops. Drop-path is a `Dropout` whose noise shape drops whole
examples (DARTS' drop_path).
"""

import dataclasses

import keras
from keras import layers

from keras_drnas.search_space.genotype import Genotype, GenotypeError


@dataclasses.dataclass
class DerivedNetwork:
    """`model` is shipped (one output); `training_model` adds the auxiliary
    logits when there is an auxiliary head. Both share every layer."""

    model: keras.Model
    training_model: keras.Model
    drop_path_layers: list


def network_inputs(input_shape, mean, std):
    """The image input and, when `mean` and `std` are given, the input
    normalized inside the model (it then takes raw [0, 1] pixels)."""
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if mean is not None and std is not None:
        x = layers.Normalization(mean=list(mean), variance=[s * s for s in std], name="normalize")(x)
    return inputs, x


def drop_path(x, rate, registry, name):
    """`x` through a whole-example `Dropout` (kept in `registry`), or `x`."""
    if not rate:  # Keras' Dropout draws no noise at rate 0, so a later schedule could not raise it
        return x
    layer = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=name)
    registry.append(layer)
    return layer(x)


def check_genotype(genotype, space):
    """Raises unless `genotype` is a `Genotype` of `space`."""
    if not isinstance(genotype, Genotype):
        raise GenotypeError(f"Expected a Genotype, got {type(genotype).__name__}; load files with Genotype.load.")
    if genotype.space != space.name:
        raise GenotypeError(
            f"This builder makes {space.name} networks but the genotype is of the {genotype.space} space."
        )

