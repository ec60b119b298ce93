"""The mobilenet space (a chain of inverted-residual blocks) with latency in
the objective: search, genotypes, the derived network, TFLite, the latency
table and the expected-latency term."""

import shutil
import warnings

import keras
import numpy as np
import pytest
from keras import ops

import keras_drnas as kd
from keras_drnas.callbacks import ProgressiveLearning, SearchCheckpoint, Stage
from keras_drnas.data import search_pairs
from keras_drnas.search_space.mobilenet import MOBILENET
from keras_drnas.search_strategy.latency import LatencyObjective, LatencyTable, LatencyTableError
from keras_drnas.search_strategy.progressive import default_stages
from tests.helpers import compiled, gradients, tensorflow_only, tiny_pairs, to_numpy
from tests.search_strategy.test_distribution import closed_form_gradient

TINY = MOBILENET.with_stages(((16, 1, 1), (24, 2, 2)))  # blocks at channels=8: 8->8, 8->12 stride 2, 12->12


def _tiny_search(latency=None, seed=0, epochs=2):
    keras.utils.set_random_seed(seed)
    net = kd.MobileNetSupernet(space=TINY, channels=8, num_classes=10, seed=seed)
    search = compiled(net, latency=latency)
    pairs = tiny_pairs(n=64, size=16, channels=3, batch_size=16, seed=seed)
    history = search.fit(pairs, epochs=epochs, verbose=0)
    return search, history


def _table(expensive=10.0):
    """A made-up table: the expansion-6 and kernel-7 choices cost more."""
    costs = np.array([[1.0 + expensive * (op.endswith("e6") + op.startswith("mb_k7")) for op in TINY.op_names]
                      for _ in range(TINY.num_edges)])
    costs[:, TINY.op_names.index("skip_connect")] = 0.0
    return LatencyTable(TINY, np.where(TINY.op_mask(), costs, np.nan), fixed_ms=2.0)


def test_the_space_is_a_chain_with_skip_only_where_the_shape_is_kept():
    assert TINY.edges == ((1, 0), (2, 1), (3, 2))
    assert TINY.blocks(channels=8) == [(8, 8, 1), (8, 12, 2), (12, 12, 1)]
    assert TINY.blocks(channels=8, large_input=True)[0] == (8, 8, 2)  # ImageNet strides
    # A stage's first block may change the shape (at channels=16 the first one is 16->8): no skip there.
    assert TINY.skip_allowed() == [False, False, True]
    assert MOBILENET.num_edges == 16 and MOBILENET.skip_allowed()[:3] == [False, True, False]
    assert kd.get_space(TINY.config()) == TINY and kd.get_space("mobilenetv2") is MOBILENET
    # Its backbone stages do not hide the progressive ones (keras-drnas search --progressive reads them).
    assert [str(stage) for stage in default_stages("mobilenet")] == ["25:1:7", "25:1:3"]
    with pytest.raises(ValueError, match="stages must be"):
        MOBILENET.with_stages(((8, 0, 1),))
    with pytest.raises(ValueError, match="Unknown mobilenet op 'sep_conv_3x3'"):
        MOBILENET.with_ops(["mb_k3_e3", "sep_conv_3x3"])


@pytest.fixture(scope="module")
def free_search():
    """A search free of the latency term: its target lies above the expected latency, so the penalty
    and its gradient are 0 throughout, and fit says so (module scope: Keras' global state is not
    cleared in between; its tests are one xdist group, so one worker runs it)."""
    with pytest.warns(UserWarning, match=r"target 100 ms is above the expected latency at the start \(28\.6\d\d ms"):
        return _tiny_search(LatencyObjective(_table(), target_ms=100.0))


