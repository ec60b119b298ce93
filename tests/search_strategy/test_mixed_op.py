"""The mixed op on either backend; the TensorFlow fast path (`fused_ops`)
against Keras' own layers and the plain path on TensorFlow."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_drnas.search_space import DARTS, NAS_BENCH_201, create_op
from keras_drnas.search_strategy import DirichletMixedOp
from tests.helpers import gradients, tensorflow_only, to_numpy


def unshuffle(y, groups):
    """Inverse of PyTorch's channel_shuffle, written independently in NumPy."""
    channels = y.shape[-1]
    per_group = channels // groups
    out = np.empty_like(y)
    for g in range(groups):
        for j in range(per_group):
            out[..., g * per_group + j] = y[..., j * groups + g]
    return out


def average_pool_3x3_same(x):
    """3x3 stride-1 average over the pixels inside the image (padding not counted), in NumPy."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    inside = np.pad(np.ones(x.shape[1:3]), 1)
    height, width = x.shape[1:3]
    total = sum(padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3))
    count = sum(inside[i : i + height, j : j + width] for i in range(3) for j in range(3))
    return total / count[None, :, :, None]


@pytest.mark.parametrize("space", [NAS_BENCH_201, DARTS])
@pytest.mark.parametrize("stride", [1, 2])
def test_one_hot_mask_equals_that_single_op(space, stride):
    x = keras.random.normal((2, 8, 8, 6))
    for chosen in space.op_names:
        if chosen == "none" or (space is NAS_BENCH_201 and stride == 2 and chosen == "skip_connect"):
            continue
        mask = [name == chosen for name in space.op_names]
        mixed = DirichletMixedOp(space.op_names, 6, stride=stride, op_mask=mask, pool_bn=space is DARTS, seed=0)
        for training in (False, True):
            y = mixed(x, training=training)
            assert len(mixed.candidate_ops) == 1
            single = mixed.candidate_ops[0](x, training=training)
            np.testing.assert_allclose(to_numpy(y), to_numpy(single), rtol=1e-5, atol=1e-5)


def test_none_only_edge_outputs_zeros():
    mixed = DirichletMixedOp(["none", "skip_connect"], 4, stride=2, op_mask=[True, False])
    y = mixed(ops.ones((1, 8, 8, 4)), training=True)
    assert y.shape == (1, 4, 4, 4) and not np.any(to_numpy(y))
    assert mixed.candidate_ops == []


def test_masked_ops_are_not_built():
    mixed = DirichletMixedOp(NAS_BENCH_201.op_names, 8, op_mask=[True, True, False, True, False])
    mixed.build((None, 8, 8, 8))
    assert [op.name for op in mixed.candidate_ops] == ["skip_connect", "nor_conv_3x3"]
    mixed.set_op_mask([False, True, False, True, False])
    assert [op.name for op in mixed.candidate_ops] == ["skip_connect", "nor_conv_3x3"]
    mixed.set_op_mask([False, False, False, True, False])
    assert [op.name for op in mixed.candidate_ops] == ["nor_conv_3x3"]
    assert not any("skip" in w.path for w in mixed.weights)
    with pytest.raises(ValueError, match="cannot unmask"):
        mixed.set_op_mask([True, False, False, True, False])


@pytest.mark.parametrize("stride", [1, 2])
def test_partial_channels_shape_and_untouched_bypass(stride):
    channels, k = 16, 4
    x = keras.random.normal((2, 8, 8, channels))
    mixed = DirichletMixedOp(DARTS.op_names, channels, stride=stride, partial_channels=k, pool_bn=True, seed=0)
    y = to_numpy(mixed(x, training=True))
    assert y.shape == (2, 8 // stride, 8 // stride, channels)
    restored = unshuffle(y, k)
    bypass = to_numpy(x)[..., channels // k :]
    if stride == 2:  # 2x2 max pooling
        bypass = bypass.reshape(2, 4, 2, 4, 2, -1).max(axis=(2, 4))
    np.testing.assert_array_equal(restored[..., channels // k :], bypass)
    # The ops only ever see C/K channels.
    assert all(op.input_shape[-1] == channels // k for op in mixed.candidate_ops)


def test_external_op_weights_are_used():
    x = keras.random.normal((1, 8, 8, 4))
    mixed = DirichletMixedOp(["skip_connect", "avg_pool_3x3"], 4, own_concentration=False)
    y = mixed(x, op_weights=np.array([1.0, 0.0], "float32"))
    np.testing.assert_allclose(to_numpy(y), to_numpy(x), rtol=1e-6)
    y = mixed(x, op_weights=np.array([0.25, 0.75], "float32"))
    pooled = average_pool_3x3_same(to_numpy(x))
    np.testing.assert_allclose(to_numpy(y), 0.25 * to_numpy(x) + 0.75 * pooled, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pass `op_weights`"):
        mixed(x)


def test_gradients_reach_own_eta():
    mixed = DirichletMixedOp(NAS_BENCH_201.op_names, 4, seed=0)
    x = keras.random.normal((2, 8, 8, 4))
    mixed(x)  # builds it
    _, (grad,) = gradients(lambda: ops.mean(mixed(x, training=True) ** 2), [mixed.distribution.eta], [mixed])
    assert grad is not None and np.any(grad != 0)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="Unknown op name 'conv_7x7'. Known ops: none, skip_connect"):
        DirichletMixedOp(["conv_7x7"], 8)
    with pytest.raises(ValueError, match=r"channels \(10\) must be divisible by partial_channels \(the paper's K, 4\)"):
        DirichletMixedOp(["skip_connect"], 10, partial_channels=4)
    with pytest.raises(ValueError, match="expects 8 input channels"):
        DirichletMixedOp(["skip_connect"], 8)(ops.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="even channel count"):
        create_op("skip_connect", 5, stride=2)


@tensorflow_only
@pytest.mark.parametrize("affine", [True, False])
def test_fused_batch_norm_is_keras_batch_norm_times_the_weight(affine):
    """Output and gradients as weight * BatchNormalization(x); moving
    statistics as PyTorch's BatchNorm2d (unbiased batch variance)."""
    import tensorflow as tf

    from keras_drnas.search_strategy.fused_ops import fused_batch_norm

    x = tf.constant(np.random.default_rng(0).normal(2, 3, size=(8, 5, 5, 4)).astype("float32"))
    layers = [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=affine, scale=affine) for _ in range(2)]
    for layer in layers:
        layer.build(x.shape)
    if affine:
        layers[0].set_weights([np.array([1.0, 2, 3, 4]), np.array([0.1, 0.2, 0.3, 0.4]), np.zeros(4), np.ones(4)])
        layers[1].set_weights(layers[0].get_weights())
    fused, keras_bn = layers
    weight = tf.Variable(0.5)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = fused_batch_norm(fused, x, training=True, weight=weight)
        theirs = weight * keras_bn(x, training=True)
        probe = tf.range(4, dtype=tf.float32)
        our_loss, their_loss = tf.reduce_sum(ours**2 * probe), tf.reduce_sum(theirs**2 * probe)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    for ours_source, their_source in zip([x, weight] + fused.trainable_weights, [x, weight] + keras_bn.trainable_weights):
        np.testing.assert_allclose(tape.gradient(our_loss, ours_source), tape.gradient(their_loss, their_source),
                                   rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fused.moving_mean, keras_bn.moving_mean, atol=1e-6)
    n = 8 * 5 * 5
    unbiased = 0.9 + (keras_bn.moving_variance.numpy() - 0.9) * n / (n - 1)
    np.testing.assert_allclose(fused.moving_variance, unbiased, rtol=1e-6)
    keras_bn.set_weights(fused.get_weights())
    np.testing.assert_allclose(fused_batch_norm(fused, x, training=False), keras_bn(x, training=False), atol=1e-5)


