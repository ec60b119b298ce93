"""`keras-drnas`: search, retrain and export from the command line.

    keras-drnas search                       # NB201 space on digits, ~1 minute
    keras-drnas search --space darts --data-dir cifar10-jpg --epochs 50

A thin layer over the library: TensorFlow is imported only once a command
runs, and errors caused by the user's input are printed with the library's
argument names mapped to these flags, without a traceback.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _data_args(parser):
    parser.add_argument(
        "--dataset", default="digits",
        choices=["digits", "cifar10", "cifar100", "imagenet16-120", "imagenet"],
        help="digits: scikit-learn's bundled 8x8 digits (offline). Others load through "
        "tensorflow-datasets from --tfds-dir. Ignored when --data-dir is given.",
    )
    parser.add_argument("--data-dir", help="an ImageFolder tree (class/image.jpg), or a folder with train/ and test/")
    parser.add_argument("--tfds-dir", help="tensorflow-datasets data directory")
    parser.add_argument("--download", action="store_true", help="let tensorflow-datasets download the data")
    parser.add_argument("--max-images", type=int, help="use at most this many training images (quick runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data order, augmentation and sampling")


def _search_parser(parser):
    parser.add_argument("--space", default="nas-bench-201", choices=["nas-bench-201", "nb201", "darts"],
                        help="the search space")
    _data_args(parser)
    parser.add_argument("--epochs", type=int,
                        help=f"epochs in all (default {SEARCH_EPOCHS}); with --progressive and no --stages, split "
                        "over the space's default stages in their proportions")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per batch on each side")
    _network_shape_args(parser, num_cells=8)
    parser.add_argument("--partial-channels", type=int, default=1,
                        help="the paper's K: each edge mixes its ops on 1/K of the channels")
    parser.add_argument("--remat", action="store_true",
                        help="recompute each cell's activations in the backward pass: less activation memory, "
                             "a slower step (see the README's Speed and memory)")
    parser.add_argument("--shared-trace", action="store_true",
                        help="trace one forward pass per distinct cell shape: a faster first step and stage switch "
                             "(see the README's Speed and memory)")
    parser.add_argument("--relaxation", default="dirichlet", choices=["dirichlet", "softmax"],
                        help="dirichlet: DrNAS; softmax: the plain DARTS baseline")
    parser.add_argument("--anchor", default="l2", choices=["l2", "kl"],
                        help="l2: the paper's (lambda/2)||eta||^2; kl: KL(Dir(beta) || Dir(1)), an option of the code")
    parser.add_argument("--anchor-strength", type=float, default=1e-3, help="lambda")
    parser.add_argument("--arch-warmup-epochs", type=int, default=0,
                        help="epochs at the start that train the weights alone")
    parser.add_argument("--learning-rate", type=float,
                        help="weight learning rate (default: the reference code's for the space)")
    parser.add_argument("--arch-learning-rate", type=float,
                        help="architecture learning rate (default: the reference code's for the space)")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="crop (padding 4) + flip; default on for photos, off for digits")
    parser.add_argument("--progressive", action="store_true",
                        help="search in stages: prune ops and widen partial channels between stages")
    parser.add_argument("--stages", help="progressive stages as epochs:partial_channels:ops_kept,... "
                        "(default per space: NB201 50:4:5,50:2:3; DARTS 25:6:7,25:4:4; ImageNet stem 25:6:7,25:3:4)")
    parser.add_argument("--stage-warmup-epochs", type=int, default=0,
                        help="progressive: epochs without architecture steps at the start of each stage "
                        "(the reference code uses 10)")
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
    _strategy_arg(parser)


def _strategy_arg(parser):
    parser.add_argument("--strategy", default="default", choices=["default", "mirrored", "multi-worker"],
                        help="mirrored: all local GPUs (else CPUs); multi-worker: tf.distribute's "
                        "MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (run the same command on "
                        "every worker; only the chief keeps files)")


def _network_shape_args(parser, num_cells):
    parser.add_argument("--channels", type=int, default=16, help="C, the channels of the first cells")
    parser.add_argument("--cells-per-stage", type=int, default=5, help="NAS-Bench-201: the paper's N")
    parser.add_argument("--num-cells", type=int, default=num_cells, help="DARTS: cells in all")
    parser.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"], help="DARTS stem")


SEARCH_EPOCHS = 10


def progressive_stages(args):
    """The --stages, or the space's default stages scaled to --epochs."""
    from keras_drnas.search_strategy.progressive import DEFAULT_STAGES, Stage, scale_stages

    if args.stages:
        return [Stage.parse(text) for text in args.stages.split(",")]
    key = "imagenet" if args.space == "darts" and args.stem == "imagenet" else args.space
    stages = DEFAULT_STAGES[key]
    return list(stages if args.epochs is None else scale_stages(stages, args.epochs))


