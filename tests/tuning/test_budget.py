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