@tensorflow_only
def test_factorized_reduce_with_fused_norm_is_the_keras_op_times_the_weight():
    """The functional factorized reduce runs with its final batch norm fused:
    the same output and gradients as weight * op(x)."""
    import tensorflow as tf

    from keras_drnas.search_strategy.fused_ops import weighted_op

    x = tf.random.normal((4, 8, 8, 6), seed=1)
    fused, plain = create_op("skip_connect", 6, stride=2), create_op("skip_connect", 6, stride=2)
    fused.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(fused.get_weights())
    weight = tf.Variable(0.3)
    with tf.GradientTape(persistent=True) as tape:
        ours = weighted_op(fused, x, weight, training=True, activated=None)
        theirs = weight * plain(x, training=True)
        probe = tf.random.normal(theirs.shape, seed=2)  # a sum of squares per channel is flat through a norm
        our_loss, their_loss = tf.reduce_sum(ours**2 * probe), tf.reduce_sum(theirs**2 * probe)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    for ours_source, their_source in zip([weight] + fused.trainable_weights, [weight] + plain.trainable_weights):
        np.testing.assert_allclose(tape.gradient(our_loss, ours_source), tape.gradient(their_loss, their_source),
                                   rtol=1e-4, atol=1e-5)
    assert len(fused.weights) == len(plain.weights)  # the split shares the op's variables
    np.testing.assert_allclose(fused.layers[-1].moving_mean, plain.layers[-1].moving_mean, atol=1e-6)


@tensorflow_only
@pytest.mark.parametrize("stride", [1, 2])
def test_fused_path_is_the_plain_keras_path(stride):
    """On TensorFlow the mixed op runs its ops through `fused_ops`; the plain
    `keras.ops` path of other backends computes the same outputs and gradients
    for every candidate op (a shared ReLU included)."""
    import tensorflow as tf

    from keras_drnas.search_space.ops import OP_NAMES
    from keras_drnas.search_strategy import fused_ops
    from keras_drnas.search_strategy.mixed_op import plain_weighted_op

    x = tf.random.normal((4, 8, 8, 6), seed=3)
    weight = tf.Variable(0.7)
    for name in OP_NAMES:
        fused, plain = create_op(name, 6, stride, pool_bn=True), create_op(name, 6, stride, pool_bn=True)
        plain.set_weights(fused.get_weights())
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = fused_ops.weighted_op(fused, x, weight, training=True, activated=tf.nn.relu(x))
            theirs = plain_weighted_op(plain, x, weight, training=True)
            probe = tf.random.normal(theirs.shape, seed=4)
            our_loss, their_loss = tf.reduce_sum(ours * probe), tf.reduce_sum(theirs * probe)
        np.testing.assert_allclose(ours, theirs, atol=1e-5, err_msg=name)
        sources = [x, weight] + fused.trainable_weights, [x, weight] + plain.trainable_weights
        assert len(sources[0]) == len(sources[1])
        for ours_source, their_source in zip(*sources):
            our_grad, their_grad = tape.gradient(our_loss, ours_source), tape.gradient(their_loss, their_source)
            if their_grad is None:  # e.g. `none` does not depend on its input
                assert our_grad is None or not np.any(our_grad), name
                continue
            np.testing.assert_allclose(our_grad, their_grad, rtol=1e-4, atol=1e-4, err_msg=name)
