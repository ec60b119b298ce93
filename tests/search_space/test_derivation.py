
import numpy as np

import keras_drnas as kd


NB201_STRING = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"


def _set_eta(distribution, weights):
    """Concentrations from desired Dirichlet means: eta = beta - 1 for beta >= 1."""
    distribution.eta.assign(np.asarray(weights, np.float32) - 1.0)


def test_nb201_derivation_from_hand_set_concentrations():
    net = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0)
    beta = np.ones((6, 5))
    choice = [3, 3, 4, 1, 2, 0]  # column per edge: largest concentration wins
    for row, col in enumerate(choice):
        beta[row, col] = 3.0
    _set_eta(net.normal_distribution, beta)
    genotype = net.genotype()
    assert genotype.to_string() == NB201_STRING  # 'none' may be chosen in NB201


def test_darts_derivation_keeps_two_strongest_edges_and_never_none():
    space = kd.DARTS.with_ops(("none",) + kd.DARTS.op_names)  # none | 7 ops
    weights = np.full((14, 8), 0.1)
    weights[:, 0] = 0.9  # 'none' dominates everywhere but must not be chosen
    # node 2: edges 0 (c_{k-2}), 1 (c_{k-1}); node 3: edges 2,3,4; ...
    weights[0, 4] = 0.5  # sep_conv_3x3 from 0
    weights[1, 5] = 0.4  # sep_conv_5x5 from 1
    weights[2, 1] = 0.2  # max_pool from 0 (weak)
    weights[3, 7] = 0.6  # dil_conv_5x5 from 1
    weights[4, 3] = 0.7  # skip from 2
    weights[9, 2] = 0.8  # avg_pool from c_{k-2} into node 5 (edges 9..13 read 0..4)
    pairs = space.derive_cell(weights)
    assert pairs[:4] == [("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("skip_connect", 2), ("dil_conv_5x5", 1)]
    assert all(op != "none" for op, _ in pairs)
    assert ("avg_pool_3x3", 0) in pairs[6:]

    net = kd.DartsSupernet(channels=4, num_cells=3, seed=0)
    normal = np.ones((14, 7))
    normal[:, 3] = 2.0  # sep_conv_3x3 best on every edge
    normal[[0, 1, 2, 3, 5, 6, 9, 10], 3] = 4.0  # strongest: edges from 0 and 1
    reduce = np.ones((14, 7))
    reduce[:, 0] = 5.0  # max_pool everywhere, edges tie -> lower input kept
    _set_eta(net.normal_distribution, normal)
    _set_eta(net.reduce_distribution, reduce)
    g = net.genotype()
    assert g.normal == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)) * 4
    assert g.reduce == (("max_pool_3x3", 0), ("max_pool_3x3", 1)) * 4
    assert g.normal_concat == (2, 3, 4, 5)


def test_random_genotypes_are_valid_seeded_and_varied():
    from keras_drnas.search_space import random_genotype

    nb = [random_genotype("nas-bench-201", seed=s) for s in range(20)]
    assert random_genotype("nas-bench-201", seed=3) == nb[3]
    assert len({g.to_string() for g in nb}) > 15
    darts = random_genotype("darts", seed=1)
    assert all(op != "none" for op, _ in darts.normal + darts.reduce)
    for k in range(0, 8, 2):  # two distinct inputs per node
        assert darts.normal[k][1] != darts.normal[k + 1][1]
