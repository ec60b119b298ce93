"""Retraining a derived network from scratch (the evaluation phase).

The paper's recipe (SPEC section 5): SGD with momentum 0.9 and a cosine
schedule, weight decay 3e-4, cutout 16, drop-path 0.3 (rising linearly over
the epochs), auxiliary head weight 0.4, 600 epochs at batch 96 on CIFAR;
label smoothing 0.1 on ImageNet. `RetrainRecipe.cpu()` is a short version
for this kind of machine.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from keras_drnas.data import AUTOTUNE, random_crop_flip


@dataclasses.dataclass
class RetrainRecipe:
    epochs: int = 600
    batch_size: int = 96
    lr: float = 0.025
    min_lr: float = 0.0
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
        return cls(epochs=250, batch_size=1024, lr=0.5, weight_decay=3e-5, cutout=0, drop_path=0.0,
                   label_smoothing=0.1)

    @classmethod
    def cpu(cls, epochs=10, augment=True):
        """A short run for a laptop: same recipe, fewer epochs, smaller batch."""
        return cls(epochs=epochs, batch_size=64, lr=0.05, cutout=0, drop_path=0.0, augment=augment)


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


def cutout(image, size, seed):
    """Zeroes one random size x size square (clipped at the border)."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    center = tf.random.stateless_uniform([2], seed, 0, tf.stack([height, width]), dtype=tf.int32)
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    inside = (rows >= center[0] - size // 2) & (rows < center[0] + (size + 1) // 2)
    inside &= (cols >= center[1] - size // 2) & (cols < center[1] + (size + 1) // 2)
    return image * tf.cast(~inside, image.dtype)[..., None]


def training_batches(dataset, recipe, seed, num_outputs, num_classes):
    """Augmented, batched (x, y) for retraining; y repeated per output."""

    def transform(example, augment_seed):
        x, y = example
        x = tf.cast(x, tf.float32)
        if recipe.augment:
            x = random_crop_flip(x, augment_seed)
        if recipe.cutout:
            x = cutout(x, recipe.cutout, augment_seed[::-1])
        if recipe.label_smoothing:
            y = tf.one_hot(y, num_classes)
        return x, (y,) * num_outputs if num_outputs > 1 else y

    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = dataset.shuffle(10_000, seed=seed)
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(transform, num_parallel_calls=AUTOTUNE)
    return dataset.batch(recipe.batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def compile_for_retraining(network, recipe, steps_per_epoch, num_classes):
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.lr, max(1, recipe.epochs * steps_per_epoch), alpha=recipe.min_lr / recipe.lr
    )
    optimizer = keras.optimizers.SGD(
        schedule, momentum=recipe.momentum, weight_decay=recipe.weight_decay, global_clipnorm=recipe.grad_clip
    )
    if recipe.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.label_smoothing)
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model = network.training_model
    if len(model.outputs) > 1:
        model.compile(optimizer, loss=[loss, loss], loss_weights=[1.0, recipe.auxiliary_weight],
                      metrics=[[accuracy], []])
    else:
        model.compile(optimizer, loss=loss, metrics=[accuracy])
    network.model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def retrain(network, train, recipe, num_classes, seed=0, verbose=1, callbacks=None):
    """Trains `network` (a `DerivedNetwork`) on an unbatched (image, label)
    dataset with `recipe`. Returns the Keras History."""
    model = network.training_model
    batches = training_batches(train, recipe, seed, len(model.outputs), num_classes)
    steps = int(batches.cardinality())
    if steps < 1:
        raise ValueError(f"Not one full batch of {recipe.batch_size} examples to retrain on; lower the batch size.")
    compile_for_retraining(network, recipe, steps, num_classes)
    callbacks = list(callbacks or [])
    if network.drop_path_layers and recipe.drop_path:
        callbacks.append(DropPathSchedule(network.drop_path_layers, recipe.drop_path, recipe.epochs))
    return model.fit(batches, epochs=recipe.epochs, verbose=verbose, callbacks=callbacks)


def test_accuracy(model, test, batch_size=256):
    """Top-1 accuracy of the shipped model on an unbatched (image, label) dataset."""
    hits = total = 0
    for x, y in test.batch(batch_size):
        predictions = np.argmax(model.predict_on_batch(x), axis=-1)
        hits += int(np.sum(predictions == y.numpy()))
        total += len(predictions)
    return hits / max(1, total)
