import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_drnas as kd
from keras_drnas.callbacks import SearchCheckpoint
from keras_drnas.utils.errors import InputError
from tests.helpers import compiled, tiny_pairs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = ["-m", "tests.search_strategy.search_process"]  # 4 epochs of 3 steps, stages 2:2:5 then 2:1:3
# Seed of the kill moment: fixed, so a failure replays; KERAS_DRNAS_KILL_SEED=N tries another.
KILL_SEED = int(os.environ.get("KERAS_DRNAS_KILL_SEED", "20250101"))


def _start(directory, results, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, *SCRIPT, str(directory), str(results), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(directory, results, *extra, kill_after=None, delay=0.0):
    """Runs the search process; SIGKILLs it `delay` seconds after it prints
    the line `kill_after`. Returns the lines it printed."""
    process = _start(directory, results, *extra)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if kill_after is not None and lines[-1] == kill_after:
                time.sleep(delay)
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if kill_after is None:
        assert process.returncode == 0 and "DONE" in lines, process.stderr.read()[-3000:]
    else:
        assert process.returncode == -signal.SIGKILL and kill_after in lines, (lines, process.stderr.read()[-3000:])
    return lines


def _results(path):
    loaded = np.load(path, allow_pickle=True)
    return {k: loaded[k] for k in loaded.files}


def test_search_killed_at_random_moments_resumes_exactly(tmp_path):
    """SIGKILL at a random step, inside a checkpoint write and at a stage
    boundary; each time resumed: the end is the uninterrupted run's."""
    reference = _start(tmp_path / "reference", tmp_path / "reference.npz")  # alongside the interrupted runs
    try:
        rng = random.Random(KILL_SEED)
        moment = rng.choice(["STEP 0 1", "STEP 0 2", "STEP 0 3", "STEP 1 1"])
        delay = rng.uniform(0.0, 0.3)
        directory, results = tmp_path / "interrupted", tmp_path / "interrupted.npz"
        context = f"killed at {moment} + {delay:.2f} s (KERAS_DRNAS_KILL_SEED={KILL_SEED})"
        print(f"kill moment: {context}")
        _run(directory, results, kill_after=moment, delay=delay)
        state = SearchCheckpoint.load_state(directory)
        assert state is not None, context

        # Killed inside the 2nd write of state.json: the new weights file is
        # in place, the state only in a temporary file; the old pair is whole.
        # (Files only, the same on every backend: the TensorFlow run checks it.)
        if keras.backend.backend() == "tensorflow":
            lines = _run(directory, results, "--hang-state-write", "2", kill_after="HANGING")
            assert lines[0] == f"EPOCH {state['epoch']}", (context, lines)
            leftovers = sorted(os.listdir(directory))
            assert any(n.startswith(".tmp-") for n in leftovers), leftovers
            assert len([n for n in leftovers if n.endswith(".weights.h5")]) == 2, leftovers
            state = SearchCheckpoint.load_state(directory)

        # Killed at the start of stage 2, after pruning and widening: the
        # checkpoint on disk is stage 1's, whose supernet is rebuilt first.
        lines = _run(directory, results, "--hang-at-epoch", "2", kill_after="HANGING")
        assert lines[0] == f"EPOCH {state['epoch']}", (context, lines)
        state = SearchCheckpoint.load_state(directory)
        assert (state["epoch"], state["step"], state["stage"]) == (2, 0, 0), context
        assert state["supernet"]["config"]["partial_channels"] == 2
        assert sorted(os.listdir(directory)) == sorted(["state.json", state["weights"]])  # leftovers removed

        lines = _run(directory, results)
        assert lines[0] == "EPOCH 2" and "STEP 3 3" in lines
        reference.wait(timeout=300)
        assert reference.returncode == 0, reference.stderr.read()[-3000:]
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()

    straight, resumed = _results(tmp_path / "reference.npz"), _results(results)
    assert str(resumed["genotype"]) == str(straight["genotype"]), context
    assert list(resumed["iterations"]) == list(straight["iterations"]) == [12, 12]
    np.testing.assert_allclose(resumed["concentration_normal"], straight["concentration_normal"], rtol=1e-6)
    assert list(resumed["names"]) == list(straight["names"])
    for name, a, b in zip(straight["names"], straight["weights"], resumed["weights"], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7, err_msg=f"{name} ({context})")
    # The epoch logs too: the resumed epochs went on from the saved running means.
    straight_history, resumed_history = json.loads(str(straight["history"])), json.loads(str(resumed["history"]))
    assert len(resumed_history["loss"]) == 4
    for key, values in straight_history.items():
        np.testing.assert_allclose(resumed_history[key], values, rtol=1e-5, err_msg=key)


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """The checkpoint of a tiny search (channels 4) after epoch 1, written
    through the callback API without training (no step to trace)."""
    directory = tmp_path_factory.mktemp("saved") / "checkpoint"
    keras.utils.set_random_seed(0)
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0))
    search.build_for(tiny_pairs(n=64, batch_size=16))
    checkpoint = SearchCheckpoint(directory)
    checkpoint.set_model(search)
    checkpoint.set_params({"epochs": 1, "steps": 2})
    checkpoint.on_train_begin()
    checkpoint.on_epoch_begin(0)
    for step in range(2):
        checkpoint.on_train_batch_end(step)
    checkpoint.on_epoch_end(0, {"loss": 1.5})
    return directory


