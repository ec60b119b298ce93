"""A JSON-lines and TensorBoard log of the architecture, epoch by epoch."""

import json
import os

import keras
import numpy as np

from keras_drnas.search_strategy.workers import is_chief, strategy_of, writable_path
from keras_drnas.utils.optional import tensorflow as tf


class GenotypeLogger(keras.callbacks.Callback):
    """Writes the genotype and concentrations of every epoch.

    Args:
        path: a JSON-lines file; one line per epoch with `epoch`, `genotype`,
            `concentrations` (`SearchModel.concentration_report`) and `entropy`.
        log_dir: optional TensorBoard directory: entropy as a scalar, the
            concentrations as histograms, the genotype as text.

    In a multi-worker run only the chief writes.
    """

    def __init__(self, path, log_dir=None):
        super().__init__()
        self.path = path
        self.log_dir = log_dir
        self._writer = None

    def on_train_begin(self, logs=None):
        if not is_chief(strategy_of(self.model)):
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if self.log_dir:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "architecture"))

    def on_epoch_end(self, epoch, logs=None):
        search = self.model
        genotype = search.genotype()
        entropy = float(np.mean([float(d.entropy()) for d in search.distributions().values()]))
        record = {
            "epoch": epoch + 1,
            "genotype": genotype.to_dict(),
            "concentrations": search.concentration_report(),
            "entropy": entropy,
        }
        with writable_path(self.path, strategy_of(search)) as path, open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self._writer is not None:
            with self._writer.as_default(step=epoch + 1):
                tf.summary.scalar("entropy", entropy)
                for name, beta in search.concentrations().items():
                    tf.summary.histogram(f"concentration/{name}", beta)
                tf.summary.text("genotype", str(genotype))
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
