import numpy as np
import pytest

from keras_drnas.plots.curves import search_curves
from keras_drnas.plots.run_files import load_run
from keras_drnas.plots.style import save_figure
from keras_drnas.utils.errors import InputError
from tests.plots.pictures import assert_picture


def test_one_panel_per_quantity_of_a_search(nb201_run, tmp_path):
    history = load_run(str(nb201_run)).history
    figure = search_curves(history)
    axes = {ax.get_title(): ax for ax in figure.axes}
    assert set(axes) == {"Loss", "Accuracy", "Entropy of the Dirichlets"}
    loss_lines = axes["Loss"].get_lines()
    assert len(loss_lines) == 2
    np.testing.assert_allclose(loss_lines[0].get_ydata(), history["loss"])
    np.testing.assert_allclose(loss_lines[1].get_ydata(), history["arch_loss"])
    assert list(loss_lines[0].get_xdata()) == [1, 2, 3]
    assert_picture(save_figure(figure, str(tmp_path / "curves"))[0])


def test_a_metric_logged_every_n_epochs_sits_at_its_epochs():
    figure = search_curves({"loss": [3, 2, 1, 0.5, 0.4], "hessian_eigenvalue": [0.2, 0.3, 0.1]})
    hessian = next(ax for ax in figure.axes if ax.get_title().startswith("Hessian"))
    assert list(hessian.get_lines()[0].get_xdata()) == [2, 4, 5]


def test_warm_up_epochs_have_no_architecture_points():
    figure = search_curves({"loss": [2.0, 1.5, 1.2, 1.0], "arch_loss": [0.0, 0.0, 1.4, 1.3],
                            "accuracy": [0.3, 0.5, 0.6, 0.7], "arch_accuracy": [0.0, 0.0, 0.5, 0.55]})
    for ax in figure.axes:
        weights, arch = ax.get_lines()
        assert np.isfinite(weights.get_ydata()).all()
        np.testing.assert_array_equal(np.isnan(arch.get_ydata()), [True, True, False, False])


def test_clear_errors():
    with pytest.raises(InputError, match="empty"):
        search_curves({})
    with pytest.raises(InputError, match="none of the search metrics"):
        search_curves({"lr": [0.1]})
