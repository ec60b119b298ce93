"""Exploration v. exploitation: the paper's Figure 1 (Section 4.4).

The accuracy range (min to max) of architectures sampled from the learnt
Dirichlets at chosen epochs, beside the architecture derived from the
Dirichlet mean. Wide early ranges that narrow show a search that explores
first and commits later.
"""

import numpy as np

from keras_drnas.plots.style import new_figure, styled
from keras_drnas.utils.errors import InputError


@styled
def exploration_plot(exploration):
    """The sampled architectures' accuracy range and the derived one's, per epoch.

    Args:
        exploration: `{epoch: {"sampled": [accuracy, ...], "derived":
            accuracy}}` as `ExplorationRecorder` writes it (string or int
            epochs).

    Example:
    >>> figure = exploration_plot({1: {"sampled": [0.2, 0.5, 0.4], "derived": 0.5},
    ...                            2: {"sampled": [0.6, 0.7], "derived": 0.7}})
    >>> figure.axes[0].get_ylabel()
    'accuracy (%)'
    """
    if not exploration:
        raise InputError("The exploration record is empty: no recorded epoch has finished yet.")
    epochs = sorted(int(e) for e in exploration)
    records = {int(e): r for e, r in exploration.items()}
    sampled = [100 * np.asarray(records[e]["sampled"], dtype=float) for e in epochs]
    derived = np.asarray([100 * records[e]["derived"] for e in epochs])
    low, high = np.asarray([s.min() for s in sampled]), np.asarray([s.max() for s in sampled])
    figure = new_figure(6.4, 4.4)
    ax = figure.add_subplot()
    count = max(len(s) for s in sampled)
    ax.fill_between(epochs, low, high, color="#4c72b0", alpha=0.18, lw=0)
    ax.vlines(epochs, low, high, color="#4c72b0", lw=3, alpha=0.7,
              label=f"sampled architectures, min–max ({count} per epoch)")
    rng = np.random.default_rng(0)  # a fixed horizontal jitter keeps repeated runs identical
    width = 0.12 * (np.min(np.diff(epochs)) if len(epochs) > 1 else 1)
    for epoch, values in zip(epochs, sampled):
        ax.scatter(epoch + rng.uniform(-width, width, len(values)), values, s=9, color="#4c72b0", alpha=0.35,
                   lw=0, zorder=3)
    ax.plot(epochs, derived, color="#c44e52", lw=2.2, marker="o", markersize=5,
            label="derived architecture (Dirichlet mean)", zorder=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Exploration: architectures sampled from the learnt distribution")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    figure.legend(loc="outside lower center", ncols=2, fontsize=8.5)
    return figure
