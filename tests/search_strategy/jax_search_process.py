"""Run by test_jax_backend.py: a digits search on JAX in a process where
importing TensorFlow fails, ending with the derived network's .keras file.

    python -m tests.search_strategy.jax_search_process OUT_DIR
"""

import json
import os
import sys


def main(out):
    sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError from here on
    import keras
    import numpy as np

    import keras_drnas as kd
    from keras_drnas.data import load_digits, search_pairs, split_half

    assert keras.backend.backend() == "jax"
    keras.utils.set_random_seed(0)
    digits, labels = load_digits()
    train, validation = split_half(digits[:640], labels[:640])  # the search itself is tested elsewhere
    pairs = search_pairs(train, validation, batch_size=64, seed=0, epochs=2)
    search = kd.SearchModel(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0), arch_warmup_epochs=1)
    search.compile(metrics=["accuracy"])
    search.build_for(pairs)
    np.save(os.path.join(out, "initial_concentration.npy"), search.concentrations()["normal"])  # eta = 1e-3 * noise
    history = search.fit(pairs, epochs=2, verbose=0)
    genotype = search.genotype()
    network = kd.build_network(genotype, channels=4, cells_per_stage=1, input_shape=(8, 8, 1))
    held_out = (validation[0][:256] - pairs.mean) / pairs.std  # normalized as the search's batches
    evaluation = search.evaluate(held_out, validation[1][:256], batch_size=64, verbose=0, return_dict=True)
    errors = {}
    from keras_drnas.derived_model.export import to_tflite

    for name, call in (("tflite", lambda: to_tflite(network.model)),
                       ("exploration", lambda: kd.callbacks.ExplorationRecorder(pairs, os.path.join(out, "x.jsonl")))):
        try:
            call()
        except kd.InputError as error:
            errors[name] = str(error)
    diverging = kd.SearchModel(kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0))
    diverging.compile(optimizer=keras.optimizers.SGD(1e12))
    try:
        diverging.fit(search_pairs(train, validation, batch_size=64, seed=0), epochs=1, verbose=0)
    except kd.InputError as error:  # NonFiniteError
        errors["diverged"] = str(error)
    network.model.save(os.path.join(out, "derived.keras"))
    images = validation[0][:16]
    np.save(os.path.join(out, "images.npy"), images)
    np.save(os.path.join(out, "outputs.npy"), keras.ops.convert_to_numpy(network.model(images)))
    np.save(os.path.join(out, "concentration.npy"), search.concentrations()["normal"])
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"genotype": genotype.to_string(), "history": {k: [float(v) for v in vs]
                                                                  for k, vs in history.history.items()},
                   "evaluation": {k: float(v) for k, v in evaluation.items()}, "errors": errors,
                   "pairs": type(pairs).__name__, "tensorflow_imported": sys.modules["tensorflow"] is not None}, f)


if __name__ == "__main__":
    main(sys.argv[1])
