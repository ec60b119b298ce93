"""The learnt op weights: the Dirichlet mean of every edge and op."""

import numpy as np
from matplotlib.patches import Rectangle

from keras_drnas.plots.run_files import cell_pairs, edge_labels, space_of
from keras_drnas.plots.style import new_figure, styled

CELL_TITLES = {"normal": "normal cell", "reduce": "reduction cell"}


def mean_op_weights(entry):
    """beta / sum(beta) over the unmasked ops of each edge (the Dirichlet
    mean, paper eq. 4); masked ops (pruned, or not allowed there) are NaN."""
    beta = np.asarray(entry["concentration"], dtype=np.float64)
    mask = np.asarray(entry.get("op_mask") or np.ones(beta.shape, bool), dtype=bool)
    kept = np.where(mask, beta, 0.0)
    return np.where(mask, kept / kept.sum(axis=1, keepdims=True), np.nan)


@styled
def op_weight_heatmap(concentrations, genotype=None):
    """Edges x ops heatmaps of the mean op weights, one panel per cell type,
    values annotated; the ops the genotype keeps are outlined.

    Args:
        concentrations: `SearchModel.concentration_report()` (or the
            concentrations.json of a run).
        genotype: the derived `Genotype`, to outline its choice (optional).

    Example:
    >>> report = {"normal": {"op_names": None, "op_mask": None,
    ...                      "concentration": [[1.0, 2.0, 1.0, 3.0, 1.0]] * 6}}
    >>> [t.get_text() for t in op_weight_heatmap(report).axes[0].texts][:5]
    ['0.12', '0.25', '0.12', '0.38', '0.12']
    """
    space = space_of(concentrations, genotype)
    names = list(concentrations)
    all_weights = {name: mean_op_weights(concentrations[name]) for name in names}
    # Weights near uniform are the rule early in a search: the colours span
    # the weights' own range, and up to four decimals tell them apart.
    top = max(float(np.nanmax(w)) for w in all_weights.values())
    bottom = min(float(np.nanmin(w)) for w in all_weights.values())
    bottom, top = (bottom, top) if top > bottom else (0.0, max(top, 1e-9))
    digits = int(np.clip(np.ceil(-np.log10(max(top - bottom, 1e-12))) + 1, 2, 4))
    rows, cols = space.num_edges, space.num_ops
    allowed = np.asarray(space.op_mask(), bool)  # masked, but never a choice there: not pruned
    panel_width, panel_height = 1.0 + 0.8 * cols, 1.1 + 0.36 * rows
    figure = new_figure(panel_width * len(names) + 0.9, panel_height)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    image = None
    for index, (ax, name) in enumerate(zip(axes, names)):
        weights = all_weights[name]
        image = ax.imshow(np.ma.masked_invalid(weights), cmap="viridis", vmin=bottom, vmax=top, aspect="auto")
        ax.set_facecolor("#e6e6e6")  # masked ops
        for (row, col), value in np.ndenumerate(weights):
            text = f"{value:.{digits}f}" if not np.isnan(value) else "pruned" if allowed[row, col] else "n/a"
            color = "#555555" if np.isnan(value) else ("black" if value > bottom + 0.6 * (top - bottom) else "white")
            ax.text(col, row, text, ha="center", va="center", fontsize=8, color=color)
        if genotype is not None and getattr(genotype, name, None) is not None:
            for row, _, _, op in cell_pairs(space, genotype, name):
                col = space.op_names.index(op)
                ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="#ff3b30", lw=2.2))
        ax.set_xticks(range(cols), space.op_names, rotation=35, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(rows), edge_labels(space))
        if index == 0:
            ax.set_ylabel("edge (node<-input)")
        ax.set_title(CELL_TITLES.get(name, name))
        ax.tick_params(length=0)
    colorbar = figure.colorbar(image, ax=list(axes), shrink=0.8, pad=0.02)
    colorbar.set_label("mean op weight")
    caption = "Dirichlet mean op weights"
    if genotype is not None:
        caption += " (outlined: the derived architecture)"
    figure.suptitle(caption)
    return figure