def load_search_data(args):
    from keras_drnas import data

    if args.data_dir:
        return data.image_folder_search_data(args.data_dir, seed=args.seed, max_images=args.max_images)
    if args.dataset == "digits":
        search_data = data.digits_search_data(seed=args.seed)
    else:
        search_data = data.tfds_search_data(args.dataset, args.tfds_dir, args.download, args.seed)
    if args.max_images:
        search_data.train = search_data.train.take(args.max_images // 2)
        search_data.validation = search_data.validation.take(args.max_images // 2)
    return search_data


def build_supernet(args, num_classes):
    from keras_drnas.search_strategy import DartsSupernet, NASBench201Supernet

    common = dict(channels=args.channels, num_classes=num_classes, partial_channels=args.partial_channels,
                  remat=args.remat, shared_trace=args.shared_trace, relaxation=args.relaxation, seed=args.seed)
    if args.space == "darts":
        return DartsSupernet(num_cells=args.num_cells, stem=args.stem, **common)
    return NASBench201Supernet(cells_per_stage=args.cells_per_stage, **common)


RESULT_FILES = ("genotype.json", "genotypes.jsonl", "concentrations.json", "history.json", "exploration.json", "plots")


def distribution_strategy(name):
    """The `--strategy`: created once per process (a multi-worker strategy
    must exist before TensorFlow runs any op, and only once)."""
    import tensorflow as tf

    from keras_drnas.utils.errors import InputError

    if name not in _STRATEGIES:
        if name == "multi-worker":
            try:
                cluster = json.loads(os.environ.get("TF_CONFIG") or "null")
            except ValueError as error:
                raise InputError(f"--strategy multi-worker: TF_CONFIG is not JSON: {error}.") from None
            if not (isinstance(cluster, dict) and isinstance(cluster.get("cluster"), dict)
                    and isinstance(cluster.get("task"), dict)):
                raise InputError(
                    "--strategy multi-worker reads the cluster from TF_CONFIG, e.g. "
                    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}} '
                    "(index 1 on the second host); set it on every worker."
                )
            _STRATEGIES[name] = tf.distribute.MultiWorkerMirroredStrategy()
        elif name == "mirrored":
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            _STRATEGIES[name] = tf.distribute.MirroredStrategy([d.name for d in devices])
        else:
            _STRATEGIES[name] = tf.distribute.get_strategy()
    return _STRATEGIES[name]


_STRATEGIES = {}


@contextlib.contextmanager
def worker_output(args, strategy):
    """On the non-chief workers of a multi-worker run, the command writes
    to a temporary OUTPUT_DIR (and --tensorboard) removed at the end, so
    only the chief keeps files; the checkpoint is still read from the
    chief's OUTPUT_DIR (on a file system every worker sees) to resume."""
    from keras_drnas.search_strategy.workers import is_chief, writable_directory

    if is_chief(strategy) or getattr(args, "worker_output", False):
        yield
        return
    saved = dict(vars(args))
    args.checkpoint_dir = getattr(args, "checkpoint_dir", None) or os.path.join(args.output_dir, "checkpoint")
    with writable_directory(args.output_dir, strategy) as temporary:
        args.output_dir, args.worker_output = temporary, True
        if getattr(args, "tensorboard", None):
            args.tensorboard = os.path.join(temporary, "tensorboard")
        try:
            yield
        finally:
            vars(args).clear()
            vars(args).update(saved)


