"""The search strategy: DrNAS's alternating bilevel updates inside `model.fit`.

`SearchModel` wraps a supernet (or any model containing DrNAS layers) and
replaces `train_step`: first an architecture step on a validation batch
(loss + anchor term, arch optimizer, fresh Dirichlet sample), then a weight
step on a training batch (loss, coupled weight decay, global-norm clipping,
weight optimizer, another fresh sample). `evaluate` uses the Dirichlet mean.
"""

import contextlib
import warnings

import keras

from keras_drnas.search_space.derivation import derive_genotype
from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.distribution import ArchitectureDistribution
from keras_drnas.search_strategy.fit_callbacks import ArchitectureWarmup, GenotypeHistory
from keras_drnas.search_strategy.latency import LatencyObjective
from keras_drnas.search_strategy.non_finite import StopOnNonFinite
from keras_drnas.search_strategy.optimizers import (
    default_arch_optimizer,
    default_weight_optimizer,
    rebuild_optimizer,
    search_defaults,
    stretch_schedule,
)
from keras_drnas.search_strategy.supernet import Supernet, check_input_shape
from keras_drnas.search_strategy.workers import strategy_of
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError
from keras_drnas.utils.optional import is_tf_dataset

if keras.backend.backend() == "jax":
    from keras_drnas.search_strategy import jax_step as backend_step
else:
    from keras_drnas.search_strategy import tf_step as backend_step

ANCHORS = ("l2", "kl")
PAIRS_HINT = "build them with keras_drnas.data.search_pairs(train, validation)"


def find_distributions(model):
    """{layer path: ArchitectureDistribution} of every distribution in `model`."""
    found = {}
    for layer in keras_compat.flatten_layers(model):
        if isinstance(layer, ArchitectureDistribution):
            found.setdefault(getattr(layer, "path", layer.name), layer)
    return found


def _accuracy(y, logits):
    ops = keras.ops
    if len(y.shape) == len(logits.shape):  # one-hot labels
        y = ops.argmax(y, axis=-1)
    hits = ops.equal(ops.cast(ops.reshape(y, [-1]), "int32"), ops.cast(ops.argmax(logits, axis=-1), "int32"))
    return ops.mean(ops.cast(hits, "float32"))


