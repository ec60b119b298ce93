"""The bilevel step on JAX, in the stateless form of Keras' JAX trainer.

`train_step(search, state, data)` takes and returns the values Keras
threads through `jax.jit`: (trainable, non-trainable, optimizer, metrics).
Keras threads only `model.optimizer`'s variables as optimizer state, so
the architecture optimizer's variables travel with the non-trainable ones
(`SearchModel.non_trainable_variables` lists them). Under
`keras.distribution.DataParallel` the step is one program over the global
batch, so nothing is divided by a replica count.
"""

import jax
import keras


def _positions(variables, subset):
    wanted = {id(v) for v in subset}
    return [i for i, v in enumerate(variables) if id(v) in wanted]


def _replaced(values, positions, new_values):
    values = list(values)
    for i, value in zip(positions, new_values, strict=True):
        values[i] = value
    return values


def _all_finite(values):
    squares = [keras.ops.sum(keras.ops.square(keras.ops.cast(v, "float32"))) for v in values]
    return keras.ops.cast(keras.ops.all(keras.ops.isfinite(keras.ops.stack(squares))), "float32")


def train_step(search, state, data):
    """`SearchModel.train_step` on JAX; returns (logs, state)."""
    trainable, non_trainable, optimizer_values, metric_values = state
    (x_train, y_train), (x_val, y_val) = data
    trainable_refs, non_trainable_refs = search.trainable_variables, search.non_trainable_variables
    metric_refs, optimizer_refs = search.metrics_variables, search.optimizer.variables
    arch = _positions(trainable_refs, search.architecture_variables)
    weights = _positions(trainable_refs, search.weight_variables)

    def forward(trainable, non_trainable, x, y, objective):
        mapping = (list(zip(trainable_refs, trainable)) + list(zip(non_trainable_refs, non_trainable))
                   + list(zip(metric_refs, metric_values)) + list(zip(optimizer_refs, optimizer_values)))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logits = search.supernet(x, training=True)
            loss = search.compute_loss(x=x, y=y, y_pred=logits, training=True)
            total = objective(loss)
        return total, (loss, logits, [scope.get_current_value(v) for v in non_trainable_refs])

    arch_loss = None
    if search.arch_enabled:  # a Python switch: changing it retraces (`set_arch_enabled`)
        def arch_objective(arch_values, non_trainable):
            return forward(_replaced(trainable, arch, arch_values), non_trainable, x_val, y_val,
                           lambda loss: loss + search.architecture_penalty())

        (_, (arch_loss, arch_logits, non_trainable)), grads = jax.value_and_grad(arch_objective, has_aux=True)(
            [trainable[i] for i in arch], non_trainable)
        slots = _positions(non_trainable_refs, search.arch_optimizer.variables)
        arch_values, slot_values = search.arch_optimizer.stateless_apply(
            [non_trainable[i] for i in slots], grads, [trainable[i] for i in arch])
        trainable = _replaced(trainable, arch, arch_values)
        non_trainable = _replaced(non_trainable, slots, slot_values)

    def weight_objective(weight_values, non_trainable):
        return forward(_replaced(trainable, weights, weight_values), non_trainable, x_train, y_train,
                       search.optimizer.scale_loss)

    weight_values = [trainable[i] for i in weights]
    (_, (loss, logits, non_trainable)), grads = jax.value_and_grad(weight_objective, has_aux=True)(
        weight_values, non_trainable)
    if search.weight_decay:  # coupled, as PyTorch's SGD adds it to the gradient
        grads = [g + search.weight_decay * keras.ops.cast(w, g.dtype) for g, w in zip(grads, weight_values)]
    weight_values, optimizer_values = search.optimizer.stateless_apply(optimizer_values, grads, weight_values)
    trainable = _replaced(trainable, weights, weight_values)

    network_state = _positions(non_trainable_refs, search.supernet.non_trainable_weights)
    finite = _all_finite(trainable + [non_trainable[i] for i in network_state
                                      if "float" in str(non_trainable[i].dtype)])
    non_trainable = _replaced(non_trainable, _positions(non_trainable_refs, [search.weights_finite]), [finite])

    mapping = (list(zip(metric_refs, metric_values)) + list(zip(trainable_refs, trainable))
               + list(zip(non_trainable_refs, non_trainable)))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        if arch_loss is not None:
            search.update_arch_metrics(arch_loss, y_val, arch_logits)
        logs = search.update_weight_metrics(loss, x_train, y_train, logits)
    metric_values = [scope.get_current_value(v) for v in metric_refs]
    return logs, (trainable, non_trainable, optimizer_values, metric_values)


def current_logs(search, state):
    """The metric results held in `state` (the logs of a skipped step)."""
    with keras.StatelessScope(state_mapping=list(zip(search.metrics_variables, state[3]))):
        return search.get_metrics_result()
