import json

import pytest

from keras_drnas import Genotype, GenotypeError


NB201_STRING = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"


def test_json_and_string_roundtrips(tmp_path):
    nb = Genotype.from_nb201_string(NB201_STRING)
    assert nb.to_nb201_string() == NB201_STRING
    assert Genotype.from_json(nb.to_json()) == nb
    darts = Genotype(
        "darts",
        [("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2),
         ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2), ("dil_conv_5x5", 3)],
        [("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 1),
         ("sep_conv_5x5", 1), ("dil_conv_5x5", 3), ("skip_connect", 4), ("sep_conv_5x5", 1)],
    )
    path = tmp_path / "g.json"
    darts.save(path)
    assert Genotype.load(path) == darts
    assert json.loads(path.read_text())["space"] == "darts"
    text = str(darts)
    assert "node 5 = skip_connect(node 4) + sep_conv_5x5(c_{k-1})" in text


def _darts_dict(**changes):
    data = {
        "space": "darts",
        "normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1]] * 4,
        "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1]] * 4,
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data,message",
    [
        (_darts_dict(normal=[["conv_9x9", 0], ["sep_conv_3x3", 1]] * 4), "unknown op 'conv_9x9'"),
        (_darts_dict(normal=[["none", 0], ["sep_conv_3x3", 1]] * 4), "unknown op 'none'"),
        (_darts_dict(normal=[["sep_conv_3x3", 0]] * 7), "edge count must be even"),
        (_darts_dict(reduce=[["max_pool_3x3", 0]] * 6), "same number of edges"),
        (_darts_dict(normal=[["sep_conv_3x3", 0], ["sep_conv_3x3", 2]] * 4), "node 2 takes input node 2"),
        (_darts_dict(normal=[["sep_conv_3x3", 0], ["sep_conv_3x3", -1]] * 4), "node 2 takes input node -1"),
        (_darts_dict(space="resnet"), "Unknown search space 'resnet'"),
        (_darts_dict(reduce=None), "needs a 'reduce' cell"),
        ({"space": "nas-bench-201", "normal": [["nor_conv_3x3", 0]] * 5}, "has 6 edges, got 5"),
        ({"space": "nas-bench-201", "normal": [["sep_conv_3x3", 0]] * 6}, "unknown op 'sep_conv_3x3'"),
        ({"space": "nas-bench-201", "normal": [["nor_conv_3x3", 0]] * 6}, "expected 1"),
        ({"space": "nas-bench-201", "normal": [["nor_conv_3x3", "0"]] * 6}, "must be \\[op_name, input_node\\]"),
        ({"normal": []}, "needs 'space' and 'normal'"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_genotypes_are_rejected_clearly(data, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_json(json.dumps(data))


def test_broken_files_and_strings(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"space": "darts", "normal": [')
    with pytest.raises(GenotypeError, match="broken.json: Genotype is not valid JSON"):
        Genotype.load(broken)
    with pytest.raises(GenotypeError, match="Cannot read genotype file"):
        Genotype.load(tmp_path / "missing.json")
    binary = tmp_path / "weights.h5"
    binary.write_bytes(b"\x89HDF\r\n\x1a\n\xff\xfe")
    with pytest.raises(GenotypeError, match="not a text"):
        Genotype.load(binary)
    with pytest.raises(GenotypeError, match="Expected 'op~input'"):
        Genotype.from_nb201_string("|nor_conv_3x3|+|a~0|b~1|")
    with pytest.raises(GenotypeError, match="disagrees"):
        Genotype.from_dict({"space": "nb201", "normal": [["nor_conv_3x3", s] for s in (0, 0, 1, 0, 1, 2)],
                            "nb201_string": NB201_STRING})
