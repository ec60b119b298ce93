"""Progressive learning (paper section 2.4): a search in stages that prune
ops and widen the partial channels, inside one `fit` call."""

import dataclasses
import numbers

import keras

from keras_drnas.search_space.space import get_space
from keras_drnas.utils.errors import InputError


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a progressive search: its epochs, its `partial_channels`
    (the paper's K), and the ops kept per edge (pruned by concentration
    before the stage starts). All three are positive integers.

    Example:
    >>> Stage.parse("25:6:7")
    Stage(epochs=25, partial_channels=6, ops_kept=7)
    >>> print(Stage(25, 4, 4))
    25:4:4
    """

    epochs: int
    partial_channels: int
    ops_kept: int

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise InputError(f"{field.name} must be a positive integer, got {value!r}, in stage {self}.")
            object.__setattr__(self, field.name, int(value))

    def __str__(self):
        """The `epochs:partial_channels:ops_kept` text that `parse` reads."""
        return f"{self.epochs}:{self.partial_channels}:{self.ops_kept}"

    @classmethod
    def parse(cls, text):
        """'25:6:7' -> Stage(epochs=25, partial_channels=6, ops_kept=7)."""
        parts = [p.strip() for p in text.split(":")] if isinstance(text, str) else []
        # isascii: int() would also take digits such as '²' or '٣'.
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) < 10 for p in parts):
            raise InputError(
                f"A stage is epochs:partial_channels:ops_kept, three positive integers such as 25:6:7; got {text!r}."
            )
        for field, part in zip(dataclasses.fields(cls), parts):
            if int(part) < 1:
                raise InputError(f"Stage {text!r}: {field.name} must be at least 1, got {part}.")
        return cls(*(int(p) for p in parts))


def default_stages(space, **network_kwargs):
    """The paper's stages (section 3 and its appendix) for `space`, as its
    reference code runs them on a network built with `network_kwargs`
    (e.g. `stem="imagenet"`).

    Example:
    >>> [str(s) for s in default_stages("darts")]
    ['25:6:7', '25:4:4']
    """
    return tuple(Stage(*stage) for stage in get_space(space).progressive_stages_for(**network_kwargs))


def scale_stages(stages, epochs):
    """`stages` with `epochs` in all, split in the stages' proportions (each
    keeps at least one epoch, and its partial channels and ops kept).

    Example:
    >>> [str(s) for s in scale_stages(default_stages("nas-bench-201"), 6)]
    ['3:4:5', '3:2:3']
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < len(stages):
        raise InputError(
            f"{epochs!r} epochs cannot be split over {len(stages)} stages: give at least {len(stages)}, "
            f"or the stages themselves (epochs:partial_channels:ops_kept, e.g. "
            f"{','.join(str(dataclasses.replace(s, epochs=1)) for s in stages)})."
        )
    total, done, seen, scaled = sum(s.epochs for s in stages), 0, 0, []
    for index, stage in enumerate(stages):
        seen += stage.epochs
        end = round(epochs * seen / total)
        end = max(end, done + 1)  # at least one epoch each ...
        end = min(end, epochs - (len(stages) - index - 1))  # ... and one left for every later stage
        scaled.append(dataclasses.replace(stage, epochs=end - done))
        done = end
    return tuple(scaled)


class ProgressiveLearning(keras.callbacks.Callback):
    """Runs a search in stages inside one `fit` call (paper section 2.4).

    At each stage boundary the supernet keeps the top-k ops per edge by
    concentration (pruned ops are masked, no longer computed, their weights
    released), then widens every mixed op from C/K_old to C/K_new channels
    with the Net2Net random mapping (eq. 7-8). `eta` and the architecture optimizer's
    state are untouched; the weight optimizer is rebuilt with its momentum
    widened by the same indices and its step count kept, so the learning-rate
    schedule continues (the reference code restarts it); the compiled step is
    retraced. `arch_warmup_epochs` holds architecture updates off at the start
    of every stage, as the reference code does (10 epochs there).

    Args:
        stages: `Stage`s; the first must match the supernet's `partial_channels`.
        arch_warmup_epochs: epochs without architecture steps per stage.
        seed: seed of the Net2Net mappings.

    Example:
    ```python
    supernet = kd.NASBench201Supernet(channels=16, cells_per_stage=5, partial_channels=4)
    search = kd.SearchModel(supernet)
    search.compile()
    search.fit(pairs, epochs=100,
               callbacks=[ProgressiveLearning([Stage(50, 4, 5), Stage(50, 2, 3)])])
    ```
    """

    manages_arch_warmup = True  # SearchModel.fit leaves the warm-up to it

    def __init__(self, stages, arch_warmup_epochs=0, seed=None):
        super().__init__()
        if not isinstance(stages, (list, tuple)) or not all(
            isinstance(s, Stage) or (isinstance(s, (list, tuple)) and len(s) == 3) for s in stages
        ):
            raise InputError(
                "ProgressiveLearning takes a list of Stages or (epochs, partial_channels, ops_kept) triples, "
                f"got {stages!r}."
            )
        self.stages = [s if isinstance(s, Stage) else Stage(*s) for s in stages]
        if not self.stages:
            raise InputError("ProgressiveLearning needs at least one stage.")
        for before, after in zip(self.stages, self.stages[1:]):
            if after.partial_channels > before.partial_channels or after.ops_kept > before.ops_kept:
                raise InputError(
                    f"Stages (epochs:partial_channels:ops_kept) must keep partial_channels and ops_kept "
                    f"equal or shrinking: {before} then {after}."
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
        supernet = getattr(self.model, "supernet", None)
        if not hasattr(supernet, "widen"):
            raise InputError(
                "ProgressiveLearning needs a SearchModel around a supernet (see build_supernet)."
            )
        if self.current is not None:  # resumed: the supernet is already in this stage
            return
        first = self.stages[0]
        if supernet.partial_channels != first.partial_channels:
            raise InputError(
                f"The supernet was built with partial_channels={supernet.partial_channels} but the first "
                f"stage uses {first.partial_channels}; build it with partial_channels={first.partial_channels}."
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
        supernet = search.supernet
        pruned = stage.ops_kept < max(sum(row) for d in supernet.distributions().values() for row in d.op_mask)
        widened = []
        with search.strategy_scope():
            if pruned:
                supernet.prune(stage.ops_kept)
            if widen and stage.partial_channels != supernet.partial_channels:
                seed = None if self.seed is None else self.seed + self.current
                widened = supernet.widen(stage.partial_channels, seed)
        if pruned or widened:
            search.rebuild_weight_optimizer(widened)
            search.make_train_function(force=True)
            search.make_test_function(force=True)
