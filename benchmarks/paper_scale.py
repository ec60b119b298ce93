"""The configurations of the side-by-side comparison with the authors' code.

Runs each configuration in its own process (peak RSS is a per-process high
water mark) through benchmarks/search_speed.py, batch 64 unless said, 32x32
synthetic inputs, one iteration = arch step + weight step; step memory =
peak RSS minus the RSS before the first step. It prints this library's
figures only: this machine's speed drifts 30-60% from day to day, so a
speed-up is a figure only when the reference ran beside it in the same
sitting (the performance page of the manual says how), never against
numbers from another day. The table carries a calibration figure timed in
this run (a fixed plain Keras CNN's training step) to compare days.

    python benchmarks/paper_scale.py                  # the five side-by-side rows (about 25 min)
    python benchmarks/paper_scale.py --paper-net      # and the 20-cell C=36 DARTS search net (long, ~16 GB)
    python benchmarks/paper_scale.py --only "NB201 C=8 N=1 K=1" --json
    python benchmarks/paper_scale.py --remat          # the same with per-cell recomputation
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, search_speed.py flags)
CONFIGS = [
    ("NB201 C=16 N=5 K=1", ["--partial-channels", "1"]),
    ("NB201 C=8 N=1 K=1", ["--channels", "8", "--cells-per-stage", "1"]),
    ("NB201 C=16 N=5 K=4", ["--partial-channels", "4", "--next-stage", "2:3"]),
    ("DARTS C=16 8 cells K=4", ["--space", "darts", "--partial-channels", "4", "--next-stage", "2:4"]),
    ("DARTS C=16 8 cells batch 32 K=1", ["--space", "darts", "--batch-size", "32"]),
]
PAPER_NET = ("DARTS C=36 20 cells K=6 (the paper's search net)",
             ["--space", "darts", "--channels", "36", "--num-cells", "20", "--partial-channels", "6",
              "--next-stage", "4:4", "--warmup", "1", "--repeats", "2"])


def calibration_seconds(repeats=10):
    """Median seconds of one training step of a fixed plain Keras CNN
    (batch 64, 32x32x3), in a fresh process."""
    code = """
import os, statistics, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
keras.utils.set_random_seed(0)
layers = [keras.Input((32, 32, 3))]
for width in (32, 64, 128):
    layers += [keras.layers.Conv2D(width, 3, padding="same", use_bias=False), keras.layers.BatchNormalization(),
               keras.layers.ReLU(), keras.layers.Conv2D(width, 3, padding="same", use_bias=False),
               keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.MaxPooling2D()]
model = keras.Sequential(layers + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(0).normal(size=(64, 32, 32, 3)).astype("float32")
y = np.random.default_rng(0).integers(0, 10, 64)
for _ in range(3):
    model.train_on_batch(x, y)
times = []
for _ in range(REPEATS):
    start = time.perf_counter(); model.train_on_batch(x, y); times.append(time.perf_counter() - start)
print(statistics.median(times))
""".replace("REPEATS", str(repeats))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def measure(flags, repeats):
    command = [sys.executable, os.path.join(HERE, "search_speed.py"), "--repeats", str(repeats), *flags]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout[result.stdout.index("{"):])


def row(label, report):
    if "error" in report:
        return f"| {label} | failed: {report['error']} |"
    switch = report.get("stage_switch_first_step_seconds")
    return (f"| {label} | {report['seconds_per_iteration_median']:.2f} (min {report['seconds_per_iteration_min']:.2f}) "
            f"| {report['peak_rss_mb']:,} / {report['step_memory_mb']:,} | {report['first_step_seconds']:.0f} s "
            f"| {'' if switch is None else f'{switch:.0f} s'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--paper-net", action="store_true", help="add the 20-cell C=36 DARTS search network")
    parser.add_argument("--only", action="append", help="run only the configuration(s) with this label")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--remat", action="store_true", help="every supernet with remat=True (per-cell recomputation)")
    args = parser.parse_args()
    configs = CONFIGS + ([PAPER_NET] if args.paper_net else [])
    if args.only:
        configs = [c for c in configs if c[0] in args.only]
    start = time.perf_counter()
    calibration = calibration_seconds()
    reports = {}
    if not args.json:
        print(f"Calibration (plain Keras CNN, one training step, batch 64, 32x32): {calibration * 1000:.1f} ms\n")
        print("| config | s/iter | peak / step MB | first step | stage switch |")
        print("|---|---|---|---|---|")
    for label, flags in configs:
        reports[label] = report = measure(flags + ["--remat"] * args.remat, args.repeats)
        if not args.json:
            print(row(label, report), flush=True)
    if args.json:
        print(json.dumps({"calibration_seconds": calibration, "configs": reports}, indent=1))
    else:
        print(f"\n({len(configs)} configurations in {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
