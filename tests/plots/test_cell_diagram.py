import pytest

from keras_drnas.plots.cell_diagram import cell_diagram
from keras_drnas.plots.style import save_figure
from keras_drnas.search_space import Genotype
from keras_drnas.utils.errors import InputError
from tests.plots.pictures import assert_picture


def _labels(figure):
    return [t.get_text() for t in figure.axes[0].texts]


def test_nas_bench_201_cell_labels_every_op_but_none(nb201_run, tmp_path):
    genotype = Genotype.load(str(nb201_run / "genotype.json"))
    figure = cell_diagram(genotype)
    kept = [op for op, _ in genotype.normal if op != "none"]
    assert sorted(t for t in _labels(figure) if not t.isdigit()) == sorted(kept)
    png, svg = save_figure(figure, str(tmp_path / "cell"), ("png", "svg"))
    assert_picture(png)
    with open(svg) as f:
        text = f.read()
    assert all(f">{op}<" in text for op in kept)


def test_none_edges_are_left_out():
    genotype = Genotype.from_string("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|", "nb201")
    assert sorted(t for t in _labels(cell_diagram(genotype)) if not t.isdigit()) == [
        "avg_pool_3x3", "nor_conv_3x3", "skip_connect"]


def test_darts_cells_show_inputs_two_edges_per_node_and_the_output(darts_run, tmp_path):
    genotype = Genotype.load(str(darts_run / "genotype.json"))
    for cell_type in ("normal", "reduce"):
        figure = cell_diagram(genotype, cell_type)
        labels = _labels(figure)
        assert {"$c_{k-2}$", "$c_{k-1}$", "$c_{k}$", "2", "3"} <= set(labels)
        assert sorted(t for t in labels if "_" in t and "$" not in t) == sorted(op for op, _ in getattr(genotype, cell_type))
        assert figure.axes[0].get_title() == f"DARTS {'reduction' if cell_type == 'reduce' else 'normal'} cell"
        assert_picture(save_figure(figure, str(tmp_path / cell_type))[0])


def test_a_missing_cell_type_is_explained():
    genotype = Genotype.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nb201")
    with pytest.raises(InputError, match="no 'reduce' cell"):
        cell_diagram(genotype, "reduce")
