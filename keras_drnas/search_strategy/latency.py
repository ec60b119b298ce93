"""Latency in the search objective: a table of every block choice's
latency, and the expected latency under the learnt Dirichlets.

The expected latency of a chain of blocks is the sum over blocks of the
Dirichlet means times the table, E[T] = sum_b sum_o beta_bo / sum(beta_b) *
T_bo, plus the fixed parts (stem, first block, head): differentiable with
respect to eta, as in ProxylessNAS' and FBNet's latency losses (which use the
softmax of the architecture weights instead of a Dirichlet mean).

A table is a CSV file a user can measure on their own phone:

    # keras-drnas latency table
    # space: mobilenet
    block,op,latency_ms
    fixed,,1.85
    0,mb_k3_e3,0.21
    0,mb_k3_e6,0.37
    ...

one row per block and choice that can run there (a `skip_connect` costs 0
and may be left out), and one `fixed` row for the rest of the network.
`keras-drnas latency-table` measures one with LiteRT on this machine.
"""

import csv
import dataclasses
import io
import os

import keras
import numpy as np

from keras_drnas.search_space.space import get_space
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_write_text

HEADER = ("block", "op", "latency_ms")
FREE_OPS = ("skip_connect",)  # ops that add no layer, so no latency


class LatencyTableError(InputError):
    """A latency table that does not fit the search space, or a broken file."""


@dataclasses.dataclass
class LatencyTable:
    """Milliseconds per block and choice of a chain space, and the fixed rest.

    Args:
        space: the search space (a mobilenet space, or its name).
        block_ms: blocks x ops array of milliseconds; NaN where a choice cannot
            run (the space's `op_mask`).
        fixed_ms: the stem, first block and head together.
    """

    space: object
    block_ms: np.ndarray
    fixed_ms: float

    def __post_init__(self):
        self.space = get_space(self.space)
        self.block_ms = np.asarray(self.block_ms, np.float64)
        expected = (self.space.num_edges, self.space.num_ops)
        if self.block_ms.shape != expected:
            raise LatencyTableError(f"block_ms must be blocks x ops = {expected}, got {self.block_ms.shape}.")
        runnable = np.asarray(self.space.op_mask(), bool)
        if np.any(np.isnan(self.block_ms) & runnable) or np.any(self.block_ms[runnable] < 0) or not self.fixed_ms >= 0:
            raise LatencyTableError("Latencies must be non-negative numbers for every choice that can run.")
        self.block_ms = np.where(runnable, self.block_ms, np.nan)
        self.fixed_ms = float(self.fixed_ms)

    def costs(self):
        """Blocks x ops milliseconds with 0 where a choice cannot run (its weight is 0 then)."""
        return np.nan_to_num(self.block_ms, nan=0.0).astype("float32")

    def uniform_ms(self):
        """The expected latency with every choice that can run equally likely: a
        search's start (eta = 0), which a latency target must lie below to act."""
        runnable = ~np.isnan(self.block_ms)
        return self.fixed_ms + float(np.sum(self.costs() * runnable / runnable.sum(axis=1, keepdims=True)))

    def predict_ms(self, genotype):
        """The predicted latency of a derived network: its choices' rows plus the fixed parts."""
        self.space.check_blocks(genotype)
        column = {op: k for k, op in enumerate(self.space.op_names)}
        return self.fixed_ms + float(sum(self.costs()[b, column[op]] for b, (op, _) in enumerate(genotype.normal)))

    def save(self, path):
        text = io.StringIO()
        text.write(f"# keras-drnas latency table\n# space: {self.space.name}\n")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerow(["fixed", "", f"{self.fixed_ms:.6g}"])
        for b, row in enumerate(self.block_ms):
            for op, ms in zip(self.space.op_names, row):
                if not np.isnan(ms):
                    writer.writerow([b, op, f"{ms:.6g}"])
        atomic_write_text(path, text.getvalue())
        return path

    @classmethod
    def load(cls, path, space):
        """Reads a table for `space` (the space searched, with its stages),
        or raises `LatencyTableError` naming the file and what is wrong."""
        space = get_space(space)
        where = os.fspath(path)
        try:
            with open(path, newline="") as f:
                text = f.read(1 << 22)
        except (OSError, UnicodeDecodeError) as error:
            raise LatencyTableError(f"Cannot read the latency table {where}: {error}.") from None
        lines = text.splitlines()
        named = [line.split(":", 1)[1].strip() for line in lines if line.startswith("# space:")]
        if named and _space_name(named[0]) != space.name:
            raise LatencyTableError(f"{where} is a latency table of the {named[0]} space, not of {space.name}.")
        rows = [(number, next(csv.reader([line]))) for number, line in enumerate(lines, 1)
                if line.strip() and not line.startswith("#")]
        if not rows or tuple(cell.strip() for cell in rows[0][1]) != HEADER:
            raise LatencyTableError(f"{where}: the first row must be the header {','.join(HEADER)}.")
        block_ms = np.full((space.num_edges, space.num_ops), np.nan)
        fixed = None
        column = {op: k for k, op in enumerate(space.op_names)}
        for number, row in rows[1:]:
            block, op, ms = _cells(row, where, number)
            if block == "fixed":
                fixed = ms
                continue
            if not block.isdigit() or int(block) >= space.num_edges:
                raise LatencyTableError(
                    f"{where}, line {number}: block {block!r} is not a block of this space (0..{space.num_edges - 1})."
                )
            if op not in column:
                raise LatencyTableError(f"{where}, line {number}: {op!r} is not a choice of this space "
                                        f"({', '.join(space.op_names)}).")
            block_ms[int(block), column[op]] = ms
        if fixed is None:
            raise LatencyTableError(f"{where} has no 'fixed' row (the stem, first block and head).")
        runnable = np.asarray(space.op_mask(), bool)
        free = np.isin(np.asarray(space.op_names), FREE_OPS)[None, :] & runnable
        block_ms = np.where(free & np.isnan(block_ms), 0.0, block_ms)
        missing = [(b, space.op_names[o]) for b, o in zip(*np.nonzero(runnable & np.isnan(block_ms)))]
        if missing:
            listed = ", ".join(f"block {b} {op}" for b, op in missing[:5])
            raise LatencyTableError(
                f"{where} lacks {len(missing)} choices of this space ({listed}{', ...' if len(missing) > 5 else ''}); "
                "measure them or search without those ops (space.with_ops)."
            )
        return cls(space, block_ms, fixed)


