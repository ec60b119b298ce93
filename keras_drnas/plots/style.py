"""How the pictures look and are saved: one colour per op, readable sizes,
PNG and SVG written atomically, never a display (no pyplot)."""

import functools
import os

import matplotlib
from matplotlib.figure import Figure

from keras_drnas.search_space.ops import OP_NAMES
from keras_drnas.utils.files import atomic_path

DPI = 150
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "svg.fonttype": "none",  # SVG text stays text: searchable and editable
}
_PALETTE = matplotlib.colormaps["tab10"].colors


def op_color(op_name):
    """The same colour for an op in every picture; `none` is grey."""
    if op_name not in OP_NAMES:
        return "black"
    index = OP_NAMES.index(op_name)
    grey = 7  # tab10's grey goes to `none`, its first colour to the op that had grey
    return _PALETTE[{0: grey, grey: 0}.get(index, index)]


def styled(plot):
    """Draws `plot` under the package's style (text takes its size when made)."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return plot(*args, **kwargs)

    return draw


def new_figure(width, height):
    """A figure that belongs to no GUI backend (safe on servers)."""
    return Figure(figsize=(width, height), layout="constrained")


def save_figure(figure, path_stem, formats=("png",)):
    """Writes `path_stem.<format>` for each format; returns the paths."""
    paths = []
    with matplotlib.rc_context(STYLE):
        for fmt in formats:
            path = f"{path_stem}.{fmt}"
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_path(path) as tmp:
                figure.savefig(tmp, format=fmt, dpi=DPI)
            paths.append(path)
    return paths
