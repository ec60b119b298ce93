"""The search strategy: DrNAS's alternating bilevel updates inside `model.fit`.

`SearchModel` wraps a supernet (or any model containing DrNAS layers) and
replaces `train_step`: first an architecture step on a validation batch
(loss + anchor term, arch optimizer, fresh Dirichlet sample), then a weight
step on a training batch (loss, coupled weight decay, global-norm clipping,
weight optimizer, another fresh sample). `evaluate` uses the Dirichlet mean.
"""

import keras
import tensorflow as tf

from keras_drnas.concentration import ArchitectureDistribution
from keras_drnas.data import check_model_input
from keras_drnas.genotype import derive_genotype
from keras_drnas.spaces import DARTS, NAS_BENCH_201

ANCHORS = ("l2", "kl")

# SPEC section 5, per search space.
SEARCH_DEFAULTS = {
    NAS_BENCH_201.name: dict(lr=0.025, min_lr=1e-3, arch_lr=3e-4),
    DARTS.name: dict(lr=0.1, min_lr=0.0, arch_lr=6e-4),
}


def find_distributions(model):
    """Every `ArchitectureDistribution` inside `model`, each once."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True):
        if isinstance(layer, ArchitectureDistribution) and id(layer) not in seen:
            seen.add(id(layer))
            found.append(layer)
    return found


def default_weight_optimizer(lr=0.025, min_lr=1e-3, momentum=0.9, decay_steps=1):
    """SGD with momentum and a cosine schedule from `lr` to `min_lr`.

    `SearchModel.fit` stretches `decay_steps` over the whole search.
    """
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps, alpha=min_lr / lr if lr else 0.0)
    return keras.optimizers.SGD(schedule, momentum=momentum, global_clipnorm=5.0)


def default_arch_optimizer(lr=3e-4):
    """Adam with betas (0.5, 0.999), as the reference code."""
    return keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.999)


def _accuracy(y, logits):
    if len(y.shape) == len(logits.shape):  # one-hot labels
        y = tf.argmax(y, axis=-1)
    hits = tf.equal(tf.cast(tf.reshape(y, [-1]), tf.int64), tf.argmax(logits, axis=-1))
    return tf.reduce_mean(tf.cast(hits, tf.float32))


@keras.saving.register_keras_serializable(package="keras_drnas")
class SearchModel(keras.Model):
    """Runs a DrNAS search with `fit`.

    Args:
        model: a supernet (`nas_bench_201`, `darts`) or any Keras model that
            contains `DrNASCell` / `DirichletMixedOp` layers.
        anchor: `"l2"`, the paper's (lambda/2) * ||eta||^2, or `"kl"`,
            lambda * sum KL(Dir(beta) || Dir(1)) (an option of the code).
        anchor_strength: lambda (1e-3).
        weight_decay: coupled L2 on the network weights (3e-4), added to
            the gradient as PyTorch's SGD does; Keras' `weight_decay` is
            decoupled and would change the optimum.
        arch_warmup_epochs: epochs at the start with no architecture step.

    Each batch of the training data is a pair
    `((x_train, y_train), (x_val, y_val))`; `keras_drnas.data.search_pairs`
    builds it from arrays or datasets.

    Example:
    ```python
    search = SearchModel(keras_drnas.nas_bench_201(C=16, N=5))
    search.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    search.fit(search_pairs(train, val, batch_size=64), epochs=100)
    print(search.genotype())
    ```
    """

    def __init__(
        self,
        model,
        anchor="l2",
        anchor_strength=1e-3,
        weight_decay=3e-4,
        arch_warmup_epochs=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}.")
        self.model = model
        self.anchor = anchor
        self.anchor_strength = float(anchor_strength)
        self.weight_decay = float(weight_decay)
        self.arch_warmup_epochs = int(arch_warmup_epochs)
        self.distributions = find_distributions(model)
        if not self.distributions:
            raise ValueError(
                "The model has no DrNAS layers to search (no DrNASCell, "
                "DirichletMixedOp or ArchitectureDistribution found)."
            )
        self.arch_enabled = self.arch_warmup_epochs == 0
        self.arch_loss_tracker = keras.metrics.Mean(name="arch_loss")
        self.arch_accuracy_tracker = keras.metrics.Mean(name="arch_accuracy")
        self.entropy_tracker = keras.metrics.Mean(name="entropy")
        self.genotype_history = []

    # Variables -------------------------------------------------------------

    @property
    def architecture_variables(self):
        return [d.eta for d in self.distributions]

    @property
    def weight_variables(self):
        arch = {id(v) for v in self.architecture_variables}
        return [v for v in self.model.trainable_variables if id(v) not in arch]

    # Compile ---------------------------------------------------------------

    def compile(self, optimizer=None, arch_optimizer=None, loss=None, metrics=None, **kwargs):
        """Like `Model.compile`, plus an optimizer for the architecture.

        Defaults: SGD (momentum 0.9, cosine over the search, clip 5) and
        Adam (betas 0.5, 0.999) with the learning rates of SPEC for the
        model's search space, and sparse categorical cross-entropy on logits.
        """
        defaults = SEARCH_DEFAULTS.get(getattr(getattr(self.model, "space", None), "name", None),
                                       SEARCH_DEFAULTS[NAS_BENCH_201.name])
        if optimizer is None:
            optimizer = default_weight_optimizer(defaults["lr"], defaults["min_lr"])
        if arch_optimizer is None:
            arch_optimizer = default_arch_optimizer(defaults["arch_lr"])
        if loss is None:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        self.arch_optimizer = keras.optimizers.get(arch_optimizer)

    def build_optimizers(self):
        """Builds both optimizers; call inside the strategy scope."""
        if not self.optimizer.built:
            self.optimizer.build(self.weight_variables)
        if not self.arch_optimizer.built:
            self.arch_optimizer.build(self.architecture_variables)

    def rebuild_weight_optimizer(self, widened=()):
        """A fresh weight optimizer for the current (pruned, widened) weights
        that carries on where the old one stopped: same config, same step
        count (the schedule continues), slots copied, and for widened
        variables widened with the same Net2Net indices. Pruned variables'
        slots are dropped with them."""
        from keras_drnas.widening import take

        old = self.optimizer
        mapping = {id(new): (old_var, index) for old_var, new, index in widened}
        with self.distribute_strategy.scope():
            new = old.__class__.from_config(old.get_config())
            new.build(self.weight_variables)
            new.iterations.assign(old.iterations)
            for name in _SLOT_LISTS:
                old_slots, new_slots = getattr(old, name, None), getattr(new, name, None)
                if not old_slots or not new_slots:
                    continue
                for variable in self.weight_variables:
                    source, index = mapping.get(id(variable), (variable, None))
                    try:
                        slot = old_slots[old._get_variable_index(source)]
                    except KeyError:
                        continue  # a variable the old optimizer never saw starts at zero
                    value = keras.ops.convert_to_numpy(slot)
                    new_slots[new._get_variable_index(variable)].assign(value if index is None else take(value, index))
        self.optimizer = new
        return new

    # Steps -----------------------------------------------------------------

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def anchor_loss(self):
        if self.anchor == "kl":
            return self.anchor_strength * tf.add_n([d.kl_to_uniform() for d in self.distributions])
        return 0.5 * self.anchor_strength * tf.add_n(
            [tf.reduce_sum(tf.square(v)) for v in self.architecture_variables]
        )

    def set_arch_enabled(self, enabled):
        """Switches architecture steps on or off (warm-up); the compiled step
        is rebuilt when the switch changes."""
        enabled = bool(enabled)
        if enabled != self.arch_enabled:
            self.arch_enabled = enabled
            if self.train_function is not None:
                self.make_train_function(force=True)

    def _replicas(self):
        return tf.distribute.get_strategy().num_replicas_in_sync

    def _arch_step(self, x, y):
        arch_vars = self.architecture_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=logits, training=True)
            total = loss + self.anchor_loss() / self._replicas()
        grads = tape.gradient(total, arch_vars)
        self.arch_optimizer.apply_gradients(zip(grads, arch_vars))
        return loss, logits

    def _weight_step(self, x, y):
        weights = self.weight_variables
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = self._compute_loss(x=x, y=y, y_pred=logits, training=True)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, weights)
        if self.weight_decay:
            decay = self.weight_decay / self._replicas()
            grads = [g + decay * tf.cast(v, g.dtype) for g, v in zip(grads, weights)]
        self.optimizer.apply_gradients(zip(grads, weights))
        return loss, logits

    def train_step(self, data):
        try:
            (x_train, y_train), (x_val, y_val) = data
        except (TypeError, ValueError):
            raise ValueError(
                "SearchModel.fit expects batches ((x_train, y_train), (x_val, y_val)); "
                "build them with keras_drnas.data.search_pairs(train, validation)."
            ) from None
        batch = tf.shape(x_val)[0]

        if self.arch_enabled:  # a Python switch: tf.cond cannot hold a cross-replica update
            loss, logits = self._arch_step(x_val, y_val)
            self.arch_loss_tracker.update_state(loss * self._replicas(), sample_weight=batch)
            self.arch_accuracy_tracker.update_state(_accuracy(y_val, logits), sample_weight=batch)
            # Start the weight step only once the arch update is done:
            # overlapping the steps would hold both passes' activations at once.
            with tf.control_dependencies([self.arch_optimizer.iterations.value]):
                x_train = tf.identity(x_train)
        loss, logits = self._weight_step(x_train, y_train)
        self._loss_tracker.update_state(loss * self._replicas(), sample_weight=tf.shape(x_train)[0])
        self.entropy_tracker.update_state(tf.add_n([d.entropy() for d in self.distributions]) / len(self.distributions))
        return self.compute_metrics(x_train, y_train, logits)

    def test_step(self, data):
        logs = super().test_step(data)
        own = {m.name for m in self._metrics}
        return {k: v for k, v in logs.items() if k not in own}

    # Results ---------------------------------------------------------------

    def genotype(self):
        """The derived genotype (largest Dirichlet means).

        Works for the supernets and for any model whose searched part is a
        single `DrNASCell` with its own concentration.
        """
        if hasattr(self.model, "genotype"):
            return self.model.genotype()
        from keras_drnas.cells import DrNASCell

        cells = [l for l in self.model._flatten_layers() if isinstance(l, DrNASCell) and l.distribution is not None]
        if len(cells) == 1:
            weights = keras.ops.convert_to_numpy(cells[0].distribution.expected_weights())
            return derive_genotype(cells[0].space, {"normal": weights, "reduce": weights})
        raise ValueError(
            "genotype() needs a supernet (nas_bench_201, darts), a model with one "
            "DrNASCell, or a model with a `genotype()` method; read `concentrations()` otherwise."
        )

    def concentrations(self):
        """{distribution name: edges x ops beta}, for any wrapped model."""
        return {d.path if hasattr(d, "path") else d.name: keras.ops.convert_to_numpy(d.concentration())
                for d in self.distributions}

    # Fit -------------------------------------------------------------------

    def fit(self, x=None, epochs=1, callbacks=None, steps_per_epoch=None, initial_epoch=0, **kwargs):
        """`Model.fit`, with the cosine schedule stretched over all epochs and
        the architecture warm-up applied per epoch."""
        if "y" in kwargs and kwargs["y"] is not None:
            raise ValueError(
                "SearchModel.fit takes one dataset of ((x_train, y_train), (x_val, y_val)) "
                "batches, not x and y; use keras_drnas.data.search_pairs."
            )
        self.build_for(x)
        steps = steps_per_epoch or _cardinality(x)
        schedule = getattr(self.optimizer, "_learning_rate", None)
        if steps and isinstance(schedule, keras.optimizers.schedules.CosineDecay):
            schedule.decay_steps = max(1, int(steps) * int(epochs))
        callbacks = list(callbacks or [])
        managed = any(hasattr(c, "stage_of") for c in callbacks)  # ProgressiveLearning
        # The genotype is recorded first, so checkpoints and loggers see it.
        callbacks = [_GenotypeLog()] + callbacks + [_ArchWarmup(self.arch_warmup_epochs, managed)]
        kwargs.setdefault("shuffle", False)  # search_pairs already shuffles
        return super().fit(
            x, epochs=epochs, callbacks=callbacks, steps_per_epoch=steps_per_epoch,
            initial_epoch=initial_epoch, **kwargs
        )

    def build_for(self, dataset):
        """Builds the model for `dataset`'s images and both optimizers (in
        the strategy scope), e.g. before `load_weights` when resuming."""
        with self.distribute_strategy.scope():  # variables made here must be mirrored
            self._build_for(dataset)
            self.build_optimizers()

    def _build_for(self, dataset):
        """Builds the wrapped model for the images of `dataset` (or checks
        that they fit the model it was built for)."""
        if not isinstance(dataset, tf.data.Dataset):
            raise ValueError(
                "SearchModel.fit takes a tf.data.Dataset of ((x_train, y_train), (x_val, y_val)) "
                f"batches, got {type(dataset).__name__}; use keras_drnas.data.search_pairs."
            )
        try:
            (train_spec, _), (val_spec, _) = dataset.element_spec
        except (TypeError, ValueError):
            raise ValueError(
                "SearchModel.fit expects batches ((x_train, y_train), (x_val, y_val)), got "
                f"elements {dataset.element_spec}; use keras_drnas.data.search_pairs."
            ) from None
        self._train_spec = dataset.element_spec[0]
        image_shape = tuple(train_spec.shape[1:])
        built_shape = _model_input_shape(self.model) if self.model.built else None
        if built_shape:
            check_model_input(image_shape, built_shape, "the searched model")
        elif not self.model.built:
            self.model.build((None,) + image_shape)
        self.built = True

    def _symbolic_build(self, iterator=None, data_batch=None):
        # Under a tf.distribute strategy Keras builds metric state from one
        # batch read as (x, y); a search batch is a (train, val) pair, so
        # hand it the training half.
        x_spec, y_spec = self._train_spec
        batch = tuple(keras.KerasTensor(s.shape, s.dtype.name) for s in (x_spec, y_spec))
        return super()._symbolic_build(data_batch=batch + (None,))

    def get_config(self):
        return {
            "name": self.name,
            "model": keras.saving.serialize_keras_object(self.model),
            "anchor": self.anchor,
            "anchor_strength": self.anchor_strength,
            "weight_decay": self.weight_decay,
            "arch_warmup_epochs": self.arch_warmup_epochs,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


# Slot-variable lists of Keras' optimizers (SGD: momentums; Adam: the rest).
_SLOT_LISTS = ("momentums", "_momentums", "_velocities", "_velocity_hats")


def _model_input_shape(model):
    if getattr(model, "inputs", None):  # functional
        return tuple(model.inputs[0].shape)
    shapes = getattr(model, "_build_shapes_dict", None)
    return tuple(next(iter(shapes.values()))) if shapes else None


def _cardinality(dataset):
    if isinstance(dataset, tf.data.Dataset):
        n = int(dataset.cardinality())
        return n if n > 0 else None
    return None


class _ArchWarmup(keras.callbacks.Callback):
    """Holds architecture updates off for the first epochs (unless a
    ProgressiveLearning callback manages a warm-up per stage)."""

    def __init__(self, warmup_epochs, managed):
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.managed = managed

    def on_epoch_begin(self, epoch, logs=None):
        if not self.managed:
            self.model.set_arch_enabled(epoch >= self.warmup_epochs)


class _GenotypeLog(keras.callbacks.Callback):
    """Records (and, when fit is verbose, prints) the genotype of every epoch
    in `SearchModel.genotype_history`."""

    def on_epoch_end(self, epoch, logs=None):
        try:
            genotype = self.model.genotype()
        except ValueError:
            return
        self.model.genotype_history.append(genotype)
        if self.params.get("verbose"):
            compact = genotype.to_nb201_string() if genotype.space == "nas-bench-201" else str(genotype)
            print(f"epoch {epoch + 1} genotype: {compact}")
