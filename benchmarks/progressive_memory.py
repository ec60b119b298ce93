"""Peak memory and seconds per search iteration of progressive stages.

Each configuration runs in its own process (peak RSS is a per-process high
water mark) through benchmarks/search_speed.py, batch 64, 32x32 inputs:

- NAS-Bench-201 C=16 N=5: K=1 with all 5 ops (the plain search), then the
  progressive stages K=4 with 5 ops and K=2 with 3 ops;
- DARTS space, progressive K=6 with 7 ops then K=4 with 4 ops, at
  `--darts-cells` cells and `--darts-channels` channels (paper: 20 and 36).

    python benchmarks/progressive_memory.py                 # NB201 rows + DARTS 20 cells C=36
    python benchmarks/progressive_memory.py --darts-cells 8 --darts-channels 16
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(label, extra, repeats):
    command = [sys.executable, os.path.join(HERE, "search_speed.py"), "--repeats", str(repeats), "--warmup", "2"]
    result = subprocess.run(command + extra, capture_output=True, text=True)
    if result.returncode:
        return label, None, result.stderr.strip().splitlines()[-1]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    return label, report, None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--darts-cells", type=int, default=20)
    parser.add_argument("--darts-channels", type=int, default=36)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-darts", action="store_true")
    parser.add_argument("--skip-nb201", action="store_true")
    args = parser.parse_args()
    configs = [] if args.skip_nb201 else [
        ("NB201 C=16 N=5, K=1, 5 ops (plain search)", ["--partial-channels", "1"]),
        ("NB201 C=16 N=5, stage 1: K=4, 5 ops", ["--partial-channels", "4"]),
        ("NB201 C=16 N=5, stage 2: K=2, 3 ops", ["--partial-channels", "2", "--ops-kept", "3"]),
    ]
    if not args.skip_darts:
        darts = ["--space", "darts", "--channels", str(args.darts_channels), "--num-cells", str(args.darts_cells)]
        name = f"DARTS {args.darts_cells} cells C={args.darts_channels}"
        configs += [
            (f"{name}, stage 1: K=6, 7 ops", darts + ["--partial-channels", "6"]),
            (f"{name}, stage 2: K=4, 4 ops", darts + ["--partial-channels", "4", "--ops-kept", "4"]),
        ]
    print("| configuration | s / iteration (median) | peak RSS MB | RSS before first step MB |")
    print("|---|---|---|---|")
    for label, extra in configs:
        label, report, error = run(label, extra, args.repeats)
        if report is None:
            print(f"| {label} | failed: {error} | | |", flush=True)
            continue
        print(f"| {label} | {report['seconds_per_iteration_median']:.2f} | {report['peak_rss_mb']:,} "
              f"| {report['rss_before_first_step_mb']:,} |", flush=True)


if __name__ == "__main__":
    main()
