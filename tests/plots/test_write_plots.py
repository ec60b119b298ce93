import os
import shutil

from keras_drnas.plots import write_plots
from keras_drnas.search_space import Genotype
from tests.plots.pictures import assert_picture


def _names(paths):
    return sorted(os.path.basename(p) for p in paths)


def test_every_picture_of_a_nas_bench_201_run(nb201_run):
    paths = write_plots(str(nb201_run))
    assert _names(paths) == ["cell_normal.png", "cell_normal.svg", "concentrations.png", "exploration.png",
                             "op_weights.png", "search_curves.png"]
    assert all(os.path.dirname(p) == str(nb201_run / "plots") for p in paths)
    for path in paths:
        if path.endswith(".png"):
            assert_picture(path)
    svg = (nb201_run / "plots" / "cell_normal.svg").read_text()
    genotype = Genotype.load(str(nb201_run / "genotype.json"))
    assert all(op in svg for op, _ in genotype.normal if op != "none")


def test_a_darts_run_gets_both_cells(darts_run, tmp_path):
    paths = write_plots(str(darts_run), str(tmp_path / "pictures"))
    assert {"cell_normal.png", "cell_reduce.png", "cell_reduce.svg", "op_weights.png"} <= set(_names(paths))
    assert all(p.startswith(str(tmp_path / "pictures")) for p in paths)
    assert_picture(str(tmp_path / "pictures" / "cell_reduce.png"))


def test_only_what_the_run_has(nb201_run, tmp_path):
    shutil.copy(nb201_run / "genotype.json", tmp_path / "genotype.json")
    assert _names(write_plots(str(tmp_path))) == ["cell_normal.png", "cell_normal.svg"]
