
import numpy as np
import pytest
from keras import ops

import keras_drnas as kd
from keras_drnas.search_strategy import mixed_op
from tests.helpers import to_numpy


def test_supernet_output_shapes_and_sharing():
    nb = kd.NASBench201Supernet(channels=4, cells_per_stage=2, num_classes=7, partial_channels=2, seed=0)
    assert nb(ops.zeros((3, 16, 16, 3)), training=True).shape == (3, 7)
    assert len(nb.cells()) == 6
    etas = [w for w in nb.weights if w.path.endswith("/eta")]
    assert len(etas) == 1 and etas[0].shape == (6, 5)  # one matrix for all cells

    small = kd.DARTS.with_ops(["max_pool_3x3", "skip_connect", "sep_conv_3x3"]).with_intermediate_nodes(2)
    dn = kd.DartsSupernet(channels=4, num_cells=5, num_classes=3, partial_channels=2, seed=0, space=small)
    assert dn(ops.zeros((2, 16, 16, 1)), training=True).shape == (2, 3)
    assert [c.reduction for c in dn.cells()] == [False, True, False, True, False]
    assert [tuple(w.shape) for w in dn.weights if w.path.endswith("/eta")] == [(5, 3), (5, 3)]

    imagenet = kd.DartsSupernet(channels=8, num_cells=3, stem="imagenet", seed=0, space=small)
    assert imagenet(ops.zeros((1, 64, 64, 3))).shape == (1, 10)


def test_cells_of_one_type_see_one_sample():
    net = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0)
    net(ops.zeros((1, 8, 8, 3)))
    seen = []
    for cell in net.cells():
        original = cell.call

        def spy(inputs, op_weights=None, training=None, _original=original):
            seen.append(op_weights)
            return _original(inputs, op_weights=op_weights, training=training)

        cell.call = spy
    net(ops.zeros((1, 8, 8, 3)), training=True)
    assert len(seen) == 3
    for theta in seen[1:]:
        np.testing.assert_array_equal(to_numpy(theta), to_numpy(seen[0]))


def test_clear_errors_for_bad_inputs():
    net = kd.NASBench201Supernet(channels=4, cells_per_stage=1)
    with pytest.raises(ValueError, match=r"multiples of 4, at least 8 \(its last cells would see one pixel otherwise\); got 6x6"):
        net(ops.zeros((1, 6, 6, 3)))
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        net(ops.zeros((1, 8, 8)))
    dn = kd.DartsSupernet(channels=4, num_cells=3, stem="imagenet")
    with pytest.raises(ValueError, match="multiples of 32"):
        dn(ops.zeros((1, 16, 16, 3)))
    with pytest.raises(ValueError, match="divisible by partial_channels"):
        kd.NASBench201Supernet(channels=6, cells_per_stage=1, partial_channels=4)
    with pytest.raises(ValueError, match="two inputs"):
        kd.DrNASCell("darts", channels=4)(ops.zeros((1, 8, 8, 4)))
    with pytest.raises(ValueError, match="Unknown search space 'resnet'"):
        kd.DrNASCell("resnet", channels=4)
    with pytest.raises(ValueError, match="takes \\(batch, height, width, 8\\)"):
        kd.DrNASCell("nb201", channels=8)(ops.zeros((1, 8, 8, 4)))


def test_pruned_op_is_not_executed_and_never_chosen(monkeypatch):
    net = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0)
    net(ops.zeros((1, 8, 8, 3)))
    eta = np.zeros((6, 5), np.float32)
    eta[:, 3] = -1.0  # nor_conv_3x3 weakest everywhere
    eta[:, 0] = -0.5
    net.normal_distribution.eta.assign(eta)
    net.prune(3)
    assert not any("nor_conv_3x3" in w.path for w in net.weights)
    calls = []
    original = mixed_op.weighted_op
    monkeypatch.setattr(mixed_op, "weighted_op", lambda op, *a: (calls.append(op.name), original(op, *a))[1])
    net(ops.zeros((1, 8, 8, 3)), training=True)
    assert calls and "nor_conv_3x3" not in calls
    net.normal_distribution.eta.assign(np.where(np.arange(5) == 3, 5.0, 0.0) * np.ones((6, 1), np.float32))
    assert "nor_conv_3x3" not in net.genotype().to_string()  # masked: never picked
