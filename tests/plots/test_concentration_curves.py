import numpy as np
import pytest

from keras_drnas.plots.concentration_curves import concentration_curves
from keras_drnas.plots.run_files import load_run
from keras_drnas.plots.style import save_figure
from keras_drnas.utils.errors import InputError
from tests.plots.pictures import assert_picture


def test_one_line_per_op_at_its_mean_concentration(darts_run, tmp_path):
    run = load_run(str(darts_run))
    figure = concentration_curves(run.records, run.genotype)
    normal = figure.axes[0]
    assert normal.get_title() == "normal cell" and figure.axes[1].get_title() == "reduction cell"
    op_lines = [line for line in normal.get_lines() if line.get_label() in run.concentrations["normal"]["op_names"]]
    assert [line.get_label() for line in op_lines] == ["max_pool_3x3", "skip_connect", "sep_conv_3x3"]
    for column, line in enumerate(op_lines):
        expected = []
        for record in run.records:
            entry = record["concentrations"]["normal"]
            kept = [row[column] for row, mask in zip(entry["concentration"], entry["op_mask"]) if mask[column]]
            expected.append(np.mean(kept))
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-6)
    assert_picture(save_figure(figure, str(tmp_path / "concentrations"))[0])


def test_no_epoch_yet_is_explained():
    with pytest.raises(InputError, match="not finished an epoch"):
        concentration_curves([])
