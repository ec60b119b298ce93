"""Where the first search step's time goes: Python tracing of the forward
pass, of its gradient, of the whole bilevel step, then the first run
(graph optimization by Grappler, kernel set-up) against a later run.

    python benchmarks/trace_profile.py                        # NB201 C=16 N=5 K=1, batch 64
    python benchmarks/trace_profile.py --autograph            # with AutoGraph (Keras traces without)
    python benchmarks/trace_profile.py --no-grappler          # run it without graph optimization
    python benchmarks/trace_profile.py --space darts --channels 16 --num-cells 8 --partial-channels 4

Prints one JSON object (seconds; resident memory in MB after building, after
tracing, after the first run and its peak, after later runs and the peak).
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_drnas as kd  # noqa: E402
from search_speed import add_supernet_args, build  # noqa: E402  (beside this script)


def memory_mb():
    """(current, peak) resident memory of this process in MB."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return tuple(round(int(fields[key].split()[0]) / 1024) for key in ("VmRSS", "VmHWM"))


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, round(time.perf_counter() - start, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_supernet_args(parser)
    parser.add_argument("--autograph", action=argparse.BooleanOptionalAction, default=False,
                        help="convert with AutoGraph (Keras does not for its train step)")
    args = parser.parse_args()
    if not args.grappler:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})

    keras.utils.set_random_seed(0)
    search = kd.SearchModel(build(args))
    search.compile()
    shape = (args.batch_size, 32, 32, 3)
    search.supernet.build(shape)
    search.build_optimizers()
    image = tf.TensorSpec(shape, tf.float32)
    label = tf.TensorSpec((args.batch_size,), tf.int32)

    def forward(x):
        return search.supernet(x, training=True)

    def forward_and_gradient(x, y):
        with tf.GradientTape() as tape:
            loss = search.compute_loss(x=x, y=y, y_pred=search.supernet(x, training=True), training=True)
        return tape.gradient(loss, search.weight_variables)

    report = {"config": vars(args), "variables": len(search.weight_variables)}
    report["rss_built_mb"] = memory_mb()[0]
    concrete, report["trace_forward"] = timed(
        tf.function(forward, autograph=args.autograph).get_concrete_function, image)
    report["forward_ops"] = len(concrete.graph.get_operations())
    concrete, report["trace_forward_and_gradient"] = timed(
        tf.function(forward_and_gradient, autograph=args.autograph).get_concrete_function, image, label)
    report["forward_and_gradient_ops"] = len(concrete.graph.get_operations())
    step = tf.function(search.train_step, autograph=args.autograph)
    pair_spec = ((image, label), (image, label))
    concrete, report["trace_bilevel_step"] = timed(step.get_concrete_function, pair_spec)
    report["graph_ops"] = len(concrete.graph.get_operations())
    report["rss_traced_mb"] = memory_mb()[0]

    rng = np.random.default_rng(0)
    pair = tuple((tf.constant(rng.normal(size=shape).astype("float32")),
                  tf.constant(rng.integers(0, 10, args.batch_size).astype("int32"))) for _ in range(2))
    run = lambda: float(step(pair)["loss"])  # noqa: E731
    _, report["first_run"] = timed(run)
    report["rss_after_first_run_mb"], report["peak_rss_first_run_mb"] = memory_mb()
    later = [timed(run)[1] for _ in range(3)]
    report["rss_after_later_runs_mb"], report["peak_rss_mb"] = memory_mb()
    report["later_run_median"] = sorted(later)[1]
    report["first_run_overhead"] = round(report["first_run"] - report["later_run_median"], 2)
    report["first_step_total"] = round(report["trace_bilevel_step"] + report["first_run"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
