"""A callback that leaves the derived network behind when a search ends."""

import os

import keras

from keras_drnas.derived_model.inheritance import inherit_supernet_weights
from keras_drnas.derived_model.network import build_network
from keras_drnas.search_strategy.workers import strategy_of, writable_directory
from keras_drnas.utils.files import atomic_path


class ExportDerived(keras.callbacks.Callback):
    """Leaves a shippable network behind when a search ends: the genotype
    (JSON) and the derived plain Keras model (`.keras`), optionally at the end
    of every progressive stage too.

    Args:
        output_dir: where `genotype.json` and `derived.keras` go.
        network_kwargs: arguments of `build_network` (`channels`,
            `cells_per_stage` or `num_cells`, `num_classes`, `input_shape`,
            `mean`, `std`, ...).
        inherit_weights: initialize the derived network from the matching
            ops of the supernet (see `inherit_supernet_weights`).
        progressive: a `ProgressiveLearning` callback, to export at the end
            of each of its stages as well (`stage_<i>/`).

    In a multi-worker run only the chief's files remain.
    """

    def __init__(self, output_dir, network_kwargs, inherit_weights=False, progressive=None):
        super().__init__()
        self.output_dir = output_dir
        self.network_kwargs = dict(network_kwargs)
        self.inherit_weights = inherit_weights
        self.progressive = progressive

    def export(self, directory):
        """Writes `genotype.json` and `derived.keras` to `directory`."""
        genotype = self.model.genotype()
        network = build_network(genotype, **self.network_kwargs)
        if self.inherit_weights:
            inherit_supernet_weights(network.model, self.model.supernet, genotype)
        with writable_directory(directory, strategy_of(self.model)) as writable:
            genotype.save(os.path.join(writable, "genotype.json"))
            with atomic_path(os.path.join(writable, "derived.keras")) as tmp:
                network.model.save(tmp)
        return os.path.join(directory, "derived.keras")

    def on_epoch_end(self, epoch, logs=None):
        if self.progressive is None:
            return
        index, start = self.progressive.stage_of(epoch)
        if epoch + 1 == start + self.progressive.stages[index].epochs:
            self.export(os.path.join(self.output_dir, f"stage_{index}"))

    def on_train_end(self, logs=None):
        self.export(self.output_dir)
