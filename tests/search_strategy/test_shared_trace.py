"""Cells of one shape share one traced forward pass."""

import keras
import numpy as np
import tensorflow as tf

import keras_drnas as kd


def _called_functions(graph):
    """Function name of every call op in the graph."""
    return [op.get_attr("f").name for op in graph.get_operations()
            if op.type in ("PartitionedCall", "StatefulPartitionedCall")]


def test_a_supernets_cells_call_one_function_per_shape():
    net = kd.NASBench201Supernet(channels=4, cells_per_stage=2, num_classes=3, shared_trace=True)
    net.build((2, 8, 8, 3))
    forward = tf.function(lambda x: net(x, training=True)).get_concrete_function(
        tf.TensorSpec((2, 8, 8, 3), tf.float32))
    called = [name for name in _called_functions(forward.graph) if "_forward" in name]
    assert len(called) == 6  # one call per cell
    assert len(set(called)) == 3  # one function per stage (channels and resolution)


def test_a_pruned_cell_traces_its_own_function_and_keeps_the_others_result():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 8, 8, 4)), tf.float32)
    weights = tf.constant(rng.dirichlet(np.ones(5), size=6), tf.float32)
    full, pruned = (kd.DrNASCell("nas-bench-201", channels=4, own_concentration=False, shared_trace=True) for _ in range(2))
    for cell in (full, pruned):
        cell(x, op_weights=weights)
    pruned.set_op_mask(np.arange(5)[None, :].repeat(6, 0) < 2)  # keeps the first two ops per edge
    for cell in (full, pruned):
        np.testing.assert_allclose(cell(x, op_weights=weights, training=False),
                                   cell._forward([x], weights, training=False), rtol=1e-5, atol=1e-6)
    assert not np.allclose(full(x, op_weights=weights), pruned(x, op_weights=weights))


def test_a_search_whose_cells_share_functions_learns_what_the_inline_search_learns():
    rng = np.random.default_rng(0)
    batches = [tuple((tf.constant(rng.normal(size=(8, 8, 8, 3)), tf.float32),
                      tf.constant(rng.integers(0, 3, 8), tf.int32)) for _ in range(2)) for _ in range(3)]
    results = {}
    for shared_trace in (False, True):
        keras.utils.set_random_seed(0)
        net = kd.NASBench201Supernet(channels=4, cells_per_stage=2, num_classes=3, seed=0,
                                     shared_trace=shared_trace)
        search = kd.SearchModel(net)
        search.compile()
        net.build((8, 8, 8, 3))
        search.build_optimizers()
        step = tf.function(search.train_step)
        losses = [[float(v) for k, v in step(batch).items() if k in ("loss", "arch_loss")] for batch in batches]
        results[shared_trace] = losses, [v.numpy() for v in net.weights]
    (losses, weights), (shared_losses, shared_weights) = results[False], results[True]
    np.testing.assert_allclose(shared_losses, losses, rtol=1e-5)
    for ours, theirs in zip(shared_weights, weights):  # weights, concentrations, moving statistics
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_only_python_training_flags_outside_stateless_calls_share():
    from keras_drnas.search_strategy.shared_trace import can_share

    assert can_share(True) and can_share(False) and can_share(None)
    assert not can_share(tf.constant(True))  # a tensor flag cannot pick a trace
    with keras.StatelessScope():  # Keras' symbolic shape inference runs in one
        assert not can_share(True)