def _space_name(name):
    try:
        return get_space(name).name
    except InputError:
        return name


def _cells(row, where, number):
    if len(row) != 3:
        raise LatencyTableError(f"{where}, line {number}: expected block,op,latency_ms, got {','.join(row)[:80]!r}.")
    block, op, text = (cell.strip() for cell in row)
    try:
        ms = float(text)
    except ValueError:
        ms = float("nan")
    if not np.isfinite(ms) or ms < 0:
        raise LatencyTableError(f"{where}, line {number}: latency {text[:20]!r} is not a non-negative number of ms.")
    return block, op, ms


class LatencyObjective:
    """The expected latency as part of the architecture objective.

    Adds `weight * E[T]` to the architecture loss, or, with `target_ms`,
    `weight * max(E[T] - target_ms, 0)`: a penalty only above the target,
    so the search trades accuracy for speed until the expected network fits.

    Args:
        table: a `LatencyTable` of the searched space.
        target_ms: the latency to stay under (None: always weigh the latency).
        weight: loss units per millisecond (1.0).

    Example:
    >>> import numpy as np
    >>> from keras_drnas.search_space import get_space
    >>> space = get_space("mobilenet").with_stages(((16, 1, 1),))
    >>> table = LatencyTable(space, np.ones((1, 7)), fixed_ms=2.0)
    >>> objective = LatencyObjective(table, target_ms=2.5)
    >>> weights = np.array([[0.5, 0.5, 0, 0, 0, 0, 0]], "float32")  # E[theta], one block
    >>> round(float(objective.expected_ms({"normal": weights})), 4), round(float(objective.loss({"normal": weights})), 4)
    (3.0, 0.5)
    """

    def __init__(self, table, target_ms=None, weight=1.0):
        if not isinstance(table, LatencyTable):
            raise InputError(f"table must be a LatencyTable (LatencyTable.load(path, space)), got {type(table).__name__}.")
        if target_ms is not None and not (np.isfinite(target_ms) and target_ms > 0):
            raise InputError(f"latency target_ms must be a positive number of milliseconds, got {target_ms!r}.")
        if not (np.isfinite(weight) and weight > 0):
            raise InputError(f"latency weight must be positive, got {weight!r}.")
        self.table = table
        self.target_ms = None if target_ms is None else float(target_ms)
        self.weight = float(weight)

    def check_space(self, space):
        if space != self.table.space:
            raise InputError(
                f"The latency table is for {self.table.space!r} but the search is over {space!r}; measure a "
                "table for the searched space (keras-drnas latency-table)."
            )

    def expected_ms(self, op_weights):
        """E[T] for {cell type: blocks x ops expected weights} (a tensor: differentiable)."""
        return self.table.fixed_ms + keras.ops.sum(op_weights["normal"] * self.table.costs())

    def loss(self, op_weights):
        expected = self.expected_ms(op_weights)
        if self.target_ms is not None:
            expected = keras.ops.relu(expected - self.target_ms)
        return self.weight * expected
