"""Search checkpoints: a search resumes from any step as if it had never stopped."""

import glob
import hashlib
import json
import os
import secrets
import shutil

import keras

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_strategy.non_finite import NonFiniteError, describe_non_finite, non_finite_variables
from keras_drnas.search_strategy.workers import is_chief, strategy_of, writable_directory
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_path, atomic_write_text

STATE_KEYS = ("epoch", "step", "steps_per_epoch", "weights", "weights_sha256", "supernet", "stage",
              "seed_states", "metrics", "genotype_history", "history")


class SearchCheckpoint(keras.callbacks.Callback):
    """Backs up a search and resumes it, exactly, from any step.

    Like `keras.callbacks.BackupAndRestore`, for a `SearchModel`: it saves
    after every epoch and, with an integer `save_freq`, every `save_freq`
    steps as well; when `fit` begins it restores the checkpoint in
    `directory`, if there is one, and the search goes on from the step
    after it with the same batches, augmentations, Dirichlet samples and
    optimizer states (and the same epoch logs) as if it had never stopped.

    A checkpoint is `directory/state.json` (epoch and step, the supernet's
    config with its pruning masks and `partial_channels`, the progressive
    stage, the samplers' seed states, the running metrics of the epoch,
    the genotype and log histories) and the weights file it names (network,
    eta, batch-norm statistics, both optimizers) with that file's SHA-256.
    The weights go to a new file first, then the state, each written to a
    temporary file and renamed: a run killed at any moment leaves the last
    checkpoint whole. Variables holding NaN or infinity are never written
    (`NonFiniteError`). In a multi-worker run only the chief's files remain.

    Two things are built from the checkpoint before `fit`: the supernet,
    as it was saved (pruned, widened): `supernet()`; and the data stream,
    from `initial_epoch` with the checkpoint's `seed`
    (`search_pairs(..., seed=..., epochs=..., initial_epoch=...)`, whose
    batches depend on (seed, epoch) only; `fit` reads its steps per epoch
    from it). Within that epoch the steps already done only draw their
    batches (`SearchModel.skip_steps`).

    Args:
        directory: where the checkpoint lives (on a file system every
            worker sees, in a multi-worker run).
        save_freq: `"epoch"`, or an integer: also save every that many steps.
        progressive: the run's `ProgressiveLearning` callback, if any; its
            stage is restored here, so it must be the one passed to `fit`.
        overwrite: start over: delete any checkpoint in `directory`
            (keras-tuner's convention) instead of resuming it.

    Example:
    ```python
    checkpoint = SearchCheckpoint("runs/search/checkpoint", save_freq=100)
    seed = 0 if checkpoint.seed is None else checkpoint.seed
    search = kd.SearchModel(checkpoint.supernet() or kd.NASBench201Supernet(channels=16, cells_per_stage=5, seed=seed))
    search.compile()
    pairs = search_pairs(train, val, 64, seed=seed, epochs=100, initial_epoch=checkpoint.initial_epoch)
    search.fit(pairs, epochs=100, callbacks=[checkpoint])  # resumes if it can
    ```
    """

    STATE = "state.json"

    def __init__(self, directory, save_freq="epoch", progressive=None, overwrite=False):
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise InputError(f"save_freq must be 'epoch' or a positive number of steps, got save_freq={save_freq!r}.")
        self.directory = directory
        self.save_freq = save_freq
        self.progressive = progressive
        self.overwrite = overwrite
        self.state = None if overwrite else self.load_state(directory)
        self.history = {k: list(v) for k, v in self.state["history"].items()} if self.state else {}
        if self.state and progressive is not None and self.state["stage"] is not None:
            progressive.current = self.state["stage"]  # before its on_train_begin checks the supernet
        self._restored = False
        self._epoch = 0
        self._steps_done = 0
        self._since_save = 0
        self._genotypes_before = 0

    # Before fit -------------------------------------------------------------

    @property
    def initial_epoch(self):
        """The epoch the search resumes in (0 for a fresh search)."""
        return self.state["epoch"] if self.state else 0

    @property
    def initial_step(self):
        """The steps of `initial_epoch` already done."""
        return self.state["step"] if self.state else 0

    @property
    def seed(self):
        """The seed of the checkpointed search's supernet (None for a fresh
        search): build the data stream with it, since its batches depend on
        (seed, epoch)."""
        return self.state["supernet"]["config"].get("seed") if self.state else None

    @property
    def position(self):
        """Where the search resumes: 'after epoch 2' or 'in epoch 3 after step 40'."""
        return self.position_of(self.state) if self.state else "at the start"

    @staticmethod
    def position_of(state):
        """`position` of a loaded state."""
        if state["step"]:
            return f"in epoch {state['epoch'] + 1} after step {state['step']}"
        return f"after epoch {state['epoch']}"

    def supernet(self):
        """The supernet as it was saved (pruned, widened), or None when
        there is nothing to resume."""
        return keras.saving.deserialize_keras_object(self.state["supernet"]) if self.state else None

    @classmethod
    def load_state(cls, directory):
        """The checked state of the checkpoint in `directory`, or None when
        there is none. A state that is not a checkpoint's, or whose weights
        file is missing or differs from the one saved, is an `InputError`
        naming the file: a damaged checkpoint never starts a search over."""
        path = os.path.join(directory, cls.STATE)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, nested too deeply
            raise InputError(f"{path} is not a search checkpoint state: {error}.") from None
        missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise InputError(f"{path} is not a search checkpoint state: it lacks {', '.join(missing)}.")
        if not all(isinstance(state[k], int) and state[k] >= 0 for k in ("epoch", "step")):
            raise InputError(f"{path}: epoch and step must be non-negative integers.")
        weights = os.path.join(directory, os.path.basename(str(state["weights"])))
        if not os.path.isfile(weights):
            raise InputError(f"{weights}, the weights file that {path} names, is missing.")
        if _sha256(weights) != state["weights_sha256"]:
            raise InputError(f"{weights} is truncated or was replaced: its SHA-256 differs from the one in {path}.")
        return state

    # Restore ---------------------------------------------------------------

    def on_train_begin(self, logs=None):
        search = self.model
        if not hasattr(search, "distributions") or not hasattr(search, "skip_steps"):
            raise InputError("SearchCheckpoint backs up a SearchModel; wrap the model in keras_drnas.SearchModel.")
        self._genotypes_before = len(search.genotype_history)
        if self.overwrite and is_chief(strategy_of(search)):
            shutil.rmtree(self.directory, ignore_errors=True)
            self.overwrite = False  # once: a later fit of this run resumes its own checkpoint
        if self.state is None or self._restored:
            return
        steps = (self.params or {}).get("steps")
        if self.state["step"] and steps and steps != self.state["steps_per_epoch"]:
            raise InputError(
                f"The checkpoint in {self.directory} stopped after step {self.state['step']} of "
                f"{self.state['steps_per_epoch']} steps per epoch, but this fit has {steps}: "
                "resume with the batch size and data it was saved with."
            )
        self.restore(search)
        keras_compat.start_at_epoch(search, self.state["epoch"])
        search.skip_steps(self.state["step"])

    def restore(self, search):
        """Loads the checkpoint into `search`, a compiled `SearchModel` built
        around `supernet()` (fit does this in `on_train_begin`)."""
        state = self.state
        _check_same_supernet(search.supernet, state["supernet"], self.directory)
        weights = os.path.join(self.directory, os.path.basename(state["weights"]))
        try:
            search.load_weights(weights)
        except Exception as error:  # h5py's and Keras' errors for a file of another model
            raise InputError(f"{weights} does not fit this search: {error}") from None
        for distribution, seed_state in zip(search.distributions().values(), state["seed_states"]):
            distribution.seed_generator.state.assign(seed_state)
        search.genotype_history = [Genotype.from_dict(g) for g in state["genotype_history"]]
        self._genotypes_before = len(search.genotype_history)
        self._restored = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._steps_done = epoch, 0
        self._genotypes_before = len(self.model.genotype_history)
        if self.state and self._restored and self.state["step"] and epoch == self.state["epoch"]:
            # Keras reset the metrics before this call: the resumed epoch's logs go on from the saved sums.
            variables = _metric_variables(self.model)
            for variable, value in zip(variables, self.state["metrics"]):
                variable.assign(value)
            self._steps_done = self.state["step"]

    # Save ------------------------------------------------------------------

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 <= self._steps_done:  # a step the resumed epoch skipped
            return
        self._since_save += batch + 1 - self._steps_done
        self._steps_done = batch + 1
        last = self._steps_done == (self.params or {}).get("steps")  # on_epoch_end saves that one
        if self.save_freq != "epoch" and self._since_save >= self.save_freq and not last:
            self._save(self._epoch, self._steps_done)

    def on_epoch_end(self, epoch, logs=None):
        steps = (self.params or {}).get("steps")
        if steps and self._steps_done < steps:  # fit stopped mid-epoch: keep the exact step
            self._save(epoch, self._steps_done, self.model.genotype_history[: self._genotypes_before])
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self._save(epoch + 1, 0)

    def on_train_end(self, logs=None):
        keras_compat.start_at_epoch(self.model, None)  # a later fit starts where it is told

    def _save(self, epoch, step, genotype_history=None):
        search = self.model
        if genotype_history is None:
            genotype_history = search.genotype_history
        self._since_save = 0
        bad = non_finite_variables(search)
        if bad:
            raise NonFiniteError(
                f"Not checkpointing the search {self.position_of({'epoch': epoch, 'step': step})}: "
                f"{describe_non_finite(bad)}. "
                f"{self.directory} keeps the last finite state. Lower the learning rate (weights or architecture)."
            )
        with writable_directory(self.directory, strategy_of(search)) as directory:
            name = f"search-{epoch}-{step}-{secrets.token_hex(4)}.weights.h5"
            weights = os.path.join(directory, name)
            with atomic_path(weights) as tmp:
                search.save_weights(tmp)
            state = {
                "epoch": epoch,
                "step": step,
                "steps_per_epoch": (self.params or {}).get("steps"),
                "weights": name,
                "weights_sha256": _sha256(weights),
                "supernet": keras.saving.serialize_keras_object(search.supernet),
                "stage": None if self.progressive is None else self.progressive.current,
                "seed_states": [keras.ops.convert_to_numpy(d.seed_generator.state).tolist()
                                for d in search.distributions().values()],
                "metrics": [keras.ops.convert_to_numpy(v).tolist() for v in _metric_variables(search)],
                "genotype_history": [g.to_dict() for g in genotype_history],
                "history": self.history,
            }
            atomic_write_text(os.path.join(directory, self.STATE), json.dumps(state))
            # Older weights, and temporary files of writes that were killed.
            for path in glob.glob(os.path.join(directory, "search-*.weights.h5")) + glob.glob(
                os.path.join(directory, ".tmp-*")
            ):
                if os.path.basename(path) != name:
                    os.remove(path)


def _metric_variables(search):
    return [v for metric in search.metrics for v in metric.variables]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_same_supernet(supernet, saved, directory):
    """A clear error when the model is not the supernet the checkpoint saved."""
    config = keras.saving.serialize_keras_object(supernet)
    ours = {k: v for k, v in config.get("config", {}).items() if k != "name"}
    theirs = {k: v for k, v in saved.get("config", {}).items() if k != "name"}
    if config.get("class_name") != saved.get("class_name") or ours != theirs:
        differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        raise InputError(
            f"{directory} holds a checkpoint of another supernet ({saved.get('class_name')}; differs in "
            f"{', '.join(differing) or 'class'}): build the SearchModel around SearchCheckpoint.supernet()."
        )
