"""`keras-drnas search`: a search on the command line's data and network,
with its checkpoint, logs and pictures in OUTPUT_DIR."""

import argparse
import json
import os
import time

from keras_drnas.cli import plot
from keras_drnas.cli.common import (
    data_args,
    distribution_strategy,
    load_search_data,
    network_shape_args,
    space_arg,
    strategy_arg,
    worker_output,
)

NAME, HELP = "search", "search an architecture"


def add_arguments(parser):
    space_arg(parser)
    data_args(parser)
    parser.add_argument("--epochs", type=int,
                        help=f"epochs in all (default {SEARCH_EPOCHS}); with --progressive and no --stages, split "
                        "over the space's default stages in their proportions")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per batch on each side")
    network_shape_args(parser, num_cells=8)
    parser.add_argument("--partial-channels", type=int, default=1,
                        help="the paper's K: each edge mixes its ops on 1/K of the channels")
    parser.add_argument("--remat", action="store_true",
                        help="recompute each cell's activations in the backward pass: less activation memory, "
                             "a slower step (see the README's Speed and memory)")
    parser.add_argument("--relaxation", default="dirichlet", choices=["dirichlet", "softmax"],
                        help="dirichlet: DrNAS; softmax: the plain DARTS (the method) baseline")
    parser.add_argument("--anchor", default="l2", choices=["l2", "kl"],
                        help="l2: the paper's (lambda/2)||eta||^2; kl: KL(Dir(beta) || Dir(1)), an option of the code")
    parser.add_argument("--anchor-strength", type=float, default=1e-3, help="lambda")
    parser.add_argument("--arch-warmup-epochs", type=int, default=0,
                        help="epochs at the start that train the weights alone; with --progressive, at the start "
                        "of every stage (the reference code uses 10)")
    parser.add_argument("--learning-rate", type=float,
                        help="weight learning rate (default: the reference code's for the space)")
    parser.add_argument("--arch-learning-rate", type=float,
                        help="architecture learning rate (default: the reference code's for the space)")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="crop (padding 4) + flip; default on for photos, off for digits")
    parser.add_argument("--progressive", action="store_true",
                        help="search in stages: prune ops and widen partial channels between stages")
    parser.add_argument("--stages", help="progressive stages as epochs:partial_channels:ops_kept,... "
                        "(default: the space's stages in the paper, e.g. 50:4:5,50:2:3)")
    parser.add_argument("--latency-target-ms", type=float,
                        help="mobilenet: penalize an expected TFLite latency above this (the latency table's ms)")
    parser.add_argument("--latency-weight", type=float,
                        help="mobilenet: loss per ms of expected latency (default 1 with --latency-target-ms); "
                        "without a target, always weigh the latency")
    parser.add_argument("--latency-table",
                        help="mobilenet: a latency CSV (keras-drnas latency-table, or measured on a phone); default: "
                        "measured here with LiteRT into OUTPUT_DIR/latency_table.csv when a latency flag is given")
    parser.add_argument("--tensorboard", help="TensorBoard log directory (metrics, entropy, concentrations, genotype)")
    parser.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True,
                        help="draw the pictures into OUTPUT_DIR/plots when the search ends")
    parser.add_argument("--exploration-samples", type=int, default=20,
                        help="architectures sampled from the learnt Dirichlets at 4 points of the search, "
                        "evaluated in the supernet for the exploration plot (paper Figure 1); 0: off")
    parser.add_argument("--resume", action="store_true",
                        help="continue the search checkpointed in OUTPUT_DIR/checkpoint, from the step it stopped at")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                        help="TensorFlow's op determinism: the same seed gives the same search, and a resumed "
                        "search continues exactly (measured free on CPUs; on GPUs --no-deterministic may be "
                        "faster; --resume always turns it on)")
    parser.add_argument("--save-freq", type=int,
                        help="also checkpoint every SAVE_FREQ steps (default: after every epoch only)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over: delete the checkpoint and results in OUTPUT_DIR (the demo always does)")
    parser.add_argument("--output-dir", default="runs/search", help="where the results and checkpoint go")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras' fit verbosity")
    strategy_arg(parser)


SEARCH_EPOCHS = 10


def progressive_stages(args):
    """The --stages, or the space's default stages scaled to --epochs."""
    from keras_drnas.search_strategy.progressive import Stage, default_stages, scale_stages

    if args.stages:
        return [Stage.parse(text) for text in args.stages.split(",")]
    stages = default_stages(args.space, stem=args.stem)
    return list(stages if args.epochs is None else scale_stages(stages, args.epochs))


