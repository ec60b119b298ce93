"""The keras-tuner HyperModel of a budget search: a trial's genotype as a
derived network, trained briefly with a `RetrainRecipe`."""

import dataclasses

import keras
import keras_tuner

from keras_drnas.data.pairs import as_dataset
from keras_drnas.derived_model.network import build_network
from keras_drnas.search_space.derived_network import DerivedNetwork
from keras_drnas.derived_model.recipe import RetrainRecipe
from keras_drnas.derived_model.retrain import compile_for_retraining, training_batches
from keras_drnas.tuning.genotype_sampler import genotype_from_value
from keras_drnas.tuning.oracle import GENOTYPE
from keras_drnas.utils.errors import InputError


class DerivedNetworkHyperModel(keras_tuner.HyperModel):
    """Builds the derived network of the trial's `genotype` hyperparameter
    and trains it from scratch.

    `build` returns the shipped model: built-in Keras layers only, the input
    normalization inside, not compiled. `fit` takes unbatched
    `(image, label)` datasets (or `(images, labels)` arrays) of pixels in
    [0, 1], as the rest of the library does, then batches, augments and
    compiles them as `retrain` does, with SGD and a cosine schedule over the
    trial's epochs.

    Args:
        space: the `SearchSpace` of the genotypes.
        network: `build_network` keyword arguments.
        recipe: a `RetrainRecipe` (default `RetrainRecipe.cpu()`); the
            `epochs` passed to `search` replace its epochs.
        seed: seed of every trial's initialization and data order, so
            trials differ by their architecture only.
    """

    def __init__(self, space, network, recipe=None, seed=0, name="derived_network"):
        super().__init__(name=name)
        self.space = space
        self.network = dict(network)
        self.recipe = recipe or RetrainRecipe.cpu()
        self.seed = seed

    def build(self, hp):
        genotype = genotype_from_value(self.space, hp.get(GENOTYPE))
        keras.utils.set_random_seed(self.seed)
        return build_network(genotype, **self.network).model

    def check_data(self, train, validation_data, epochs=None):
        """The training batches, validation batches and recipe of a trial,
        or a clear error (a `BudgetTuner` calls this before the first trial)."""
        if validation_data is None:
            raise InputError("Pass validation_data=... to search: the trials are ranked by validation accuracy.")
        num_classes = self.network["num_classes"]
        train = as_dataset(train, "train", num_classes)
        validation = as_dataset(validation_data, "validation_data", num_classes)
        recipe = dataclasses.replace(self.recipe, epochs=int(epochs or self.recipe.epochs))
        batches = training_batches(train, recipe, self.seed, 1, num_classes)
        if int(batches.cardinality()) == 0:
            raise InputError(f"Not one full batch of {recipe.batch_size} examples to train a trial on; "
                             "lower the batch size.")
        return batches, validation.batch(256), recipe

    def fit(self, hp, model, train, validation_data=None, epochs=None, callbacks=None, verbose=1, **kwargs):
        batches, validation, recipe = self.check_data(train, validation_data, epochs)
        steps = int(batches.cardinality())
        if steps < 1:  # a dataset of unknown length: count its batches once
            steps = sum(1 for _ in batches)
        compile_for_retraining(DerivedNetwork(model, model, []), recipe, steps, self.network["num_classes"])
        return model.fit(batches, validation_data=validation, epochs=recipe.epochs,
                         callbacks=callbacks, verbose=verbose, shuffle=False, **kwargs)
