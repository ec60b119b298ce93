"""Genotypes: the discrete architecture derived from a search.

A genotype lists, for every node of a cell, the chosen `(op, input node)`
pairs. NAS-Bench-201 genotypes have one pair per edge (six, `none` allowed);
DARTS genotypes keep two pairs per intermediate node for a normal and a
reduction cell, plus the nodes concatenated into the cell output.

Genotypes are saved as JSON (never pickle or eval) and validated on load.
"""

import dataclasses
import json

import numpy as np

from keras_drnas.search_space.ops import OP_NAMES
from keras_drnas.search_space.spaces import NAS_BENCH_201, get_space
from keras_drnas.utils.files import atomic_write_text

FORMAT = "keras-drnas-genotype"
VERSION = 1


class GenotypeError(ValueError):
    """A genotype (or a genotype file) that does not describe a valid cell."""


def _as_pairs(pairs, cell):
    if not isinstance(pairs, (list, tuple)):
        raise GenotypeError(f"{cell} must be a list of [op, input_node] pairs, got {pairs!r}.")
    result = []
    for pair in pairs:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or isinstance(pair[1], bool)
            or not isinstance(pair[1], (int, np.integer))
        ):
            raise GenotypeError(f"{cell}: each entry must be [op_name, input_node], got {pair!r}.")
        result.append((pair[0], int(pair[1])))
    return tuple(result)


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A derived architecture.

    Args:
        space: `"nas-bench-201"` or `"darts"`.
        normal: `(op, input_node)` pairs of the (normal) cell. NAS-Bench-201:
            six pairs in edge order 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2.
            DARTS: two pairs per intermediate node 2, 3, ...
        reduce: DARTS only, the pairs of the reduction cell.
        normal_concat, reduce_concat: DARTS only, the nodes concatenated
            into the cell output (default: all intermediate nodes).

    Example:
    >>> g = Genotype.from_nb201_string(
    ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|"
    ...     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    >>> g.to_nb201_string() == str(g).splitlines()[-1]
    True
    """

    space: str
    normal: tuple
    reduce: tuple = None
    normal_concat: tuple = None
    reduce_concat: tuple = None

    def __post_init__(self):
        try:
            space = get_space(self.space)
        except ValueError as error:
            raise GenotypeError(str(error)) from None
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("space", space.name)
        set_("normal", _as_pairs(self.normal, "normal"))
        if space is NAS_BENCH_201:
            if self.reduce is not None or self.reduce_concat is not None:
                raise GenotypeError("A NAS-Bench-201 genotype has no reduction cell.")
            self._check_nb201()
        else:
            if self.reduce is None:
                raise GenotypeError("A DARTS genotype needs a 'reduce' cell as well as 'normal'.")
            set_("reduce", _as_pairs(self.reduce, "reduce"))
            for cell in ("normal", "reduce"):
                self._check_darts_cell(cell)

    @property
    def intermediate_nodes(self):
        """Intermediate nodes per cell."""
        return 3 if self.space == NAS_BENCH_201.name else len(self.normal) // 2

    def _check_op(self, op, cell, allowed):
        if op not in allowed:
            raise GenotypeError(
                f"{cell}: unknown op {op!r} for the {self.space} space. "
                f"Allowed: {', '.join(allowed)}."
            )

    def _check_nb201(self):
        edges = NAS_BENCH_201.edges
        if len(self.normal) != len(edges):
            raise GenotypeError(
                f"A NAS-Bench-201 genotype has {len(edges)} edges, got {len(self.normal)}."
            )
        for (op, src), (dst, expected) in zip(self.normal, edges):
            self._check_op(op, "normal", NAS_BENCH_201.op_names)
            if src != expected:
                raise GenotypeError(
                    f"NAS-Bench-201 edges must come in the order 1<-0, 2<-0, 2<-1, "
                    f"3<-0, 3<-1, 3<-2; edge into node {dst} lists input node {src}, "
                    f"expected {expected}."
                )

    def _check_darts_cell(self, cell):
        pairs = getattr(self, cell)
        if len(pairs) % 2 or not pairs:
            raise GenotypeError(
                f"{cell}: a DARTS cell keeps exactly 2 input edges per node, so "
                f"the edge count must be even (8 for 4 nodes), got {len(pairs)}."
            )
        steps = len(pairs) // 2
        if cell == "reduce" and steps != self.intermediate_nodes:
            raise GenotypeError(
                f"normal and reduce cells must have the same number of edges, got "
                f"{len(self.normal)} and {len(pairs)}."
            )
        allowed = tuple(o for o in OP_NAMES if o != "none")
        for k, (op, src) in enumerate(pairs):
            node = 2 + k // 2
            self._check_op(op, cell, allowed)
            if not 0 <= src < node:
                raise GenotypeError(
                    f"{cell}: node {node} takes input node {src}, but a node can "
                    f"only read nodes 0..{node - 1} (0 and 1 are the cell inputs)."
                )
        concat_name = f"{cell}_concat"
        concat = getattr(self, concat_name)
        concat = tuple(range(2, 2 + steps)) if concat is None else tuple(int(n) for n in concat)
        if not concat or any(not 0 <= n < 2 + steps for n in concat):
            raise GenotypeError(f"{concat_name} must name nodes 0..{steps + 1}, got {list(concat)}.")
        object.__setattr__(self, concat_name, concat)

    # NAS-Bench-201 strings -------------------------------------------------

    def to_nb201_string(self):
        """The benchmark's `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` form."""
        if self.space != NAS_BENCH_201.name:
            raise GenotypeError("Only NAS-Bench-201 genotypes have a benchmark string.")
        nodes, k = [], 0
        for node in range(1, NAS_BENCH_201.num_nodes):
            nodes.append("|" + "|".join(f"{op}~{src}" for op, src in self.normal[k : k + node]) + "|")
            k += node
        return "+".join(nodes)

    @classmethod
    def from_nb201_string(cls, text):
        """Parses `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`."""
        pairs = []
        for node_text in str(text).strip().split("+"):
            if not (node_text.startswith("|") and node_text.endswith("|")):
                raise GenotypeError(f"Not a NAS-Bench-201 string (node {node_text!r}): {text!r}.")
            for item in node_text.strip("|").split("|"):
                op, sep, src = item.partition("~")
                if not sep or not src.isdigit():
                    raise GenotypeError(f"Expected 'op~input' in a NAS-Bench-201 string, got {item!r}.")
                pairs.append((op, int(src)))
        return cls(NAS_BENCH_201.name, pairs)

    # JSON -----------------------------------------------------------------

    def to_dict(self):
        data = {"format": FORMAT, "version": VERSION, "space": self.space}
        data["normal"] = [list(p) for p in self.normal]
        if self.space == NAS_BENCH_201.name:
            data["nb201_string"] = self.to_nb201_string()
        else:
            data["normal_concat"] = list(self.normal_concat)
            data["reduce"] = [list(p) for p in self.reduce]
            data["reduce_concat"] = list(self.reduce_concat)
        return data

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise GenotypeError(f"A genotype must be a JSON object, got {type(data).__name__}.")
        if data.get("format", FORMAT) != FORMAT:
            raise GenotypeError(f"Not a keras-drnas genotype (format {data.get('format')!r}).")
        missing = [k for k in ("space", "normal") if k not in data]
        if missing:
            raise GenotypeError(f"Genotype is missing {missing}; it needs 'space' and 'normal'.")
        genotype = cls(
            data["space"],
            data["normal"],
            data.get("reduce"),
            data.get("normal_concat"),
            data.get("reduce_concat"),
        )
        if "nb201_string" in data and data["nb201_string"] != genotype.to_nb201_string():
            raise GenotypeError("'nb201_string' disagrees with 'normal'; fix or drop one of them.")
        return genotype

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise GenotypeError(f"Genotype is not valid JSON: {error}.") from None
        return cls.from_dict(data)

    def save(self, path):
        """Writes the JSON atomically (a crash never leaves half a file)."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as error:
            raise GenotypeError(f"Cannot read genotype file {path}: {error.strerror}.") from None
        except UnicodeDecodeError:
            raise GenotypeError(f"{path} is not a text (JSON) genotype file.") from None
        try:
            return cls.from_json(text)
        except GenotypeError as error:
            raise GenotypeError(f"{path}: {error}") from None

    def compact(self):
        """One line: the NAS-Bench-201 string, or both DARTS cells as op~input."""
        if self.space == NAS_BENCH_201.name:
            return self.to_nb201_string()
        return "  ".join(
            f"{cell}: " + " ".join(f"{op}~{src}" for op, src in getattr(self, cell)) for cell in ("normal", "reduce")
        )

    def __str__(self):
        if self.space == NAS_BENCH_201.name:
            lines = ["NAS-Bench-201 cell:"]
            lines += [f"  node {dst} <- {op}(node {src})" for (op, src), (dst, _) in zip(self.normal, NAS_BENCH_201.edges)]
            lines.append(self.to_nb201_string())
            return "\n".join(lines)
        lines = []
        for cell in ("normal", "reduce"):
            lines.append(f"DARTS {cell} cell (output: concat of nodes {list(getattr(self, cell + '_concat'))}):")
            pairs = getattr(self, cell)
            for k in range(0, len(pairs), 2):
                inputs = " + ".join(f"{op}({_node_name(src)})" for op, src in pairs[k : k + 2])
                lines.append(f"  node {2 + k // 2} = {inputs}")
        return "\n".join(lines)


def _node_name(node):
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(node, f"node {node}")
