
import keras

from keras_drnas.derived_model import count_parameters
from keras_drnas.search_space import DARTS
from keras_drnas.presets import DRNAS_CIFAR10, DRNAS_IMAGENET


def test_paper_parameter_counts():
    cifar = DARTS.build_network(DRNAS_CIFAR10, channels=36, num_cells=20, num_classes=10, auxiliary=True)
    assert abs(count_parameters(cifar.model) / 1e6 - 4.1) < 0.1
    assert count_parameters(cifar.model) == 4_099_294  # the paper's 4.1M, exactly
    assert count_parameters(cifar.training_model) > count_parameters(cifar.model)  # aux excluded above
    imagenet = DARTS.build_network(DRNAS_IMAGENET, channels=48, num_cells=14, num_classes=1000,
                             input_shape=(224, 224, 3), stem="imagenet")
    assert abs(count_parameters(imagenet.model) / 1e6 - 5.7) < 0.15
    assert count_parameters(imagenet.model) == 5_726_368  # the paper's 5.7M, exactly


def test_flop_count_matches_hand_count():
    from keras_drnas.derived_model import count_flops

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.SeparableConv2D(6, 3, strides=2, padding="same", use_bias=False)(x)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    expected = 8 * 8 * 3 * 3 * 3 * 4 + 4 * 4 * 3 * 3 * 4 + 4 * 4 * 4 * 6 + 6 * 10
    assert count_flops(keras.Model(inputs, outputs)) == expected
    cifar = DARTS.build_network(DRNAS_CIFAR10, channels=36, num_cells=20).model
    assert 400e6 < count_flops(cifar) < 800e6
