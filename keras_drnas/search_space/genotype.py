"""Genotypes: the discrete architecture derived from a search.

A genotype lists, for every cell type of its space (`normal`, and
`reduce` where the space has reduction cells), the chosen `(op, input
node)` pairs, plus the nodes concatenated into the output of cells that
concatenate. What a valid cell is, and the genotype's one-line string, are
the space's (`SearchSpace.check_cell`, `SearchSpace.to_string`).

Genotypes are saved as JSON (never pickle or eval) and validated on load:
a document from outside either loads into a genotype that saves back to the
same JSON, or raises `GenotypeError` (naming the file, when loading one).
"""

import dataclasses
import json
import os
import reprlib

import numpy as np

from keras_drnas.search_space.space import GenotypeError, SearchSpace, get_space, space_names
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_write_text

FORMAT = "keras-drnas-genotype"
VERSION = 1
# Every key a genotype document may hold, besides its space's `string_key`;
# any other key (a typo such as "reduce_concta") is an error rather than
# silently ignored.
KEYS = ("format", "version", "space", "normal", "reduce", "normal_concat", "reduce_concat")
# Node indices are small: longer numbers in a file are mistakes, and Python
# refuses to parse integers of more than 4300 digits anyway.
MAX_DIGITS = 9
# A genotype file is a few KB; reading stops here (e.g. at /dev/zero).
MAX_FILE_CHARS = 1 << 20
_short = reprlib.Repr()  # error messages quote bounded excerpts of the input
_short.maxstring = _short.maxother = 80
CELL_FIELDS = ("reduce", "normal_concat", "reduce_concat")


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
        space: the name of a registered search space (or the space).
        normal: `(op, input_node)` pairs of the (normal) cell, as the
            space's `check_cell` describes them.
        reduce: the pairs of the reduction cell, in spaces that have one.
        normal_concat: the nodes concatenated into the normal cell's output,
            in spaces whose cells concatenate (default: every intermediate node).
        reduce_concat: the same for the reduction cell.

    Example:
    >>> g = Genotype.from_string(
    ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|"
    ...     "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "nas-bench-201")
    >>> g.to_string() == str(g).splitlines()[-1]
    True
    """

    space: str
    normal: tuple
    reduce: tuple = None
    normal_concat: tuple = None
    reduce_concat: tuple = None

    def __post_init__(self):
        if not isinstance(self.space, (str, SearchSpace)):
            raise GenotypeError(f"space must be the name of a search space, got {_short.repr(self.space)}.")
        try:
            space = get_space(self.space)
        except InputError as error:
            raise GenotypeError(str(error)) from None
        set_ = lambda name, value: object.__setattr__(self, name, value)
        set_("space", space.name)
        unused = [name for name in CELL_FIELDS if getattr(self, name) is not None
                  and (name.split("_")[0] not in space.cell_types or (name.endswith("_concat") and not space.concatenates))]
        if unused:
            raise GenotypeError(f"A {space.name} genotype has no {', '.join(unused)}; drop {', '.join(unused)}.")
        for cell_type in space.cell_types:
            pairs = getattr(self, cell_type)
            if pairs is None and cell_type != "normal":
                raise GenotypeError(f"A {space.name} genotype needs a {cell_type!r} cell as well as 'normal'.")
            pairs = _as_pairs(pairs, cell_type)
            nodes = space.check_cell(pairs, cell_type)
            if cell_type != "normal" and nodes != self.intermediate_nodes:
                raise GenotypeError(
                    f"normal and {cell_type} cells must have the same number of edges, got "
                    f"{len(self.normal)} and {len(pairs)}."
                )
            set_(cell_type, pairs)
            if cell_type == "normal":
                set_("_cell_nodes", nodes)
            if space.concatenates:
                concat = getattr(self, f"{cell_type}_concat")
                concat = None if concat is None else _as_nodes(concat, f"{cell_type}_concat")
                set_(f"{cell_type}_concat", space.check_concat(concat, nodes, cell_type))

    @property
    def intermediate_nodes(self):
        """Intermediate nodes per cell."""
        return self._cell_nodes

    @property
    def search_space(self):
        """The genotype's `SearchSpace` (with its default ops)."""
        return get_space(self.space).with_intermediate_nodes(self.intermediate_nodes)

    def to_string(self):
        """One line: the space's string form (NAS-Bench-201: the benchmark's)."""
        return get_space(self.space).to_string(self)

    @classmethod
    def from_string(cls, text, space):
        """The genotype of `to_string` text in `space`."""
        if not isinstance(text, str):
            raise GenotypeError(f"A genotype string must be a str, got {type(text).__name__}.")
        space = get_space(space)
        return cls(space.name, **space.parse(text))

    # JSON -----------------------------------------------------------------

    def to_dict(self):
        data = {"format": FORMAT, "version": VERSION, "space": self.space}
        space = get_space(self.space)
        for cell_type in space.cell_types:
            data[cell_type] = [list(p) for p in getattr(self, cell_type)]
            if space.concatenates:
                data[f"{cell_type}_concat"] = list(getattr(self, f"{cell_type}_concat"))
        if space.string_key:
            data[space.string_key] = self.to_string()
        return data

    @classmethod
    def from_dict(cls, data):
        """A genotype from `to_dict` output; `format`, `version`, the concat
        lists and the space's string are optional, unknown keys are errors."""
        if not isinstance(data, dict):
            raise GenotypeError(f"A genotype must be a JSON object, got {type(data).__name__}.")
        string_keys = {space.string_key for space in map(get_space, space_names()) if space.string_key}
        unknown = [key for key in data if key not in KEYS and key not in string_keys]
        if unknown:
            raise GenotypeError(
                f"Unknown genotype keys {_short.repr(unknown)}; a genotype has only "
                f"{', '.join(KEYS + tuple(sorted(string_keys)))}."
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
        space = get_space(genotype.space)
        for key in string_keys & set(data):
            if key != space.string_key:
                owners = [s.display_name or s.name for s in map(get_space, space_names()) if s.string_key == key]
                raise GenotypeError(f"Only {' and '.join(owners)} genotypes have an {key!r}; drop it.")
            if cls.from_string(data[key], space) != genotype:
                raise GenotypeError(f"{key!r} disagrees with the cells; fix or drop one of them.")
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

    def __str__(self):
        return get_space(self.space).describe(self)
