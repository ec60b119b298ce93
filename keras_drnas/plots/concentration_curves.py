"""How the concentration of each op evolves over a search (genotypes.jsonl)."""

import numpy as np

from keras_drnas.plots.heatmap import CELL_TITLES
from keras_drnas.plots.run_files import space_of
from keras_drnas.plots.style import new_figure, op_color, styled
from keras_drnas.utils.errors import InputError


def _concentration_matrices(records, name):
    """epochs x edges x ops concentrations of cell type `name`, pruned ops NaN."""
    matrices = []
    for record in records:
        entry = record["concentrations"][name]
        beta = np.asarray(entry["concentration"], dtype=float)
        mask = np.asarray(entry.get("op_mask") or np.ones(beta.shape, bool), dtype=bool)
        matrices.append(np.where(mask, beta, np.nan))
    return np.stack(matrices)


@styled
def concentration_curves(records, genotype=None):
    """The concentration beta of every op over the epochs: its mean over the
    edges of a cell type as a line, the middle half of the edges (25th to
    75th percentile) shaded.
    One panel per cell type; ops pruned on every edge end their line.

    Args:
        records: the lines of genotypes.jsonl (`GenotypeLogger`), each with
            `epoch` and `concentrations` (`SearchModel.concentration_report`).
        genotype: the run's `Genotype`, to tell a customised space (optional).

    Example:
    >>> row = [1.0, 1.1, 0.9, 1.2, 1.0]
    >>> records = [{"epoch": e, "concentrations": {"normal": {
    ...     "op_names": None, "op_mask": None, "concentration": [row] * 6}}} for e in (1, 2)]
    >>> [t.get_text() for t in concentration_curves(records).legends[0].get_texts()]
    ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']
    """
    if not records:
        raise InputError("No epochs in genotypes.jsonl yet: the search has not finished an epoch.")
    epochs = np.asarray([record["epoch"] for record in records])
    names = list(records[-1]["concentrations"])
    space = space_of(records[-1]["concentrations"], genotype)
    figure = new_figure(5.2 * len(names) + 1.9, 3.8)
    axes = figure.subplots(1, len(names), squeeze=False, sharey=True)[0]
    for index, (ax, name) in enumerate(zip(axes, names)):
        beta = _concentration_matrices(records, name)
        for column, op in enumerate(space.op_names):
            values = beta[:, :, column]
            alive = ~np.all(np.isnan(values), axis=1)
            if not alive.any():
                continue
            mean = np.nanmean(values[alive], axis=1)
            # The middle half of the edges: min-max bands of 7 ops would cover each other.
            low, high = np.nanpercentile(values[alive], [25, 75], axis=1)
            color = op_color(op)
            ax.plot(epochs[alive], mean, color=color, lw=2, label=op, marker="o" if len(epochs) <= 30 else None,
                    markersize=3)
            ax.fill_between(epochs[alive], low, high, color=color, alpha=0.1, lw=0)
        ax.axhline(1.0, color="#777777", lw=0.8, ls=":")  # the anchor, Dir(1)
        ax.set_title(CELL_TITLES.get(name, name))
        ax.set_xlabel("epoch")
        if index == 0:
            ax.set_ylabel("concentration β")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", title="op: mean over edges\n(shaded: middle half of them)",
                  title_fontsize=9)
    figure.suptitle("Concentration of each op over the search")
    return figure
