"""Search spaces: which ops can be chosen on which edges of a cell.

A space only describes the choice; how it is learned lives in
`keras_drnas.search_strategy`, and what is shipped in
`keras_drnas.derived_model`.
"""

import dataclasses

from keras_drnas.search_space.ops import check_op_name
from keras_drnas.utils.errors import InputError


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """The cell topology and candidate ops of one search space.

    Args:
        name: canonical name, `"nas-bench-201"` or `"darts"`.
        op_names: candidate ops on every edge, in the order of the
            architecture matrix columns.
        num_input_nodes: nodes fed from outside the cell (1 or 2).
        num_nodes: all nodes, inputs included.
        edges: `(to_node, from_node)` pairs in the order of the matrix rows.
        output_nodes: nodes whose concatenation is the cell output (a single
            node for NAS-Bench-201).
        edges_kept_per_node: incoming edges a derived node keeps (`None`: all).
    """

    name: str
    op_names: tuple
    num_input_nodes: int
    num_nodes: int
    edges: tuple
    output_nodes: tuple
    edges_kept_per_node: int = None

    @property
    def num_edges(self):
        return len(self.edges)

    @property
    def num_ops(self):
        return len(self.op_names)

    def incoming(self, node):
        """Row indices and source nodes of the edges entering `node`."""
        return [(e, src) for e, (dst, src) in enumerate(self.edges) if dst == node]

    @property
    def intermediate_nodes(self):
        """Nodes computed inside the cell (the reference code's `steps`)."""
        return self.num_nodes - self.num_input_nodes

    def with_intermediate_nodes(self, intermediate_nodes):
        """A DARTS space with another number of intermediate nodes (4)."""
        if self.num_input_nodes != 2:
            raise InputError("Only the DARTS space has a configurable number of intermediate nodes.")
        if int(intermediate_nodes) < 1:
            raise InputError(f"intermediate_nodes must be at least 1, got {intermediate_nodes}.")
        num_nodes = 2 + int(intermediate_nodes)
        return dataclasses.replace(
            self,
            num_nodes=num_nodes,
            edges=_dag_edges(2, num_nodes),
            output_nodes=tuple(range(2, num_nodes)),
        )

    def with_ops(self, op_names):
        """The same topology with another candidate list."""
        op_names = tuple(check_op_name(o) for o in op_names)
        if len(set(op_names)) != len(op_names) or not op_names:
            raise InputError(f"op_names must be distinct and non-empty, got {op_names}.")
        return dataclasses.replace(self, op_names=op_names)


def _dag_edges(num_input_nodes, num_nodes):
    return tuple(
        (dst, src)
        for dst in range(num_input_nodes, num_nodes)
        for src in range(dst)
    )


NAS_BENCH_201 = SearchSpace(
    name="nas-bench-201",
    op_names=("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"),
    num_input_nodes=1,
    num_nodes=4,
    # 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
    edges=_dag_edges(1, 4),
    output_nodes=(3,),
)

DARTS = SearchSpace(
    name="darts",
    # The paper's eighth op, "none", is disabled in the reference code; pass
    # `DARTS.with_ops(("none",) + DARTS.op_names)` to search with it.
    op_names=(
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    ),
    num_input_nodes=2,
    num_nodes=6,
    edges=_dag_edges(2, 6),
    output_nodes=(2, 3, 4, 5),
    edges_kept_per_node=2,
)

_ALIASES = {
    "nas-bench-201": NAS_BENCH_201,
    "nas_bench_201": NAS_BENCH_201,
    "nasbench201": NAS_BENCH_201,
    "nb201": NAS_BENCH_201,
    "darts": DARTS,
}


def get_space(space):
    """Returns a `SearchSpace` from an instance or a name such as `"nb201"`."""
    if isinstance(space, SearchSpace):
        return space
    key = str(space).lower()
    if key not in _ALIASES:
        raise InputError(
            f"Unknown search space {space!r}. Use 'nas-bench-201' (or 'nb201') "
            "or 'darts'."
        )
    return _ALIASES[key]


def space_config(space):
    """JSON-friendly description, enough to rebuild a customised space."""
    return {
        "name": space.name,
        "op_names": list(space.op_names),
        "intermediate_nodes": space.intermediate_nodes,
    }


def space_from_config(config):
    """A `SearchSpace` from `space_config` output, a name or a space."""
    if isinstance(config, (str, SearchSpace)):
        return get_space(config)
    space = get_space(config["name"])
    if tuple(config["op_names"]) != space.op_names:
        space = space.with_ops(config["op_names"])
    intermediate_nodes = config.get("intermediate_nodes", space.intermediate_nodes)
    if intermediate_nodes != space.intermediate_nodes:
        space = space.with_intermediate_nodes(intermediate_nodes)
    return space
