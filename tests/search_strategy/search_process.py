"""A tiny progressive search (augmented batches) in its own process, for the tests that kill
it (SIGKILL) and resume it: `python -m tests.search_strategy.search_process
DIRECTORY RESULTS [--hang-state-write N] [--hang-at-epoch E]`, on the backend
KERAS_BACKEND names.

It prints `STEP <epoch> <step>` after every step (the checkpoint is saved
by then) and `EPOCH <epoch>` at every epoch's start (after the stage
transition). `--hang-state-write N` stops inside the N-th write of
state.json (the new weights file is in place, the state's temporary file
written but not renamed) and `--hang-at-epoch E` at epoch E's start,
printing `HANGING`, so the test can kill it there. A run that ends
writes the final weights, concentrations, genotype and history to RESULTS (.npz).
"""

import argparse
import contextlib
import json
import sys
import time

import keras
import numpy as np

import keras_drnas as kd
from keras_drnas.callbacks import ProgressiveLearning, SearchCheckpoint, Stage
from keras_drnas.data import search_pairs
from keras_drnas.search_strategy import checkpoint as checkpoint_module
from keras_drnas.utils import files
from tests.helpers import compiled

EPOCHS, STEPS, BATCH = 4, 3, 16


def data():
    rng = np.random.default_rng(0)
    x = rng.random((2 * STEPS * BATCH, 8, 8, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0.5).astype("int32")
    half = STEPS * BATCH
    return (x[:half], y[:half]), (x[half:], y[half:])


def hang():
    print("HANGING", flush=True)
    time.sleep(600)


class Markers(keras.callbacks.Callback):
    def __init__(self, hang_at_epoch):
        super().__init__()
        self.hang_at_epoch = hang_at_epoch
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        print(f"EPOCH {epoch}", flush=True)
        if epoch == self.hang_at_epoch:
            hang()

    def on_train_batch_end(self, batch, logs=None):
        print(f"STEP {self.epoch} {batch + 1}", flush=True)


def hang_in_state_write(n):
    writes = []

    def write_text(path, text):
        with files.atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            writes.append(path)
            if len(writes) == n:
                hang()

    checkpoint_module.atomic_write_text = write_text


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("results")
    parser.add_argument("--hang-state-write", type=int)
    parser.add_argument("--hang-at-epoch", type=int)
    args = parser.parse_args(argv)
    if args.hang_state_write:
        hang_in_state_write(args.hang_state_write)
    keras.utils.set_random_seed(123)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    stages = ProgressiveLearning([Stage(2, 2, 5), Stage(2, 1, 3)], seed=0)
    # A user's own fit: the checkpoint gives the supernet, the seed and the epoch to resume at, the
    # stream its steps per epoch; no command-line code is involved.
    checkpoint = SearchCheckpoint(args.directory, save_freq=1, progressive=stages)
    seed = 0 if checkpoint.seed is None else checkpoint.seed
    supernet = checkpoint.supernet() or kd.NASBench201Supernet(
        channels=4, cells_per_stage=1, num_classes=2, partial_channels=2, seed=seed)
    search = compiled(supernet)
    train, validation = data()
    pairs = search_pairs(train, validation, BATCH, 2, augment=True, seed=seed, epochs=EPOCHS,
                         initial_epoch=checkpoint.initial_epoch)
    assert pairs.steps_per_epoch == STEPS
    history = search.fit(pairs, epochs=EPOCHS, verbose=0, callbacks=[stages, checkpoint, Markers(args.hang_at_epoch)])
    np.savez(
        args.results,
        weights=np.array([keras.ops.convert_to_numpy(w) for w in search.weights], dtype=object),
        names=np.array([w.path for w in search.weights]),
        iterations=np.array([int(search.optimizer.iterations), int(search.arch_optimizer.iterations)]),
        genotype=np.array(str(search.genotype())),
        history=np.array(json.dumps(checkpoint.history)),
        fit_epochs=np.array(len(history.epoch)),
        **{f"concentration_{k}": v for k, v in search.concentrations().items()},
    )
    print("DONE", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main(sys.argv[1:])
