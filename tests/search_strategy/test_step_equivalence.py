"""The compiled bilevel step against a straightforward eager computation."""

import keras
import numpy as np
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.search_strategy.optimizers import stretch_schedule
from tests.helpers import compiled, tiny_pairs

STEPS = 3


def _search():
    keras.utils.set_random_seed(0)
    supernet = kd.NASBench201Supernet(channels=4, cells_per_stage=1, num_classes=10, partial_channels=2, seed=0)
    return compiled(supernet, learning_rate=0.1, arch_learning_rate=0.05)


def _eager_steps(search, pairs):
    """Paper Algorithm 1 / the reference code's step, line by line in eager
    mode: Adam on eta with the validation batch (cross-entropy + the L2
    anchor), then SGD on the weights with the training batch (cross-entropy,
    coupled weight decay). Returns each step's (arch loss, weight loss) and
    the state after each step."""
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # TFP picks its gamma sampler by Grappler's implementation selection:
    # stateless_gamma on a CPU inside a graph, a rejection sampler elsewhere
    # (eagerly under a tape too), so one seed gives other draws in eager mode.
    # The reference draws through a tf.function to see the compiled step's draws.
    for distribution in search.distributions().values():
        distribution.sample = tf.function(distribution.sample)
    search.build_for(pairs)
    stretch_schedule(search.optimizer, STEPS)
    losses, states = [], []
    for (x_train, y_train), (x_val, y_val) in pairs.take(STEPS):
        eta = search.architecture_variables
        with tf.GradientTape() as tape:
            arch_loss = cross_entropy(y_val, search.supernet(x_val, training=True))
            total = arch_loss + 0.5 * search.anchor_strength * tf.add_n([tf.reduce_sum(v**2) for v in eta])
        search.arch_optimizer.apply_gradients(zip(tape.gradient(total, eta), eta))
        weights = search.weight_variables
        with tf.GradientTape() as tape:
            loss = cross_entropy(y_train, search.supernet(x_train, training=True))
        gradients = [g + search.weight_decay * v for g, v in zip(tape.gradient(loss, weights), weights)]
        search.optimizer.apply_gradients(zip(gradients, weights))
        losses.append((float(arch_loss), float(loss)))
        states.append([v.numpy().copy() for v in search.weights])
    return losses, states


class StateAfterEachStep(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.states = []

    def on_train_batch_end(self, batch, logs=None):
        self.states.append([v.numpy().copy() for v in self.model.weights])


def test_compiled_step_equals_the_eager_computation():
    batches = list(tiny_pairs(n=2 * STEPS * 16, batch_size=16).take(STEPS))
    # The same batches however often the dataset is iterated (search_pairs reshuffles each time).
    pairs = tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(lambda *b: tf.stack(b), *batches))
    eager = _search()
    eager.build_for(pairs)
    initial = eager.get_weights()
    eager_losses, eager_states = _eager_steps(eager, pairs)

    search = _search()
    search.build_for(pairs)
    search.set_weights(initial)
    recorder = StateAfterEachStep()
    history = search.fit(pairs, epochs=1, steps_per_epoch=STEPS, verbose=0, callbacks=[recorder])

    np.testing.assert_allclose(history.history["arch_loss"][0], np.mean([a for a, _ in eager_losses]), rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"][0], np.mean([w for _, w in eager_losses]), rtol=1e-5)
    names = [v.path for v in search.weights]
    assert [v.shape for v in search.weights] == [v.shape for v in eager.weights]  # same variables, other name counters
    eta_changed = False
    for step, (compiled_state, eager_state) in enumerate(zip(recorder.states, eager_states)):
        for name, a, b in zip(names, compiled_state, eager_state):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=f"{name} after step {step + 1}")
            eta_changed |= "eta" in name and step == 0 and not np.allclose(a, 0)
    assert eta_changed  # the architecture did move, so the check covers its gradient
    for cell_type, beta in search.concentrations().items():
        np.testing.assert_allclose(beta, eager.concentrations()[cell_type], rtol=1e-5)
