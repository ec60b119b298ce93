"""Search pairs from arrays without TensorFlow: a `keras.utils.PyDataset`.

What `search_pairs` gives on JAX for (images, labels) arrays: the same
batches of `((x_train, y_train), (x_val, y_val))`, the same augmentation
(crop after zero padding 4, horizontal flip) and normalization, drawn with
NumPy's random streams (so the batches differ from tf.data's on
TensorFlow). Every batch depends on (seed, epoch, step) only, so a resumed
search sees the batches the interrupted one would have.
"""

import keras
import numpy as np

from keras_drnas.data.augmentation import random_crop_flip_batch


class ArrayPairs(keras.utils.PyDataset):
    """Batches of search pairs from two (images, labels) halves.

    Built by `keras_drnas.data.search_pairs` on backends other than
    TensorFlow; its arguments are that function's. `epochs` given: a stream
    of the epochs `initial_epoch..epochs-1` with `steps_per_epoch` steps
    each; otherwise one epoch, reshuffled after each.
    """

    def __init__(self, train, validation, batch_size, steps_per_epoch, mean, std, augment, seed,
                 num_classes, epochs=None, initial_epoch=0):
        super().__init__()
        self.halves = [(np.asarray(x, "float32"), np.asarray(y, "int32")) for x, y in (train, validation)]
        self.batch_size = int(batch_size)
        self.steps_per_epoch = int(steps_per_epoch)
        self.mean, self.std = np.asarray(mean, "float32"), np.asarray(std, "float32")
        self.augment = bool(augment)
        self.seed = int(np.random.SeedSequence().entropy % 2**31) if seed is None else int(seed)
        self.num_classes = int(num_classes)
        self.epochs, self.initial_epoch = epochs, int(initial_epoch)
        self._epoch = self.initial_epoch  # the one-epoch form's current epoch
        self._orders = {}

    def __len__(self):
        if self.epochs is None:
            return self.steps_per_epoch
        return self.steps_per_epoch * (self.epochs - self.initial_epoch)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        epoch = self._epoch if self.epochs is None else self.initial_epoch + index // self.steps_per_epoch
        step = index % self.steps_per_epoch
        return tuple(self._batch(side, epoch, step) for side in (0, 1))

    def on_epoch_end(self):
        self._epoch += 1

    def _batch(self, side, epoch, step):
        x, y = self.halves[side]
        if (side, epoch) not in self._orders:  # one permutation per half and epoch, kept while it is read
            self._orders = {k: v for k, v in self._orders.items() if k[1] >= epoch}
            self._orders[(side, epoch)] = np.random.default_rng([self.seed, epoch, side]).permutation(len(x))
        picked = self._orders[(side, epoch)][step * self.batch_size:(step + 1) * self.batch_size]
        images = x[picked]
        if self.augment:
            images = random_crop_flip_batch(images, np.random.default_rng([self.seed, epoch, side, step]))
        return (images - self.mean) / self.std, y[picked]
