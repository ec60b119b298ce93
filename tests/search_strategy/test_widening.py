
import numpy as np

from keras_drnas.search_space import create_op
from keras_drnas.search_strategy.widening import net2net_mapping, take, widen_weights


def test_widening_conv_and_batch_norm_follows_eq_8():
    narrow = create_op("nor_conv_3x3", 2)
    wide = create_op("nor_conv_3x3", 4)
    for w in narrow.weights:
        w.assign(np.random.default_rng(1).normal(size=w.shape))
    rng = np.random.default_rng(0)
    g = net2net_mapping(2, 4, np.random.default_rng(0))
    assert list(g[:2]) == [0, 1] and set(g[2:]) <= {0, 1}
    pairs = widen_weights(narrow.weights, wide.weights, rng)
    kernel_old, kernel_new = narrow.weights[0].numpy(), wide.weights[0].numpy()  # (3, 3, in, out)
    for o in range(4):
        for i in range(4):
            np.testing.assert_array_equal(kernel_new[:, :, i, o], kernel_old[:, :, g[i], g[o]])  # no division
    for old, new, _ in pairs[1:]:  # batch-norm statistics follow the same mapping
        np.testing.assert_array_equal(new.numpy(), old.numpy()[g])
    # An optimizer slot of the kernel widens with the same indices.
    slot = np.random.default_rng(2).normal(size=kernel_old.shape)
    widened_slot = take(slot, pairs[0][2])
    np.testing.assert_array_equal(widened_slot[:, :, 3, 2], slot[:, :, g[3], g[2]])
