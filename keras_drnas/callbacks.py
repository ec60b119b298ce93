"""Keras callbacks for a search: progressive learning, genotype logs, export."""

import dataclasses
import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_drnas.spaces import DARTS, NAS_BENCH_201


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a progressive search: its epochs, the partial-channel
    divisor K, and the ops kept per edge (pruned by concentration before the
    stage starts)."""

    epochs: int
    partial_channels: int
    ops_kept: int

    @classmethod
    def parse(cls, text):
        """'25:6:7' -> Stage(epochs=25, partial_channels=6, ops_kept=7)."""
        try:
            epochs, k, ops = (int(p) for p in text.split(":"))
        except ValueError:
            raise ValueError(f"A stage is epochs:K:ops_kept, e.g. 25:6:7; got {text!r}.") from None
        return cls(epochs, k, ops)


# SPEC section 4.
DEFAULT_STAGES = {
    DARTS.name: (Stage(25, 6, 7), Stage(25, 4, 4)),
    "imagenet": (Stage(25, 6, 7), Stage(25, 3, 4)),
    NAS_BENCH_201.name: (Stage(50, 4, 5), Stage(50, 2, 3)),
}


class ProgressiveLearning(keras.callbacks.Callback):
    """Runs a search in stages inside one `fit` call (paper section 2.4).

    At each stage boundary the supernet keeps the top-k ops per edge by
    concentration (pruned ops are masked, no longer computed, their weights
    released), then widens every mixed op from C/K_old to C/K_new channels
    with the Net2Net random mapping. `eta` and the architecture optimizer's
    state are untouched; the weight optimizer is rebuilt with its momentum
    widened by the same indices and its step count kept, so the learning-rate
    schedule continues (the reference code restarts it); the compiled step is
    retraced. `arch_warmup_epochs` holds architecture updates off at the start
    of every stage, as the reference code does (10 epochs there).

    Args:
        stages: `Stage`s; the first must match the supernet's K.
        arch_warmup_epochs: epochs without architecture steps per stage.
        seed: seed of the Net2Net mappings.

    Example:
    ```python
    supernet = kd.nas_bench_201(C=16, N=5, K=4)
    search = SearchModel(supernet)
    search.compile()
    search.fit(pairs, epochs=100,
               callbacks=[ProgressiveLearning([Stage(50, 4, 5), Stage(50, 2, 3)])])
    ```
    """

    def __init__(self, stages, arch_warmup_epochs=0, seed=None):
        super().__init__()
        self.stages = [s if isinstance(s, Stage) else Stage(*s) for s in stages]
        if not self.stages:
            raise ValueError("ProgressiveLearning needs at least one stage.")
        for before, after in zip(self.stages, self.stages[1:]):
            if after.partial_channels > before.partial_channels or after.ops_kept > before.ops_kept:
                raise ValueError(
                    f"Stages must keep K and the op count equal or shrinking: {before} then {after}."
                )
        self.arch_warmup_epochs = int(arch_warmup_epochs)
        self.seed = seed
        self.current = None

    @property
    def total_epochs(self):
        return sum(s.epochs for s in self.stages)

    def stage_of(self, epoch):
        start = 0
        for index, stage in enumerate(self.stages):
            if epoch < start + stage.epochs:
                return index, start
            start += stage.epochs
        return len(self.stages) - 1, start - self.stages[-1].epochs

    def on_train_begin(self, logs=None):
        supernet = getattr(self.model, "model", None)
        if not hasattr(supernet, "widen"):
            raise ValueError("ProgressiveLearning needs a SearchModel around a supernet (nas_bench_201, darts).")
        if self.current is not None:  # resumed: the supernet is already in this stage
            return
        first = self.stages[0]
        if supernet.partial_channels != first.partial_channels:
            raise ValueError(
                f"The supernet was built with K={supernet.partial_channels} but the first stage "
                f"uses K={first.partial_channels}; build it with K={first.partial_channels}."
            )

    def on_epoch_begin(self, epoch, logs=None):
        index, start = self.stage_of(epoch)
        if self.current is None:
            self.current = 0
            self._apply(self.stages[0], widen=False)
        while self.current < index:
            self.current += 1
            self._apply(self.stages[self.current], widen=True)
        self.model.set_arch_enabled(epoch - start >= self.arch_warmup_epochs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            stage = self.stages[self.current]
            logs.update(stage=self.current, partial_channels=stage.partial_channels, ops_kept=stage.ops_kept)

    def _apply(self, stage, widen):
        search = self.model
        supernet = search.model
        pruned = stage.ops_kept < max(sum(row) for d in supernet.distributions().values() for row in d.op_mask)
        widened = []
        with search.distribute_strategy.scope():
            if pruned:
                supernet.prune(stage.ops_kept)
            if widen and stage.partial_channels != supernet.partial_channels:
                seed = None if self.seed is None else self.seed + self.current
                widened = supernet.widen(stage.partial_channels, seed)
        if pruned or widened:
            search.rebuild_weight_optimizer(widened)
            search.make_train_function(force=True)
            search.make_test_function(force=True)


class GenotypeLogger(keras.callbacks.Callback):
    """Writes the genotype and concentrations of every epoch.

    Args:
        path: a JSON-lines file; one line per epoch with `epoch`, `genotype`,
            `concentrations` (edges x ops beta per cell type), `op_mask` and
            `entropy`.
        log_dir: optional TensorBoard directory: entropy as a scalar, the
            concentrations as histograms, the genotype as text.
    """

    def __init__(self, path, log_dir=None):
        super().__init__()
        self.path = path
        self.log_dir = log_dir
        self._writer = None

    def on_train_begin(self, logs=None):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if self.log_dir:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "architecture"))

    def on_epoch_end(self, epoch, logs=None):
        supernet = self.model.model
        genotype = self.model.genotype()
        distributions = supernet.distributions() if hasattr(supernet, "distributions") else {}
        concentrations = {k: keras.ops.convert_to_numpy(d.concentration()) for k, d in distributions.items()}
        entropy = float(np.mean([float(d.entropy()) for d in self.model.distributions]))
        record = {
            "epoch": epoch + 1,
            "genotype": genotype.to_dict(),
            "concentrations": {k: v.tolist() for k, v in concentrations.items()},
            "op_mask": {k: d.op_mask for k, d in distributions.items()},
            "entropy": entropy,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self._writer is not None:
            with self._writer.as_default(step=epoch + 1):
                tf.summary.scalar("entropy", entropy)
                for cell, beta in concentrations.items():
                    tf.summary.histogram(f"concentration/{cell}", beta)
                tf.summary.text("genotype", str(genotype))
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


class ExportDerived(keras.callbacks.Callback):
    """Leaves a shippable network behind when a search ends: the genotype
    (JSON) and the derived plain Keras model (`.keras`), optionally at the end
    of every progressive stage too.

    Args:
        output_dir: where `genotype.json` and `derived.keras` go.
        network_kwargs: arguments of `build_network` (C, N or layers_count,
            num_classes, input_shape, mean, std, ...).
        inherit_weights: initialize the derived network from the matching
            ops of the supernet (see `inherit_supernet_weights`).
        progressive: a `ProgressiveLearning` callback, to export at the end
            of each of its stages as well (`stage_<i>/`).
    """

    def __init__(self, output_dir, network_kwargs, inherit_weights=False, progressive=None):
        super().__init__()
        self.output_dir = output_dir
        self.network_kwargs = dict(network_kwargs)
        self.inherit_weights = inherit_weights
        self.progressive = progressive

    def export(self, directory):
        from keras_drnas.derived import build_network, inherit_supernet_weights

        genotype = self.model.genotype()
        os.makedirs(directory, exist_ok=True)
        genotype.save(os.path.join(directory, "genotype.json"))
        network = build_network(genotype, **self.network_kwargs)
        if self.inherit_weights:
            inherit_supernet_weights(network.model, self.model.model, genotype)
        path = os.path.join(directory, "derived.keras")
        tmp = os.path.join(directory, ".derived.tmp.keras")
        network.model.save(tmp)
        os.replace(tmp, path)
        return path

    def on_epoch_end(self, epoch, logs=None):
        if self.progressive is None:
            return
        index, start = self.progressive.stage_of(epoch)
        if epoch + 1 == start + self.progressive.stages[index].epochs:
            self.export(os.path.join(self.output_dir, f"stage_{index}"))

    def on_train_end(self, logs=None):
        self.export(self.output_dir)



class SearchCheckpoint(keras.callbacks.Callback):
    """Saves everything a search needs to continue exactly, after every epoch.

    `directory/search.weights.h5` holds the network, eta, BN statistics and
    both optimizers; `directory/state.json` the epochs done, the supernet's
    config (its current pruning masks and K), the progressive stage, the
    samplers' seed states and the genotype history. Both are written to a
    temporary file and renamed, so an interrupted write never spoils the
    previous checkpoint. Resume with `restore`, then fit from
    `initial_epoch=state["epoch"]` on a `search_pairs(..., epochs=...)` stream.

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
        from keras_drnas.genotype import atomic_write_text

        os.makedirs(self.directory, exist_ok=True)
        search = self.model
        tmp = os.path.join(self.directory, ".tmp." + self.WEIGHTS)
        search.save_weights(tmp)
        os.replace(tmp, os.path.join(self.directory, self.WEIGHTS))
        state = {
            "epoch": epoch + 1,
            "supernet": keras.saving.serialize_keras_object(search.model),
            "stage": None if self.progressive is None else self.progressive.current,
            "seed_states": [keras.ops.convert_to_numpy(d.seed_generator.state).tolist() for d in search.distributions],
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
        with open(state_path, encoding="utf-8") as f:
            return json.load(f)

    @classmethod
    def supernet_from(cls, state):
        """Rebuilds the supernet as it was (pruned, widened) when saved."""
        return keras.saving.deserialize_keras_object(state["supernet"])

    @classmethod
    def restore(cls, search, directory, state, progressive=None):
        """Loads weights, optimizer states and sampler seeds into a compiled,
        built `SearchModel` around `supernet_from(state)`."""
        from keras_drnas.genotype import Genotype

        search.load_weights(os.path.join(directory, cls.WEIGHTS))
        for distribution, seed_state in zip(search.distributions, state["seed_states"]):
            distribution.seed_generator.state.assign(seed_state)
        search.genotype_history = [Genotype.from_dict(g) for g in state["genotype_history"]]
        if progressive is not None and state["stage"] is not None:
            progressive.current = state["stage"]
