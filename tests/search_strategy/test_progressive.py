import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.data import search_pairs
from keras_drnas.search_strategy import SearchModel
from keras_drnas.search_strategy.optimizers import default_arch_optimizer, default_weight_optimizer
from keras_drnas.callbacks import ExportDerived, GenotypeLogger, ProgressiveLearning, Stage
from tests.helpers import tensorflow_only, to_numpy


def _pairs(n=96, size=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 3)).astype("float32")
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 0.5).astype("int32") + 2 * (x[:, 0, 0, 1] > 0.5)
    return search_pairs((x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :]), 16, 4, seed=seed)


def _search(partial_channels=4, **options):
    search = SearchModel(kd.NASBench201Supernet(channels=8, cells_per_stage=1, num_classes=4,
                                                partial_channels=partial_channels, seed=0, **options))
    search.compile(optimizer=default_weight_optimizer(0.05, 0.0), arch_optimizer=default_arch_optimizer(3e-3))
    return search


def test_two_stage_search_in_one_fit_call(tmp_path):
    search = _search(partial_channels=4)
    pairs = _pairs()
    log = tmp_path / "genotypes.jsonl"
    progressive = ProgressiveLearning([Stage(3, 4, 5), Stage(3, 2, 3)], seed=0)
    search.build_for(pairs)
    eta_before = {}

    eta_after = {}

    class Snapshot(keras.callbacks.Callback):
        """Just before (end of epoch 2) and just after (begin of epoch 3, after
        `progressive`, earlier in the list, pruned and widened) the switch:
        no training or architecture step lies between the two."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                eta_before["value"] = to_numpy(search.architecture_variables[0]).copy()
                eta_before["step"] = int(search.optimizer.iterations)
                eta_before["arch_m"] = [to_numpy(v).copy() for v in search.arch_optimizer.variables]
                eta_before["learning_rate"] = float(search.optimizer.learning_rate)

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                eta_after["value"] = to_numpy(search.architecture_variables[0]).copy()
                eta_after["step"] = int(search.optimizer.iterations)
                eta_after["arch_m"] = [to_numpy(v).copy() for v in search.arch_optimizer.variables]
                eta_after["learning_rate"] = float(search.optimizer.learning_rate)
                eta_after["partial_channels"] = search.supernet.partial_channels

    export = ExportDerived(str(tmp_path / "export"),
                           dict(channels=8, cells_per_stage=1, num_classes=4, input_shape=(8, 8, 3)),
                           inherit_weights=True, progressive=progressive)
    summaries = keras.backend.backend() == "tensorflow"  # TensorBoard's summaries are written with TensorFlow
    logger = GenotypeLogger(str(log), str(tmp_path / "tb") if summaries else None)
    history = search.fit(pairs, epochs=6, verbose=0, callbacks=[progressive, Snapshot(), logger, export])
    net = search.supernet
    assert net.partial_channels == 2
    assert all(e.partial_channels == 2 and len(e.candidate_ops) <= 3 for c in net.cells() for e in c.edges)
    assert all(sum(row) == 3 for row in net.normal_distribution.op_mask)
    assert history.history["partial_channels"] == [4, 4, 4, 2, 2, 2]
    # Kept eta continued from its stage-1 values (no re-initialisation).
    kept = np.array(net.normal_distribution.op_mask)
    delta = np.abs(to_numpy(search.architecture_variables[0]) - eta_before["value"])[kept]
    assert delta.max() < 0.05
    # Across the switch itself (no step in between) eta is exactly what it was, kept entries included.
    assert eta_after["partial_channels"] == 2 and kept.sum() < kept.size  # the snapshot is after the switch
    np.testing.assert_array_equal(eta_after["value"][kept], eta_before["value"][kept])
    np.testing.assert_array_equal(eta_after["value"], eta_before["value"])
    # The architecture optimizer (Adam: step count, moments) is untouched by the switch.
    assert len(eta_after["arch_m"]) == len(eta_before["arch_m"]) >= 3
    assert int(eta_before["arch_m"][0]) == eta_before["step"]  # Adam took every step so far
    for after, before in zip(eta_after["arch_m"], eta_before["arch_m"], strict=True):
        np.testing.assert_array_equal(after, before)
    assert any(np.abs(m).max() > 0 for m in eta_before["arch_m"][1:])  # there are moments to lose
    assert int(search.optimizer.iterations) == 2 * eta_before["step"]  # the schedule continues
    # ... and so does the learning rate itself: the cosine (0.05 -> 0 over all 6 epochs) at the
    # switch's global step, half-way, not its initial 0.05.
    assert eta_after["step"] == eta_before["step"]
    halfway = 0.05 * 0.5 * (1 + np.cos(np.pi * eta_before["step"] / (2 * eta_before["step"])))
    np.testing.assert_allclose([eta_before["learning_rate"], eta_after["learning_rate"]], [halfway] * 2, rtol=1e-5)
    losses = history.history["loss"]
    assert losses[-1] < losses[3]  # still learning after the boundary
    assert losses[3] < losses[0]  # no restart from scratch
    lines = log.read_text().splitlines()
    assert len(lines) == 6 and '"genotype"' in lines[-1]
    assert not summaries or any(f.startswith("events") for f in os.listdir(tmp_path / "tb" / "architecture"))
    for folder in ("export/stage_0", "export/stage_1", "export"):
        derived = keras.models.load_model(tmp_path / folder / "derived.keras")  # no custom objects
        assert derived(np.zeros((1, 8, 8, 3), "float32")).shape == (1, 4)
        assert kd.Genotype.load(tmp_path / folder / "genotype.json").space == "nas-bench-201"
    final = kd.Genotype.load(tmp_path / "export" / "genotype.json")
    assert final == search.genotype()


def test_stage_validation():
    with pytest.raises(ValueError, match="keep partial_channels and ops_kept equal or shrinking"):
        ProgressiveLearning([Stage(1, 2, 3), Stage(1, 4, 3)])
    with pytest.raises(ValueError, match="epochs:partial_channels:ops_kept"):
        Stage.parse("25-6-7")
    search = _search(partial_channels=1)
    with pytest.raises(ValueError, match="built with partial_channels=1 but the first stage uses 4"):
        search.fit(_pairs(), epochs=1, verbose=0, callbacks=[ProgressiveLearning([Stage(1, 4, 5)])])


MIRRORED = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import tests.search_strategy.test_progressive as t
    from keras_drnas.callbacks import ProgressiveLearning, Stage
    import keras
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(0)
    with strategy.scope():
        search = t._search(partial_channels=4, remat=True)
    assert search.distribute_strategy.num_replicas_in_sync == 2
    history = search.fit(t._pairs(), epochs=2, verbose=0,
                         callbacks=[ProgressiveLearning([Stage(1, 4, 5), Stage(1, 2, 3)], seed=0)])
    net = search.supernet
    assert net.partial_channels == 2
    assert all(len(e.candidate_ops) <= 3 for c in net.cells() for e in c.edges)
    assert all(np.isfinite(history.history["loss"]))
    widened = [v for c in net.cells() for e in c.edges for v in e.weights]
    assert widened and all(type(v._value).__name__ == "MirroredVariable" for v in widened)
    # The mobilenet chain too (its blocks prune by masking columns): eagerly, 3 steps per epoch.
    from keras_drnas.search_space.mobilenet import MOBILENET
    with strategy.scope():
        chain = t.SearchModel(t.kd.MobileNetSupernet(space=MOBILENET.with_stages(((16, 2, 1),)), channels=8,
                                                   num_classes=4, seed=0))
        chain.compile(run_eagerly=True)
    chain.fit(t._pairs(), epochs=2, verbose=0, callbacks=[ProgressiveLearning([Stage(1, 1, 7), Stage(1, 1, 3)])])
    assert [len(block.columns) for block in chain.supernet.blocks] == [3, 3]
    assert all(type(v._value).__name__ == "MirroredVariable" for v in chain.supernet.trainable_variables)
    assert chain.genotype().space == "mobilenet"
    print("MIRRORED-OK", history.history["loss"])
    """
)


