import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.search_space import create_op

# Three ops and two nodes: the DARTS supernet's code paths (two cell types, reductions) at a quarter of the layers.
SMALL_DARTS = kd.DARTS.with_ops(["max_pool_3x3", "skip_connect", "sep_conv_3x3"]).with_intermediate_nodes(2)


def _roundtrip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def test_op_and_mixed_op_and_cell_configs_roundtrip():
    op = create_op("dil_conv_5x5", 8, stride=2)
    clone = keras.Sequential.from_config(op.get_config())
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in op.layers]
    _roundtrip(kd.DirichletMixedOp(kd.DARTS.op_names, 8, stride=2, partial_channels=2, op_mask=[True] * 6 + [False]))
    _roundtrip(kd.DrNASCell("darts", channels=8, reduction=True, partial_channels=4, seed=3))
    _roundtrip(kd.ArchitectureDistribution(6, 5, relaxation="softmax", seed=2))
    _roundtrip(kd.NASBench201Supernet(channels=4, cells_per_stage=1, partial_channels=2, seed=0))
    _roundtrip(kd.DartsSupernet(channels=4, num_cells=3, seed=0, space=kd.DARTS.with_intermediate_nodes(3)))


def _functional_with(layer, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


@pytest.mark.parametrize(
    "build",
    [
        lambda: (_functional_with(kd.DirichletMixedOp(kd.NAS_BENCH_201.op_names, 4, seed=1), (8, 8, 4)), (2, 8, 8, 4)),
        lambda: (_functional_with(kd.DrNASCell("nb201", channels=4, partial_channels=2, seed=1), (8, 8, 4)), (2, 8, 8, 4)),
        lambda: (kd.NASBench201Supernet(channels=4, cells_per_stage=1, partial_channels=2, seed=0), (2, 8, 8, 3)),
        lambda: (kd.DartsSupernet(channels=4, num_cells=3, seed=0, space=SMALL_DARTS), (2, 8, 8, 3)),
    ],
)
def test_keras_file_roundtrip_keeps_outputs_and_eta(build, tmp_path):
    model, shape = build()
    x = tf.random.normal(shape)
    model(x)
    for w in model.weights:  # move eta and BN statistics away from their init
        if w.path.endswith("/eta") or "moving" in w.path:
            w.assign(w + tf.random.uniform(w.shape, 0.1, 0.5))
    expected = model(x, training=False).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-5)
    etas = lambda m: sorted((w.path, w.numpy().tolist()) for w in m.weights if w.path.endswith("/eta"))  # noqa: E731
    assert etas(loaded) == etas(model)


def test_pruned_supernet_roundtrip(tmp_path):
    net = kd.DartsSupernet(channels=4, num_cells=3, seed=0, space=SMALL_DARTS)
    x = tf.random.normal((1, 8, 8, 3))
    net(x)
    net.normal_distribution.eta.assign(tf.random.normal((5, 3)))
    net.prune(2)
    before = net(x).numpy()
    net.save(tmp_path / "pruned.keras")
    loaded = keras.models.load_model(tmp_path / "pruned.keras")
    assert loaded.get_config()["op_mask"] == net.get_config()["op_mask"]
    assert all(len(e.candidate_ops) <= 2 for c in loaded.cells() for e in c.edges)
    np.testing.assert_allclose(loaded(x).numpy(), before, rtol=1e-5, atol=1e-5)
