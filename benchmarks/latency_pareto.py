"""Accuracy against measured TFLite latency: mobilenet searches at several
latency targets, and one without the latency term.

    python benchmarks/latency_pareto.py                                  # digits upscaled to 32x32
    python benchmarks/latency_pareto.py --data-dir cifar10-jpg --max-images 10000   # the CIFAR-10 JPEGs

One latency table is measured first (LiteRT, one thread, this machine).
Then, per target (none, then the given ones): a search with the same seed,
its derived network retrained from scratch with the same recipe, and a row:
target, the table's predicted latency, the measured TFLite latency of the
whole network, parameters, multiply-adds, test accuracy. Prints the rows
and JSON lines, and draws accuracy against measured latency into
OUTPUT_DIR/latency_pareto.png.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="an ImageFolder of 32x32 images (the CIFAR-10 JPEGs); default: digits")
    parser.add_argument("--max-images", type=int, default=4000, help="images used from --data-dir")
    parser.add_argument("--targets", default="auto",
                        help="latency targets in ms, comma-separated; auto: 90%%, 80%% and 70%% of the "
                        "expected latency at the start (every allowed choice equally likely), which the "
                        "penalty acts on; a target above it leaves the search free")
    parser.add_argument("--channels", type=int, default=8, help="the first block's width")
    parser.add_argument("--stages", default="16:1:1,24:2:1,32:2:2,64:2:2,96:1:1",
                        help="width:blocks:stride per stage (default: a shortened MobileNetV2)")
    parser.add_argument("--epochs", type=int, default=8, help="search epochs")
    parser.add_argument("--arch-learning-rate", type=float, default=6e-3,
                        help="Adam's step on eta; the reference code's 3e-4 moves the Dirichlet means too little "
                        "in a short search for the expected latency to reach a target (Adam's step does not "
                        "grow with --latency-weight)")
    parser.add_argument("--retrain-epochs", type=int, default=8)
    parser.add_argument("--latency-weight", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="runs/latency_pareto")
    return parser.parse_args()


def load_data(args):
    from keras_drnas import data

    if args.data_dir:
        found = data.image_folder_search_data(args.data_dir, seed=args.seed, max_images=args.max_images)
        halves = [np.stack([x for x, _ in d.as_numpy_iterator()]) for d in (found.train, found.validation)]
        labels = [np.array([y for _, y in d.as_numpy_iterator()]) for d in (found.train, found.validation)]
        test = found.test.take(2000) if found.test is not None else found.validation
        test = (np.stack([x for x, _ in test.as_numpy_iterator()]), np.array([y for _, y in test.as_numpy_iterator()]))
        return (halves[0], labels[0]), (halves[1], labels[1]), test, found.num_classes
    x, y = data.load_digits()
    x = np.repeat(np.kron(x, np.ones((1, 4, 4, 1), "float32")), 3, axis=-1)  # 8x8 -> 32x32 RGB
    order = np.random.default_rng(args.seed).permutation(len(x))
    test, rest = order[:360], order[360:]
    half = len(rest) // 2
    return (x[rest[:half]], y[rest[:half]]), (x[rest[half:]], y[rest[half:]]), (x[test], y[test]), 10


def search_once(args, space, table, target, pairs, num_classes):
    import keras

    import keras_drnas as kd
    from keras_drnas.search_strategy.optimizers import default_arch_optimizer

    keras.utils.set_random_seed(args.seed)
    latency = None if target is None else kd.LatencyObjective(table, target, args.latency_weight)
    search = kd.SearchModel(kd.MobileNetSupernet(space=space, channels=args.channels, num_classes=num_classes,
                                                 seed=args.seed), latency=latency)
    search.compile(metrics=["accuracy"], arch_optimizer=default_arch_optimizer(args.arch_learning_rate))
    start = time.perf_counter()
    history = search.fit(pairs, epochs=args.epochs, verbose=0).history
    expected = history["latency_ms"][-1] if "latency_ms" in history else None  # E[T] under the final means
    return search.genotype(), time.perf_counter() - start, expected


def retrain_and_test(args, space, genotype, train, test, num_classes, mean, std):
    import keras
    import tensorflow as tf

    import keras_drnas as kd
    from keras_drnas.derived_model.retrain import test_accuracy

    keras.utils.set_random_seed(args.seed)
    network = kd.build_network(genotype, stages=space.stages, channels=args.channels, num_classes=num_classes,
                               input_shape=train[0].shape[1:], mean=mean, std=std)
    recipe = kd.RetrainRecipe(epochs=args.retrain_epochs, batch_size=64, learning_rate=0.05, cutout=0, drop_path=0.0)
    kd.retrain(network, tf.data.Dataset.from_tensor_slices(train), recipe, num_classes, seed=args.seed, verbose=0)
    return network.model, test_accuracy(network.model, tf.data.Dataset.from_tensor_slices(test))


def main():
    args = arguments()
    import keras_drnas as kd
    from keras_drnas.data import search_pairs
    from keras_drnas.derived_model.latency import measure_latency_table, tflite_latency_ms

    stages = [tuple(int(v) for v in stage.split(":")) for stage in args.stages.split(",")]
    space = kd.MOBILENET.with_stages(stages)
    train, validation, test, num_classes = load_data(args)
    mean, std = train[0].mean(axis=(0, 1, 2)), train[0].std(axis=(0, 1, 2)) + 1e-7
    os.makedirs(args.output_dir, exist_ok=True)
    start = time.perf_counter()
    table = measure_latency_table(space, args.channels, num_classes, train[0].shape[1:])
    table.save(os.path.join(args.output_dir, "latency_table.csv"))
    print(f"latency table: {space.num_edges} blocks, fixed {table.fixed_ms:.3f} ms, "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    pairs = search_pairs(train, validation, batch_size=64, num_classes=num_classes, mean=mean, std=std,
                         seed=args.seed, epochs=args.epochs)
    start_ms = table.uniform_ms()
    print(f"expected latency at the start (uniform choices): {start_ms:.3f} ms", flush=True)
    shares = (0.9, 0.8, 0.7)
    targets = [None] + ([round(start_ms * share, 3) for share in shares] if args.targets == "auto"
                        else [float(t) for t in args.targets.split(",")])
    rows, models = [], []
    for target in targets:
        genotype, seconds, expected = search_once(args, space, table, target, pairs, num_classes)
        model, accuracy = retrain_and_test(args, space, genotype, train, test, num_classes, mean, std)
        row = {"target_ms": target, "expected_ms_at_end": None if expected is None else round(float(expected), 3),
               "predicted_ms": round(table.predict_ms(genotype), 3),
               "parameters": kd.count_parameters(model), "multiply_adds": kd.count_flops(model),
               "test_accuracy": round(accuracy, 4), "search_seconds": round(seconds, 1),
               "genotype": genotype.to_string()}
        rows.append(row)
        models.append(model)
        print(json.dumps(row), flush=True)
    # Timed after all the training, so no training thread shares the CPU with a measurement.
    for row, model in zip(rows, models):
        row["measured_ms"] = round(tflite_latency_ms(model, repeats=100), 3)
    print(f"\n{'target ms':>10} {'predicted':>10} {'measured':>9} {'error':>7} {'params':>8} {'MAdds':>10} "
          f"{'accuracy':>9}")
    for row in rows:
        error = row["predicted_ms"] / row["measured_ms"] - 1
        target = "none" if row["target_ms"] is None else f"{row['target_ms']:.3f}"
        print(f"{target:>10} {row['predicted_ms']:10.3f} {row['measured_ms']:9.3f} {error:+7.1%} "
              f"{row['parameters']:8d} {row['multiply_adds']:10d} {row['test_accuracy']:9.4f}")
    draw(rows, os.path.join(args.output_dir, "latency_pareto.png"))
    with open(os.path.join(args.output_dir, "latency_pareto.json"), "w") as f:
        json.dump({"args": vars(args), "rows": rows}, f, indent=1)
    return 0


def draw(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 4))
    for row in rows:
        label = "no latency term" if row["target_ms"] is None else f"target {row['target_ms']:.2f} ms"
        axes.scatter(row["measured_ms"], row["test_accuracy"], s=40)
        axes.annotate(label, (row["measured_ms"], row["test_accuracy"]), textcoords="offset points", xytext=(5, 5),
                      fontsize=8)
    axes.set_xlabel("measured TFLite latency (ms, LiteRT, 1 thread)")
    axes.set_ylabel("test accuracy")
    axes.set_title("mobilenet search: accuracy against latency")
    axes.margins(x=0.3, y=0.15)  # room for the labels right of and above the points
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
