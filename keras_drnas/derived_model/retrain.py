"""Retraining a derived network from scratch (the evaluation phase), with a
`RetrainRecipe`."""

import keras
import numpy as np

from keras_drnas.data.augmentation import cutout, random_crop_flip
from keras_drnas.derived_model.drop_path import DropPathSchedule
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.optional import tensorflow as tf


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
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(recipe.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def compile_for_retraining(network, recipe, steps_per_epoch, num_classes):
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe.learning_rate, max(1, recipe.epochs * steps_per_epoch),
        alpha=recipe.min_learning_rate / recipe.learning_rate
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
    if network.model is not model:  # compiling the same model again would replace its SGD with RMSprop
        network.model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def retrain(network, train, recipe, num_classes, seed=0, verbose=1, callbacks=None):
    """Trains `network` (a `DerivedNetwork`) on an unbatched (image, label)
    dataset with `recipe`. Returns the Keras History."""
    model = network.training_model
    _check_image_shape(train, model)
    batches = training_batches(train, recipe, seed, len(model.outputs), num_classes)
    steps = int(batches.cardinality())
    if steps < 1:
        raise InputError(f"Not one full batch of {recipe.batch_size} examples to retrain on; lower the batch size.")
    compile_for_retraining(network, recipe, steps, num_classes)
    callbacks = list(callbacks or [])
    if network.drop_path_layers and recipe.drop_path:
        callbacks.append(DropPathSchedule(network.drop_path_layers, recipe.drop_path, recipe.epochs))
    with keras_compat.fit_across_workers(model, batches.element_spec):
        return model.fit(batches, epochs=recipe.epochs, verbose=verbose, callbacks=callbacks, shuffle=False)


def _check_image_shape(train, model):
    """Images the network was not built for fail here, naming the fix."""
    got = tuple(train.element_spec[0].shape)
    expected = tuple(model.inputs[0].shape[1:])
    if len(got) != len(expected) or any(a is not None and b is not None and a != b for a, b in zip(got, expected)):
        raise InputError(
            f"The training images are {got} but the network was built for {expected}: build it with "
            f"build_network(..., input_shape={got})."
        )


def test_accuracy(model, test, batch_size=256):
    """Top-1 accuracy of the shipped model on an unbatched (image, label) dataset."""
    hits = total = 0
    for x, y in test.batch(batch_size):
        predictions = np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), axis=-1)
        hits += int(np.sum(predictions == y.numpy()))
        total += len(predictions)
    return hits / max(1, total)
