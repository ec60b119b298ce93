"""Reading a search run directory: the files `keras-drnas search` writes."""

import dataclasses
import json
import os

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.spaces import DARTS, NAS_BENCH_201, get_space
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
    concentration report (`{cell type: {"op_names", "concentration", ...}}`)."""
    first = next(iter(report.values()))
    num_edges = len(first["concentration"])
    if genotype is not None:
        space = get_space(genotype.space)
        if space is DARTS and genotype.intermediate_nodes != space.intermediate_nodes:
            space = space.with_intermediate_nodes(genotype.intermediate_nodes)
    elif num_edges == NAS_BENCH_201.num_edges and "reduce" not in report:
        space = NAS_BENCH_201
    else:
        space = _darts_with_edges(num_edges)
    if first.get("op_names") and tuple(first["op_names"]) != space.op_names:
        space = space.with_ops(first["op_names"])
    if space.num_edges != num_edges or space.num_ops != len(first["concentration"][0]):
        raise InputError(
            f"The concentrations are {num_edges} edges x {len(first['concentration'][0])} ops, which is not "
            f"the {space.name} space of the genotype ({space.num_edges} x {space.num_ops})."
        )
    return space


def _darts_with_edges(num_edges):
    nodes, edges = 0, 0
    while edges < num_edges:  # node k of a DARTS cell has k + 2 inputs
        edges += nodes + 2
        nodes += 1
    if edges != num_edges:
        raise InputError(f"Cannot tell the search space of a cell with {num_edges} edges.")
    return DARTS.with_intermediate_nodes(nodes) if nodes != DARTS.intermediate_nodes else DARTS


def edge_labels(space):
    """`"1<-0"` per row of the architecture matrix."""
    return [f"{dst}<-{src}" for dst, src in space.edges]


def cell_pairs(space, genotype, cell_type):
    """`(row, destination node, source node, op)` of each edge a genotype keeps."""
    kept = space.edges_kept_per_node
    found = []
    for k, (op, src) in enumerate(getattr(genotype, cell_type)):
        dst = space.edges[k][0] if kept is None else space.num_input_nodes + k // kept
        found.append((space.edges.index((dst, src)), dst, src, op))
    return found
