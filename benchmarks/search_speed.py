"""Seconds per search iteration (arch step + weight step) and peak RSS.

Synthetic 32x32 inputs, median of `--repeats` iterations after `--warmup`.
The reference: the authors' PyTorch code, NAS-Bench-201 C=16 N=5 batch 64
K=1, on a 2-core machine like this one: 3.70 s per iteration, 2,733 MB peak.

    python benchmarks/search_speed.py                      # NB201 C=16 N=5 K=1
    python benchmarks/search_speed.py --space darts --channels 16 --num-cells 8 --partial-channels 4
"""

import argparse
import json
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_drnas as kd  # noqa: E402
from keras_drnas.search_strategy import SearchModel  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(args):
    common = dict(channels=args.channels, num_classes=10, partial_channels=args.partial_channels, seed=0)
    if args.space == "darts":
        return kd.DartsSupernet(num_cells=args.num_cells, **common)
    return kd.NASBench201Supernet(cells_per_stage=args.cells_per_stage, **common)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="nas-bench-201", choices=["nas-bench-201", "darts"])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells-per-stage", type=int, default=5)
    parser.add_argument("--num-cells", type=int, default=8)
    parser.add_argument("--partial-channels", type=int, default=1)
    parser.add_argument("--ops-kept", type=int, help="prune to this many ops per edge first (a later stage)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    supernet = build(args)
    if args.ops_kept:
        for distribution in supernet.distributions().values():
            distribution.eta.assign(np.random.default_rng(0).normal(size=distribution.eta.shape))
        supernet.prune(args.ops_kept)
    search = SearchModel(supernet)
    search.compile()
    shape = (args.batch_size, args.image_size, args.image_size, 3)
    rng = np.random.default_rng(0)

    def batch():
        x = tf.constant(rng.normal(size=shape).astype("float32"))
        y = tf.constant(rng.integers(0, 10, args.batch_size).astype("int32"))
        return x, y

    pair = (batch(), batch())
    search.model.build(shape)
    search.build_optimizers()
    rss_before_training = peak_rss_mb()
    search.make_train_function()
    step = search.train_function
    start = time.perf_counter()
    iterator = iter([pair] * (args.warmup + args.repeats))
    for _ in range(args.warmup):
        step(iterator)
    compile_and_warmup = time.perf_counter() - start
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        logs = step(iterator)
        float(logs["loss"])  # wait for the step to finish
        times.append(time.perf_counter() - start)
    result = {
        "config": vars(args),
        "seconds_per_iteration_median": round(statistics.median(times), 4),
        "seconds_per_iteration_min": round(min(times), 4),
        "trace_and_warmup_seconds": round(compile_and_warmup, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_rss_mb_before_first_step": round(rss_before_training),
        "reference_pytorch": {"seconds_per_iteration": 3.70, "peak_rss_mb": 2733}
        if args.space == "nas-bench-201"
        and (args.channels, args.cells_per_stage, args.partial_channels, args.batch_size) == (16, 5, 1, 64)
        else None,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
