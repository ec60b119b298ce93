import numpy as np
import pytest

from keras_drnas.plots.exploration import exploration_plot
from keras_drnas.plots.run_files import load_run
from keras_drnas.plots.style import save_figure
from keras_drnas.utils.errors import InputError
from tests.plots.pictures import assert_picture


def test_range_of_samples_beside_the_derived_architecture(nb201_run, tmp_path):
    exploration = load_run(str(nb201_run)).exploration
    figure = exploration_plot(exploration)
    ax = figure.axes[0]
    derived = next(line for line in ax.get_lines() if "derived" in line.get_label())
    np.testing.assert_allclose(derived.get_ydata(), [100 * exploration[e]["derived"] for e in (1, 2, 3)])
    ranges = ax.collections[1].get_segments()  # the min-max bars
    for segment, epoch in zip(ranges, (1, 2, 3)):
        sampled = 100 * np.asarray(exploration[epoch]["sampled"])
        np.testing.assert_allclose(segment[:, 1], [sampled.min(), sampled.max()])
    assert_picture(save_figure(figure, str(tmp_path / "exploration"))[0])


def test_empty_record_is_explained():
    with pytest.raises(InputError, match="empty"):
        exploration_plot({})
