import collections

import keras
import numpy as np
import pytest

from keras_drnas import Genotype, GenotypeError
from keras_drnas.derived_model import build_network
from keras_drnas.search_space import DARTS
from keras_drnas.presets import DRNAS_CIFAR10


NB201 = Genotype.from_string(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|", "nb201")


def op_counts(model):
    counts = collections.Counter()
    for layer in model.layers:
        for op in ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                   "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3"):
            if layer.name.endswith(op):
                counts[op] += 1
    return counts


def test_derived_networks_hold_exactly_the_genotype_ops():
    full = Genotype.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|", "nb201")
    nb = build_network(full, channels=4, cells_per_stage=2, input_shape=(8, 8, 1)).model
    per_cell = collections.Counter(op for op, _ in full.normal)
    assert op_counts(nb) == {op: 6 * n for op, n in per_cell.items()}  # 3 stages x cells_per_stage=2
    # With 3<-2 = none, node 2 cannot reach the output: its ops are not in the network.
    pruned = build_network(NB201, channels=4, cells_per_stage=1, input_shape=(8, 8, 1)).model
    assert op_counts(pruned) == {"nor_conv_3x3": 3, "skip_connect": 3, "nor_conv_1x1": 3}
    darts = DARTS.build_network(DRNAS_CIFAR10, channels=4, num_cells=5, input_shape=(16, 16, 3)).model
    normal = collections.Counter(op for op, _ in DRNAS_CIFAR10.normal)
    reduce = collections.Counter(op for op, _ in DRNAS_CIFAR10.reduce)
    assert op_counts(darts) == {op: 3 * normal[op] + 2 * reduce[op] for op in normal | reduce}


def test_drop_path_and_auxiliary_only_in_training():
    with pytest.raises(ValueError, match="Use larger images"):
        DARTS.build_network(DRNAS_CIFAR10, channels=4, num_cells=5, input_shape=(16, 16, 3), auxiliary=True)
    net = DARTS.build_network(DRNAS_CIFAR10, channels=4, num_cells=5, input_shape=(32, 32, 3), auxiliary=True, drop_path=0.5)
    x = keras.random.normal((4, 32, 32, 3))
    assert len(net.model.outputs) == 1 and len(net.training_model.outputs) == 2
    np.testing.assert_allclose(net.model(x, training=False), net.model(x, training=False))
    assert net.drop_path_layers
    a, b = net.model(x, training=True), net.model(x, training=True)
    assert not np.allclose(a, b)  # drop-path is random in training


def test_bad_genotypes_fail_before_building():
    with pytest.raises(GenotypeError, match="genotype is of the nas-bench-201 space"):
        DARTS.build_network(NB201)
    with pytest.raises(GenotypeError, match="unknown op 'conv_9x9'"):
        Genotype("darts", [("conv_9x9", 0)] * 8, DRNAS_CIFAR10.reduce)
    with pytest.raises(GenotypeError, match="node 2 takes input node 3"):
        Genotype("darts", [("sep_conv_3x3", 3)] * 8, DRNAS_CIFAR10.reduce)
