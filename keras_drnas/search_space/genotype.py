"""Genotypes: the discrete architecture derived from a search.

A genotype lists, for every node of a cell, the chosen `(op, input node)`
pairs. NAS-Bench-201 genotypes have one pair per edge (six, `none` allowed);
DARTS genotypes keep two pairs per intermediate node for a normal and a
reduction cell, plus the nodes concatenated into the cell output.

Genotypes are saved as JSON (never pickle or eval) and validated on load:
a document from outside either loads into a genotype that saves back to the
same JSON, or raises `GenotypeError` (naming the file, when loading one).
"""

import dataclasses
import json
import os
import re
import reprlib

import numpy as np

from keras_drnas.search_space.ops import OP_NAMES
from keras_drnas.search_space.spaces import NAS_BENCH_201, SearchSpace, get_space
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_write_text

FORMAT = "keras-drnas-genotype"
VERSION = 1
# Every key a genotype document may hold; any other key (a typo such as
# "reduce_concta") is an error rather than silently ignored.
KEYS = ("format", "version", "space", "normal", "reduce", "normal_concat", "reduce_concat", "nb201_string")
# Node indices are small: longer numbers in a file are mistakes, and Python
# refuses to parse integers of more than 4300 digits anyway.
MAX_DIGITS = 9
# A genotype file is a few KB; reading stops here (e.g. at /dev/zero).
MAX_FILE_CHARS = 1 << 20
# ASCII digits only (str.isdigit also accepts '²' and '٣'), written as the
# benchmark writes them (no leading zeros), so a parsed string prints back equal.
_NB201_ITEM = re.compile(rf"([a-z0-9_]+)~(0|[1-9][0-9]{{0,{MAX_DIGITS - 1}}})", re.ASCII)
_short = reprlib.Repr()  # error messages quote bounded excerpts of the input
_short.maxstring = _short.maxother = 80


class GenotypeError(InputError):
    """A genotype (or a genotype file) that does not describe a valid cell."""


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _as_pairs(pairs, cell):
    if not isinstance(pairs, (list, tuple)):
        raise GenotypeError(f"{cell} must be a list of [op, input_node] pairs, got {_short.repr(pairs)}.")
    result = []
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str) and _is_int(pair[1])):
            raise GenotypeError(
                f"{cell}: each entry must be [op_name, input_node] with a string and an integer, "
                f"got {_short.repr(pair)}."
            )
        result.append((str(pair[0]), int(pair[1])))
    return tuple(result)


def _as_nodes(nodes, name):
    if not isinstance(nodes, (list, tuple)) or not all(_is_int(n) for n in nodes):
        raise GenotypeError(f"{name} must be a list of integer node indices, got {_short.repr(nodes)}.")
    return tuple(int(n) for n in nodes)


def _reject_constant(name):
    raise GenotypeError(f"Genotype is not valid JSON: {name} is not a JSON number.")


