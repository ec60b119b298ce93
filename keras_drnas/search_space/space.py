"""A search space is one class, registered by name.

A space owns everything that differs between spaces: the cell's wiring and
candidate ops, how a cell is derived from op weights (paper 2.3) and how a
derived cell is checked, the genotype's one-line string, the evaluation
network built from a genotype, the reference code's learning rates and
progressive stages, and how the plots lay out its cell. Mixed ops, cells,
the search, the tuner and the plots ask the space; none of them names one.

Adding a space is one module: subclass `SearchSpace`, override what differs
from the defaults below, and decorate the class with `register_space`.
"""

import reprlib

import numpy as np

from keras_drnas.search_space.ops import check_op_name
from keras_drnas.utils.errors import InputError

_short = reprlib.Repr()  # error messages quote bounded excerpts of the input
_short.maxstring = _short.maxother = 80
_SPACES = {}  # name or alias -> the space with its default ops and nodes


class GenotypeError(InputError):
    """A genotype (or a genotype file) that does not describe a valid cell."""


def register_space(cls):
    """Class decorator: makes a `SearchSpace` subclass known by its `name`
    and `aliases` (to `get_space`, genotype files and the command line)."""
    if not (isinstance(cls, type) and issubclass(cls, SearchSpace) and cls.name):
        raise InputError(f"register_space takes a SearchSpace subclass with a name, got {cls!r}.")
    space = cls()
    for key in (cls.name, *cls.aliases):
        known = _SPACES.get(key.lower())
        if known is not None and type(known).__qualname__ != cls.__qualname__:
            raise InputError(
                f"The search space name {key!r} is taken by {type(known).__qualname__}; pick another name."
            )
        _SPACES[key.lower()] = space
    return cls


def space_names():
    """Canonical names of the registered spaces."""
    return sorted({space.name for space in _SPACES.values()})