def run_search(args):
    """Runs one search and writes genotype.json, concentrations.json and
    history.json to the output directory. Returns (search model, data)."""
    strategy = distribution_strategy(args.strategy)
    with worker_output(args, strategy):
        return _search(args, strategy)


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
        raise InputError("Pass resume=True or overwrite=True, not both.")
    state = None if args.overwrite else SearchCheckpoint.load_state(checkpoint_dir)
    if state and not args.resume:
        raise InputError(
            f"{checkpoint_dir} holds a search checkpoint {SearchCheckpoint.position_of(state)}. Pass resume=True "
            "to continue it, overwrite=True to start over, or choose another output directory."
        )
    if args.resume and not state:
        raise InputError(f"resume=True, but there is no checkpoint in {checkpoint_dir}.")
    if args.overwrite and is_chief(strategy):  # the checkpoint itself goes when fit begins
        for name in RESULT_FILES:
            path = os.path.join(args.output_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.isfile(path):
                os.remove(path)
    if state:  # the data order and samples of the remaining epochs depend on the seed
        args.seed = state["supernet"]["config"]["seed"]
    keras.utils.set_random_seed(args.seed)
    if args.deterministic or args.resume:
        tf.config.experimental.enable_op_determinism()
    callbacks, progressive = [], None
    if args.progressive:
        progressive = ProgressiveLearning(progressive_stages(args), args.stage_warmup_epochs, seed=args.seed)
        if args.stages and args.epochs not in (None, progressive.total_epochs):
            raise InputError(f"--epochs {args.epochs} disagrees with --stages {args.stages} ({progressive.total_epochs} "
                             "epochs in all); leave out --epochs or make them agree.")
        args.partial_channels, args.epochs = progressive.stages[0].partial_channels, progressive.total_epochs
        callbacks.append(progressive)
    elif args.epochs is None:
        args.epochs = SEARCH_EPOCHS
    checkpoint = SearchCheckpoint(checkpoint_dir, "epoch" if args.save_freq is None else args.save_freq, progressive,
                                  overwrite=args.overwrite)
    search_data = load_search_data(args)  # bad data fails before anything is written
    os.makedirs(args.output_dir, exist_ok=True)
    callbacks.append(GenotypeLogger(os.path.join(args.output_dir, "genotypes.jsonl"), args.tensorboard))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(args.tensorboard))
    augment = args.augment if args.augment is not None else search_data.name != "digits"
    mean, std = data.channel_stats(search_data.train)
    done = checkpoint.initial_epoch >= args.epochs  # a finished search: only its results are written
    initial_epoch = min(checkpoint.initial_epoch, args.epochs - 1)
    pairs = data.search_pairs(
        search_data.train, search_data.validation, args.batch_size, search_data.num_classes,
        augment=augment, mean=mean, std=std, seed=args.seed, epochs=args.epochs, initial_epoch=initial_epoch,
    )
    steps = int(pairs.cardinality()) // max(1, args.epochs - initial_epoch)
    with strategy.scope():  # every variable, optimizers' included, is made in the strategy's scope
        supernet = checkpoint.supernet() or build_supernet(args, search_data.num_classes)
        search = SearchModel(supernet, anchor=args.anchor, anchor_strength=args.anchor_strength,
                             arch_warmup_epochs=args.arch_warmup_epochs)
        defaults = search_defaults(supernet.space.name)
        min_learning_rate = defaults["min_learning_rate"] if args.learning_rate is None else 0.0
        search.compile(
            optimizer=default_weight_optimizer(args.learning_rate or defaults["learning_rate"], min_learning_rate),
            arch_optimizer=default_arch_optimizer(args.arch_learning_rate or defaults["arch_learning_rate"]),
            metrics=["accuracy"],
        )
        search.build_for(pairs)
    if args.exploration_samples and supernet.relaxation == "dirichlet":  # before the checkpoint: it logs
        callbacks.append(ExplorationRecorder(pairs, os.path.join(args.output_dir, "exploration.json"),
                                             epochs=max(1, args.epochs // 4), num_samples=args.exploration_samples,
                                             seed=args.seed))
    callbacks.append(checkpoint)
    resumed = f", resuming {checkpoint.position}" if checkpoint.state else ""
    if progressive is not None:
        resumed = f" in stages {','.join(map(str, progressive.stages))} (epochs:partial_channels:ops_kept)" + resumed
    replicas = f" on {strategy.num_replicas_in_sync} replicas" if strategy.num_replicas_in_sync > 1 else ""
    print(f"Searching the {supernet.space.name} space on {search_data.name} "
          f"({search_data.image_shape}, {search_data.num_classes} classes) for {args.epochs} epochs{replicas}{resumed}")
    start = time.perf_counter()
    if done:
        checkpoint.restore(search)
    else:
        search.fit(pairs, epochs=args.epochs, steps_per_epoch=steps, verbose=args.verbose, callbacks=callbacks)
    seconds = time.perf_counter() - start
    genotype = search.genotype()

    genotype.save(os.path.join(args.output_dir, "genotype.json"))
    atomic_write_text(os.path.join(args.output_dir, "concentrations.json"),
                      json.dumps(search.concentration_report(), indent=1))
    record = {
        "args": {k: v for k, v in vars(args).items() if k not in ("checkpoint_dir", "worker_output")},
        "search_seconds": round(seconds, 1),
        "seconds_per_epoch": round(seconds / max(1, args.epochs - initial_epoch), 2),
        "history": checkpoint.history,
        "genotypes": [g.to_dict() for g in search.genotype_history],
        "normalization": {"mean": [float(m) for m in mean], "std": [float(s) for s in std]},
        "image_shape": list(search_data.image_shape),
        "num_classes": search_data.num_classes,
    }
    atomic_write_text(os.path.join(args.output_dir, "history.json"), json.dumps(record, indent=1))
    print(f"\nSearch took {seconds:.1f} s ({record['seconds_per_epoch']} s per epoch, first epoch includes tracing).")
    print(genotype)
    print(f"Wrote genotype.json, genotypes.jsonl, concentrations.json and history.json to {args.output_dir}")
    if args.plots and is_chief(strategy):
        run_plot(argparse.Namespace(run_dir=args.output_dir, output_dir=None))
    return search, search_data


def run_plot(args):
    """Draws the pictures of a search's output directory."""
    from keras_drnas.plots import write_plots

    paths = write_plots(args.run_dir, args.output_dir)
    folders = sorted({os.path.dirname(path) for path in paths})
    print(f"Wrote {len(paths)} pictures to {', '.join(folders)}")
    return paths


# The library's argument names in error messages, as this command's flags.
FLAGS = {
    "directory": "--data-dir",
    "data_dir": "--tfds-dir",
    "download": "--download",
    "resume": "--resume",
    "overwrite": "--overwrite",
    "save_freq": "--save-freq",
    "batch_size": "--batch-size",
    "partial_channels": "--partial-channels",
    "channels": "--channels",
    "cells_per_stage": "--cells-per-stage",
    "num_cells": "--num-cells",
    "max_parameters": "--max-params",
    "max_multiply_adds": "--max-multiply-adds",
    "max_latency_ms": "--max-latency-ms",
    "temperature": "--temperature",
}
_ARGUMENT = re.compile(r"(?<![\w.])(" + "|".join(FLAGS) + r")=(True\b|\.\.\.)?")


PHRASES = {
    "read an ImageFolder tree with image_folder_search_data(directory=...)": "pass an ImageFolder tree with --data-dir",
    "output directory": "--output-dir",
}


def as_flags(message):
    """'Pass download=True or data_dir=...' -> 'Pass --download or --tfds-dir ...'."""
    for phrase, replacement in PHRASES.items():
        message = message.replace(phrase, replacement)

    def flag(match):
        value = match.group(2)
        return FLAGS[match.group(1)] + ("" if value == "True" else " " + (value or ""))

    return _ARGUMENT.sub(flag, message)


def explain(error):
    """The user-facing message of an error caused by the user's input, else
    None: any other exception is a bug in the library and keeps its traceback."""
    import tensorflow as tf

    from keras_drnas.utils.errors import InputError

    if isinstance(error, tf.errors.InvalidArgumentError):
        # Raised by the checks inside the input pipeline (NaN images, labels out of range).
        lines = [line for line in error.message.splitlines() if line.strip()]
        return lines[0] if lines else str(error)
    if isinstance(error, (InputError, OSError)):  # OSError: files the user named or an output directory
        # Keras wraps an error raised while it traces a layer ("... Error encountered:\n\n<ours>").
        return as_flags(str(error).strip().rpartition("Error encountered:\n\n")[2])
    return None


def _network_args(parser):
    parser.add_argument("--auxiliary", action="store_true", help="DARTS: auxiliary head (weight 0.4)")
    parser.add_argument("--drop-path", type=float, default=0.0, help="DARTS: drop-path rate (paper 0.3)")
    parser.add_argument("--cutout", type=int, default=0, help="cutout size (paper 16)")
    parser.add_argument("--retrain-epochs", type=int, default=30, help="epochs of retraining")
    parser.add_argument("--retrain-batch-size", type=int, default=64, help="batch size of retraining")
    parser.add_argument("--retrain-learning-rate", type=float, default=0.05,
                        help="initial learning rate of retraining (cosine to 0)")


def _retrain_parser(parser):
    parser.add_argument("--genotype", required=True, help="genotype JSON written by search")
    _data_args(parser)
    _network_shape_args(parser, num_cells=8)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="crop (padding 4) + flip; default on for photos, off for digits")
    parser.add_argument("--output-dir", default="runs/retrain", help="where model.keras and retrain.json go")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras' fit verbosity")
    _strategy_arg(parser)
    _network_args(parser)


