"""Reading a search run directory: the files `keras-drnas search` writes."""

import dataclasses
import json
import os

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.space import get_space, space_names
from keras_drnas.utils.errors import InputError

GENOTYPE = "genotype.json"
CONCENTRATIONS = "concentrations.json"
HISTORY = "history.json"
GENOTYPES = "genotypes.jsonl"
EXPLORATION = "exploration.json"
RUN_FILES = (GENOTYPE, CONCENTRATIONS, HISTORY, GENOTYPES, EXPLORATION)


@dataclasses.dataclass
class SearchRun:
    """What a run directory holds; missing files are None (or empty).

    Attributes:
        directory: the run directory.
        genotype: the derived `Genotype` (genotype.json).
        concentrations: `{cell type: {"op_names", "concentration", "op_mask"}}`
            at the end of the search (concentrations.json).
        history: `{metric: [value per epoch]}` (history.json's "history").
        records: one dict per epoch from genotypes.jsonl (`epoch`,
            `genotype`, `concentrations`, `entropy`).
        exploration: `{epoch: {"sampled": [accuracy, ...], "derived":
            accuracy}}` with int epochs (exploration.json).
    """

    directory: str
    genotype: Genotype = None
    concentrations: dict = None
    history: dict = None
    records: list = dataclasses.field(default_factory=list)
    exploration: dict = None


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error}); was it written by keras-drnas search?") from None


def _read_records(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines = lines[:-1]  # a line still being written by a running search
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputError(f"{path}, line {number}, is not valid JSON ({error}).") from None
    return records


def load_run(run_dir):
    """Reads whatever run files `run_dir` holds into a `SearchRun`."""
    if not os.path.isdir(run_dir):
        raise InputError(f"{run_dir} is not a directory; pass the --output-dir of a keras-drnas search.")
    present = {name for name in RUN_FILES if os.path.isfile(os.path.join(run_dir, name))}
    if not present:
        raise InputError(
            f"{run_dir} holds no search results (none of {', '.join(RUN_FILES)}); pass the --output-dir "
            "of a keras-drnas search."
        )
    path = lambda name: os.path.join(run_dir, name)
    run = SearchRun(run_dir)
    if GENOTYPE in present:
        run.genotype = Genotype.load(path(GENOTYPE))
    if CONCENTRATIONS in present:
        run.concentrations = _read_json(path(CONCENTRATIONS))
    if HISTORY in present:
        run.history = _read_json(path(HISTORY)).get("history") or None
    if GENOTYPES in present:
        run.records = _read_records(path(GENOTYPES))
    if EXPLORATION in present:
        run.exploration = {int(epoch): record for epoch, record in _read_json(path(EXPLORATION)).items()}
    return run


def space_of(report, genotype=None):
    """The search space whose edges and ops are the rows and columns of a
    concentration report (`{cell type: {"op_names", "concentration", ...}}`):
    the genotype's, or the registered space of those cell types and edges."""
    first = next(iter(report.values()))
    num_edges, num_ops = len(first["concentration"]), len(first["concentration"][0])
    if genotype is not None:
        candidates = [genotype.search_space]
    else:
        spaces = [get_space(name) for name in space_names()]
        candidates = [_with_edges(s, num_edges) for s in spaces if set(report) <= set(s.cell_types)]
        candidates = [s for s in candidates if s is not None] or [None]
        if len(candidates) > 1:  # prefer the space of exactly these cell types
            candidates = [s for s in candidates if set(s.cell_types) == set(report)] or candidates
        if len(candidates) > 1:
            raise InputError(f"Cells of {num_edges} edges fit the spaces {[s.name for s in candidates]}; "
                             "pass the run's genotype to tell them apart.")
    space = candidates[0]
    if space is None:
        raise InputError(f"Cannot tell the search space of a cell with {num_edges} edges.")
    if first.get("op_names") and tuple(first["op_names"]) != space.op_names:
        space = space.with_ops(first["op_names"])
    if space.num_edges != num_edges or space.num_ops != num_ops:
        raise InputError(
            f"The concentrations are {num_edges} edges x {num_ops} ops, which is not "
            f"the {space.name} space of the genotype ({space.num_edges} x {space.num_ops})."
        )
    return space


def _with_edges(space, num_edges):
    """`space` with as many intermediate nodes as give `num_edges` edges, or None."""
    if space.num_edges == num_edges or not space.configurable_nodes:
        return space if space.num_edges == num_edges else None
    nodes = 1
    while space.with_intermediate_nodes(nodes).num_edges < num_edges:
        nodes += 1
    candidate = space.with_intermediate_nodes(nodes)
    return candidate if candidate.num_edges == num_edges else None


def edge_labels(space):
    """`"1<-0"` per row of the architecture matrix."""
    return [f"{dst}<-{src}" for dst, src in space.edges]


def cell_pairs(space, genotype, cell_type):
    """`(row, destination node, source node, op)` of each edge a genotype keeps."""
    return space.kept_edges(getattr(genotype, cell_type))