@pytest.mark.xdist_group("mobilenet_free_search")
def test_a_search_derives_a_chain_that_ships_as_keras_and_tflite(free_search, tmp_path):
    search, history = free_search
    assert np.isfinite(history.history["loss"]).all()
    net = search.supernet
    beta = net.concentrations()["normal"]
    assert beta.shape == (3, 7) and np.abs(beta - 1).max() > 2e-3
    assert np.asarray(net.normal_distribution.op_mask)[:, TINY.op_names.index("skip_connect")].tolist() == [
        False, False, True]
    genotype = search.genotype()
    assert genotype.space == "mobilenet" and len(genotype.normal) == 3 and genotype.normal[1][0] != "skip_connect"
    genotype.save(tmp_path / "genotype.json")
    assert kd.Genotype.load(tmp_path / "genotype.json") == genotype
    assert kd.Genotype.from_string(genotype.to_string(), "mobilenet") == genotype
    with pytest.raises(kd.GenotypeError, match="lists 2 blocks but this mobilenet backbone has 3"):
        TINY.build_network(kd.Genotype("mobilenet", [("mb_k3_e3", 0), ("mb_k5_e6", 1)]))
    with pytest.raises(kd.GenotypeError, match="Block 0 starts a stage"):
        TINY.build_network(kd.Genotype("mobilenet", [("skip_connect", 0), ("mb_k3_e3", 1), ("mb_k3_e3", 2)]))
    with pytest.raises(kd.GenotypeError, match="Block 1 starts a stage"):
        TINY.build_network(kd.Genotype("mobilenet", [("mb_k3_e3", 0), ("skip_connect", 1), ("mb_k3_e3", 2)]))

    model = TINY.build_network(genotype, channels=8, input_shape=(16, 16, 3)).model
    kinds = {type(layer).__name__ for layer in _all_layers(model)}
    assert {"DepthwiseConv2D", "Conv2D", "BatchNormalization", "ReLU"} <= kinds
    assert {type(layer).__module__.split(".")[0] for layer in _all_layers(model)} == {"keras"}
    model.save(tmp_path / "derived.keras")
    x = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")
    reloaded = keras.models.load_model(tmp_path / "derived.keras")  # no custom objects
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_pruning_drops_the_weaker_choices_of_every_block():
    net = kd.MobileNetSupernet(space=TINY, channels=8, seed=0)
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    net(x)
    eta = np.tile(np.arange(7, dtype="float32") / 10, (3, 1))  # later choices stronger
    net.normal_distribution.eta.assign(eta)
    before = len(net.weights)
    net.prune(2)
    assert [block.columns for block in net.blocks] == [[4, 5], [4, 5], [5, 6]]  # skip is masked in blocks 0 and 1
    assert len(net.weights) < before and not any("mb_k3" in w.path for w in net.weights)
    assert net(x, training=True).shape == (2, 10)
    assert net.genotype().to_string() == "mb_k7_e6 mb_k7_e6 skip_connect"


@tensorflow_only
def test_a_tiny_derived_network_converts_to_int8_tflite_with_agreement():
    from keras_drnas.derived_model.export import run_tflite, to_tflite

    genotype = kd.Genotype("mobilenet", [("mb_k5_e3", 0), ("mb_k3_e6", 1), ("mb_k7_e3", 2)])
    model = TINY.build_network(genotype, channels=8, input_shape=(16, 16, 3)).model
    rng = np.random.default_rng(1)
    images = rng.random((200, 16, 16, 3)).astype("float32")
    for layer in model.layers:  # nonzero batch-norm statistics, so the int8 ranges matter
        if isinstance(layer, keras.Model):
            for inner in layer.layers:
                if isinstance(inner, keras.layers.BatchNormalization):
                    inner.moving_mean.assign(rng.normal(0, 0.1, inner.moving_mean.shape))
    expected = model.predict(images, verbose=0).argmax(-1)
    int8 = run_tflite(to_tflite(model, "int8", images[:64]), images).argmax(-1)
    float32 = run_tflite(to_tflite(model), images).argmax(-1)
    assert np.mean(float32 == expected) == 1.0
    assert np.mean(int8 == expected) >= 0.95