@keras.saving.register_keras_serializable(package="keras_drnas")
class SearchModel(keras_compat.SkipsRedundantSymbolicBuild, keras.Model):
    """Runs a DrNAS search with `fit`.

    Args:
        supernet: a supernet (`NASBench201Supernet`, `DartsSupernet`) or any
            Keras model that contains `DrNASCell` / `DirichletMixedOp`
            layers; the `supernet` attribute holds it.
        anchor: `"l2"`, the paper's (lambda/2) * ||eta||^2, or `"kl"`,
            lambda * sum KL(Dir(beta) || Dir(1)) (an option of the code).
        anchor_strength: lambda (1e-3).
        weight_decay: coupled L2 on the network weights (3e-4), added to
            the gradient as PyTorch's SGD does; Keras' `weight_decay` is
            decoupled and would change the optimum.
        arch_warmup_epochs: epochs at the start with no architecture step.
        latency: a `LatencyObjective`: the expected latency of the searched
            blocks joins the architecture loss (the mobilenet space), and the
            logs gain `latency_ms`, the expected latency under the Dirichlet means;
            `fit` warns when its target lies above that at the start.

    Each batch of the training data is a pair
    `((x_train, y_train), (x_val, y_val))`; `keras_drnas.data.search_pairs`
    builds it from arrays or datasets.

    Example:
    ```python
    search = SearchModel(keras_drnas.NASBench201Supernet(channels=16, cells_per_stage=5))
    search.compile(metrics=["accuracy"])
    search.fit(search_pairs(train, val, batch_size=64), epochs=100)
    print(search.genotype())
    ```
    """

    def __init__(
        self,
        supernet,
        anchor="l2",
        anchor_strength=1e-3,
        weight_decay=3e-4,
        arch_warmup_epochs=0,
        latency=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if anchor not in ANCHORS:
            raise InputError(f"anchor must be one of {ANCHORS}, got {anchor!r}.")
        self.supernet = supernet
        self.anchor = anchor
        self.anchor_strength = float(anchor_strength)
        self.weight_decay = float(weight_decay)
        self.arch_warmup_epochs = int(arch_warmup_epochs)
        self.latency = latency
        if not self.distributions():
            raise InputError(
                "The model has no DrNAS layers to search (no DrNASCell, "
                "DirichletMixedOp or ArchitectureDistribution found)."
            )
        self.arch_enabled = self.arch_warmup_epochs == 0
        self.arch_loss_tracker = keras.metrics.Mean(name="arch_loss")
        self.arch_accuracy_tracker = keras.metrics.Mean(name="arch_accuracy")
        self.entropy_tracker = keras.metrics.Mean(name="entropy")
        self.latency_tracker = None
        if latency is not None:
            if not isinstance(latency, LatencyObjective):
                raise InputError(f"latency must be a LatencyObjective, got {type(latency).__name__}.")
            latency.check_space(getattr(supernet, "space", None))
            self.latency_tracker = keras.metrics.Mean(name="latency_ms")
        self.genotype_history = []
        self.steps_to_skip = 0
        # 1.0 while every variable is finite after a step, checked in the step itself:
        # cheaper for StopOnNonFinite than copying every variable to the host after each step.
        self.weights_finite = keras.Variable(1.0, dtype="float32", trainable=False, name="weights_finite",
                                             aggregation="only_first_replica")

    # Variables -------------------------------------------------------------

    def strategy_scope(self):
        """The `tf.distribute` strategy's scope on TensorFlow; on JAX,
        `keras.distribution` places variables without one."""
        strategy = strategy_of(self)
        return contextlib.nullcontext() if strategy is None else strategy.scope()

    @property
    def non_trainable_variables(self):
        """Keras' list, plus the architecture optimizer's variables on JAX,
        whose trainer threads only these and `optimizer.variables` through
        its compiled step."""
        variables = super().non_trainable_variables
        if keras.backend.backend() == "jax" and self._has_optimizers() and self.arch_optimizer.built:
            variables = variables + list(self.arch_optimizer.variables)
        return variables

    def distributions(self):
        """{name: ArchitectureDistribution}: the cell types of a supernet
        (`"normal"`, `"reduce"`), else the layer paths."""
        if isinstance(self.supernet, Supernet):
            return self.supernet.distributions()
        return find_distributions(self.supernet)

    @property
    def architecture_variables(self):
        """The variables flagged `is_architecture` (every eta)."""
        return [v for v in self.supernet.trainable_variables if getattr(v, "is_architecture", False)]

    @property
    def weight_variables(self):
        """Every other trainable variable of the wrapped model."""
        return [v for v in self.supernet.trainable_variables if not getattr(v, "is_architecture", False)]

    # Compile ---------------------------------------------------------------

    def compile(self, optimizer=None, arch_optimizer=None, loss=None, metrics=None, **kwargs):
        """Like `Model.compile`, plus an optimizer for the architecture.

        Defaults: SGD (momentum 0.9, cosine over the search, clip 5) and
        Adam (betas 0.5, 0.999) with the reference code's learning rates for
        the model's search space, and sparse categorical cross-entropy on logits.
        """
        defaults = search_defaults(getattr(self.supernet, "space", None))
        with self.strategy_scope():  # both optimizers' variables must be distributed
            if optimizer is None:
                optimizer = default_weight_optimizer(defaults["learning_rate"], defaults["min_learning_rate"])
            if arch_optimizer is None:
                arch_optimizer = default_arch_optimizer(defaults["arch_learning_rate"])
            if loss is None:
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
            self.arch_optimizer = keras.optimizers.get(arch_optimizer)

    def _has_optimizers(self):
        # `compiled` alone is not enough: keras.models.load_model marks a search compiled without its
        # optimizers (Keras does not call a custom compile when loading).
        return self.compiled and getattr(self, "arch_optimizer", None) is not None

    def build_optimizers(self):
        """Builds both optimizers; call inside the strategy scope."""
        if not self.optimizer.built:
            self.optimizer.build(self.weight_variables)
        if not self.arch_optimizer.built:
            self.arch_optimizer.build(self.architecture_variables)

    def rebuild_weight_optimizer(self, widened=()):
        """Replaces the weight optimizer after pruning or widening (see
        `rebuild_optimizer`): the schedule, momentum and step count carry on."""
        with self.strategy_scope():
            self.optimizer = rebuild_optimizer(self.optimizer, self.weight_variables, widened)
        return self.optimizer

    # Steps -----------------------------------------------------------------

    def call(self, inputs, training=None):
        return self.supernet(inputs, training=training)

    def anchor_loss(self):
        """The regularizer that keeps concentrations near Dir(1) (paper eq. 3)."""
        if self.anchor == "kl":
            return self.anchor_strength * sum(d.kl_to_uniform() for d in self.distributions().values())
        return 0.5 * self.anchor_strength * sum(keras.ops.sum(keras.ops.square(v)) for v in self.architecture_variables)

    def architecture_penalty(self):
        """What the architecture step adds to the loss: the anchor, and the latency term if any."""
        penalty = self.anchor_loss()
        if self.latency is not None:
            penalty = penalty + self.latency.loss(self._expected_weights())
        return penalty

    def _expected_weights(self):
        return {name: d.expected_weights() for name, d in self.distributions().items()}

    def set_arch_enabled(self, enabled):
        """Switches architecture steps on or off (warm-up); the compiled step
        is rebuilt when the switch changes."""
        enabled = bool(enabled)
        if enabled != self.arch_enabled:
            self.arch_enabled = enabled
            if self.train_function is not None:
                self.make_train_function(force=True)

    def skip_steps(self, count):
        """Makes the next `count` training steps of `fit` only draw their
        batches: no update, and the logs are the current metric results.

        Keras has no way to start `fit` mid-epoch; a `SearchCheckpoint`
        restored after step `count` of an epoch uses this, so the resumed
        epoch reads on from the batch where the interrupted one stopped.
        """
        self.steps_to_skip = int(count)

    def make_train_function(self, force=False):
        super().make_train_function(force)
        train_function = self.train_function
        if getattr(train_function, "skips_steps", False):
            return train_function

        def train_or_skip(*args):  # (iterator), or (state, iterator) on JAX
            if self.steps_to_skip <= 0:
                return train_function(*args)
            for _ in range(min(self.steps_per_execution, self.steps_to_skip)):
                next(args[-1])
            self.steps_to_skip -= self.steps_per_execution
            if keras.backend.backend() == "jax":
                return backend_step.current_logs(self, args[0]), args[0]
            return self.get_metrics_result()

        train_or_skip.skips_steps = True
        self.train_function = train_or_skip
        return train_or_skip

    def train_step(self, *args):
        """The bilevel step: `train_step(data)` on TensorFlow, the stateless
        `train_step(state, data)` on JAX."""
        try:
            (_, _), (_, _) = args[-1]
        except (TypeError, ValueError):
            raise InputError(
                f"SearchModel.fit expects batches ((x_train, y_train), (x_val, y_val)); {PAIRS_HINT}."
            ) from None
        return backend_step.train_step(self, *args)

    def update_arch_metrics(self, loss, y, logits):
        """Adds an architecture step's loss and accuracy to the logs."""
        batch = keras.ops.shape(y)[0]
        self.arch_loss_tracker.update_state(loss, sample_weight=batch)
        self.arch_accuracy_tracker.update_state(_accuracy(y, logits), sample_weight=batch)

    def update_weight_metrics(self, loss, x, y, logits):
        """Adds a weight step's loss, the compiled metrics and the mean
        entropy per cell type to the logs; returns the logs."""
        keras_compat.loss_tracker(self).update_state(loss, sample_weight=keras.ops.shape(x)[0])
        distributions = list(self.distributions().values())
        self.entropy_tracker.update_state(sum(d.entropy() for d in distributions) / len(distributions))
        if self.latency_tracker is not None:
            self.latency_tracker.update_state(self.latency.expected_ms(self._expected_weights()))
        return self.compute_metrics(x, y, logits)

    def test_step(self, *args):
        result = super().test_step(*args)
        logs, state = result if keras.backend.backend() == "jax" else (result, None)
        search_only = {t.name for t in (self.arch_loss_tracker, self.arch_accuracy_tracker, self.entropy_tracker,
                                        self.latency_tracker) if t is not None}
        logs = keras_compat.reducible_logs({k: v for k, v in logs.items() if k not in search_only})
        return logs if state is None else (logs, state)

    # Results ---------------------------------------------------------------

    def genotype(self):
        """The derived genotype (largest Dirichlet means).

        Works for the supernets and for any model whose searched part is a
        single `DrNASCell` with its own concentration.
        """
        if isinstance(self.supernet, Supernet):
            return self.supernet.genotype()
        cells = [layer for layer in keras_compat.flatten_layers(self.supernet)
                 if isinstance(layer, DrNASCell) and layer.distribution is not None]
        if len(cells) == 1:
            weights = keras.ops.convert_to_numpy(cells[0].distribution.expected_weights())
            return derive_genotype(cells[0].space, {"normal": weights, "reduce": weights})
        raise InputError(
            "genotype() needs a supernet (NASBench201Supernet, DartsSupernet) or a model with "
            "exactly one DrNASCell; read concentrations() otherwise."
        )

    def concentrations(self):
        """{name: edges x ops NumPy array of concentrations}, keyed as `distributions()`."""
        return {k: keras.ops.convert_to_numpy(d.concentration()) for k, d in self.distributions().items()}

    def concentration_report(self):
        """JSON-ready {name: {"op_names", "concentration", "op_mask"}}: the
        one shape in which concentrations are written (logs, result files)."""
        op_names = list(self.supernet.space.op_names) if isinstance(self.supernet, Supernet) else None
        return {
            name: {"op_names": op_names, "concentration": beta.tolist(), "op_mask": self.distributions()[name].op_mask}
            for name, beta in self.concentrations().items()
        }

    # Fit -------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kwargs):
        """`Model.fit` on one dataset of search pairs, with the cosine
        schedule stretched over all epochs, the architecture warm-up applied
        per epoch, and a `NonFiniteError` (naming the epoch and step) as soon
        as a loss or variable turns NaN. Call `compile()` first (also after
        `keras.models.load_model`, which does not restore a search's two
        optimizers)."""
        if y is not None or batch_size is not None:
            raise InputError(
                "SearchModel.fit takes one dataset of ((x_train, y_train), (x_val, y_val)) batches, "
                f"not x, y or batch_size; {PAIRS_HINT}, and pass it as fit(pairs, epochs=...)."
            )
        if not self._has_optimizers():
            raise InputError(
                "Call compile() before fit(): search.compile() sets up both optimizers (the paper's "
                "defaults for the space); a SearchModel reloaded with keras.models.load_model needs compile() again."
            )
        self.build_for(x)
        if kwargs.get("initial_epoch", 0) == 0:
            self._warn_if_target_is_slack()
        if kwargs.get("steps_per_epoch") is None:  # an epoch stream of `search_pairs` knows its epochs' length
            kwargs["steps_per_epoch"] = getattr(x, "steps_per_epoch", None)
        steps = kwargs["steps_per_epoch"] or _cardinality(x)
        if steps:
            stretch_schedule(self.optimizer, int(steps) * int(epochs))
        callbacks = list(callbacks or [])
        managed = any(getattr(c, "manages_arch_warmup", False) for c in callbacks)
        # The genotype is recorded first, so checkpoints and loggers see it; a
        # non-finite step stops the run before any checkpoint could see it.
        callbacks = ([StopOnNonFinite(), GenotypeHistory()] + callbacks
                     + [ArchitectureWarmup(self.arch_warmup_epochs, managed)])
        kwargs.setdefault("shuffle", False)  # search_pairs already shuffles
        return super().fit(x, epochs=epochs, verbose=verbose, callbacks=callbacks, **kwargs)

    def _warn_if_target_is_slack(self):
        target = None if self.latency is None else self.latency.target_ms
        if target is None:
            return
        expected = float(self.latency.expected_ms(self._expected_weights()))
        if expected <= target:
            warnings.warn(
                f"The latency target {target:g} ms is above the expected latency at the start "
                f"({expected:.3f} ms, each choice weighed by its Dirichlet mean), so the latency term does "
                "nothing until the expected latency rises above it. The derived network takes each block's "
                "most likely choice and can be slower than the expected mix. To search for speed, set a "
                f"target below {expected:.3f} ms, or a latency weight without a target.",
                stacklevel=3,  # the user's fit call
            )

    def build_for(self, dataset):
        """Builds the model for `dataset`'s images, the compiled metrics and
        both optimizers, in the strategy scope (e.g. before `load_weights`
        when resuming)."""
        if is_tf_dataset(dataset):
            element = dataset.element_spec
        elif isinstance(dataset, keras.utils.PyDataset):
            element = dataset[0]
        else:
            raise InputError(
                "SearchModel.fit takes a tf.data.Dataset or keras.utils.PyDataset of ((x_train, y_train), "
                f"(x_val, y_val)) batches, got {type(dataset).__name__}; {PAIRS_HINT}."
            )
        try:
            (train_spec, label_spec), _ = element
        except (TypeError, ValueError):
            raise InputError(
                f"SearchModel.fit expects batches ((x_train, y_train), (x_val, y_val)), got {element}; {PAIRS_HINT}."
            ) from None
        image_shape = tuple(train_spec.shape[1:])
        with self.strategy_scope():  # variables made here must be mirrored
            built_shape = keras_compat.built_input_shape(self.supernet) if self.supernet.built else None
            if built_shape:
                check_input_shape(image_shape, built_shape, "the searched model")
            elif isinstance(self.supernet, Supernet):
                if not self.supernet.built:
                    self.supernet.build((None,) + image_shape)
            else:  # Keras' default build of a subclassed model makes no variables: its first call does
                self.supernet(keras.KerasTensor((None,) + image_shape))
            self.built = True
            _check_classes(getattr(dataset, "num_classes", None), self.supernet, image_shape)
            if self._has_optimizers():
                # Optimizers first: Keras would build a missing one over every variable, eta included.
                self.build_optimizers()
                keras_compat.build_compiled_metrics(self, train_spec, label_spec)

    def get_config(self):
        config = super().get_config()
        config.update(
            supernet=keras.saving.serialize_keras_object(self.supernet),
            anchor=self.anchor,
            anchor_strength=self.anchor_strength,
            weight_decay=self.weight_decay,
            arch_warmup_epochs=self.arch_warmup_epochs,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["supernet"] = keras.saving.deserialize_keras_object(config["supernet"])
        return cls(**config)


def _check_classes(num_classes, model, image_shape):
    """Labels that the model has no output for fail here, before tracing."""
    if num_classes is None:
        return
    width = getattr(model, "num_classes", None)
    if width is None:
        output = model.compute_output_spec(keras.KerasTensor((1,) + image_shape))
        width = output.shape[-1] if isinstance(output, keras.KerasTensor) else None
    if width is not None and num_classes > width:
        raise InputError(
            f"The search data has labels up to {num_classes - 1} ({num_classes} classes) but the model has "
            f"{width} outputs: build it with num_classes={num_classes}, or keep the labels in 0..{width - 1}."
        )


def _cardinality(dataset):
    n = int(dataset.cardinality()) if is_tf_dataset(dataset) else len(dataset)
    return n if n > 0 else None
