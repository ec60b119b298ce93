"""The NAS-Bench-201 accuracies of each epoch's genotype, in the fit logs."""

import keras

from keras_drnas.search_space.nas_bench_201 import NAS_BENCH_201
from keras_drnas.utils.errors import InputError


class BenchmarkLogger(keras.callbacks.Callback):
    """Adds the benchmark scores of the epoch's derived genotype to the logs.

    After every epoch of a NAS-Bench-201 search, looks the genotype up in a
    `NASBench201Table` and adds `benchmark_<score>` entries (for example
    `benchmark_cifar10`) to the epoch logs, so `History`, and `CSVLogger` or
    `TensorBoard` placed after this callback, record how the architecture
    would score after full training, as the paper's Figure 1 traces it.
    A genotype missing from a partial table logs NaN.

    Args:
        table: a `keras_drnas.search_space.nas_bench_201_lookup.NASBench201Table`.
        prefix: prefix of the log keys.

    Example:
    ```python
    table = NASBench201Table.from_csv("nb201.csv")
    history = search.fit(pairs, epochs=100, callbacks=[BenchmarkLogger(table)])
    history.history["benchmark_cifar10"]
    ```
    """

    def __init__(self, table, prefix="benchmark_"):
        super().__init__()
        self.table = table
        self.prefix = prefix

    def on_train_begin(self, logs=None):
        space = self.model.genotype().space  # fails before the first epoch if the search cannot be looked up
        if space != NAS_BENCH_201.name:
            raise InputError(
                f"BenchmarkLogger looks genotypes up in NAS-Bench-201, but this search is in the {space} space."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        genotype = self.model.genotype()
        found = self.table.accuracies(genotype) if genotype in self.table else {}
        for name in self.table.columns:
            logs[self.prefix + name] = found.get(name, float("nan"))
        if self.params.get("verbose"):
            scores = ", ".join(f"{name} {value:.2f}" for name, value in found.items()) or "not in the table"
            print(f"epoch {epoch + 1} NAS-Bench-201: {scores}")
