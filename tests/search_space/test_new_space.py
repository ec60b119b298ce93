"""A third search space, defined here in one class and registered by name,
goes through everything the two built-in ones do: search, derivation,
genotype files and strings, the derived network, `.keras`, the plots and
the command line. Nothing in the package knows about it."""

import json

import keras
import numpy as np
import pytest
from keras import layers

import keras_drnas as kd
from keras_drnas.cli import main
from keras_drnas.plots import cell_diagram
import keras_drnas.search_space.space as spaces
import keras_drnas.search_strategy.supernet as supernets
from keras_drnas.search_space import DerivedNetwork, GenotypeError, create_op, register_space
from keras_drnas.search_strategy import build_supernet, default_stages, register_supernet
from keras_drnas.search_strategy.optimizers import search_defaults
from tests.helpers import compiled, tiny_pairs


class ChainSpace(kd.SearchSpace):
    """One input and two intermediate nodes (edges 1<-0, 2<-0, 2<-1); unlike
    both built-in spaces, a node keeps only its strongest incoming edge."""

    name = "tiny-chain"
    aliases = ("chain",)
    default_op_names = ("skip_connect", "nor_conv_3x3", "avg_pool_3x3")
    default_intermediate_nodes = 2
    search_learning_rates = {"learning_rate": 0.05, "min_learning_rate": 0.0, "arch_learning_rate": 3e-3}
    progressive_stages = ((1, 2, 3), (1, 1, 2))
    network_arguments = ("channels", "num_classes", "input_shape")

    def derive_cell(self, weights):
        weights = self.check_weights(weights)
        pairs = []
        for node in range(1, self.num_nodes):
            row, src = max(self.incoming(node), key=lambda edge: weights[edge[0]].max())
            pairs.append((self.op_names[int(np.argmax(weights[row]))], src))
        return pairs

    def random_cell(self, rng):
        return [(str(rng.choice(self.op_names)), int(rng.integers(node))) for node in range(1, self.num_nodes)]

    def check_cell(self, pairs, cell_type):
        if len(pairs) != self.intermediate_nodes:
            raise GenotypeError(f"A tiny-chain cell keeps one edge per node, got {len(pairs)} edges.")
        for node, (op, src) in enumerate(pairs, 1):
            self.check_genotype_op(op, cell_type)
            if not 0 <= src < node:
                raise GenotypeError(f"node {node} cannot read node {src}.")
        return self.intermediate_nodes

    def kept_edges(self, pairs):
        return [(self.edges.index((node, src)), node, src, op) for node, (op, src) in enumerate(pairs, 1)]

    def build_network(self, genotype, channels=8, num_classes=10, input_shape=(16, 16, 1)):
        inputs = keras.Input(input_shape)
        nodes = [layers.Conv2D(channels, 3, padding="same", name="stem")(inputs)]
        for node, (op, src) in enumerate(genotype.normal, 1):
            nodes.append(create_op(op, channels, affine=True, layer_name=f"node_{node}_{op}")(nodes[src]))
        outputs = layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(nodes[-1]))
        model = keras.Model(inputs, outputs)
        return DerivedNetwork(model, model, [])


@pytest.fixture
def chain_space():
    registered = dict(spaces._SPACES), dict(supernets._SUPERNETS)
    register_space(ChainSpace)
    # The NAS-Bench-201 skeleton (stages of one-input cells) serves any space of one-input cells.
    register_supernet("tiny-chain")(kd.NASBench201Supernet)
    yield kd.get_space("chain")
    for registry, before in zip((spaces._SPACES, supernets._SUPERNETS), registered):
        registry.clear()
        registry.update(before)


def test_a_space_defined_outside_the_package_searches_derives_and_ships(chain_space, tmp_path):
    assert chain_space.name == "tiny-chain" and chain_space.edges == ((1, 0), (2, 0), (2, 1))
    net = build_supernet("tiny-chain", channels=4, cells_per_stage=1, num_cells=3, seed=0)
    assert net.space == chain_space and [c.space for c in net.cells()] == [chain_space] * 3
    search = compiled(net)
    pairs = tiny_pairs(n=64, batch_size=16)
    search.build_for(pairs)
    initial = net.concentrations()["normal"]  # eta starts as 1e-3 noise
    history = search.fit(pairs, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    beta = net.concentrations()["normal"]
    assert beta.shape == (3, 3) and np.abs(beta - initial).max() > 2e-3  # the architecture was learnt

    genotype = search.genotype()
    means = net.expected_op_weights()["normal"]
    assert genotype.space == "tiny-chain" and len(genotype.normal) == 2  # one edge per node: the space's rule
    strongest_into_2 = max((0, 1), key=lambda src: means[1 + src].max())
    assert genotype.normal[1] == (chain_space.op_names[int(np.argmax(means[1 + strongest_into_2]))], strongest_into_2)
    path = tmp_path / "genotype.json"
    genotype.save(path)
    assert kd.Genotype.load(path) == genotype and json.loads(path.read_text())["space"] == "tiny-chain"
    assert kd.Genotype.from_string(genotype.to_string(), "chain") == genotype
    with pytest.raises(GenotypeError, match="cannot read node 2"):
        kd.Genotype("tiny-chain", [("skip_connect", 0), ("skip_connect", 2)])
    with pytest.raises(GenotypeError, match="has no reduce"):
        kd.Genotype("tiny-chain", genotype.normal, reduce=genotype.normal)

    model = kd.build_network(genotype, channels=4, num_cells=20, input_shape=(8, 8, 1)).model  # num_cells: ignored
    assert {type(layer).__module__.split(".")[0] for layer in _all_layers(model)} == {"keras"}
    model.save(tmp_path / "derived.keras")
    reloaded = keras.models.load_model(tmp_path / "derived.keras")  # built-in layers: no custom objects
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)

    assert search_defaults(chain_space)["arch_learning_rate"] == 3e-3
    assert [str(s) for s in default_stages("chain")] == ["1:2:3", "1:1:2"]
    labels = [t.get_text() for t in cell_diagram(genotype).axes[0].texts]
    assert [op for op, _ in genotype.normal] == [t for t in labels if t in chain_space.op_names]


def _all_layers(layer):
    yield layer
    for inner in getattr(layer, "layers", []):
        yield from _all_layers(inner)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the command line runs on TensorFlow")
def test_the_command_line_searches_a_registered_space(chain_space, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["search", "--space", "chain", "--channels", "4", "--cells-per-stage", "1", "--epochs", "1",
                 "--max-images", "128", "--batch-size", "32", "--exploration-samples", "0",
                 "--output-dir", str(out)]) == 0
    assert "Searching the tiny-chain space" in capsys.readouterr().out
    genotype = kd.Genotype.load(out / "genotype.json")
    assert genotype.space == "tiny-chain" and len(genotype.normal) == 2
    assert (out / "plots" / "cell_normal.png").exists()
