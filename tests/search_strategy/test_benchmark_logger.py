import itertools
import math

import keras
import pytest

import keras_drnas as kd
from keras_drnas.presets import DRNAS_CIFAR10
from keras_drnas.search_space.nas_bench_201_lookup import NASBench201Table
from keras_drnas.search_strategy.benchmark_logger import BenchmarkLogger
from tests.helpers import compiled, tiny_pairs


def write_full_table(path):
    """All 15,625 cells of the space, each with its own made-up scores."""
    rows = ["arch,cifar10,cifar100"]
    for index, ops in enumerate(itertools.product(kd.NAS_BENCH_201.op_names, repeat=6)):
        genotype = kd.Genotype("nas-bench-201", [(op, src) for op, (_, src) in zip(ops, kd.NAS_BENCH_201.edges)])
        rows.append(f"{genotype.to_string()},{index / 1000},{index / 2000}")
    path.write_text("\n".join(rows) + "\n")
    return path


class FixedSearch:
    """What the callback reads of a SearchModel: its genotype."""

    def __init__(self, genotype):
        self.genotype = lambda: genotype


def test_epoch_logs_get_the_benchmark_accuracies_of_the_genotype(tmp_path):
    table = NASBench201Table.from_csv(write_full_table(tmp_path / "nb201.csv"))
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    csv_log = tmp_path / "log.csv"
    history = search.fit(tiny_pairs(n=64, batch_size=16), epochs=2, verbose=0,
                         callbacks=[BenchmarkLogger(table), keras.callbacks.CSVLogger(str(csv_log))])
    for epoch, genotype in enumerate(search.genotype_history):
        expected = table.accuracies(genotype)
        assert history.history["benchmark_cifar10"][epoch] == expected["cifar10"]
        assert history.history["benchmark_cifar100"][epoch] == expected["cifar100"]
    assert "benchmark_cifar10" in csv_log.read_text().splitlines()[0]


def test_a_genotype_missing_from_a_partial_table_logs_nan(tmp_path):
    (tmp_path / "nb201.csv").write_text("arch,cifar10\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n")
    logger = BenchmarkLogger(NASBench201Table.from_csv(tmp_path / "nb201.csv"))
    logger.set_model(FixedSearch(kd.Genotype.from_string(
        "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nb201")))
    logger.set_params({"verbose": 0, "epochs": 1})
    logs = {}
    logger.on_epoch_end(0, logs)
    assert math.isnan(logs["benchmark_cifar10"])


def test_refuses_a_darts_search(tmp_path):
    (tmp_path / "nb201.csv").write_text("arch,cifar10\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n")
    logger = BenchmarkLogger(NASBench201Table.from_csv(tmp_path / "nb201.csv"))
    logger.set_model(FixedSearch(DRNAS_CIFAR10))
    with pytest.raises(ValueError, match="this search is in the darts space"):
        logger.on_train_begin()