def run_retrain(args, search_data=None):
    """Builds the genotype's network, retrains it, writes model.keras and
    retrain.json (history and test accuracy). Returns (network, data)."""
    strategy = distribution_strategy(args.strategy)
    with worker_output(args, strategy), strategy.scope():  # the network and its optimizer are made in it
        return _retrain(args, search_data)


def _retrain(args, search_data):
    import keras

    from keras_drnas import data
    from keras_drnas.derived_model import RetrainRecipe, build_network, count_flops, count_parameters, retrain
    from keras_drnas.derived_model.retrain import test_accuracy
    from keras_drnas.search_space import Genotype
    from keras_drnas.utils.files import atomic_write_text

    genotype = Genotype.load(args.genotype)  # fails before any model is built
    keras.utils.set_random_seed(args.seed)
    search_data = search_data or load_search_data(args)
    train = search_data.train.concatenate(search_data.validation)
    mean, std = data.channel_stats(train)
    network = build_network(
        genotype, channels=args.channels, cells_per_stage=args.cells_per_stage, num_cells=args.num_cells,
        num_classes=search_data.num_classes,
        input_shape=search_data.image_shape, stem=args.stem, auxiliary=args.auxiliary,
        drop_path=args.drop_path or None, mean=mean, std=std,
    )
    augment = args.augment if args.augment is not None else search_data.name != "digits"
    recipe = RetrainRecipe.cpu(args.retrain_epochs, augment)
    recipe = dataclasses.replace(recipe, batch_size=args.retrain_batch_size, learning_rate=args.retrain_learning_rate,
                                 cutout=args.cutout, drop_path=args.drop_path)
    print(f"Retraining {genotype.compact()} ({count_parameters(network.model) / 1e6:.3f} M parameters, "
          f"{count_flops(network.model) / 1e6:.2f} M multiply-adds) "
          f"for {recipe.epochs} epochs")
    start = time.perf_counter()
    history = retrain(network, train, recipe, search_data.num_classes, args.seed, verbose=args.verbose)
    seconds = time.perf_counter() - start
    os.makedirs(args.output_dir, exist_ok=True)
    model_path = os.path.join(args.output_dir, "model.keras")
    network.model.save(model_path)
    test = search_data.test if search_data.test is not None else search_data.validation
    accuracy = test_accuracy(network.model, test)
    record = {
        "genotype": genotype.to_dict(),
        "parameters": count_parameters(network.model),
        "multiply_adds": count_flops(network.model),
        "recipe": dataclasses.asdict(recipe),
        "seconds": round(seconds, 1),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "test_accuracy": accuracy,
        "test_set": "test split" if search_data.test is not None else "validation half (no test split)",
    }
    atomic_write_text(os.path.join(args.output_dir, "retrain.json"), json.dumps(record, indent=1))
    print(f"Retrained in {seconds:.1f} s; test accuracy {accuracy:.4f}; wrote {model_path}")
    return network, search_data


