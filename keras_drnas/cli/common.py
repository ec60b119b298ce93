"""What the commands share: data and network flags, the data they load,
the distribution strategy, help with defaults, and error messages."""

import argparse
import contextlib
import json
import os
import re


class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows each option's default, where it has one worth showing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def data_args(parser):
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


def strategy_arg(parser):
    parser.add_argument("--strategy", default="default", choices=["default", "mirrored", "multi-worker"],
                        help="mirrored: all local GPUs (else CPUs); multi-worker: tf.distribute's "
                        "MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (run the same command on "
                        "every worker; only the chief keeps files)")


def space_arg(parser, default=None):
    from keras_drnas.search_space import DEFAULT_SPACE, get_space
    from keras_drnas.utils.errors import InputError
    from keras_drnas.search_strategy.supernet import supernet_spaces

    def space(text):
        try:
            return get_space(text).name  # an alias such as nb201 becomes the space's name
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument("--space", type=space, default=default or DEFAULT_SPACE, choices=supernet_spaces(),
                        help="the search space (a registered space name or alias)")


def network_shape_args(parser, num_cells):
    # Each space's network takes the arguments it knows and ignores the others.
    parser.add_argument("--channels", type=int, default=16, help="C, the channels of the first cells")
    parser.add_argument("--cells-per-stage", type=int, default=5,
                        help="spaces of three stages: cells per stage, the paper's N")
    parser.add_argument("--num-cells", type=int, default=num_cells,
                        help="spaces with reduction cells: cells in all, reducing at 1/3 and 2/3")
    parser.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"],
                        help="spaces with reduction cells: one conv (cifar) or three stride-2 convs (imagenet)")


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


def replaced(args, **changes):
    """A copy of the parsed flags `args` with `changes`; `args` is left as it was."""
    return argparse.Namespace(**{**vars(args), **changes})


@contextlib.contextmanager
def worker_output(args, strategy):
    """Yields the flags to run with: on the non-chief workers of a
    multi-worker run, a temporary OUTPUT_DIR (and --tensorboard) removed at
    the end, so only the chief keeps files; the checkpoint is still read
    from the chief's OUTPUT_DIR (on a file system every worker sees) to resume."""
    from keras_drnas.search_strategy.workers import is_chief, writable_directory

    if is_chief(strategy) or getattr(args, "worker_output", False):
        yield args
        return
    checkpoint_dir = getattr(args, "checkpoint_dir", None) or os.path.join(args.output_dir, "checkpoint")
    with writable_directory(args.output_dir, strategy) as temporary:
        tensorboard = os.path.join(temporary, "tensorboard") if getattr(args, "tensorboard", None) else None
        yield replaced(args, checkpoint_dir=checkpoint_dir, output_dir=temporary, worker_output=True,
                       tensorboard=tensorboard)


# The library's argument names in error messages, as this command's flags.
FLAGS = {
    "directory": "--data-dir",
    "data_dir": "--tfds-dir",
    "download": "--download",
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