def build_supernet(args, num_classes, partial_channels, seed):
    from keras_drnas.search_strategy import build_supernet

    return build_supernet(args.space, channels=args.channels, cells_per_stage=args.cells_per_stage,
                          num_cells=args.num_cells, stem=args.stem, num_classes=num_classes,
                          partial_channels=partial_channels, remat=args.remat, relaxation=args.relaxation, seed=seed)


def latency_objective(args, supernet, search_data):
    """The `LatencyObjective` of the latency flags (None without them)."""
    from keras_drnas.search_strategy import LatencyObjective, LatencyTable
    from keras_drnas.utils.errors import InputError

    if args.latency_target_ms is None and args.latency_weight is None and args.latency_table is None:
        return None
    if not hasattr(supernet.space, "blocks"):
        raise InputError(f"--latency-* flags need a chain space such as --space mobilenet; {supernet.space.name} "
                         "has cells.")
    if args.latency_table:
        table = LatencyTable.load(args.latency_table, supernet.space)
    else:
        from keras_drnas.derived_model.latency import measure_latency_table

        print(f"Measuring the latency table (LiteRT, {search_data.image_shape} images) ...")
        table = measure_latency_table(supernet.space, args.channels, search_data.num_classes, search_data.image_shape)
        os.makedirs(args.output_dir, exist_ok=True)
        print(f"Wrote {table.save(os.path.join(args.output_dir, 'latency_table.csv'))}")
    print(f"Expected latency at the start (every choice equally likely): {table.uniform_ms():.3f} ms")
    weight = 1.0 if args.latency_weight is None else args.latency_weight
    return LatencyObjective(table, args.latency_target_ms, weight)


RESULT_FILES = ("genotype.json", "genotypes.jsonl", "concentrations.json", "history.json", "exploration.json", "plots")


def run(args):
    """Runs one search and writes genotype.json, concentrations.json and
    history.json to the output directory. Returns (search model, data)."""
    strategy = distribution_strategy(args.strategy)
    with worker_output(args, strategy) as worker_args:
        return _search(worker_args, strategy)


