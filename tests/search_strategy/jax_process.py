"""Run under KERAS_BACKEND=jax by test_jax_backend.py: the layers on JAX.

    python -m tests.search_strategy.jax_process WEIGHTS_DIR OUT.npz

Writes the entropy and KL anchor of a given eta, and the logits, genotypes,
losses and gradients of two supernets whose weights the TensorFlow side saved.
"""

import os
import sys

import jax
import keras
import numpy as np

import keras_drnas as kd
from keras_drnas.search_strategy.fixed_architecture import fixed_op_weights
from tests.search_strategy.jax_reference import ETA, IMAGES, LABELS, supernets
from tests.search_strategy.jax_reference import fixed_op_weights as fixed_sample


def loss_and_gradients(supernet):
    """The training loss and its gradients for one fixed op-weight sample."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    non_trainable = [v.value for v in supernet.non_trainable_variables]

    def loss(trainable):
        with fixed_op_weights(supernet.distributions(), fixed_sample(supernet)):
            logits, _ = supernet.stateless_call(trainable, non_trainable, IMAGES, training=True)
        return loss_fn(LABELS, logits)

    value, grads = jax.value_and_grad(loss)([v.value for v in supernet.trainable_variables])
    return float(value), grads


def main(weights_dir, out):
    assert keras.backend.backend() == "jax"
    results = {}
    dist = kd.layers.ArchitectureDistribution(*ETA.shape, op_mask=ETA > -1.5)
    dist.build()
    dist.eta.assign(ETA)
    results["entropy"], results["kl"] = float(dist.entropy()), float(dist.kl_to_uniform())
    results["sample_sums"] = np.asarray(keras.ops.sum(dist.sample(), axis=1))
    for name, supernet in supernets().items():
        supernet.load_weights(os.path.join(weights_dir, f"{name}.weights.h5"))
        results[f"logits_{name}"] = np.asarray(supernet(IMAGES, training=False))
        results[f"genotype_{name}"] = supernet.genotype().to_string()
        results[f"loss_{name}"], grads = loss_and_gradients(supernet)
        for k, grad in enumerate(grads):
            results[f"grad_{name}_{k}"] = np.asarray(grad)
    np.savez(out, **results)


if __name__ == "__main__":
    main(*sys.argv[1:])
