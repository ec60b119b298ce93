"""The bilevel step on TensorFlow: two tapes, each optimizer applied in
place, under any `tf.distribute` strategy (losses are per replica)."""

import tensorflow as tf

from keras_drnas.utils import keras_compat


def replicas():
    """Replicas of the current strategy: each computes its share of a sum."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def _arch_step(search, x, y):
    arch_vars = search.architecture_variables
    with tf.GradientTape() as tape:
        logits = search.supernet(x, training=True)
        loss = search.compute_loss(x=x, y=y, y_pred=logits, training=True)
        total = loss + search.architecture_penalty() / replicas()
    grads = tape.gradient(total, arch_vars)
    search.arch_optimizer.apply_gradients(zip(grads, arch_vars))
    return loss, logits


def _weight_step(search, x, y):
    weights = search.weight_variables
    with tf.GradientTape() as tape:
        logits = search.supernet(x, training=True)
        loss = search.compute_loss(x=x, y=y, y_pred=logits, training=True)
        scaled = search.optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, weights)
    if search.weight_decay:
        decay = search.weight_decay / replicas()
        grads = [g + decay * tf.cast(v, g.dtype) for g, v in zip(grads, weights)]
    search.optimizer.apply_gradients(zip(grads, weights))
    return loss, logits


def train_step(search, data):
    """`SearchModel.train_step` on TensorFlow; returns the logs."""
    (x_train, y_train), (x_val, y_val) = data
    if search.arch_enabled:  # a Python switch: tf.cond cannot hold a cross-replica update
        loss, logits = _arch_step(search, x_val, y_val)
        search.update_arch_metrics(loss * replicas(), y_val, logits)
        # Start the weight step only once the arch update is done:
        # overlapping the steps would hold both passes' activations at once.
        with tf.control_dependencies([search.arch_optimizer.iterations.value]):
            x_train = tf.identity(x_train)
    loss, logits = _weight_step(search, x_train, y_train)
    # One op per variable: a sum of squares is finite unless an entry is not (or it
    # overflows; StopOnNonFinite then checks each variable on the host).
    squares = tf.add_n([tf.cast(tf.nn.l2_loss(v), "float32")
                        for v in search.supernet.weights if "float" in v.dtype])
    search.weights_finite.assign(tf.cast(tf.math.is_finite(squares), "float32"))
    logs = search.update_weight_metrics(loss * replicas(), x_train, y_train, logits)
    return keras_compat.reducible_logs(logs)