def test_the_expected_latency_gradient_is_its_closed_form():
    """d/d eta of weight * E[T] = weight * sum_o beta_o / sum(beta) * T_o per block."""
    space = MOBILENET.with_stages(((16, 2, 1),))  # block 1 keeps the shape: every op can run there
    costs = np.array([[0.0] * 7, [0.3, 0.9, 0.5, 1.4, 0.8, 2.0, 0.0]])
    table = LatencyTable(space, np.where(space.op_mask(), costs, np.nan), fixed_ms=1.0)
    objective = LatencyObjective(table, weight=0.7)
    dist = kd.layers.ArchitectureDistribution(2, 7, op_mask=space.op_mask(), seed=0)
    dist.build()
    eta = np.random.default_rng(0).uniform(-2, 2, (2, 7)).astype("float32")
    dist.eta.assign(eta)
    value, (grad,) = gradients(lambda: objective.loss({"normal": dist.mean()}), [dist.eta])
    mean = to_numpy(dist.mean())
    np.testing.assert_allclose(value, 0.7 * (1.0 + (mean * costs).sum()), rtol=1e-5)
    np.testing.assert_allclose(grad[1], 0.7 * closed_form_gradient(eta[1], costs[1]), rtol=1e-4, atol=1e-7)
    assert np.abs(grad[1]).max() > 0.01
    # Above a target the penalty is the excess; below it, nothing.
    high, low = (LatencyObjective(table, target_ms=t) for t in (1.0 + (mean * costs).sum() + 0.5, 1.2))
    assert float(to_numpy(high.loss({"normal": dist.mean()}))) == 0.0
    low_loss = float(to_numpy(low.loss({"normal": dist.mean()})))
    np.testing.assert_allclose(low_loss, (mean * costs).sum() - 0.2, rtol=1e-5)


@pytest.mark.xdist_group("mobilenet_free_search")
def test_a_tight_latency_target_ends_with_a_faster_network(free_search):
    table = _table()
    assert table.uniform_ms() == pytest.approx(2.0 + 2 * 56 / 6 + 56 / 7)  # blocks 0 and 1 cannot skip
    free, _ = free_search
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The latency target")  # a target below the expected latency acts
        tight, history = _tiny_search(LatencyObjective(table, target_ms=4.0))
    predicted = {name: table.predict_ms(search.genotype()) for name, search in (("free", free), ("tight", tight))}
    assert all(type(ms) is float for ms in predicted.values())  # JSON-ready, as the command line records it
    expected = {name: float(to_numpy(LatencyObjective(table).expected_ms(
        {"normal": ops.convert_to_tensor(search.supernet.expected_op_weights()["normal"])})))
        for name, search in (("free", free), ("tight", tight))}
    print("predicted ms", predicted, "expected ms", expected)
    assert expected["tight"] < expected["free"] - 0.1  # every arch step moved towards the cheap choices
    assert predicted["tight"] < predicted["free"]
    assert history.history["latency_ms"][-1] < history.history["latency_ms"][0]


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.replace("# space: mobilenet", "# space: darts"), "of the darts space, not of mobilenet"),
    (lambda text: "\n".join(line for line in text.splitlines() if ",mb_k5_e6," not in line),
     r"lacks 3 choices of this space \(block 0 mb_k5_e6, block 1 mb_k5_e6, block 2 mb_k5_e6\)"),
    (lambda text: text.replace("block,op,latency_ms", "block;op;ms"), "the first row must be the header"),
    (lambda text: text.replace("0,mb_k3_e3,1", "0,mb_k3_e3,fast"), "line 5: latency 'fast' is not a non-negative"),
    (lambda text: text.replace("0,mb_k3_e3,1", "7,mb_k3_e3,1"), "block '7' is not a block of this space"),
    (lambda text: text.replace("0,mb_k3_e3,1", "0,mb_k9_e3,1"), "'mb_k9_e3' is not a choice"),
    (lambda text: text.replace("fixed,,2", "fixed,,-2"), "latency '-2' is not a non-negative"),
    (lambda text: "\n".join(line for line in text.splitlines() if not line.startswith("fixed")), "no 'fixed' row"),
])
def test_a_users_latency_csv_loads_or_names_what_is_wrong(tmp_path, edit, message):
    path = _table().save(tmp_path / "table.csv")
    loaded = LatencyTable.load(path, TINY)
    np.testing.assert_array_equal(loaded.costs(), _table().costs())
    assert loaded.fixed_ms == 2.0
    skipless = "\n".join(line for line in path.read_text().splitlines() if "skip_connect" not in line)
    (tmp_path / "skipless.csv").write_text(skipless)  # a skip costs nothing: its rows may be left out
    np.testing.assert_array_equal(LatencyTable.load(tmp_path / "skipless.csv", TINY).costs(), _table().costs())
    (tmp_path / "broken.csv").write_text(edit(path.read_text()))
    with pytest.raises(LatencyTableError, match=message):
        LatencyTable.load(tmp_path / "broken.csv", TINY)
    with pytest.raises(LatencyTableError, match="Cannot read the latency table"):
        LatencyTable.load(tmp_path / "missing.csv", TINY)


