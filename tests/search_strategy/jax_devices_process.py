"""Run by test_jax_backend.py under KERAS_BACKEND=jax with two CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=2): the same search on one
device and under `keras.distribution.DataParallel` over both, at the same
global batch.

    python -m tests.search_strategy.jax_devices_process OUT.npz
"""

import sys

import jax
import keras
import numpy as np

import keras_drnas as kd
from tests.helpers import compiled, tiny_pairs


def search():
    keras.utils.set_random_seed(0)
    model = compiled(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    pairs = tiny_pairs(n=128, batch_size=32)
    model.build_for(pairs)
    initial = model.concentrations()["normal"]
    history = model.fit(pairs, epochs=2, verbose=0)
    return model, dict(history.history, initial=initial)


def main(out):
    assert keras.backend.backend() == "jax" and jax.device_count() == 2, jax.devices()
    one, one_logs = search()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    both, both_logs = search()
    eta = both.architecture_variables[0].value
    np.savez(out, initial=one_logs["initial"], one=one.concentrations()["normal"], both=both.concentrations()["normal"],
             one_loss=one_logs["loss"], both_loss=both_logs["loss"],
             one_genotype=one.genotype().to_string(), both_genotype=both.genotype().to_string(),
             eta_devices=len(eta.sharding.device_set))


if __name__ == "__main__":
    main(sys.argv[1])
