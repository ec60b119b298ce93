"""One search configuration in this process: seconds per iteration (arch
step + weight step; median and min of `--repeats` after `--warmup`, the
first one included), the first step's time (trace, graph optimization and
first run), peak RSS, RSS before the first step and the step memory (their
difference), and with `--next-stage` the retraced first step after a
progressive stage switch. Synthetic 32x32 inputs. Prints JSON;
benchmarks/paper_scale.py runs it once per configuration.

`--backend jax` runs the same search on JAX (no TensorFlow imported; on a
GPU when jax has one), timing `fit`'s steps from a callback; the first step
there is trace plus XLA compile, and `device_peak_mb` is the accelerator's
peak memory where JAX reports it.

    python benchmarks/search_speed.py                      # NB201 C=16 N=5 K=1
    python benchmarks/search_speed.py --space darts --channels 16 --num-cells 8 --partial-channels 4
    python benchmarks/search_speed.py --backend jax --partial-channels 4
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time


def _backend(argv):
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow")
    return parser.parse_known_args(argv)[0].backend


os.environ["KERAS_BACKEND"] = _backend(sys.argv[1:])  # before Keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_drnas.data import search_pairs  # noqa: E402
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
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                        help="Keras backend (set before Keras is imported)")
    args = parser.parse_args()
    if args.backend == "jax":
        if args.next_stage or args.deterministic or not args.grappler:
            parser.error("--next-stage, --deterministic and --no-grappler are TensorFlow-only here")
    else:
        import tensorflow as tf

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
    if args.backend == "jax":
        print(json.dumps(time_jax(search, shape, args), indent=2))
        return

    def batch():
        x = keras.ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
        y = keras.ops.convert_to_tensor(rng.integers(0, 10, args.batch_size).astype("int32"))
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


class StepTimes(keras.callbacks.Callback):
    """Seconds of each `fit` step, the first counted from `fit`'s start (its
    trace and compile); reading the loss waits for the step to finish."""

    def __init__(self):
        super().__init__()
        self.times, self.rss_before_first_step = [], None

    def on_train_begin(self, logs=None):
        self.rss_before_first_step = peak_rss_mb()
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        self.times.append(time.perf_counter() - self.start)


def time_jax(search, shape, args):
    """The JAX measurement: `fit` over one repeated synthetic pair."""
    import jax

    steps = args.warmup + args.repeats
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    y = rng.integers(0, 10, shape[0]).astype("int32")
    pairs = search_pairs((np.tile(x, (steps, 1, 1, 1)), np.tile(y, steps)), (np.tile(x, (steps, 1, 1, 1)),
                         np.tile(y, steps)), shape[0], num_classes=10, mean=0.0, std=1.0)
    timer = StepTimes()
    search.fit(pairs, epochs=1, verbose=0, callbacks=[timer])
    times = timer.times[args.warmup:]
    stats = jax.devices()[0].memory_stats() or {}
    result = {
        "config": vars(args),
        "device": str(jax.devices()[0].device_kind),
        "seconds_per_iteration_median": round(statistics.median(times), 4),
        "seconds_per_iteration_min": round(min(times), 4),
        "first_step_seconds": round(timer.times[0], 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "rss_before_first_step_mb": round(timer.rss_before_first_step),
        "step_memory_mb": round(peak_rss_mb() - timer.rss_before_first_step),
    }
    if "peak_bytes_in_use" in stats:
        result["device_peak_mb"] = round(stats["peak_bytes_in_use"] / 2**20)
    return result


if __name__ == "__main__":
    main()
