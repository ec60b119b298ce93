"""`keras-drnas search` in its own process, for the multi-worker tests:
`python -m tests.search_strategy.cli_search_process RESULTS [--logical-cpus N] SEARCH_FLAGS...`.

Runs the command's search (`keras_drnas.cli.search.run`), then retrains
its genotype for one epoch (`keras_drnas.cli.retrain.run`, OUTPUT_DIR/retrain) with the
same strategy, and writes the final concentrations, genotype, weights and
the retraining's losses to RESULTS (.npz), which lies outside every output
directory. `--logical-cpus N` splits the CPU into N devices first, for a
one-process `--strategy mirrored` run with N replicas.
"""

import argparse
import os
import sys

import numpy as np
import tensorflow as tf


def main(argv):
    results, argv = argv[0], argv[1:]
    if argv[:1] == ["--logical-cpus"]:
        count, argv = int(argv[1]), argv[2:]
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)

    from keras_drnas import cli

    parser = argparse.ArgumentParser()
    cli.search.add_arguments(parser)
    args = parser.parse_args(argv)
    args.space = "nas-bench-201"
    search, _ = cli.search.run(args)
    genotype_path = f"{results}.genotype.json"  # outside OUTPUT_DIR: a worker's is removed
    search.genotype().save(genotype_path)
    retrain_parser = argparse.ArgumentParser()
    cli.retrain.add_arguments(retrain_parser)
    retrain_args = retrain_parser.parse_args([
        "--genotype", genotype_path, "--channels", "4", "--cells-per-stage", "1", "--retrain-epochs", "1",
        "--retrain-batch-size", "16", "--max-images", str(args.max_images), "--strategy", args.strategy,
        "--output-dir", os.path.join(args.output_dir, "retrain"), "--verbose", "0",
    ])
    network, _ = cli.retrain.run(retrain_args)
    np.savez(
        results,
        weights=np.array([w.numpy() for w in search.weights], dtype=object),
        names=np.array([w.path for w in search.weights]),
        replicas=np.array(search.distribute_strategy.num_replicas_in_sync),
        genotype=np.array(str(search.genotype())),
        retrain_loss=np.array(network.model.history.history["loss"]),
        retrain_weights=np.array([w.numpy() for w in network.model.weights], dtype=object),
        retrain_names=np.array([w.path for w in network.model.weights]),
        **{f"concentration_{k}": v for k, v in search.concentrations().items()},
    )
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