@tensorflow_only
def test_a_measured_latency_table_predicts_the_networks_tflite_latency(tmp_path):
    from keras_drnas.derived_model.latency import measure_latency_table, tflite_latency_ms

    space = TINY.with_ops(["mb_k3_e3", "mb_k7_e6", "skip_connect"])  # fewer models to convert
    table = measure_latency_table(space, channels=8, input_shape=(16, 16, 3), repeats=20)
    assert np.isnan(table.block_ms).tolist() == [[False, False, True], [False, False, True], [False, False, False]]
    assert np.all(table.block_ms[:, :2] > 0) and table.block_ms[2, 2] == 0 and table.fixed_ms > 0
    assert np.all(table.block_ms[:, 1] > table.block_ms[:, 0])  # more work takes longer
    assert LatencyTable.load(table.save(tmp_path / "t.csv"), space).fixed_ms == pytest.approx(table.fixed_ms, 1e-5)
    genotype = kd.Genotype("mobilenet", [("mb_k7_e6", 0), ("mb_k3_e3", 1), ("mb_k7_e6", 2)])
    measured = tflite_latency_ms(space.build_network(genotype, channels=8, input_shape=(16, 16, 3)).model, 50)
    predicted = table.predict_ms(genotype)
    print(f"predicted {predicted:.3f} ms, measured {measured:.3f} ms")
    assert 0.5 < predicted / measured < 2.0  # tiny models: per-invoke overheads weigh more than on real ones


class _CopyCheckpointAt(keras.callbacks.Callback):
    """Copies the checkpoint folder after step `step` of epoch `epoch`: what a kill there would leave."""

    def __init__(self, source, copy, epoch, step):
        super().__init__()
        self.source, self.copy, self.at, self.epoch = source, copy, (epoch, step), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch + 1) == self.at:
            shutil.copytree(self.source, self.copy)


@tensorflow_only  # eager steps take 3x longer on JAX; its resume is checked by test_checkpoint's kill test
def test_a_pruned_search_resumes_mid_epoch_from_its_checkpoint(tmp_path):
    """Pruned to 3 choices per block at epoch 1, killed after its first step there (a copy of the
    checkpoint), resumed: the same concentrations, genotype and weights as the straight run."""
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8, 8, 3)).astype("float32"), rng.integers(0, 10, 64).astype("int32")
    space = MOBILENET.with_stages(((16, 2, 1),))  # two blocks: 8->8 (no skip), 8->8

    def run(directory, *extra):
        stages = ProgressiveLearning([Stage(1, 1, 7), Stage(1, 1, 3)], seed=0)
        checkpoint = SearchCheckpoint(directory, save_freq=1, progressive=stages)
        keras.utils.set_random_seed(0)
        search = compiled(checkpoint.supernet() or kd.MobileNetSupernet(space=space, channels=8, seed=0))
        search.run_eagerly = True  # four steps: tracing them would take most of the test's time
        pairs = search_pairs((x[:32], y[:32]), (x[32:], y[32:]), 16, 10, seed=0, epochs=2,
                             initial_epoch=checkpoint.initial_epoch)
        search.fit(pairs, epochs=2, verbose=0, callbacks=[stages, checkpoint, *extra])
        return search

    straight = run(tmp_path / "straight", _CopyCheckpointAt(tmp_path / "straight", tmp_path / "killed", 1, 1))
    assert SearchCheckpoint(tmp_path / "killed").position == "in epoch 2 after step 1"
    resumed = run(tmp_path / "killed")
    assert [block.columns for block in resumed.supernet.blocks] == [block.columns for block in straight.supernet.blocks]
    assert all(len(block.columns) == 3 for block in resumed.supernet.blocks)
    assert resumed.genotype() == straight.genotype()
    np.testing.assert_allclose(resumed.concentrations()["normal"], straight.concentrations()["normal"], rtol=1e-6)
    for a, b in zip(straight.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-5, atol=1e-6, err_msg=a.path)


def _all_layers(layer):
    yield layer
    for inner in getattr(layer, "layers", []):
        yield from _all_layers(inner)
