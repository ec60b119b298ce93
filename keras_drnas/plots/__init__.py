"""Pictures of a search run: the derived cells, the learnt op weights, the
search curves, the concentrations over the epochs and the exploration
record (paper Figure 1).

The package reads the files a run directory holds (it never builds a
model) and draws with matplotlib, without a display.

Example:
```python
from keras_drnas.plots import write_plots
for path in write_plots("runs/search"):
    print(path)
```
"""

import os

from keras_drnas.plots.cell_diagram import cell_diagram
from keras_drnas.plots.concentration_curves import concentration_curves
from keras_drnas.plots.curves import search_curves
from keras_drnas.plots.exploration import exploration_plot
from keras_drnas.plots.heatmap import mean_op_weights, op_weight_heatmap
from keras_drnas.plots.run_files import SearchRun, load_run
from keras_drnas.plots.style import save_figure


def write_plots(run_dir, output_dir=None):
    """Draws every picture the files of `run_dir` allow and returns their paths.

    - `cell_<type>.png` / `.svg`: each derived cell (genotype.json);
    - `op_weights.png`: the mean op weights (concentrations.json);
    - `search_curves.png`: losses, accuracies, entropy (history.json);
    - `concentrations.png`: each op's concentration over the epochs
      (genotypes.jsonl);
    - `exploration.png`: the paper's Figure 1 (exploration.json, written by
      `ExplorationRecorder`).

    Args:
        run_dir: the output directory of a search (`keras-drnas search
            --output-dir`); a running search's directory works too.
        output_dir: where to write (default: `run_dir/plots`).
    """
    run = load_run(run_dir)
    output_dir = output_dir or os.path.join(run_dir, "plots")
    path = lambda name: os.path.join(output_dir, name)
    written = []
    if run.genotype is not None:
        for cell_type in run.genotype.search_space.cell_types:
            written += save_figure(cell_diagram(run.genotype, cell_type), path(f"cell_{cell_type}"), ("png", "svg"))
    if run.concentrations:
        written += save_figure(op_weight_heatmap(run.concentrations, run.genotype), path("op_weights"))
    if run.history:
        written += save_figure(search_curves(run.history), path("search_curves"))
    if run.records:
        written += save_figure(concentration_curves(run.records, run.genotype), path("concentrations"))
    if run.exploration:
        written += save_figure(exploration_plot(run.exploration), path("exploration"))
    return written


__all__ = [
    "SearchRun", "cell_diagram", "concentration_curves", "exploration_plot", "load_run", "mean_op_weights",
    "op_weight_heatmap", "save_figure", "search_curves", "write_plots",
]
