import keras
import numpy as np
import tensorflow as tf

from keras_drnas.derived_model import DropPathSchedule
from keras_drnas.search_space import DARTS
from keras_drnas.presets import DRNAS_CIFAR10


def test_drop_path_rate_rises_linearly_and_reaches_the_compiled_step():
    net = DARTS.build_network(DRNAS_CIFAR10, channels=4, num_cells=3, input_shape=(8, 8, 3), drop_path=0.3)
    model = net.model
    model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append([layer.rate for layer in net.drop_path_layers])

    x = np.random.default_rng(0).random((8, 8, 8, 3)).astype("float32")
    y = np.zeros(8, np.int32)
    model.fit(x, y, epochs=4, batch_size=8, verbose=0,
              callbacks=[DropPathSchedule(net.drop_path_layers, 0.4, 4), Record()])
    assert net.drop_path_layers and all(len(set(rates)) == 1 for rates in seen)
    np.testing.assert_allclose([rates[0] for rates in seen], [0.0, 0.1, 0.2, 0.3])
    # The rate in force is the one the step uses: at 0.3, some examples lose whole paths.
    outputs = [model(tf.constant(x), training=True).numpy() for _ in range(3)]
    assert not np.allclose(outputs[0], outputs[1])
