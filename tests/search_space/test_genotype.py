import json

import pytest

from keras_drnas import Genotype, GenotypeError

NB201_STRING = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"


def test_json_and_string_roundtrips(tmp_path):
    nb = Genotype.from_string(NB201_STRING, "nb201")
    assert nb.to_string() == NB201_STRING
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
        Genotype.from_string("|nor_conv_3x3|+|a~0|b~1|+|a~0|b~1|c~2|", "nb201")
    with pytest.raises(GenotypeError, match="disagrees"):
        Genotype.from_dict({"space": "nb201", "normal": [["nor_conv_3x3", s] for s in (0, 0, 1, 0, 1, 2)],
                            "nb201_string": NB201_STRING})


def _nb201_dict(**changes):
    data = {"space": "nas-bench-201", "normal": [["nor_conv_3x3", s] for s in (0, 0, 1, 0, 1, 2)]}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data,message",
    [
        (_nb201_dict(normal=[["nor_conv_3x3", True]] * 6), "with a string and an integer, got \\['nor_conv_3x3', True\\]"),
        (_nb201_dict(normal=[["nor_conv_3x3", 0.0]] * 6), "with a string and an integer"),
        (_nb201_dict(normal=[[["nor_conv_3x3"], 0]] * 6), "with a string and an integer"),
        (_nb201_dict(normal={"a": 1}), "normal must be a list"),
        (_nb201_dict(normal=None), "normal must be a list"),
        (_nb201_dict(space=["darts"]), "'space' must be a string"),
        (_nb201_dict(space=" darts"), "Unknown search space"),
        (_nb201_dict(reduce_concat=[2]), "drop reduce_concat"),
        (_nb201_dict(normal_concat=[3]), "drop normal_concat"),
        (_nb201_dict(extra=1, Normal=[]), "Unknown genotype keys \\['extra', 'Normal'\\]"),
        (_nb201_dict(version="1"), "'version' must be a positive integer, got '1'"),
        (_nb201_dict(version=True), "'version' must be a positive integer, got True"),
        (_nb201_dict(version=2), "written by a newer keras-drnas"),
        (_nb201_dict(format=["keras-drnas-genotype"]), "Not a keras-drnas genotype"),
        (_nb201_dict(nb201_string=7), "must be a str"),
        (_darts_dict(nb201_string=NB201_STRING), "Only NAS-Bench-201 genotypes have an 'nb201_string'"),
        (_darts_dict(normal_concat=[2, 2, 3]), "distinct nodes among 0..5"),
        (_darts_dict(normal_concat=[2, 6]), "distinct nodes among 0..5"),
        (_darts_dict(normal_concat=[]), "distinct nodes among 0..5"),
        (_darts_dict(reduce_concat="2345"), "reduce_concat must be a list of integer node indices"),
        (_darts_dict(reduce_concat=[2, "3"]), "reduce_concat must be a list of integer node indices"),
        (_darts_dict(reduce_concat=[True, 3]), "reduce_concat must be a list of integer node indices"),
        (_darts_dict(reduce_concat=7), "reduce_concat must be a list of integer node indices"),
        (_darts_dict(normal=[]), "even and positive"),
    ],
)
def test_wrong_types_and_keys_are_rejected_clearly(data, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(data)
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"space": "nb201", "normal": NaN}', "NaN is not a JSON number"),
        ('{"space": "nb201", "version": Infinity}', "Infinity is not a JSON number"),
        ('{"space": "nb201", "version": ' + "9" * 5000 + "}", "5000 digits\\) is too large"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (b'{"space": "\xff"}', "not valid JSON"),
        (None, "must be text, got NoneType"),
        (3, "must be text, got int"),
    ],
)
def test_malformed_json_raises_only_genotype_errors(text, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_json(text)


def test_extreme_values_give_short_messages():
    deep = 0
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(GenotypeError, match="each entry must be") as caught:
        Genotype.from_dict(_nb201_dict(normal=deep))  # no RecursionError quoting it
    assert len(str(caught.value)) < 300
    with pytest.raises(GenotypeError, match="unknown op") as caught:
        Genotype.from_dict(_nb201_dict(normal=[["x" * 10**6, 0]] * 6))
    assert len(str(caught.value)) < 500
    huge = 10**400
    with pytest.raises(GenotypeError, match="node 2 takes input node"):
        Genotype.from_dict(_darts_dict(normal=[["sep_conv_3x3", 0], ["sep_conv_3x3", huge]] * 4))


@pytest.mark.parametrize(
    "text,message",
    [
        (NB201_STRING.replace("~2", "~²"), "Expected 'op~input'"),
        (NB201_STRING.replace("~2", "~٢"), "Expected 'op~input'"),
        (NB201_STRING.replace("~1|none", "~𝟙|none"), "Expected 'op~input'"),
        (NB201_STRING.replace("~2", "~02"), "Expected 'op~input'"),
        (NB201_STRING.replace("~2", "~" + "2" * 5000), "Expected 'op~input'"),
        (NB201_STRING.replace("|+|", "|"), "has 3 '\\+'-separated nodes, got 1"),
        (NB201_STRING.replace("|+|skip_connect~0|", "|skip_connect~0|+|"), "Node 2 .* takes 2 inputs"),
        (NB201_STRING.replace("~0|+", "~0 |+"), "Expected 'op~input'"),
        ("|+|+|", "Not a NAS-Bench-201 string"),
        (None, "must be a str, got NoneType"),
        (b"|a~0|", "must be a str, got bytes"),
    ],
)
def test_bad_nb201_strings_raise_only_genotype_errors(text, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_string(text, "nb201")


def test_accepted_variants_load_to_the_canonical_genotype(tmp_path):
    expected = Genotype.from_string(NB201_STRING, "nb201")
    assert Genotype.from_string(f"\u2003{NB201_STRING}\n", "nb201") == expected
    variant = _nb201_dict(space="NB201", format="keras-drnas-genotype", version=1, nb201_string=f" {NB201_STRING}")
    variant["normal"] = [["nor_conv_3x3", 0], ["nor_conv_3x3", 0], ["avg_pool_3x3", 1],
                         ["skip_connect", 0], ["nor_conv_1x1", 1], ["none", 2]]
    loaded = Genotype.from_dict(variant)
    assert loaded == expected and loaded.to_dict()["space"] == "nas-bench-201"
    assert Genotype.from_json(loaded.to_json()).to_json() == loaded.to_json()
    with_bom = tmp_path / "notepad.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + expected.to_json().encode())
    assert Genotype.load(with_bom) == expected


def test_every_file_error_names_the_file(tmp_path):
    for name, content in [("nested.json", "[" * 100_000), ("nan.json", '{"space": NaN}'),
                          ("stray.json", json.dumps(_nb201_dict(reduce_concta=[2])))]:
        (tmp_path / name).write_text(content)
        with pytest.raises(GenotypeError, match=name):
            Genotype.load(tmp_path / name)
    with pytest.raises(GenotypeError, match="Cannot read genotype file .*folder"):
        (tmp_path / "folder").mkdir()
        Genotype.load(tmp_path / "folder")
    with pytest.raises(GenotypeError, match="Cannot read genotype file"):
        Genotype.load(str(tmp_path / "nul\0.json"))
    with pytest.raises(GenotypeError, match="path must be a str or path, got NoneType"):
        Genotype.load(None)