@tensorflow_only
def test_progressive_search_under_mirrored_strategy_with_remat():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, "-c", MIRRORED, root], capture_output=True, text=True, timeout=600)
    assert "MIRRORED-OK" in result.stdout, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.mark.parametrize(
    "text,message",
    [("0:4:5", "epochs must be at least 1"), ("25:0:5", "partial_channels must be at least 1"),
     ("25:4:0", "ops_kept must be at least 1"), ("25:4", "three positive integers"), ("25:4:5:1", "three positive"),
     ("25:-4:5", "three positive"), ("2.5:4:5", "three positive"), ("25:²:5", "three positive"),
     ("25:٣:5", "three positive"), ("", "three positive"), (None, "three positive")],
)
def test_bad_stage_text_names_the_stage(text, message):
    from keras_drnas.utils.errors import InputError

    with pytest.raises(InputError, match=message) as caught:
        Stage.parse(text)
    assert repr(text) in str(caught.value)


def test_stage_values_and_stage_lists_are_validated():
    assert Stage.parse(" 25 : 6:7") == Stage(25, 6, 7) and str(Stage(25, 6, 7)) == "25:6:7"
    for values in [(0, 0, 0), (True, 1, 1), (1.5, 1, 1), ("1", 1, 1)]:
        with pytest.raises(ValueError, match="must be a positive integer"):
            Stage(*values)
    for stages in [[], [5], "25:6:7", [(1, 2, 3), (1, 3, 3)]]:
        with pytest.raises(ValueError, match="ProgressiveLearning|shrinking"):
            ProgressiveLearning(stages)
