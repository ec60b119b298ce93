import dataclasses

import numpy as np
import tensorflow as tf

from keras_drnas.data import load_digits
from keras_drnas.derived_model import RetrainRecipe, build_network, retrain
from keras_drnas.derived_model.retrain import test_accuracy as accuracy_of, training_batches
from keras_drnas.presets import DRNAS_CIFAR10
from keras_drnas.search_space import DARTS, Genotype

NB201 = Genotype.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|"
                                   "nor_conv_3x3~1|nor_conv_1x1~2|", "nb201")


def test_retraining_on_digits_learns():
    x, y = load_digits()
    train = tf.data.Dataset.from_tensor_slices((x[:1200], y[:1200]))
    test = tf.data.Dataset.from_tensor_slices((x[1200:], y[1200:]))
    network = build_network(NB201, channels=8, cells_per_stage=1, input_shape=(8, 8, 1),
                            mean=[x.mean()], std=[x.std()])
    recipe = RetrainRecipe.cpu(epochs=4, augment=False)
    history = retrain(network, train, recipe, num_classes=10, seed=0, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 4 and losses[-1] < 0.5 * losses[0]
    assert accuracy_of(network.model, test) > 0.8


def test_auxiliary_head_and_label_smoothing_are_wired():
    network = DARTS.build_network(DRNAS_CIFAR10, channels=4, num_cells=3, input_shape=(32, 32, 3), auxiliary=True)
    recipe = dataclasses.replace(RetrainRecipe.cpu(epochs=1), batch_size=8, cutout=8, label_smoothing=0.1)
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.random((16, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 16).astype("int32")))
    batches = training_batches(data, recipe, seed=0, num_outputs=2, num_classes=10)
    x, (y_main, y_aux) = next(iter(batches))
    assert y_main.shape == (8, 10) and np.allclose(y_main.numpy().sum(-1), 1)  # one-hot for smoothing
    assert np.any(np.all(x.numpy() == 0, axis=-1))  # cutout zeroed a square
    logs = {k: v[0] for k, v in retrain(network, data, recipe, num_classes=10, seed=0, verbose=0).history.items()}
    main_loss, aux_loss = logs["classifier_loss"], logs["aux_classifier_loss"]
    np.testing.assert_allclose(logs["loss"], main_loss + 0.4 * aux_loss, rtol=1e-3)  # the paper's weight 0.4