def _export_parser(parser):
    parser.add_argument("--model", required=True, help="a .keras file written by retrain")
    _data_args(parser)
    parser.add_argument("--check-images", type=int, default=200, help="images for calibration and agreement checks")
    parser.add_argument("--output-dir", default="runs/export", help="where the exported files go")


def run_export(args, model=None, search_data=None):
    """SavedModel, float32 and int8 TFLite, with sizes and agreement."""
    import keras
    import numpy as np

    from keras_drnas.derived_model import export_all
    from keras_drnas.utils.errors import InputError
    from keras_drnas.utils.files import atomic_write_text
    from keras_drnas.utils.quiet import filtered_native_stderr, wants_quiet

    if model is None:
        if not os.path.isfile(args.model):
            raise InputError(f"--model {args.model} does not exist; pass the model.keras written by retrain.")
        try:
            model = keras.models.load_model(args.model)  # built-in layers only: no custom objects
        except (ValueError, OSError) as error:  # Keras' errors for a file that is not a .keras model
            raise InputError(f"--model {args.model} is not a model.keras written by retrain: {error}") from None
    search_data = search_data or load_search_data(args)
    source = search_data.test if search_data.test is not None else search_data.validation
    images = np.stack([x for x, _ in source.take(args.check_images).as_numpy_iterator()])
    calibration = np.stack([x for x, _ in search_data.train.take(args.check_images).as_numpy_iterator()])
    with filtered_native_stderr(wants_quiet()):
        report = export_all(model, args.output_dir, images, calibration_images=calibration)
    atomic_write_text(os.path.join(args.output_dir, "export.json"), json.dumps(report, indent=1))
    for kind, entry in report.items():
        extra = ""
        if "top1_agreement" in entry:
            extra = f"  top-1 agreement with Keras {entry['top1_agreement']:.3f}"
        if "max_abs_difference" in entry:
            extra += f", max |difference| {entry['max_abs_difference']:.2e}"
        print(f"{kind:16s} {entry['bytes'] / 1024:9.1f} KiB  {entry['path']}{extra}")
    return report


