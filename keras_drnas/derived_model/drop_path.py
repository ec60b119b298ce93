"""Scheduled drop-path for retraining (DARTS' drop_path_prob)."""

import keras


class DropPathSchedule(keras.callbacks.Callback):
    """Raises the drop-path rate linearly from 0 to `rate` over the epochs
    (DARTS' drop_path_prob * epoch / epochs). The compiled step is rebuilt
    when the rate changes, since Dropout reads it at trace time."""

    def __init__(self, layers, rate, epochs):
        super().__init__()
        self.drop_layers = layers
        self.rate = rate
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        rate = self.rate * epoch / max(1, self.epochs)
        for layer in self.drop_layers:
            layer.rate = rate
        if self.drop_layers:
            self.model.make_train_function(force=True)
