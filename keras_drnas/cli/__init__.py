"""`keras-drnas`: search, retrain, export, tune and plot from the command line.

    keras-drnas search                       # the default space on digits, ~1 minute
    keras-drnas search --space darts --data-dir cifar10-jpg --epochs 50

One module per command: each adds its flags (`add_arguments`) and builds
library objects from them (`run`). Errors caused by the user's input are
printed with the library's argument names as these flags, without a
traceback; any other error is a bug and keeps its traceback.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_drnas.cli import demo, export, latency_table, plot, retrain, search, tune  # noqa: E402
from keras_drnas.cli.common import HelpWithDefaults, explain  # noqa: E402
from keras_drnas.utils.optional import require_tensorflow_backend  # noqa: E402


COMMANDS = (search, retrain, export, tune, plot, demo, latency_table)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-drnas", description="Dirichlet Neural Architecture Search for Keras")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_arguments(commands.add_parser(command.NAME, help=command.HELP, formatter_class=HelpWithDefaults))
    args = parser.parse_args(argv)
    run = {command.NAME: command.run for command in COMMANDS}[args.command]
    try:
        require_tensorflow_backend(f"keras-drnas {args.command}",
                                   "set KERAS_BACKEND=tensorflow, or search from Python (docs/guides/backends.md)")
        run(args)
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
