import keras
import numpy as np
import tensorflow as tf

from keras_drnas.search_strategy.optimizers import FusedSGD, default_weight_optimizer


def _train(make_optimizer):
    """Five compiled updates of two variables; returns their values and the momentum slots."""
    rng = np.random.default_rng(0)
    gradients = [[tf.constant(rng.normal(size=s), tf.float32) * 4 for s in [(3, 2), (2,)]] for _ in range(5)]
    optimizer = make_optimizer()
    variables = [keras.Variable(np.ones((3, 2)), dtype="float32"), keras.Variable(np.zeros(2), dtype="float32")]
    optimizer.build(variables)

    @tf.function
    def step(grads):
        optimizer.apply_gradients(zip(grads, variables))

    for grads in gradients:
        step(grads)
    return [v.numpy() for v in variables] + [m.numpy() for m in optimizer.momentums]


def test_fused_sgd_is_keras_sgd_with_schedule_and_clipping():
    def schedule():
        return keras.optimizers.schedules.CosineDecay(0.1, 5, alpha=0.1)

    ours = _train(lambda: FusedSGD(schedule(), momentum=0.9, global_clipnorm=5.0))
    theirs = _train(lambda: keras.optimizers.SGD(schedule(), momentum=0.9, global_clipnorm=5.0))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ours[0], 1.0)
    assert isinstance(default_weight_optimizer(), FusedSGD)


def test_fused_sgd_falls_back_to_keras_for_nesterov():
    # (Under MirroredStrategy it runs in every mirrored search test: it is the default.)
    for a, b in zip(_train(lambda: FusedSGD(0.05, momentum=0.9, nesterov=True)),
                    _train(lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True))):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_fused_sgd_round_trips_its_config():
    optimizer = FusedSGD(0.05, momentum=0.8, global_clipnorm=5.0)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(again, FusedSGD) and again.get_config() == optimizer.get_config()
