"""The derived cell as a graph: nodes and labelled op edges (paper Figures 2, 3).

Drawn with matplotlib alone, so no graphviz binary is needed. Input nodes
sit on the left (stacked when there are two), intermediate nodes in a row,
zero-op edges are left out, and a cell that concatenates its nodes gets an
output node fed by grey edges. Node labels are the space's `node_names`.
"""

import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch

from keras_drnas.plots.run_files import cell_pairs
from keras_drnas.plots.style import new_figure, op_color, styled
from keras_drnas.search_space.ops import is_zero_op
from keras_drnas.utils.errors import InputError

NODE_RADIUS = 0.5  # data units; the figure is drawn at 0.62 inch per unit
SPACING = 3.0  # between neighbouring nodes: room for one op label on a straight edge
INPUT_COLOR, NODE_COLOR, OUTPUT_COLOR = "#f3e3c3", "#d9e6f5", "#d7efd5"
CELL_NAMES = {"normal": "normal", "reduce": "reduction"}


def _bezier(start, end, rad, t):
    """Points of matplotlib's arc3 connection (a quadratic Bezier curve)."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    dx, dy = end - start
    control = (start + end) / 2 + rad * np.array([dy, -dx])
    t = np.asarray(t, float)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def _clear_rad(start, end, others, preferred_sign, taken=()):
    """The flattest arc, bulging to `preferred_sign`'s side, that keeps clear
    of the other nodes and leaves an endpoint at another angle than the
    `taken` arcs of the same chord direction."""
    for step in range(16):
        rad = preferred_sign * 0.08 * step
        if any(abs(rad - other) < 0.12 for other in taken):
            continue
        points = _bezier(start, end, rad, np.linspace(0.1, 0.9, 40))
        if all(np.min(np.hypot(*(points - o).T)) > 2.1 * NODE_RADIUS for o in others):
            return rad
    return rad


def _label_box(op, center):
    """(x0, y0, x1, y1) of an op label, in data units at the figure's scale."""
    half_width, half_height = 0.065 * len(op) + 0.15, 0.22
    return center[0] - half_width, center[1] - half_height, center[0] + half_width, center[1] + half_height


def _overlap(box, other):
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


def _label_point(start, end, rad, op, boxes, nodes):
    """The point along the arc nearest its middle where the label clashes
    with no other label and no node."""
    node_boxes = [(x - NODE_RADIUS, y - NODE_RADIUS, x + NODE_RADIUS, y + NODE_RADIUS) for x, y in nodes]
    candidates = _bezier(start, end, rad, [0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73])
    for point in candidates:
        box = _label_box(op, point)
        if not any(_overlap(box, other) for other in boxes + node_boxes):
            return point
    return candidates[0]


def _same_direction(positions, edge, other):
    """Whether two edges' chords point the same way (their arcs would overlap at a shared node)."""
    angles = [np.arctan2(positions[d][1] - positions[s][1], positions[d][0] - positions[s][0]) for s, d in (edge, other)]
    return abs(angles[0] - angles[1]) < np.radians(15)


def _layout(space):
    """{node: (x, y)}, {node: text}, {node: colour}, and the concatenated
    output node (None when the last node is the output)."""
    inputs = space.num_input_nodes
    if inputs == 1:
        positions = {n: (SPACING * n, 0.0) for n in range(space.num_nodes)}
    else:
        positions = {n: (0.0, 2.0 * (inputs - 1) - 4.0 * n) for n in range(inputs)}
        positions.update({n: (SPACING * (n - inputs + 1), 0.0) for n in range(inputs, space.num_nodes)})
    output = space.num_nodes if space.concatenates else None
    if output is not None:
        positions[output] = (SPACING * (space.num_nodes - inputs + 1), 0.0)
    names = space.node_names()
    colors = {n: NODE_COLOR for n in positions}
    colors.update({n: INPUT_COLOR for n in range(inputs)})
    colors[space.num_nodes - 1 if output is None else output] = OUTPUT_COLOR
    return positions, names, colors, output


