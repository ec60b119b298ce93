"""NAS-Bench-201 lookup: the benchmark accuracies of a genotype.

NAS-Bench-201 (Dong & Yang, ICLR 2020) trained every one of the 15,625 cells
of its space, so a searched cell is scored by looking it up, as the paper
reports DrNAS's cells (section 4.3, Table 4). The table comes from a file
the user has:

- a CSV file with one row per architecture: an `arch` column holding the
  benchmark string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, and one column
  per score, for example `cifar10,cifar100,imagenet16-120` (test accuracy in
  percent, the usual choice); any further numeric column (`cifar10-valid`,
  `params`, ...) is read the same way, and an empty cell means "not
  recorded". A table may hold a subset of the space.

      arch,cifar10,cifar100,imagenet16-120
      |nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|,93.1,70.2,44.0

- or the NATS-Bench topology files (the successor of NAS-Bench-201, same
  15,625 cells) through the optional `nats_bench` package.
"""

import csv
import math
import os

from keras_drnas.search_space.genotype import Genotype, GenotypeError
from keras_drnas.search_space.nas_bench_201 import NAS_BENCH_201
from keras_drnas.utils.errors import InputError

ARCH_COLUMN = "arch"
# NATS-Bench dataset names of the scores a NATS lookup reports.
NATS_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}


class NASBench201Table:
    """Looks up the benchmark scores of NAS-Bench-201 genotypes.

    Build it with `from_csv` or `from_nats_bench`; `accuracies(genotype)`
    returns `{score name: value}`.

    Args:
        query: benchmark string -> `{score name: float}`, or None for an
            architecture the table does not hold.
        columns: the score names, in file order.
        source: where the table came from, for messages.

    Example:
    ```python
    table = NASBench201Table.from_csv("nb201.csv")
    table.accuracies(search.genotype())  # {"cifar10": 93.1, "cifar100": 70.2, ...}
    ```
    """

    def __init__(self, query, columns, source="a table"):
        self.query = query
        self.columns = tuple(columns)
        self.source = source

    @classmethod
    def from_csv(cls, path):
        """Reads a CSV file in the format of this module's docstring."""
        path = os.fspath(path)
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"NAS-Bench-201 table {path} does not exist; pass a CSV file with columns "
                "arch,cifar10,cifar100,imagenet16-120."
            ) from None
        except UnicodeDecodeError:
            raise InputError(f"NAS-Bench-201 table {path} is not a text (CSV) file.") from None
        if not rows:
            raise InputError(f"NAS-Bench-201 table {path} is empty; it needs a header row arch,cifar10,... .")
        header = [name.strip() for name in rows[0]]
        if ARCH_COLUMN not in header or len(header) < 2:
            raise InputError(
                f"NAS-Bench-201 table {path}: the header must name an '{ARCH_COLUMN}' column and at least "
                f"one score column (e.g. arch,cifar10,cifar100,imagenet16-120); got {','.join(header)}."
            )
        arch_at = header.index(ARCH_COLUMN)
        columns = [name for name in header if name != ARCH_COLUMN]
        scores = {}
        for line, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"{path}, line {line}: {len(row)} cells, but the header has {len(header)}.")
            try:
                arch = Genotype.from_string(row[arch_at], NAS_BENCH_201).to_string()
            except GenotypeError as error:
                raise InputError(f"{path}, line {line}: {error}") from None
            if arch in scores:
                raise InputError(f"{path}, line {line}: {arch} is listed twice.")
            scores[arch] = {}
            for name, cell in zip(header, row):
                if name == ARCH_COLUMN or not cell.strip():
                    continue
                try:
                    scores[arch][name] = float(cell)
                except ValueError:
                    raise InputError(f"{path}, line {line}: column {name} holds {cell!r}, not a number.") from None
        if not scores:
            raise InputError(f"NAS-Bench-201 table {path} has a header but no architectures.")
        return cls(scores.get, columns, source=path)

    @classmethod
    def from_nats_bench(cls, path, epochs="200"):
        """The NATS-Bench topology benchmark (`pip install nats_bench` and its
        benchmark files at `path`): test accuracies after `epochs` ("12" or
        "200") of cifar10, cifar100 and imagenet16-120."""
        try:
            from nats_bench import create
        except ImportError:
            raise ImportError(
                "from_nats_bench needs the optional nats_bench package (pip install nats_bench) and its "
                "topology files; or export the accuracies to a CSV and use from_csv."
            ) from None
        if not os.path.exists(path):
            raise FileNotFoundError(f"NATS-Bench files {path} do not exist; pass the NATS-tss-v1_0-* path.")
        api = create(os.fspath(path), "tss", fast_mode=True, verbose=False)

        def query(arch):
            index = api.query_index_by_arch(arch)
            if index < 0:
                return None
            return {
                name: float(api.get_more_info(index, dataset, hp=epochs, is_random=False)["test-accuracy"])
                for name, dataset in NATS_DATASETS.items()
            }

        return cls(query, NATS_DATASETS, source=os.fspath(path))

    def _arch(self, genotype):
        if isinstance(genotype, str):
            genotype = Genotype.from_string(genotype, NAS_BENCH_201)
        if not isinstance(genotype, Genotype):
            raise GenotypeError(f"Expected a Genotype or a benchmark string, got {type(genotype).__name__}.")
        if genotype.space != NAS_BENCH_201.name:
            raise GenotypeError(
                f"NAS-Bench-201 tables score NAS-Bench-201 cells, but the genotype is of the {genotype.space} "
                "space; search with the nas-bench-201 space to look it up."
            )
        return genotype.to_string()

    def __contains__(self, genotype):
        return self.query(self._arch(genotype)) is not None

    def accuracies(self, genotype):
        """`{score name: value}` of a genotype (or benchmark string); the
        scores the table leaves empty are left out."""
        arch = self._arch(genotype)
        found = self.query(arch)
        if found is None:
            raise KeyError(f"{arch} is not in the NAS-Bench-201 table {self.source}.")
        return {name: value for name, value in found.items() if not math.isnan(value)}
