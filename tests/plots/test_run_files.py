import shutil

import pytest

from keras_drnas.plots.run_files import edge_labels, load_run, space_of
from keras_drnas.search_space import DARTS, NAS_BENCH_201, Genotype
from keras_drnas.utils.errors import InputError


def test_reads_every_file_of_a_search(nb201_run):
    run = load_run(str(nb201_run))
    assert run.genotype == Genotype.load(str(nb201_run / "genotype.json"))
    assert set(run.concentrations) == {"normal"}
    assert len(run.history["loss"]) == 3 and len(run.history["exploration_derived_accuracy"]) == 3
    assert [r["epoch"] for r in run.records] == [1, 2, 3]
    assert sorted(run.exploration) == [1, 2, 3]


def test_a_line_still_being_written_is_left_out(nb201_run, tmp_path):
    shutil.copy(nb201_run / "genotypes.jsonl", tmp_path / "genotypes.jsonl")
    with open(tmp_path / "genotypes.jsonl", "a") as f:
        f.write('{"epoch": 4, "geno')
    run = load_run(str(tmp_path))
    assert [r["epoch"] for r in run.records] == [1, 2, 3] and run.genotype is None


def test_space_of_a_report(darts_run):
    run = load_run(str(darts_run))
    space = space_of(run.concentrations)  # told by the edge count alone
    assert space.num_edges == 5 and space.op_names == ("max_pool_3x3", "skip_connect", "sep_conv_3x3")
    assert space_of(run.concentrations, run.genotype) == space
    assert edge_labels(space) == ["2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    full = {"normal": {"op_names": None, "concentration": [[1.0] * 7] * 14}}
    assert space_of(full) is DARTS
    assert space_of({"normal": {"op_names": None, "concentration": [[1.0] * 5] * 6}}) is NAS_BENCH_201
    with pytest.raises(InputError, match="7 edges"):
        space_of({"normal": {"op_names": None, "concentration": [[1.0] * 5] * 7}})


def test_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_run(str(tmp_path / "missing"))
    with pytest.raises(InputError, match="no search results"):
        load_run(str(tmp_path))
    (tmp_path / "history.json").write_text("{not json")
    with pytest.raises(InputError, match="history.json is not valid JSON"):
        load_run(str(tmp_path))
