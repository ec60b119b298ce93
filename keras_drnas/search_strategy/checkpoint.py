"""Search checkpoints: everything a search needs to continue exactly."""

import json
import os
import shutil

import keras

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.files import atomic_path, atomic_write_text


class SearchCheckpoint(keras.callbacks.Callback):
    """Saves everything a search needs to continue exactly, after every epoch.

    `directory/search.weights.h5` holds the network, eta, BN statistics and
    both optimizers; `directory/state.json` the epochs done, the supernet's
    config (its current pruning masks and `partial_channels`), the
    progressive stage, the samplers' seed states and the genotype history.
    Both are written to a temporary file and renamed, so an interrupted
    write never spoils the previous checkpoint.

    To resume: `state = SearchCheckpoint.previous_state(directory,
    resume=True)`, build the `SearchModel` around `supernet_from(state)`,
    `restore` it, then fit from `initial_epoch=state["epoch"]` on a
    `search_pairs(..., epochs=...)` stream.

    Args:
        directory: where the checkpoint lives.
        progressive: the run's `ProgressiveLearning` callback, if any.
        history: the per-epoch logs of the run so far (`state["history"]`
            when resuming); `self.history` holds them all afterwards.
    """

    WEIGHTS = "search.weights.h5"
    STATE = "state.json"

    def __init__(self, directory, progressive=None, history=None):
        super().__init__()
        self.directory = directory
        self.progressive = progressive
        self.history = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        search = self.model
        with atomic_path(os.path.join(self.directory, self.WEIGHTS)) as tmp:
            search.save_weights(tmp)
        state = {
            "epoch": epoch + 1,
            "supernet": keras.saving.serialize_keras_object(search.model),
            "stage": None if self.progressive is None else self.progressive.current,
            "seed_states": [keras.ops.convert_to_numpy(d.seed_generator.state).tolist()
                            for d in search.distributions().values()],
            "genotype_history": [g.to_dict() for g in search.genotype_history],
            "history": self.history,
        }
        atomic_write_text(os.path.join(self.directory, self.STATE), json.dumps(state))

    @classmethod
    def load_state(cls, directory):
        """The saved state, or None when there is no complete checkpoint."""
        state_path = os.path.join(directory, cls.STATE)
        if not (os.path.isfile(state_path) and os.path.isfile(os.path.join(directory, cls.WEIGHTS))):
            return None
        try:
            with open(state_path, encoding="utf-8") as f:
                state = json.load(f)
        except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, nested too deeply
            raise InputError(f"{state_path} is not a search checkpoint state: {error}.") from None
        keys = {"epoch", "supernet", "stage", "seed_states", "genotype_history", "history"}
        if not isinstance(state, dict) or not keys <= set(state) or not isinstance(state["epoch"], int):
            raise InputError(f"{state_path} is not a search checkpoint state: it needs {', '.join(sorted(keys))}.")
        return state

    @classmethod
    def previous_state(cls, directory, resume, overwrite=False):
        """The state to resume from (`resume=True`), or None for a fresh
        search. A fresh search never overwrites a checkpoint unless
        `overwrite=True` (keras-tuner's convention), which deletes it."""
        if overwrite and resume:
            raise InputError("Pass resume=True or overwrite=True, not both.")
        if overwrite:
            shutil.rmtree(directory, ignore_errors=True)
            return None
        state = cls.load_state(directory)
        if state and not resume:
            raise InputError(
                f"{directory} holds a search checkpoint after epoch {state['epoch']}. Pass resume=True to "
                "continue it, overwrite=True to start over, or choose another output directory."
            )
        if resume and not state:
            raise InputError(f"resume=True, but there is no complete checkpoint in {directory}.")
        return state

    @classmethod
    def supernet_from(cls, state):
        """Rebuilds the supernet as it was (pruned, widened) when saved."""
        return keras.saving.deserialize_keras_object(state["supernet"])

    @classmethod
    def restore(cls, search, directory, state, progressive=None):
        """Loads weights, optimizer states and sampler seeds into a compiled,
        built `SearchModel` around `supernet_from(state)`."""
        search.load_weights(os.path.join(directory, cls.WEIGHTS))
        for distribution, seed_state in zip(search.distributions().values(), state["seed_states"]):
            distribution.seed_generator.state.assign(seed_state)
        search.genotype_history = [Genotype.from_dict(g) for g in state["genotype_history"]]
        if progressive is not None and state["stage"] is not None:
            progressive.current = state["stage"]