RANDOM_CELLS = 3  # the demo's baseline: cells drawn uniformly from the space


def run_demo(args):
    """The main job: a search on digits, its cell against a random cell of
    the space (both retrained the same way), the export, the pictures."""
    args.overwrite = args.overwrite and not args.resume  # each demo starts fresh unless resumed
    args.checkpoint_dir = os.path.join(args.output_dir, "search", "checkpoint")
    with worker_output(args, distribution_strategy(args.strategy)):
        _demo(args)


def _demo(args):
    from keras_drnas.search_space import random_genotype

    start = time.perf_counter()
    base = args.output_dir
    args.output_dir = os.path.join(base, "search")
    search, search_data = run_search(args)
    _report_learning(search, args.output_dir)

    args.stem = getattr(args, "stem", "cifar")
    search_verbose, args.verbose = args.verbose, 0
    candidates = [("searched", "retrain", os.path.join(base, "search", "genotype.json"))]
    for k in range(RANDOM_CELLS):
        directory = os.path.join(base, f"random_{k}")
        random_genotype(search.model.space, seed=args.seed + k).save(os.path.join(directory, "genotype.json"))
        candidates.append((f"random cell {k}", f"random_{k}", os.path.join(directory, "genotype.json")))
    accuracies = {}
    print(f"\nRetraining the searched cell and {RANDOM_CELLS} random cells of the space, "
          f"same recipe, {args.retrain_epochs} epochs each")
    for name, folder, genotype in candidates:
        args.genotype, args.output_dir = genotype, os.path.join(base, folder)
        network, _ = run_retrain(args, search_data)
        if name == "searched":
            searched_model = network.model
        with open(os.path.join(args.output_dir, "retrain.json"), encoding="utf-8") as f:
            accuracies[name] = json.load(f)["test_accuracy"]
    args.verbose = search_verbose
    random_accuracies = [v for k, v in accuracies.items() if k != "searched"]
    print(f"\nTest accuracy: searched cell {accuracies['searched']:.4f}; random cells "
          f"{min(random_accuracies):.4f} to {max(random_accuracies):.4f} (mean {sum(random_accuracies) / RANDOM_CELLS:.4f})")

    print("\n--- Export ---")
    args.output_dir = os.path.join(base, "export")
    args.check_images = 200
    run_export(args, searched_model, search_data)
    print(f"\nDemo done in {time.perf_counter() - start:.0f} s. Files:")
    for part in ("search/genotype.json", "retrain/model.keras", "random_0/retrain.json", "export/model_float32.tflite",
                 "export/model_int8.tflite", "export/model_saved_model"):
        print(f"  {os.path.join(base, part)}")


def _report_learning(search, run_dir):
    """How far the distribution moved: entropy, and the largest mean op weight per edge."""
    import math

    import numpy as np

    with open(os.path.join(run_dir, "history.json"), encoding="utf-8") as f:
        entropy = json.load(f)["history"].get("entropy", [])
    num_ops = search.model.space.num_ops
    if entropy:
        print(f"\nMean entropy of the edge distributions: {entropy[0]:.3f} after the first epoch, "
              f"{entropy[-1]:.3f} after the last (Dir(1), where the search starts: "
              f"{-math.lgamma(num_ops):.3f}; lower is more decided)")
    for name, weights in search.model.expected_op_weights().items():
        uniform = 1.0 / weights.shape[1]
        print(f"Largest mean op weight per {name} edge (uniform: {uniform:.2f}): "
              + " ".join(f"{w:.2f}" for w in np.max(weights, axis=1)))


