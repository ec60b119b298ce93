"""What both backends compute in test_jax_backend.py: the inputs, and the
supernets (built the same way on either backend)."""

import numpy as np

import keras_drnas as kd

ETA = np.random.default_rng(0).normal(0.0, 1.5, (6, 5)).astype("float32")
IMAGES = np.random.default_rng(1).random((4, 16, 16, 3)).astype("float32")
LABELS = np.array([0, 3, 7, 9], "int32")


def fixed_op_weights(supernet):
    """One op-weight sample per cell type, the same on both backends."""
    rng = np.random.default_rng(2)
    return {name: rng.dirichlet(np.ones(d.num_ops), d.num_edges).astype("float32")
            for name, d in supernet.distributions().items()}


def supernets():
    small_darts = kd.DARTS.with_ops(["max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"])
    networks = {
        "nb201": kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0),
        "darts": kd.DartsSupernet(channels=4, num_cells=3, partial_channels=2, space=small_darts, seed=0),
    }
    for network in networks.values():
        network.build(IMAGES.shape)
    return networks
