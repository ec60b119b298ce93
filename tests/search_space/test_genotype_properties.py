"""Property-based tests: genotype documents and NAS-Bench-201 strings from
outside either load into a genotype that round-trips or raise GenotypeError."""

import json
import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from keras_drnas import DARTS, NAS_BENCH_201, Genotype, GenotypeError
from keras_drnas.search_space.genotype import KEYS

# Bounded and deterministic: the file runs in seconds, the same way every time.
BOUNDED = settings(max_examples=250, deadline=None, database=None, derandomize=True)

DARTS_OPS = DARTS.op_names
# Values a new user might type where a genotype expects something else.
SURPRISES = st.sampled_from([
    "٣", "²", "𝟙", "0", "12", " 3", "darts", "DARTS", "nb201", "nas-bench-201", " darts\u00a0", "nor_conv_3x3",
    "skip_connect", "keras-drnas-genotype", "", 10**400, -(10**30), 2**63, 1e300, True, False, None,
])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | SURPRISES,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=4),
    max_leaves=10,
)


@st.composite
def nb201_genotypes(draw):
    ops = draw(st.lists(st.sampled_from(NAS_BENCH_201.op_names), min_size=6, max_size=6))
    return Genotype("nas-bench-201", [(op, src) for op, (_, src) in zip(ops, NAS_BENCH_201.edges)])


@st.composite
def darts_cells(draw, steps):
    return [(draw(st.sampled_from(DARTS_OPS)), draw(st.integers(0, 1 + k // 2))) for k in range(2 * steps)]


@st.composite
def darts_genotypes(draw):
    steps = draw(st.integers(1, 5))
    concat = st.none() | st.lists(st.integers(0, steps + 1), min_size=1, max_size=steps + 2, unique=True)
    return Genotype("darts", draw(darts_cells(steps)), draw(darts_cells(steps)), draw(concat), draw(concat))


GENOTYPES = nb201_genotypes() | darts_genotypes()


def _paths(value, path=()):
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, path + (key,))


@st.composite
def mutated_documents(draw):
    """A valid genotype's document with one to three edits a user might make."""
    document = draw(GENOTYPES).to_dict()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(document))))
        if not path:
            stray = {**document, draw(st.text(max_size=6)): 1} if isinstance(document, dict) else document
            document = draw(st.sampled_from([[document], stray]))
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        key, edit = path[-1], draw(st.sampled_from(["replace", "delete", "wrap", "duplicate"]))
        if edit == "replace":
            parent[key] = draw(JSON_VALUES)
        elif edit == "delete":
            del parent[key]
        elif edit == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[key + "_"] = parent[key]
    return document


def _outcome(load, source):
    """What loading `source` does: "rejected" (GenotypeError), "round-trips"
    (the genotype's JSON loads back equal and stable) or "changes on save and
    load". Any other exception propagates and fails the test."""
    try:
        genotype = load(source)
    except GenotypeError:
        return "rejected"
    text = genotype.to_json()
    again = Genotype.from_json(text)
    return "round-trips" if again == genotype and again.to_json() == text else "changes on save and load"


CLEAN = {"rejected", "round-trips"}


@BOUNDED
@given(GENOTYPES)
def test_every_valid_genotype_round_trips(genotype):
    assert _outcome(Genotype.from_json, genotype.to_json()) == "round-trips"
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert Genotype.from_dict(genotype.to_dict()) == genotype


@BOUNDED
@given(mutated_documents())
def test_mutated_documents_load_cleanly_or_raise_genotype_error(document):
    assert _outcome(Genotype.from_dict, document) in CLEAN
    assert _outcome(Genotype.from_json, json.dumps(document)) in CLEAN  # NaN, Infinity tokens included


@BOUNDED
@given(JSON_VALUES | st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, min_size=1))
def test_arbitrary_json_values_raise_only_genotype_error(value):
    assert _outcome(Genotype.from_dict, value) in CLEAN
    assert _outcome(Genotype.from_json, json.dumps(value)) in CLEAN


@BOUNDED
@given(st.text() | st.binary() | JSON_VALUES)
def test_arbitrary_text_raises_only_genotype_error(text):
    assert _outcome(Genotype.from_json, text) in CLEAN


@BOUNDED
@given(nb201_genotypes())
def test_every_nb201_string_parses_back(genotype):
    text = genotype.to_string()
    assert Genotype.from_string(text, "nb201") == genotype
    assert Genotype.from_string(f" {text}\n", "nb201") == genotype  # surrounding whitespace is fine


NB201_PIECES = st.sampled_from(list("|+~0123456789_ ") + ["٣", "²", "𝟙", "\u00a0", "\u2028", "nor_conv_3x3"])


@st.composite
def edited_nb201_strings(draw):
    text = draw(nb201_genotypes()).to_string()
    for _ in range(draw(st.integers(1, 3))):
        after_tilde = [i + 1 for i, c in enumerate(text) if c == "~"]  # where the input node digit is
        at = draw(st.sampled_from(after_tilde) | st.integers(0, len(text)))
        cut = draw(st.integers(0, 2))
        text = text[:at] + "".join(draw(st.lists(NB201_PIECES, max_size=3))) + text[at + cut :]
    return text


@BOUNDED
@given(edited_nb201_strings() | st.text() | JSON_VALUES)
def test_arbitrary_nb201_strings_raise_only_genotype_error(text):
    assert _outcome(lambda t: Genotype.from_string(t, "nb201"), text) in CLEAN
    try:
        genotype = Genotype.from_string(text, "nb201")
    except GenotypeError:
        return
    assert genotype.to_string() == text.strip()  # only ASCII digits: what parses is the benchmark's own string


@BOUNDED
@given(st.binary(max_size=200) | mutated_documents().map(lambda d: json.dumps(d).encode()))
def test_loading_a_broken_file_names_it(content):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "user-genotype.json")
        with open(path, "wb") as f:
            f.write(content)
        try:
            genotype = Genotype.load(path)
        except GenotypeError as error:
            assert path in str(error)
        else:
            assert Genotype.from_json(genotype.to_json()) == genotype
