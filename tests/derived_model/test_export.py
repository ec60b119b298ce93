
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_drnas import Genotype
from keras_drnas.data import load_digits
from keras_drnas.derived_model import build_network
from keras_drnas.derived_model.export import export_all, run_tflite, to_tflite


NB201 = Genotype.from_string(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|", "nb201")


@pytest.fixture(scope="module")
def trained_digits_model():
    keras.utils.set_random_seed(0)
    x, y = load_digits()
    net = build_network(NB201, channels=8, cells_per_stage=1, input_shape=(8, 8, 1), mean=[x.mean()], std=[x.std()])
    net.model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    net.model.fit(x[:1500], y[:1500], epochs=15, batch_size=64, verbose=0)
    return net.model, x[1500:1700]


def test_save_load_without_custom_objects_and_tflite(trained_digits_model, tmp_path):
    model, images = trained_digits_model
    report = export_all(model, str(tmp_path), images)
    expected = model.predict(images, verbose=0)
    loaded = keras.models.load_model(report["keras"]["path"])  # no custom_objects
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, atol=1e-5)
    reloaded = tf.saved_model.load(report["saved_model"]["path"])
    np.testing.assert_allclose(reloaded.serve(images).numpy(), expected, atol=1e-5)
    assert report["tflite_float32"]["max_abs_difference"] < 1e-4
    assert report["tflite_int8"]["top1_agreement"] >= 0.95
    assert report["tflite_int8"]["bytes"] < report["tflite_float32"]["bytes"]


def test_tflite_float32_matches_keras_within_1e4(trained_digits_model):
    model, images = trained_digits_model
    outputs = run_tflite(to_tflite(model), images[:50])
    np.testing.assert_allclose(outputs, model.predict(images[:50], verbose=0), atol=1e-4)
