import pytest

from keras_drnas.derived_model import build_network, count_parameters
from keras_drnas.search_space import Genotype
from keras_drnas.tuning import Budget

CELL = Genotype.from_string(
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|", "nb201")


def test_measures_and_violations():
    model = build_network(CELL, channels=4, cells_per_stage=1, input_shape=(8, 8, 1)).model
    measures = Budget(max_latency_ms=1000.0, latency_runs=5).measure(model)
    assert measures["parameters"] == count_parameters(model) and measures["multiply_adds"] > 0
    assert 0 < measures["latency_ms"] < 1000.0  # a real timed LiteRT run of the TFLite model
    assert Budget(max_parameters=measures["parameters"]).violations(measures) == []
    assert Budget(max_parameters=measures["parameters"] - 1,
                  max_multiply_adds=measures["multiply_adds"] - 1).violations(measures) == [
        f"parameters {measures['parameters']:,} > {measures['parameters'] - 1:,}",
        f"multiply_adds {measures['multiply_adds']:,} > {measures['multiply_adds'] - 1:,}",
    ]
    assert "latency_ms" not in Budget(max_parameters=10).measure(model)  # converted only under a latency limit


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="max_parameters=0 is no limit"):
        Budget(max_parameters=0)
    assert Budget().describe() == "no limits"
    described = Budget(max_parameters=50_000, max_latency_ms=2.5).describe()
    assert described == "parameters <= 50,000, latency_ms <= 2.5"


def test_a_latency_table_predicts_the_latency_budget_from_the_genotype():
    import numpy as np

    from keras_drnas.search_space import MOBILENET
    from keras_drnas.search_strategy import LatencyTable
    from keras_drnas.utils.errors import InputError

    space = MOBILENET.with_stages(((8, 1, 1), (12, 2, 2)))
    block_ms = np.where(space.op_mask(), [[0.1 * (k + 1) for k in range(space.num_ops)]] * space.num_edges, np.nan)
    table = LatencyTable(space, block_ms, fixed_ms=1.0)
    genotype = Genotype("mobilenet", [("mb_k3_e3", 0), ("mb_k7_e6", 1), ("skip_connect", 2)])
    model = space.build_network(genotype, channels=4, input_shape=(8, 8, 3)).model
    budget = Budget(max_latency_ms=1.5, latency_table=table)
    measures = budget.measure(model, genotype)
    assert measures["latency_ms"] == round(table.predict_ms(genotype), 4) == 2.4  # 1 fixed + 0.1 + 0.6 + 0.7
    assert budget.violations(measures) == ["latency_ms 2.4 > 1.5"]
    assert budget.describe() == "latency_ms <= 1.5 (latency from the table)"
    with pytest.raises(InputError, match="pass measure\\(model, genotype\\)"):
        budget.measure(model)
