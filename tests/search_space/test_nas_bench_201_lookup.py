import pytest

from keras_drnas.presets import DRNAS_CIFAR10
from keras_drnas.search_space import Genotype, GenotypeError
from keras_drnas.search_space.nas_bench_201_lookup import NASBench201Table

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def write_table(path, text):
    path.write_text(text)
    return path


def test_accuracies_of_a_genotype_from_a_tiny_csv(tmp_path):
    path = write_table(tmp_path / "nb201.csv",
                       "arch,cifar10,cifar100,imagenet16-120,params\n"
                       f"{BEST},94.1,72.5,46.0,1.5\n{SKIPS},55.0,,20.5,0.1\n")
    table = NASBench201Table.from_csv(path)
    assert table.columns == ("cifar10", "cifar100", "imagenet16-120", "params")
    best = table.accuracies(Genotype.from_string(BEST, "nb201"))
    assert best == {"cifar10": 94.1, "cifar100": 72.5, "imagenet16-120": 46.0, "params": 1.5}
    # An empty cell is left out.
    assert table.accuracies(SKIPS) == {"cifar10": 55.0, "imagenet16-120": 20.5, "params": 0.1}
    other = Genotype.from_string(BEST.replace("skip_connect~0", "none~0"), "nb201")
    assert other not in table and Genotype.from_string(BEST, "nb201") in table
    with pytest.raises(KeyError, match="is not in the NAS-Bench-201 table"):
        table.accuracies(other)


def test_wrong_space_and_broken_files_get_clear_errors(tmp_path):
    table = NASBench201Table.from_csv(write_table(tmp_path / "ok.csv", f"arch,cifar10\n{BEST},94.1\n"))
    with pytest.raises(GenotypeError, match="genotype is of the darts space"):
        table.accuracies(DRNAS_CIFAR10)
    with pytest.raises(FileNotFoundError, match="missing.csv does not exist"):
        NASBench201Table.from_csv(tmp_path / "missing.csv")
    cases = {
        "no_arch.csv": ("name,cifar10\nx,1\n", "must name an 'arch' column"),
        "bad_number.csv": (f"arch,cifar10\n{BEST},high\n", "line 2: column cifar10 holds 'high'"),
        "bad_arch.csv": (f"arch,cifar10\n{BEST.replace('skip_connect', 'conv')},1\n", "line 2: .*unknown op 'conv'"),
        "twice.csv": (f"arch,cifar10\n{BEST},1\n{BEST},2\n", "line 3: .* is listed twice"),
        "ragged.csv": (f"arch,cifar10\n{BEST},1,2\n", "line 2: 3 cells, but the header has 2"),
        "empty.csv": ("", "is empty"),
        "header_only.csv": ("arch,cifar10\n", "no architectures"),
    }
    for name, (text, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            NASBench201Table.from_csv(write_table(tmp_path / name, text))
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="not a text"):
        NASBench201Table.from_csv(tmp_path / "binary.csv")


def test_nats_bench_is_optional(tmp_path):
    try:
        import nats_bench  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install nats_bench"):
            NASBench201Table.from_nats_bench(tmp_path / "NATS-tss")
    else:
        with pytest.raises(FileNotFoundError, match="do not exist"):
            NASBench201Table.from_nats_bench(tmp_path / "NATS-tss")