def _tune_parser(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --output-dir of a finished search")
    parser.add_argument("--max-params", type=int, help="budget: the most parameters a candidate may have")
    parser.add_argument("--max-multiply-adds", type=int, help="budget: the most multiply-adds of one image")
    parser.add_argument("--max-latency-ms", type=float,
                        help="budget: the most milliseconds of one float32 TFLite inference on this machine "
                        "(median, one thread)")
    parser.add_argument("--trials", type=int, default=5, help="candidates within the budget to train")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of each trial")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sample from Dir(beta / T): below 1 nearer the derived genotype, above 1 more varied")
    parser.add_argument("--channels", type=int, help="candidates' C (default: the search's)")
    parser.add_argument("--cells-per-stage", type=int, help="NAS-Bench-201: candidates' N (default: the search's)")
    parser.add_argument("--num-cells", type=int, help="DARTS: candidates' cells (default: the search's)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size of each trial")
    parser.add_argument("--learning-rate", type=float, default=0.05, help="initial learning rate of each trial")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="crop (padding 4) + flip; default on for photos, off for digits")
    parser.add_argument("--data-dir", help="the search's ImageFolder tree, if it has moved since the search")
    parser.add_argument("--tfds-dir", help="the search's tensorflow-datasets directory, if it has moved")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data order, augmentation and sampling")
    parser.add_argument("--resume", action="store_true", help="continue the tuning in OUTPUT_DIR (keras-tuner reload)")
    parser.add_argument("--output-dir", default="runs/tune", help="where the tuning, best_model.keras and tune.json go")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras' fit verbosity")


TUNER_PROJECT = "tuner"