def _route(positions, edges, output):
    """(src, dst, op, arc rad, label point) per edge: arcs around the nodes,
    labels clear of each other."""
    drawn, boxes = [], []
    for src, dst, op in edges:
        start, end = positions[src], positions[dst]
        others = [p for n, p in positions.items() if n not in (src, dst)]
        if output is None:  # a chain of nodes: sides alternate by source
            sign = -1 if src % 2 == 0 else 1
        else:  # inputs bulge outwards; hops among intermediate nodes above, into the output below
            sign = {0: -1, 1: 1}.get(src, 1 if op is None else -1)
        taken = [r for s, d, _, r, _ in drawn
                 if (s == src or d == dst) and _same_direction(positions, (s, d), (src, dst))]
        rad = _clear_rad(start, end, others, sign, taken)
        point = None
        if op is not None:
            point = _label_point(start, end, rad, op, boxes, list(positions.values()))
            boxes.append(_label_box(op, point))
        drawn.append((src, dst, op, rad, point))
    return drawn


@styled
def cell_diagram(genotype, cell_type="normal", space=None):
    """A figure of one cell of a derived genotype.

    Args:
        genotype: a `Genotype`.
        cell_type: one of the space's cell types, `"normal"` or `"reduce"`.
        space: the `SearchSpace`, if the genotype's is customised (other ops
            or intermediate nodes); by default the genotype's own.

    Example:
    >>> from keras_drnas.search_space import Genotype
    >>> g = Genotype.from_string(
    ...     "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "nb201")
    >>> [t.get_text() for t in cell_diagram(g).axes[0].texts if "_" in t.get_text()][:2]
    ['nor_conv_3x3', 'nor_conv_3x3']
    """
    if getattr(genotype, cell_type, None) is None:
        raise InputError(f"The {genotype.space} genotype has no {cell_type!r} cell; use 'normal' or 'reduce'.")
    space = space or genotype.search_space
    positions, names, colors, output = _layout(space)
    edges = [(src, dst, op) for _, dst, src, op in cell_pairs(space, genotype, cell_type) if not is_zero_op(op)]
    if output is not None:
        concat = getattr(genotype, f"{cell_type}_concat")
        edges += [(node, output, None) for node in concat]

    drawn = _route(positions, edges, output)
    points = list(positions.values()) + [d[4] for d in drawn if d[2] is not None]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    xlim, ylim = (min(xs) - 1.2, max(xs) + 1.2), (min(ys) - 0.8, max(ys) + 0.8)
    scale = 0.62  # inches per unit: node labels and op names at 9-11 pt fit their boxes
    figure = new_figure(scale * (xlim[1] - xlim[0]), scale * (ylim[1] - ylim[0]) + 0.45)
    ax = figure.add_subplot()
    circles = {}
    for node, (x, y) in positions.items():
        circles[node] = Circle((x, y), NODE_RADIUS, facecolor=colors[node], edgecolor="#404040", lw=1.2, zorder=3)
        ax.add_patch(circles[node])
        ax.text(x, y, names[node], ha="center", va="center", fontsize=11, zorder=4)
    for src, dst, op, rad, point in drawn:
        color = "#9a9a9a" if op is None else op_color(op)
        ax.add_patch(FancyArrowPatch(
            positions[src], positions[dst], connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
            mutation_scale=14, patchA=circles[src], patchB=circles[dst], shrinkA=1, shrinkB=1, color=color,
            lw=1.2 if op is None else 2.0, zorder=2,
        ))
        if op is not None:
            ax.text(*point, op, ha="center", va="center", fontsize=9, zorder=5,
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": color, "lw": 1.2})
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    title = space.display_name or space.name
    if len(space.cell_types) > 1:
        title += f" {CELL_NAMES.get(cell_type, cell_type)}"
    ax.set_title(f"{title} cell")
    return figure
