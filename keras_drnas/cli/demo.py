"""`keras-drnas demo`, the main job: a search on digits, its cell against
random cells of the space (retrained the same way), the export, the pictures."""

import json
import os
import time

from keras_drnas.cli import export, retrain, search
from keras_drnas.cli.common import distribution_strategy, replaced, worker_output

NAME, HELP = "demo", "search, retrain and export in one go (digits by default)"


def add_arguments(parser):
    search.add_arguments(parser)
    retrain.network_args(parser)
    # A short search that still decides: ~900 architecture steps instead of the paper's ~39,000,
    # so a 20x architecture learning rate, after 10 epochs that train the weights alone.
    parser.set_defaults(channels=4, cells_per_stage=1, batch_size=32, epochs=40, arch_warmup_epochs=10,
                        arch_learning_rate=6e-3, overwrite=True)


RANDOM_CELLS = 3  # the demo's baseline: cells drawn uniformly from the space


def run(args):
    """The main job: a search on digits, its cell against a random cell of
    the space (both retrained the same way), the export, the pictures."""
    args = replaced(args, overwrite=args.overwrite and not args.resume,  # each demo starts fresh unless resumed
                    checkpoint_dir=os.path.join(args.output_dir, "search", "checkpoint"))
    with worker_output(args, distribution_strategy(args.strategy)) as worker_args:
        _demo(worker_args)


def _demo(args):
    from keras_drnas.search_space import random_genotype

    start = time.perf_counter()
    base = args.output_dir
    searched, search_data = search.run(replaced(args, output_dir=os.path.join(base, "search")))
    _report_learning(searched, os.path.join(base, "search"))

    candidates = [("searched", "retrain", os.path.join(base, "search", "genotype.json"))]
    for k in range(RANDOM_CELLS):
        directory = os.path.join(base, f"random_{k}")
        random_genotype(searched.supernet.space, seed=args.seed + k).save(os.path.join(directory, "genotype.json"))
        candidates.append((f"random cell {k}", f"random_{k}", os.path.join(directory, "genotype.json")))
    accuracies = {}
    print(f"\nRetraining the searched cell and {RANDOM_CELLS} random cells of the space, "
          f"same recipe, {args.retrain_epochs} epochs each")
    for name, folder, genotype in candidates:
        output_dir = os.path.join(base, folder)
        network, _ = retrain.run(replaced(args, genotype=genotype, output_dir=output_dir, verbose=0), search_data)
        if name == "searched":
            searched_model = network.model
        with open(os.path.join(output_dir, "retrain.json"), encoding="utf-8") as f:
            accuracies[name] = json.load(f)["test_accuracy"]
    random_accuracies = [v for k, v in accuracies.items() if k != "searched"]
    print(f"\nTest accuracy: searched cell {accuracies['searched']:.4f}; random cells "
          f"{min(random_accuracies):.4f} to {max(random_accuracies):.4f} (mean {sum(random_accuracies) / RANDOM_CELLS:.4f})")

    print("\n--- Export ---")
    export.run(replaced(args, output_dir=os.path.join(base, "export"), check_images=200), searched_model, search_data)
    print(f"\nDemo done in {time.perf_counter() - start:.0f} s. Files:")
    for part in ("search/genotype.json", "retrain/model.keras", "random_0/retrain.json", "export/model_float32.tflite",
                 "export/model_int8.tflite", "export/model_saved_model"):
        print(f"  {os.path.join(base, part)}")


def _report_learning(searched, run_dir):
    """How far the distribution moved: entropy, and the largest mean op weight per edge."""
    import math

    import numpy as np

    with open(os.path.join(run_dir, "history.json"), encoding="utf-8") as f:
        entropy = json.load(f)["history"].get("entropy", [])
    num_ops = searched.supernet.space.num_ops
    if entropy:
        print(f"\nMean entropy of the edge distributions: {entropy[0]:.3f} after the first epoch, "
              f"{entropy[-1]:.3f} after the last (Dir(1), where the search starts: "
              f"{-math.lgamma(num_ops):.3f}; lower is more decided)")
    for name, weights in searched.supernet.expected_op_weights().items():
        uniform = 1.0 / weights.shape[1]
        print(f"Largest mean op weight per {name} edge (uniform: {uniform:.2f}): "
              + " ".join(f"{w:.2f}" for w in np.max(weights, axis=1)))
