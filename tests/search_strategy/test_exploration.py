import json

import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.search_strategy.exploration import ExplorationRecorder, sample_op_weights
from keras_drnas.search_strategy.fixed_architecture import genotype_op_weights
from keras_drnas.utils.errors import InputError
from tests.helpers import compiled, tiny_pairs

SMALL_DARTS = kd.DARTS.with_ops(["max_pool_3x3", "skip_connect", "sep_conv_3x3"]).with_intermediate_nodes(2)


def test_records_chosen_epochs_of_a_search_into_json_and_logs(tmp_path):
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    pairs = tiny_pairs(n=64, batch_size=16)
    path = tmp_path / "exploration.json"
    recorder = ExplorationRecorder(pairs, str(path), epochs=[2], num_samples=6, num_batches=2, seed=0)
    history = search.fit(pairs, epochs=2, verbose=0, callbacks=[recorder])
    records = json.loads(path.read_text())
    assert list(records) == ["2"]
    sampled, derived = records["2"]["sampled"], records["2"]["derived"]
    assert len(sampled) == 6 and all(0.0 <= a <= 1.0 for a in sampled + [derived])
    # 32 validation examples: every accuracy is a count of them.
    assert all(float(a * 32).is_integer() for a in sampled + [derived])
    logs = history.history
    assert logs["exploration_sampled_accuracy_min"] == [min(sampled)]
    assert logs["exploration_sampled_accuracy_max"] == [max(sampled)]
    assert logs["exploration_derived_accuracy"] == [derived]
    assert recorder.record(epoch=5) == recorder.record(epoch=5)  # seeded per epoch


def test_a_single_op_per_edge_makes_every_sample_the_derived_architecture(tmp_path):
    supernet = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0)
    search = compiled(supernet)
    pairs = tiny_pairs(n=64, batch_size=32)
    search.build_for(pairs)
    supernet.prune(1)  # the Dirichlet mean is now the one-hot derived architecture
    recorder = ExplorationRecorder(pairs, str(tmp_path / "exploration.json"), num_samples=4, num_batches=1)
    recorder.set_model(search)
    record = recorder.record()
    (_, _), (x, y) = next(iter(pairs))
    expected = float(np.mean(np.argmax(supernet(x, training=False), axis=-1) == y.numpy()))
    assert record == {"sampled": [expected] * 4, "derived": expected}


def test_darts_samples_keep_two_edges_per_node_and_resume_keeps_records(tmp_path):
    # A small DARTS space keeps the test fast: building the full one takes ~20 s.
    search = compiled(kd.DartsSupernet(channels=4, num_cells=3, seed=0, space=SMALL_DARTS))
    pairs = tiny_pairs(n=16, batch_size=8)
    search.build_for(pairs)
    path = str(tmp_path / "exploration.json")
    recorder = ExplorationRecorder(pairs, path, num_samples=3, num_batches=1, seed=0)
    recorder.set_model(search)
    recorder.on_train_begin()
    logs = {}
    recorder.on_epoch_end(0, logs)
    with open(path) as f:
        assert len(json.load(f)["1"]["sampled"]) == 3
    assert 0.0 <= logs["exploration_derived_accuracy"] <= 1.0
    weights = genotype_op_weights(search.supernet.space, search.genotype())
    assert set(weights) == {"normal", "reduce"}
    for matrix in weights.values():
        assert matrix.sum() == 4 and matrix.sum(axis=1).max() == 1  # two edges into each of 2 nodes

    resumed = ExplorationRecorder(pairs, path, num_samples=3, num_batches=1, seed=0)
    resumed.set_model(search)
    resumed.on_train_begin()
    resumed.on_epoch_begin(1)  # resuming after epoch 1
    assert list(resumed.records) == [1]
    fresh = ExplorationRecorder(pairs, path, num_samples=3, num_batches=1, seed=0)
    fresh.set_model(search)
    fresh.on_train_begin()
    fresh.on_epoch_begin(0)  # a new search in the same directory
    assert fresh.records == {}


def test_samples_follow_the_concentration_and_skip_masked_ops():
    rng = np.random.default_rng(0)
    beta = np.array([[50.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    mask = [[True, True, True], [False, True, True]]
    theta = np.stack([sample_op_weights(beta, mask, rng) for _ in range(400)])
    np.testing.assert_allclose(theta.sum(axis=2), 1.0)
    assert np.all(theta[:, 1, 0] == 0.0)
    np.testing.assert_allclose(theta[:, 0, 0].mean(), 50 / 52, atol=0.01)


def test_clear_errors():
    pairs = tiny_pairs(n=16, batch_size=8)
    with pytest.raises(InputError, match="epochs must be"):
        ExplorationRecorder(pairs, "x.json", epochs=0)
    with pytest.raises(InputError, match="tf.data.Dataset"):
        ExplorationRecorder([1, 2], "x.json")
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, relaxation="softmax", seed=0))
    recorder = ExplorationRecorder(pairs, "x.json")
    recorder.set_model(search)
    with pytest.raises(InputError, match="softmax relaxation"):
        recorder.on_train_begin()
    inputs = tf.keras.Input((8, 8, 4))
    user_model = tf.keras.Model(inputs, kd.DrNASCell("nas-bench-201", channels=4)(inputs))
    recorder.set_model(compiled(user_model))
    with pytest.raises(InputError, match="around a supernet"):
        recorder.on_train_begin()
