"""The two optimizers of a search: their defaults per search space, and how
the weight optimizer follows a pruned and widened supernet."""

import keras

from keras_drnas.search_space.space import SearchSpace
from keras_drnas.search_strategy.widening import take
from keras_drnas.utils import keras_compat
from keras_drnas.utils.optional import tensorflow as tf



def search_defaults(space):
    """The reference code's learning rates for a `SearchSpace` (paper,
    Appendix); the base class's, NAS-Bench-201's, for models without one."""
    return dict((space if isinstance(space, SearchSpace) else SearchSpace).search_learning_rates)


@keras.saving.register_keras_serializable(package="keras_drnas")
class FusedSGD(keras.optimizers.SGD):
    """`keras.optimizers.SGD`, each variable's momentum update one fused op.

    Keras traces about ten ops per variable for the momentum update; a
    DARTS supernet has over a thousand variables, so that was a fifth of
    the search step's graph, which TensorFlow then optimizes and keeps in
    memory. `ResourceApplyKerasMomentum` computes Keras' own update
    (m = momentum * m - lr * g; w += m) in one op. Other settings (Nesterov,
    no momentum, sparse gradients, other backends) use Keras' update.

    Example:
    >>> optimizer = FusedSGD(0.1, momentum=0.9)
    >>> w = keras.Variable([1.0, 2.0])
    >>> _ = optimizer.apply_gradients([(keras.ops.ones(2), w)])
    >>> [round(x, 2) for x in w.numpy().tolist()]
    [0.9, 1.9]
    """

    def update_step(self, gradient, variable, learning_rate):
        if (keras.backend.backend() != "tensorflow" or not self.momentum or self.nesterov
                or isinstance(gradient, tf.IndexedSlices)):
            return super().update_step(gradient, variable, learning_rate)
        momentum = keras_compat.optimizer_slots(self, variable)["momentums"]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle, accum=momentum.handle, lr=tf.cast(learning_rate, variable.dtype),
            grad=tf.cast(gradient, variable.dtype), momentum=tf.cast(self.momentum, variable.dtype))


def default_weight_optimizer(learning_rate=0.025, min_learning_rate=1e-3, momentum=0.9, decay_steps=1):
    """SGD with momentum (`FusedSGD`), a cosine schedule from `learning_rate`
    to `min_learning_rate`, and gradients clipped to global norm 5.

    `SearchModel.fit` stretches `decay_steps` over the whole search.
    """
    alpha = min_learning_rate / learning_rate if learning_rate else 0.0
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=alpha)
    return FusedSGD(schedule, momentum=momentum, global_clipnorm=5.0)


def default_arch_optimizer(learning_rate=3e-4):
    """Adam with betas (0.5, 0.999), as the reference code."""
    return keras.optimizers.Adam(learning_rate, beta_1=0.5, beta_2=0.999)


def stretch_schedule(optimizer, total_steps):
    """Makes a cosine schedule span `total_steps` (the whole search)."""
    schedule = keras_compat.learning_rate_schedule(optimizer)
    if isinstance(schedule, keras.optimizers.schedules.CosineDecay):
        schedule.decay_steps = max(1, int(total_steps))


def rebuild_optimizer(old, variables, widened=()):
    """A fresh optimizer for `variables` (pruned, widened) that carries on
    where `old` stopped: same config, same step count (the schedule
    continues), slots copied, and for widened variables widened with the
    same Net2Net indices. Pruned variables' slots are dropped with them.
    Call it inside the strategy scope.

    Args:
        widened: (old variable, new variable, index) triples from `widen`.
    """
    mapping = {id(new): (old_variable, index) for old_variable, new, index in widened}
    new = old.__class__.from_config(old.get_config())
    new.build(variables)
    new.iterations.assign(old.iterations)
    for variable in variables:
        source, index = mapping.get(id(variable), (variable, None))
        new_slots = keras_compat.optimizer_slots(new, variable)
        for name, slot in keras_compat.optimizer_slots(old, source).items():
            value = keras.ops.convert_to_numpy(slot)
            new_slots[name].assign(value if index is None else take(value, index))
    return new