def _search(args, strategy):
    import shutil

    import keras
    import tensorflow as tf

    from keras_drnas import data
    from keras_drnas.search_strategy import GenotypeLogger, ProgressiveLearning, SearchCheckpoint, SearchModel
    from keras_drnas.search_strategy.exploration import ExplorationRecorder
    from keras_drnas.search_strategy.optimizers import (
        default_arch_optimizer,
        default_weight_optimizer,
        search_defaults,
    )
    from keras_drnas.search_strategy.workers import is_chief
    from keras_drnas.utils.errors import InputError
    from keras_drnas.utils.files import atomic_write_text

    checkpoint_dir = getattr(args, "checkpoint_dir", None) or os.path.join(args.output_dir, "checkpoint")
    if args.resume and args.overwrite:
        raise InputError("Pass --resume or --overwrite, not both.")
    state = None if args.overwrite else SearchCheckpoint.load_state(checkpoint_dir)
    if state and not args.resume:
        raise InputError(
            f"{checkpoint_dir} holds a search checkpoint {SearchCheckpoint.position_of(state)}. Pass --resume "
            "to continue it, --overwrite to start over, or choose another --output-dir."
        )
    if args.resume and not state:
        raise InputError(f"--resume, but there is no checkpoint in {checkpoint_dir}.")
    if args.overwrite and is_chief(strategy):  # the checkpoint itself goes when fit begins
        for name in RESULT_FILES:
            path = os.path.join(args.output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.isfile(path):
                os.remove(path)
    callbacks, progressive = [], None
    epochs, partial_channels = args.epochs or SEARCH_EPOCHS, args.partial_channels
    if args.progressive:
        progressive = ProgressiveLearning(progressive_stages(args), args.arch_warmup_epochs)  # seed: below
        if args.stages and args.epochs not in (None, progressive.total_epochs):
            raise InputError(f"--epochs {args.epochs} disagrees with --stages {args.stages} ({progressive.total_epochs} "
                             "epochs in all); leave out --epochs or make them agree.")
        epochs, partial_channels = progressive.total_epochs, progressive.stages[0].partial_channels
        callbacks.append(progressive)
    checkpoint = SearchCheckpoint(checkpoint_dir, "epoch" if args.save_freq is None else args.save_freq, progressive,
                                  overwrite=args.overwrite)
    seed = args.seed if checkpoint.seed is None else checkpoint.seed  # a resumed search keeps its data and samples
    if progressive is not None:
        progressive.seed = seed  # of the Net2Net mappings
    keras.utils.set_random_seed(seed)
    if args.deterministic or args.resume:
        tf.config.experimental.enable_op_determinism()
    search_data = load_search_data(args)  # bad data fails before anything is written
    os.makedirs(args.output_dir, exist_ok=True)
    callbacks.append(GenotypeLogger(os.path.join(args.output_dir, "genotypes.jsonl"), args.tensorboard))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(args.tensorboard))
    augment = args.augment if args.augment is not None else search_data.name != "digits"
    mean, std = data.channel_stats(search_data.train)
    done = checkpoint.initial_epoch >= epochs  # a finished search: only its results are written
    initial_epoch = min(checkpoint.initial_epoch, epochs - 1)
    pairs = data.search_pairs(
        search_data.train, search_data.validation, args.batch_size, search_data.num_classes,
        augment=augment, mean=mean, std=std, seed=seed, epochs=epochs, initial_epoch=initial_epoch,
    )
    with strategy.scope():  # every variable, optimizers' included, is made in the strategy's scope
        supernet = checkpoint.supernet() or build_supernet(args, search_data.num_classes, partial_channels, seed)
        latency = latency_objective(args, supernet, search_data)
        search = SearchModel(supernet, anchor=args.anchor, anchor_strength=args.anchor_strength,
                             arch_warmup_epochs=args.arch_warmup_epochs, latency=latency)
        defaults = search_defaults(supernet.space)
        min_learning_rate = defaults["min_learning_rate"] if args.learning_rate is None else 0.0
        search.compile(
            optimizer=default_weight_optimizer(args.learning_rate or defaults["learning_rate"], min_learning_rate),
            arch_optimizer=default_arch_optimizer(args.arch_learning_rate or defaults["arch_learning_rate"]),
            metrics=["accuracy"],
        )
        search.build_for(pairs)
    if args.exploration_samples and supernet.relaxation == "dirichlet":  # before the checkpoint: it logs
        callbacks.append(ExplorationRecorder(pairs, os.path.join(args.output_dir, "exploration.json"),
                                             epochs=max(1, epochs // 4), num_samples=args.exploration_samples,
                                             seed=seed))
    callbacks.append(checkpoint)
    resumed = f", resuming {checkpoint.position}" if checkpoint.state else ""
    if progressive is not None:
        resumed = f" in stages {','.join(map(str, progressive.stages))} (epochs:partial_channels:ops_kept)" + resumed
    replicas = f" on {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else ""
    print(f"Searching the {supernet.space.name} space on {search_data.name} "
          f"({search_data.image_shape}, {search_data.num_classes} classes) for {epochs} epochs{replicas}{resumed}")
    start = time.perf_counter()
    if done:
        checkpoint.restore(search)
    else:
        search.fit(pairs, epochs=epochs, verbose=args.verbose, callbacks=callbacks)
    seconds = time.perf_counter() - start
    genotype = search.genotype()

    genotype.save(os.path.join(args.output_dir, "genotype.json"))
    atomic_write_text(os.path.join(args.output_dir, "concentrations.json"),
                      json.dumps(search.concentration_report(), indent=1))
    record = {
        "args": dict({k: v for k, v in vars(args).items() if k not in ("checkpoint_dir", "worker_output")},
                     seed=seed, epochs=epochs, partial_channels=partial_channels),
        "search_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / max(1, epochs - initial_epoch), 2),
        "history": checkpoint.history,
        "genotypes": [g.to_dict() for g in search.genotype_history],
        "normalization": {"mean": [float(m) for m in mean], "std": [float(s) for s in std]},
        "image_shape": list(search_data.image_shape),
        "num_classes": search_data.num_classes,
    }
    if latency is not None:
        record["predicted_latency_ms"] = round(latency.table.predict_ms(genotype), 4)
    atomic_write_text(os.path.join(args.output_dir, "history.json"), json.dumps(record, indent=1))
    print(f"\nSearch took {seconds:.1f} s ({record['seconds_per_epoch']} s per epoch, first epoch includes tracing).")
    print(genotype)
    if latency is not None:
        print(f"Predicted TFLite latency of the derived network: {record['predicted_latency_ms']:.3f} ms "
              "(the latency table)")
        expected = checkpoint.history.get("latency_ms", [None])[-1]
        if expected is not None and args.latency_target_ms is not None:
            print(f"Expected latency in the last epoch: {expected:.3f} ms (target {args.latency_target_ms} ms)"
                  + ("; it has not reached the target: more epochs or a larger --arch-learning-rate move the "
                     "concentrations further" if expected > args.latency_target_ms else ""))
    print(f"Wrote genotype.json, genotypes.jsonl, concentrations.json and history.json to {args.output_dir}")
    if args.plots and is_chief(strategy):
        plot.run(argparse.Namespace(run_dir=args.output_dir, output_dir=None))
    return search, search_data
