import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_drnas.data import load_digits
from keras_drnas.derived import build_network, count_parameters, darts_network
from keras_drnas.export import export_all, run_tflite, to_tflite
from keras_drnas.genotype import DRNAS_CIFAR10, DRNAS_IMAGENET, Genotype, GenotypeError

NB201 = Genotype.from_nb201_string(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
)


def op_counts(model):
    counts = collections.Counter()
    for layer in model.layers:
        for op in ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                   "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3"):
            if layer.name.endswith(op):
                counts[op] += 1
    return counts


def test_derived_networks_hold_exactly_the_genotype_ops():
    full = Genotype.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    )
    nb = build_network(full, C=4, N=2, input_shape=(8, 8, 1)).model
    per_cell = collections.Counter(op for op, _ in full.normal)
    assert op_counts(nb) == {op: 6 * n for op, n in per_cell.items()}  # 3 stages x N=2
    # With 3<-2 = none, node 2 cannot reach the output: its ops are not in the network.
    pruned = build_network(NB201, C=4, N=1, input_shape=(8, 8, 1)).model
    assert op_counts(pruned) == {"nor_conv_3x3": 3, "skip_connect": 3, "nor_conv_1x1": 3}
    darts = darts_network(DRNAS_CIFAR10, C=4, layers_count=5, input_shape=(16, 16, 3)).model
    normal = collections.Counter(op for op, _ in DRNAS_CIFAR10.normal)
    reduce = collections.Counter(op for op, _ in DRNAS_CIFAR10.reduce)
    assert op_counts(darts) == {op: 3 * normal[op] + 2 * reduce[op] for op in normal | reduce}


def test_paper_parameter_counts():
    cifar = darts_network(DRNAS_CIFAR10, C=36, layers_count=20, num_classes=10, auxiliary=True)
    assert abs(count_parameters(cifar.model) / 1e6 - 4.1) < 0.1
    assert count_parameters(cifar.training_model) > count_parameters(cifar.model)  # aux excluded above
    imagenet = darts_network(DRNAS_IMAGENET, C=48, layers_count=14, num_classes=1000,
                             input_shape=(224, 224, 3), stem="imagenet")
    assert abs(count_parameters(imagenet.model) / 1e6 - 5.7) < 0.15


def test_drop_path_and_auxiliary_only_in_training():
    with pytest.raises(ValueError, match="Use larger images"):
        darts_network(DRNAS_CIFAR10, C=4, layers_count=5, input_shape=(16, 16, 3), auxiliary=True)
    net = darts_network(DRNAS_CIFAR10, C=4, layers_count=5, input_shape=(32, 32, 3), auxiliary=True, drop_path=0.5)
    x = tf.random.normal((4, 32, 32, 3))
    assert len(net.model.outputs) == 1 and len(net.training_model.outputs) == 2
    np.testing.assert_allclose(net.model(x, training=False), net.model(x, training=False))
    assert net.drop_path_layers
    a, b = net.model(x, training=True), net.model(x, training=True)
    assert not np.allclose(a, b)  # drop-path is random in training


def test_bad_genotypes_fail_before_building():
    with pytest.raises(GenotypeError, match="genotype is of the nas-bench-201 space"):
        darts_network(NB201)
    with pytest.raises(GenotypeError, match="unknown op 'conv_9x9'"):
        Genotype("darts", [("conv_9x9", 0)] * 8, DRNAS_CIFAR10.reduce)
    with pytest.raises(GenotypeError, match="node 2 takes input node 3"):
        Genotype("darts", [("sep_conv_3x3", 3)] * 8, DRNAS_CIFAR10.reduce)


@pytest.fixture(scope="module")
def trained_digits_model():
    keras.utils.set_random_seed(0)
    x, y = load_digits()
    net = build_network(NB201, C=8, N=1, input_shape=(8, 8, 1), mean=[x.mean()], std=[x.std()])
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


@pytest.mark.parametrize("space", ["nas-bench-201", "darts"])
def test_inherit_supernet_weights(space):
    import keras_drnas as kd
    from keras_drnas.derived import inherit_supernet_weights

    supernet = kd.nas_bench_201(C=4, N=1, seed=0) if space == "nas-bench-201" else kd.darts(C=4, layers=3, seed=0)
    supernet(tf.random.normal((2, 8, 8, 3)))
    genotype = supernet.genotype()
    model = build_network(genotype, C=4, N=1, layers_count=3, input_shape=(8, 8, 3)).model
    copied, total = inherit_supernet_weights(model, supernet, genotype)
    assert copied > total // 2
    op, src = genotype.normal[0]
    if space == "nas-bench-201":
        target = model.get_layer(f"cell_0_0_edge_1_0_{op}") if op not in ("none", "skip_connect") else None
        source_edge = supernet.cells()[0].edges[0]
    else:
        target = model.get_layer(f"cell_0_node_2_0_{op}")
        source_edge = supernet.cells()[0].edges[supernet.space.edges.index((2, src))]
    if target is not None and target.weights:
        source = [o for o in source_edge.candidate_ops if o.name == op][0]
        np.testing.assert_array_equal(target.weights[0].numpy(), source.weights[0].numpy())
    np.testing.assert_array_equal(model.get_layer("classifier").kernel.numpy(), supernet.classifier.kernel.numpy())


def test_flop_count_matches_hand_count():
    from keras_drnas.derived import count_flops

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.SeparableConv2D(6, 3, strides=2, padding="same", use_bias=False)(x)
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x))
    expected = 8 * 8 * 3 * 3 * 3 * 4 + 4 * 4 * 3 * 3 * 4 + 4 * 4 * 4 * 6 + 6 * 10
    assert count_flops(keras.Model(inputs, outputs)) == expected
    cifar = darts_network(DRNAS_CIFAR10, C=36, layers_count=20).model
    assert 400e6 < count_flops(cifar) < 800e6