def run_tune(args):
    """Budget search: samples architectures from a finished search's learnt
    Dirichlet distributions, rejects those over the budget and trains the
    others briefly as keras-tuner trials, on the search's data (train half;
    ranked on the validation half). Writes best_model.keras and tune.json.
    Returns the tuner."""
    from keras_drnas.derived_model import RetrainRecipe
    from keras_drnas.derived_model.retrain import test_accuracy
    from keras_drnas.tuning import Budget, BudgetTuner, SearchResult
    from keras_drnas.utils.errors import InputError
    from keras_drnas.utils.files import atomic_write_text

    budget = Budget(args.max_params, args.max_multiply_adds, args.max_latency_ms)
    if budget == Budget():
        raise InputError("Give a budget: --max-params, --max-multiply-adds and/or --max-latency-ms.")
    result = SearchResult.load(args.run_dir)
    # keras-tuner's distributed mode: one chief runs the oracle, workers run trials in the chief's directory.
    worker = "KERASTUNER_ORACLE_IP" in os.environ and os.environ.get("KERASTUNER_TUNER_ID") != "chief"
    if os.path.isdir(os.path.join(args.output_dir, TUNER_PROJECT)) and not (args.resume or worker):
        raise InputError(f"{args.output_dir} holds a tuning already; pass resume=True to continue it, "
                         "or choose another output directory.")
    searched = {"dataset": "digits", "data_dir": None, "tfds_dir": None, "download": False, "max_images": None,
                "seed": 0}
    searched.update({key: result.args[key] for key in searched if key in result.args})
    data_args = argparse.Namespace(**searched)
    data_args.data_dir = args.data_dir or data_args.data_dir
    data_args.tfds_dir = args.tfds_dir or data_args.tfds_dir
    search_data = load_search_data(data_args)
    if tuple(search_data.image_shape) != result.image_shape or search_data.num_classes != result.num_classes:
        raise InputError(f"The data ({tuple(search_data.image_shape)}, {search_data.num_classes} classes) is not "
                         f"what {args.run_dir} searched on ({result.image_shape}, {result.num_classes} classes).")
    augment = args.augment if args.augment is not None else search_data.name != "digits"
    recipe = dataclasses.replace(RetrainRecipe.cpu(args.epochs, augment), batch_size=args.batch_size,
                                 learning_rate=args.learning_rate)
    network = {"channels": args.channels, "cells_per_stage": args.cells_per_stage, "num_cells": args.num_cells}
    tuner = BudgetTuner(result, budget, max_trials=args.trials, temperature=args.temperature, network=network,
                        recipe=recipe, seed=args.seed, directory=args.output_dir, project_name=TUNER_PROJECT,
                        overwrite=not (args.resume or worker))
    print(f"Budget search in the learnt {result.space.name} distribution of {args.run_dir}: {budget.describe()}; "
          f"{args.trials} trials of {args.epochs} epochs on {search_data.name}")
    start = time.perf_counter()
    tuner.search(search_data.train, validation_data=search_data.validation, epochs=args.epochs,
                 verbose=args.verbose)
    seconds = time.perf_counter() - start
    if worker:
        print(f"Worker {os.environ.get('KERASTUNER_TUNER_ID')} done; the chief writes the results.")
        return tuner
    oracle = tuner.oracle
    trials = [t for t in oracle.trials.values() if t.status == "COMPLETED"]
    if not trials:
        raise InputError(f"No candidate within the budget ({budget.describe()}) in {oracle.draws} samples; "
                         "raise the budget or lower --temperature.")
    if args.verbose:
        tuner.results_summary(len(trials))
    best_trial = oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    os.makedirs(args.output_dir, exist_ok=True)
    model_path = os.path.join(args.output_dir, "best_model.keras")
    best.save(model_path)
    test = search_data.test if search_data.test is not None else search_data.validation
    accuracy = test_accuracy(best, test)
    rejected = oracle.rejected()
    record = {
        "run_dir": args.run_dir,
        "budget": dataclasses.asdict(budget),
        "samples": oracle.draws,
        "candidates": oracle.candidates,
        "trials": [dict(t.hyperparameters.values, trial_id=t.trial_id, val_accuracy=t.score) for t in trials],
        "best": dict(best_trial.hyperparameters.values, val_accuracy=best_trial.score, test_accuracy=accuracy,
                     test_set="test split" if search_data.test is not None else "validation half (no test split)"),
        "seconds": round(seconds, 1),
    }
    atomic_write_text(os.path.join(args.output_dir, "tune.json"), json.dumps(record, indent=1))
    values = best_trial.hyperparameters.values
    latency = f", {values['latency_ms']:.3f} ms TFLite latency" if "latency_ms" in values else ""
    print(f"\nBudget: {budget.describe()}")
    print(f"Sampled {oracle.draws} architectures ({len(oracle.candidates)} distinct); rejected {len(rejected)} "
          f"over budget; trained {len(trials)} for {args.epochs} epochs each in {seconds:.0f} s.")
    print(f"Best: {values['genotype']}\n  {values['parameters']:,} parameters, {values['multiply_adds']:,} "
          f"multiply-adds{latency}; validation accuracy {best_trial.score:.4f}, test accuracy {accuracy:.4f}")
    print(f"Wrote {model_path} and tune.json to {args.output_dir}")
    return tuner


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows each option's default, where it has one worth showing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-drnas", description="Dirichlet Neural Architecture Search for Keras")
    commands = parser.add_subparsers(dest="command", required=True)
    command = lambda name, text: commands.add_parser(name, help=text, formatter_class=_HelpWithDefaults)  # noqa: E731
    _search_parser(command("search", "search an architecture"))
    _retrain_parser(command("retrain", "retrain the network of a genotype"))
    _export_parser(command("export", "export a retrained model to SavedModel and TFLite"))
    _tune_parser(command("tune", "budget search: sample the learnt distribution, train what fits"))
    plot = command("plot", "draw the pictures of a search's output directory")
    plot.add_argument("run_dir", help="the --output-dir of a search")
    plot.add_argument("--output-dir", help="where the pictures go (default: RUN_DIR/plots)")
    demo = command("demo", "search, retrain and export in one go (digits by default)")
    _search_parser(demo)
    _network_args(demo)
    # A short search that still decides: ~900 architecture steps instead of the paper's ~39,000,
    # so a 20x architecture learning rate, after 10 epochs that train the weights alone.
    demo.set_defaults(channels=4, cells_per_stage=1, batch_size=32, epochs=40, arch_warmup_epochs=10,
                      arch_learning_rate=6e-3, overwrite=True)
    args = parser.parse_args(argv)
    if getattr(args, "space", None) == "nb201":
        args.space = "nas-bench-201"
    try:
        if args.command == "search":
            run_search(args)
        elif args.command == "retrain":
            run_retrain(args)
        elif args.command == "export":
            run_export(args)
        elif args.command == "tune":
            run_tune(args)
        elif args.command == "plot":
            run_plot(args)
        else:
            run_demo(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the user's input: a clear message; a library bug: its traceback
        message = explain(error)
        if message is None:
            raise
        print(f"keras-drnas: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
