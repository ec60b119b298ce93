"""One search configuration in this process: seconds per iteration (arch
step + weight step; median and min of `--repeats` after `--warmup`, the
first one included), the first step's time (trace, graph optimization and
first run), peak RSS, RSS before the first step and the step memory (their
difference), and with `--next-stage` the retraced first step after a
progressive stage switch. Synthetic 32x32 inputs. Prints JSON;
benchmarks/paper_scale.py runs it once per configuration.

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

from keras_drnas.search_space import DEFAULT_SPACE  # noqa: E402
from keras_drnas.search_strategy import SearchModel, build_supernet  # noqa: E402
from keras_drnas.search_strategy.supernet import supernet_spaces  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_first_step(search, iterator, force=False):
    """Seconds from building the step function to the end of its first run:
    tracing, graph optimization and the first execution."""
    start = time.perf_counter()
    search.make_train_function(force=force)
    float(search.train_function(iterator)["loss"])
    return time.perf_counter() - start


def add_supernet_args(parser):
    """The supernet flags this script and benchmarks/trace_profile.py share."""
    parser.add_argument("--space", default=DEFAULT_SPACE, choices=supernet_spaces())
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells-per-stage", type=int, default=5)
    parser.add_argument("--num-cells", type=int, default=8)
    parser.add_argument("--partial-channels", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--grappler", action=argparse.BooleanOptionalAction, default=True,
                        help="TensorFlow's graph optimizer (Grappler)")
    parser.add_argument("--remat", action=argparse.BooleanOptionalAction, default=None,
                        help="recompute each cell's activations in the backward pass (default: the supernet's)")


def build(args):
    common = dict(channels=args.channels, num_classes=10, partial_channels=args.partial_channels, seed=0)
    if args.remat is not None:
        common["remat"] = args.remat
    return build_supernet(args.space, cells_per_stage=args.cells_per_stage, num_cells=args.num_cells, **common)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_supernet_args(parser)
    parser.add_argument("--ops-kept", type=int, help="prune to this many ops per edge first (a later stage)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--next-stage", metavar="K:OPS",
                        help="then switch to this progressive stage (prune, widen) and time the retraced first step")
    parser.add_argument("--deterministic", action="store_true", help="TensorFlow's op determinism on")
    args = parser.parse_args()
    if not args.grappler:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()

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
    search.supernet.build(shape)
    search.build_optimizers()
    rss_before_first_step = peak_rss_mb()
    iterator = iter([pair] * (2 * args.warmup + args.repeats + 2))
    first_step = timed_first_step(search, iterator)
    for _ in range(args.warmup - 1):
        float(search.train_function(iterator)["loss"])
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        float(search.train_function(iterator)["loss"])  # waits for the step to finish
        times.append(time.perf_counter() - start)
    result = {
        "config": vars(args),
        "seconds_per_iteration_median": round(statistics.median(times), 4),
        "seconds_per_iteration_min": round(min(times), 4),
        "first_step_seconds": round(first_step, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "rss_before_first_step_mb": round(rss_before_first_step),
        "step_memory_mb": round(peak_rss_mb() - rss_before_first_step),
    }
    if args.next_stage:
        partial_channels, ops_kept = (int(v) for v in args.next_stage.split(":"))
        supernet.prune(ops_kept)
        widened = supernet.widen(partial_channels, seed=0) if partial_channels != supernet.partial_channels else []
        search.rebuild_weight_optimizer(widened)
        result["stage_switch_first_step_seconds"] = round(timed_first_step(search, iterator, force=True), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
