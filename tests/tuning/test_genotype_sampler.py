import collections

import numpy as np
import pytest

from keras_drnas.search_space import DARTS, NAS_BENCH_201, GenotypeError
from keras_drnas.tuning import GenotypeSampler, genotype_from_value, genotype_value


def conv_favoured():
    beta = np.ones((6, 5))
    beta[:, NAS_BENCH_201.op_names.index("nor_conv_3x3")] = 4.0
    return beta


def op_counts(sampler, draws=300):
    rng = np.random.default_rng(0)
    return collections.Counter(op for _ in range(draws) for op, _ in sampler.sample(rng).normal)


def test_samples_follow_the_learnt_distribution_and_the_temperature():
    sampler = GenotypeSampler(NAS_BENCH_201, {"normal": conv_favoured()})
    counts = op_counts(sampler)
    share = counts["nor_conv_3x3"] / sum(counts.values())
    assert 0.5 < share < 0.95 and len(counts) == 5  # mostly the favoured op, but every op is explored
    cooler = op_counts(GenotypeSampler(NAS_BENCH_201, {"normal": conv_favoured()}, temperature=0.3))
    assert cooler["nor_conv_3x3"] > counts["nor_conv_3x3"]
    coldest = GenotypeSampler(NAS_BENCH_201, {"normal": conv_favoured()}, temperature=1e-3)
    assert coldest.sample(np.random.default_rng(1)) == sampler.most_likely()
    with pytest.raises(ValueError, match="temperature must be positive"):
        GenotypeSampler(NAS_BENCH_201, {"normal": conv_favoured()}, temperature=0)


def test_pruned_ops_are_never_drawn():
    beta = conv_favoured()
    mask = np.ones((6, 5), bool)
    mask[:, NAS_BENCH_201.op_names.index("nor_conv_3x3")] = False
    counts = op_counts(GenotypeSampler(NAS_BENCH_201, {"normal": beta}, {"normal": mask}), draws=50)
    assert "nor_conv_3x3" not in counts and len(counts) == 4


def test_darts_samples_keep_two_inputs_per_node_and_never_none():
    space = DARTS.with_ops(("none",) + DARTS.op_names)
    beta = np.ones((space.num_edges, space.num_ops))
    beta[:, 0] = 20.0  # 'none' learnt strongest, as DARTS-like searches often end
    sampler = GenotypeSampler(space, {"normal": beta, "reduce": beta})
    rng = np.random.default_rng(0)
    for _ in range(20):
        genotype = sampler.sample(rng)
        for cell in (genotype.normal, genotype.reduce):
            assert "none" not in {op for op, _ in cell}
            for k in range(0, len(cell), 2):
                assert cell[k][1] != cell[k + 1][1]  # two distinct input nodes
        assert genotype_from_value(space, genotype_value(genotype)) == genotype


def test_trial_values_round_trip():
    genotype = GenotypeSampler(NAS_BENCH_201, {"normal": conv_favoured()}).most_likely()
    assert genotype_from_value(NAS_BENCH_201, genotype_value(genotype)) == genotype
    with pytest.raises(GenotypeError, match="normal and a reduce cell"):
        genotype_from_value(DARTS, "normal: sep_conv_3x3~0 sep_conv_3x3~1")
