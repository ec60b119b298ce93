import math

import keras
import pytest

import keras_drnas as kd
from keras_drnas.search_space.nas_bench_201_lookup import NASBench201Table
from keras_drnas.search_strategy.benchmark_logger import BenchmarkLogger
from tests.helpers import compiled, tiny_pairs


def test_epoch_logs_get_the_benchmark_accuracies_of_the_genotype(tmp_path):
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    pairs = tiny_pairs(n=64, batch_size=16)
    search.build_for(pairs)
    derived = search.genotype().to_nb201_string()
    (tmp_path / "nb201.csv").write_text(f"arch,cifar10,cifar100\n{derived},91.5,67.25\n")
    table = NASBench201Table.from_csv(tmp_path / "nb201.csv")
    csv_log = tmp_path / "log.csv"
    history = search.fit(pairs, epochs=2, verbose=0,
                         callbacks=[BenchmarkLogger(table), keras.callbacks.CSVLogger(str(csv_log))])
    for epoch, genotype in enumerate(search.genotype_history):
        expected = table.accuracies(genotype) if genotype in table else {}
        for name in ("cifar10", "cifar100"):
            logged = history.history[f"benchmark_{name}"][epoch]
            assert logged == expected[name] if expected else math.isnan(logged)
    assert "benchmark_cifar10" in csv_log.read_text().splitlines()[0]


def test_refuses_a_darts_search(tmp_path):
    (tmp_path / "nb201.csv").write_text("arch,cifar10\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,10\n")
    search = compiled(kd.DartsSupernet(channels=4, num_cells=2, seed=0))
    with pytest.raises(ValueError, match="this search is in the darts space"):
        search.fit(tiny_pairs(n=32, batch_size=16, size=8), epochs=1, verbose=0,
                   callbacks=[BenchmarkLogger(NASBench201Table.from_csv(tmp_path / "nb201.csv"))])