def _copy(saved, tmp_path):
    copy = tmp_path / "checkpoint"
    shutil.copytree(saved, copy)
    return copy


def _weights_file(directory):
    return directory / json.loads((directory / "state.json").read_text())["weights"]


def test_a_checkpoint_resumes_where_it_stopped(saved_checkpoint):
    checkpoint = SearchCheckpoint(saved_checkpoint)
    assert (checkpoint.initial_epoch, checkpoint.initial_step, checkpoint.position) == (1, 0, "after epoch 1")
    assert len(checkpoint.history["loss"]) == 1
    supernet = checkpoint.supernet()
    assert isinstance(supernet, kd.NASBench201Supernet) and supernet.channels == 4
    assert SearchCheckpoint.position_of({"epoch": 2, "step": 40}) == "in epoch 3 after step 40"


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "state.json").write_text('{"epoch": '), "state.json is not a search checkpoint state"),
    (lambda d: (d / "state.json").write_text('{"epoch": 1}'), "lacks step, steps_per_epoch, weights"),
    (lambda d: (d / "state.json").write_text("[1, 2]"), "lacks epoch, step"),
    (lambda d: os.remove(_weights_file(d)), "weights file that .*state.json names, is missing"),
    (lambda d: _weights_file(d).write_bytes(_weights_file(d).read_bytes()[:1000]), "truncated or was replaced"),
])
def test_a_damaged_checkpoint_is_a_clear_error_naming_the_file(saved_checkpoint, tmp_path, damage, message):
    directory = _copy(saved_checkpoint, tmp_path)
    damage(directory)
    with pytest.raises(InputError, match=message):
        SearchCheckpoint(directory)


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_a_checkpoint_of_another_model_is_a_clear_error(saved_checkpoint, tmp_path):
    directory = _copy(saved_checkpoint, tmp_path)
    checkpoint = SearchCheckpoint(directory)
    pairs = tiny_pairs(n=64, batch_size=16)
    other = compiled(kd.NASBench201Supernet(channels=8, cells_per_stage=1, num_classes=10, seed=0))
    other.build_for(pairs)
    with pytest.raises(InputError, match="another supernet .*differs in channels.*SearchCheckpoint.supernet"):
        checkpoint.restore(other)

    # A weights file of another model under the name (and SHA-256) the state expects.
    state = json.loads((directory / "state.json").read_text())
    other.save_weights(str(tmp_path / "other.weights.h5"))
    shutil.copy(tmp_path / "other.weights.h5", directory / state["weights"])
    from keras_drnas.search_strategy.checkpoint import _sha256

    state["weights_sha256"] = _sha256(directory / state["weights"])
    (directory / "state.json").write_text(json.dumps(state))
    checkpoint = SearchCheckpoint(directory)
    search = compiled(checkpoint.supernet())
    search.build_for(pairs)
    with pytest.raises(InputError, match="search-1-0-.*weights.h5 does not fit this search"):
        checkpoint.restore(search)


def test_overwrite_starts_over(saved_checkpoint, tmp_path):
    directory = _copy(saved_checkpoint, tmp_path)
    checkpoint = SearchCheckpoint(directory, overwrite=True)
    assert checkpoint.state is None and checkpoint.supernet() is None and checkpoint.initial_epoch == 0
    assert os.path.isfile(directory / "state.json")  # nothing is deleted before fit begins
    search = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, seed=0))
    search.build_for(tiny_pairs(n=64, batch_size=16))
    checkpoint.set_model(search)
    checkpoint.on_train_begin()
    assert not os.path.exists(directory)


@pytest.mark.parametrize("save_freq", [0, -1, "3", 2.5, True, None])
def test_save_freq_is_epoch_or_a_positive_step_count(tmp_path, save_freq):
    with pytest.raises(InputError, match="save_freq must be 'epoch' or a positive number of steps"):
        SearchCheckpoint(tmp_path, save_freq=save_freq)