def get_space(space):
    """A `SearchSpace` from an instance, a name such as `"nb201"`, or a
    `SearchSpace.config()` dict."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, dict):
        return get_space(space.get("name")).from_config(space)
    found = _SPACES.get(str(space).lower())
    if found is None:
        raise InputError(f"Unknown search space {space!r}. Registered spaces: {', '.join(space_names())}.")
    return found


class SearchSpace:
    """The cell of one search space and what differs between spaces.

    Class attributes describe the space; `op_names` and
    `intermediate_nodes` may be changed per instance (`with_ops`,
    `with_intermediate_nodes`). Every node of a cell reads every earlier
    node, inputs included, through one edge.

    Args:
        op_names: candidate ops on every edge, in the order of the
            architecture matrix columns (default: the space's own).
        intermediate_nodes: nodes computed inside the cell (the reference
            code's `steps`); only spaces with `configurable_nodes` accept
            another number than their default.
    """

    name = None  # as written in genotype files
    display_name = None  # in titles (default: name)
    aliases = ()
    default_op_names = ()
    num_input_nodes = 1
    default_intermediate_nodes = 3
    configurable_nodes = False
    cell_types = ("normal",)
    # Whether the cell output concatenates its intermediate nodes (a
    # genotype then lists them as `<cell type>_concat`) or is the last node.
    concatenates = False
    # Batch norm after pooling ops in search (the DARTS reference code).
    pool_batch_norm = False
    # The reference code's search learning rates and progressive stages,
    # (epochs, partial_channels, ops_kept) per stage.
    search_learning_rates = {"learning_rate": 0.025, "min_learning_rate": 1e-3, "arch_learning_rate": 3e-4}
    progressive_stages = ((50, 4, 5), (50, 2, 3))
    # The genotype JSON key that holds `to_string` (None: not stored).
    string_key = None
    # Keyword arguments of `build_network`.
    network_arguments = ()

    def __init__(self, op_names=None, intermediate_nodes=None):
        op_names = tuple(self.default_op_names if op_names is None else op_names)
        for op in op_names:
            self.check_op_name(op)
        if not op_names or len(set(op_names)) != len(op_names):
            raise InputError(f"op_names must be distinct and non-empty, got {op_names}.")
        nodes = self.default_intermediate_nodes if intermediate_nodes is None else intermediate_nodes
        if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < 1:
            raise InputError(f"intermediate_nodes must be a positive integer, got {nodes!r}.")
        if nodes != self.default_intermediate_nodes and not self.configurable_nodes:
            raise InputError(
                f"The {self.name} space has {self.default_intermediate_nodes} intermediate nodes; "
                f"got intermediate_nodes={nodes}."
            )
        self.op_names = op_names
        self.intermediate_nodes = int(nodes)

    def check_op_name(self, name):
        """Raises a clear error unless `name` is a candidate op of this space
        (default: any op of `keras_drnas.search_space.ops`)."""
        return check_op_name(name)

    # Topology --------------------------------------------------------------

    @property
    def num_nodes(self):
        return self.num_input_nodes + self.intermediate_nodes

    @property
    def edges(self):
        """`(to_node, from_node)` per row of the architecture matrix."""
        return tuple((dst, src) for dst in range(self.num_input_nodes, self.num_nodes) for src in range(dst))

    @property
    def output_nodes(self):
        """Nodes whose concatenation is the cell output."""
        if self.concatenates:
            return tuple(range(self.num_input_nodes, self.num_nodes))
        return (self.num_nodes - 1,)

    @property
    def num_edges(self):
        return len(self.edges)

    @property
    def num_ops(self):
        return len(self.op_names)

    def op_mask(self):
        """Edges x ops: False where an op cannot run on an edge (every op can,
        unless a space says otherwise)."""
        return [[True] * self.num_ops for _ in range(self.num_edges)]

    def incoming(self, node):
        """Row indices and source nodes of the edges entering `node`."""
        return [(e, src) for e, (dst, src) in enumerate(self.edges) if dst == node]

    def with_ops(self, op_names):
        """The same topology with another candidate list."""
        same = tuple(op_names) == self.op_names
        return self if same else type(self)(op_names, self.intermediate_nodes)

    def with_intermediate_nodes(self, intermediate_nodes):
        """The same ops with another number of intermediate nodes."""
        same = intermediate_nodes == self.intermediate_nodes
        return self if same else type(self)(self.op_names, intermediate_nodes)

    def config(self):
        """JSON-friendly description, enough to rebuild a customised space."""
        return {"name": self.name, "op_names": list(self.op_names), "intermediate_nodes": self.intermediate_nodes}

    @classmethod
    def from_config(cls, config):
        space = get_space(cls.name)
        if config.get("op_names") is not None and tuple(config["op_names"]) != space.op_names:
            space = space.with_ops(config["op_names"])
        if config.get("intermediate_nodes", space.intermediate_nodes) != space.intermediate_nodes:
            space = space.with_intermediate_nodes(config["intermediate_nodes"])
        return space

    def __eq__(self, other):
        return isinstance(other, SearchSpace) and self.config() == other.config()

    def __hash__(self):
        return hash((self.name, self.op_names, self.intermediate_nodes))

    def __repr__(self):
        return f"{type(self).__name__}(op_names={self.op_names}, intermediate_nodes={self.intermediate_nodes})"

    # Derivation ------------------------------------------------------------

    def derive_cell(self, weights):
        """`(op, input node)` pairs of one derived cell from its edges x ops
        weights: by default every edge keeps its op of largest weight."""
        weights = self.check_weights(weights)
        return [(self.op_names[int(np.argmax(w))], src) for w, (_, src) in zip(weights, self.edges)]

    def random_cell(self, rng):
        """A cell drawn uniformly with the NumPy `Generator` `rng`."""
        return [(str(rng.choice(self.op_names)), src) for _, src in self.edges]

    def check_weights(self, weights):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.num_edges, self.num_ops):
            raise InputError(f"weights must be edges x ops = ({self.num_edges}, {self.num_ops}), got {weights.shape}.")
        return weights

    # Genotypes -------------------------------------------------------------

    def genotype_ops(self):
        """Ops a genotype of this space may name."""
        return self.default_op_names

    def check_cell(self, pairs, cell_type):
        """Raises `GenotypeError` unless `pairs` is a derived cell of this
        space; returns its number of intermediate nodes."""
        if len(pairs) != self.num_edges:
            raise GenotypeError(f"A {self.name} genotype has {self.num_edges} edges, got {len(pairs)}.")
        for (op, src), (dst, expected) in zip(pairs, self.edges):
            self.check_genotype_op(op, cell_type)
            if src != expected:
                order = ", ".join(f"{d}<-{s}" for d, s in self.edges)
                raise GenotypeError(
                    f"{self.name} edges must come in the order {order}; edge into node {dst} lists "
                    f"input node {src}, expected {expected}."
                )
        return self.intermediate_nodes

    def check_genotype_op(self, op, cell_type):
        allowed = self.genotype_ops()
        if op not in allowed:
            raise GenotypeError(
                f"{cell_type}: unknown op {_short.repr(op)} for the {self.name} space. Allowed: {', '.join(allowed)}."
            )

    def check_concat(self, concat, nodes, cell_type):
        """The nodes a concatenating cell's output joins (default: every
        intermediate node); raises `GenotypeError` for others."""
        last = self.num_input_nodes + nodes
        concat = tuple(range(self.num_input_nodes, last)) if concat is None else concat
        if not concat or len(set(concat)) != len(concat) or any(not 0 <= n < last for n in concat):
            raise GenotypeError(
                f"{cell_type}_concat must name distinct nodes among 0..{last - 1}, got {list(concat)}."
            )
        return concat

    def kept_edges(self, pairs):
        """`(row, destination node, source node, op)` per pair of a derived
        cell; by default pair k is edge k."""
        return [(k, self.edges[k][0], src, op) for k, (op, src) in enumerate(pairs)]

    def to_string(self, genotype):
        """One line naming every kept edge (`op~input`) of every cell type."""
        return "  ".join(
            f"{cell_type}: " + " ".join(f"{op}~{src}" for op, src in getattr(genotype, cell_type))
            for cell_type in self.cell_types
        )

    def parse(self, text):
        """{cell type: pairs} of `to_string` text (see `Genotype.from_string`)."""
        cells = {}
        for part in str(text).split("  "):
            cell_type, _, pairs = part.partition(": ")
            try:
                cells[cell_type] = [(op, int(src)) for op, _, src in (item.partition("~") for item in pairs.split())]
            except ValueError:
                raise GenotypeError(f"Not a {self.name} genotype string: {_short.repr(text)}.") from None
        if set(cells) != set(self.cell_types):
            cells = " and ".join(f"a {cell_type}" for cell_type in self.cell_types)
            raise GenotypeError(f"A {self.name} genotype string names {cells} cell, got {_short.repr(text)}.")
        return cells

    def describe(self, genotype):
        """Several lines: each cell's nodes and what feeds them."""
        lines = []
        for cell_type in self.cell_types:
            several = f" {cell_type}" if len(self.cell_types) > 1 else ""
            lines.append(f"{self.display_name or self.name}{several} cell:")
            for _, dst, src, op in self.kept_edges(getattr(genotype, cell_type)):
                lines.append(f"  node {dst} <- {op}(node {src})")
        lines.append(self.to_string(genotype))
        return "\n".join(lines)

    # Networks --------------------------------------------------------------

    def build_network(self, genotype, **kwargs):
        """The evaluation network of `genotype` (a `DerivedNetwork` of
        built-in Keras layers), taking `network_arguments`."""
        raise NotImplementedError(f"The {self.name} space builds no evaluation network.")

    def progressive_stages_for(self, **network_kwargs):
        """The progressive stages (epochs, partial_channels, ops_kept) the
        reference code uses for a network built with these arguments."""
        return self.progressive_stages

    # Plots -----------------------------------------------------------------

    def node_names(self):
        """{node: label} for the cell diagram, the output included."""
        names = {n: str(n) for n in range(self.num_nodes)}
        if self.concatenates:
            names[self.num_nodes] = "out"
        return names
