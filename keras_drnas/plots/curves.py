"""The search curves: losses, accuracies and entropy per epoch."""

import numpy as np

from keras_drnas.plots.style import new_figure, styled
from keras_drnas.utils.errors import InputError

# (panel title, y label, [(history key, legend label)]); a panel is drawn
# when the history has any of its keys.
PANELS = (
    ("Loss", "cross-entropy", [
        ("loss", "weights (training half)"),
        ("arch_loss", "architecture (validation half)"),
        ("val_loss", "validation data"),
    ]),
    ("Accuracy", "accuracy", [
        ("accuracy", "weights (training half)"),
        ("arch_accuracy", "architecture (validation half)"),
        ("val_accuracy", "validation data"),
    ]),
    ("Entropy of the Dirichlets", "mean differential entropy", [("entropy", "mean over edges")]),
    ("Hessian (paper App. A.4)", "dominant eigenvalue", [("hessian_eigenvalue", "validation loss over eta")]),
)


@styled
def search_curves(history):
    """One panel per quantity the history holds, against the epoch.

    Args:
        history: `{metric: [value per epoch]}`, e.g. `History.history` or
            history.json's `"history"`. A metric with fewer values, logged
            every n epochs and at the last (`HessianEigenvalue(every=n)`),
            is drawn at those epochs. Epochs without an architecture step
            (a warm-up) log an architecture loss of exactly 0, a value no
            real cross-entropy averages to; their architecture points are
            left out rather than drawn at 0.

    Example:
    >>> figure = search_curves({"loss": [2.3, 1.9, 1.5], "arch_loss": [2.3, 2.0, 1.7], "entropy": [-1.2, -1.3, -1.5]})
    >>> [ax.get_title() for ax in figure.axes]
    ['Loss', 'Entropy of the Dirichlets']
    """
    epochs = max((len(v) for v in history.values()), default=0)
    if not epochs:
        raise InputError("The history is empty: no epoch has finished yet.")
    panels = [(title, label, [(k, name) for k, name in keys if history.get(k)])
              for title, label, keys in PANELS]
    panels = [p for p in panels if p[2]]
    if not panels:
        raise InputError(f"The history has none of the search metrics (loss, accuracy, entropy); it has "
                         f"{sorted(history)}.")
    columns = 2 if len(panels) == 4 else len(panels)
    rows = -(-len(panels) // columns)
    figure = new_figure(4.4 * columns, 3.3 * rows + 0.3)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    warmup = np.asarray(history.get("arch_loss") or [], dtype=float) == 0
    for ax, (title, label, keys) in zip(axes, panels):
        for key, name in keys:
            values = np.asarray(history[key], dtype=float)
            if key.startswith("arch_") and len(values) == len(warmup):
                values = np.where(warmup, np.nan, values)
            x = _epochs_of(len(values), epochs)
            ax.plot(x, values, marker="o" if epochs <= 30 else None, markersize=3.5, label=name)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.ticklabel_format(axis="y", useOffset=False)  # entropy changes in the 5th digit early on
        if title == "Accuracy":
            ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.03)
        if len(keys) > 1:
            ax.legend(loc="best")
    figure.suptitle("Search curves")
    return figure


def _epochs_of(length, epochs):
    """1-based epochs of a metric with `length` values in a run of `epochs`:
    all of them, or n, 2n, ... and the last for the n that gives `length`."""
    if length == epochs:
        return np.arange(1, epochs + 1)
    for every in range(2, epochs + 1):
        x = list(range(every, epochs + 1, every))
        if x[-1] != epochs:
            x.append(epochs)
        if len(x) == length:
            return np.asarray(x)
    return np.arange(1, length + 1)