def _parse_int(text):
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise GenotypeError(f"The number {text[:12]}... ({len(text)} digits) is too large for a genotype.")
    return int(text)


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
        if not isinstance(self.space, (str, SearchSpace)):
            raise GenotypeError(f"space must be 'nas-bench-201' or 'darts', got {_short.repr(self.space)}.")
        try:
            space = get_space(self.space)
        except ValueError:
            raise GenotypeError(
                f"Unknown search space {_short.repr(self.space)}. Use 'nas-bench-201' (or 'nb201') or 'darts'."
            ) from None
        set_ = lambda name, value: object.__setattr__(self, name, value)
        set_("space", space.name)
        set_("normal", _as_pairs(self.normal, "normal"))
        if space.name == NAS_BENCH_201.name:
            extra = [name for name in ("reduce", "normal_concat", "reduce_concat") if getattr(self, name) is not None]
            if extra:
                raise GenotypeError(
                    f"A NAS-Bench-201 genotype has one cell with a fixed output node; drop {', '.join(extra)}."
                )
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
                f"{cell}: unknown op {_short.repr(op)} for the {self.space} space. "
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
                f"the edge count must be even and positive (8 for 4 nodes), got {len(pairs)}."
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
        concat = tuple(range(2, 2 + steps)) if concat is None else _as_nodes(concat, concat_name)
        if not concat or len(set(concat)) != len(concat) or any(not 0 <= n < 2 + steps for n in concat):
            raise GenotypeError(
                f"{concat_name} must name distinct nodes among 0..{steps + 1}, got {_short.repr(list(concat))}."
            )
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
        """Parses `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (ASCII digits only)."""
        if not isinstance(text, str):
            raise GenotypeError(f"A NAS-Bench-201 string must be a str, got {type(text).__name__}.")
        nodes = text.strip().split("+")
        if len(nodes) != NAS_BENCH_201.num_nodes - 1:
            raise GenotypeError(
                f"A NAS-Bench-201 string has {NAS_BENCH_201.num_nodes - 1} '+'-separated nodes, "
                f"got {len(nodes)}: {_short.repr(text)}."
            )
        pairs = []
        for node, node_text in enumerate(nodes, 1):
            if not (len(node_text) > 1 and node_text.startswith("|") and node_text.endswith("|")):
                raise GenotypeError(f"Not a NAS-Bench-201 string (node {_short.repr(node_text)}): {_short.repr(text)}.")
            items = node_text[1:-1].split("|")
            if len(items) != node:
                raise GenotypeError(
                    f"Node {node} of a NAS-Bench-201 string takes {node} inputs, got {_short.repr(node_text)}."
                )
            for item in items:
                match = _NB201_ITEM.fullmatch(item)
                if not match:
                    raise GenotypeError(
                        f"Expected 'op~input' (an op name and an input node number) in a NAS-Bench-201 string, "
                        f"got {_short.repr(item)}."
                    )
                pairs.append((match[1], int(match[2])))
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
        """A genotype from `to_dict` output; `format`, `version`, the concat
        lists and `nb201_string` are optional, unknown keys are errors."""
        if not isinstance(data, dict):
            raise GenotypeError(f"A genotype must be a JSON object, got {type(data).__name__}.")
        unknown = [key for key in data if key not in KEYS]
        if unknown:
            raise GenotypeError(
                f"Unknown genotype keys {_short.repr(unknown)}; a genotype has only {', '.join(KEYS)}."
            )
        if data.get("format", FORMAT) != FORMAT:
            raise GenotypeError(f"Not a keras-drnas genotype (format {_short.repr(data.get('format'))}).")
        version = data.get("version", VERSION)
        if not _is_int(version) or version < 1:
            raise GenotypeError(f"Genotype 'version' must be a positive integer, got {_short.repr(version)}.")
        if version > VERSION:
            raise GenotypeError(
                f"Genotype version {version} was written by a newer keras-drnas (this one reads "
                f"version {VERSION}); upgrade keras-drnas."
            )
        missing = [k for k in ("space", "normal") if k not in data]
        if missing:
            raise GenotypeError(f"Genotype is missing {missing}; it needs 'space' and 'normal'.")
        if not isinstance(data["space"], str):
            raise GenotypeError(f"Genotype 'space' must be a string, got {_short.repr(data['space'])}.")
        genotype = cls(
            data["space"],
            data["normal"],
            data.get("reduce"),
            data.get("normal_concat"),
            data.get("reduce_concat"),
        )
        if "nb201_string" in data and genotype.space != NAS_BENCH_201.name:
            raise GenotypeError("Only NAS-Bench-201 genotypes have an 'nb201_string'; drop it.")
        if "nb201_string" in data and cls.from_nb201_string(data["nb201_string"]) != genotype:
            raise GenotypeError("'nb201_string' disagrees with 'normal'; fix or drop one of them.")
        return genotype

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text):
        """A genotype from `to_json` text (standard JSON: no NaN or Infinity)."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise GenotypeError(f"Genotype JSON must be text, got {type(text).__name__}.")
        try:
            data = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
        except GenotypeError:
            raise
        except RecursionError:
            raise GenotypeError("Genotype JSON is nested too deeply to be a genotype.") from None
        except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8
            raise GenotypeError(f"Genotype is not valid JSON: {error}.") from None
        return cls.from_dict(data)

    def save(self, path):
        """Writes the JSON atomically (a crash never leaves half a file)."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path):
        """Reads a genotype file; every error names the file."""
        if not isinstance(path, (str, os.PathLike)):
            raise GenotypeError(f"A genotype file path must be a str or path, got {type(path).__name__}.")
        try:
            with open(path, encoding="utf-8-sig") as f:  # -sig: tolerate an editor's byte-order mark
                text = f.read(MAX_FILE_CHARS + 1)
        except UnicodeDecodeError:
            raise GenotypeError(f"{path} is not a text (JSON) genotype file.") from None
        except (OSError, ValueError) as error:  # ValueError: e.g. a NUL character in the path
            reason = getattr(error, "strerror", None) or error
            raise GenotypeError(f"Cannot read genotype file {path}: {reason}.") from None
        if len(text) > MAX_FILE_CHARS:
            raise GenotypeError(f"{path} is over {MAX_FILE_CHARS} characters long: not a genotype file.")
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
