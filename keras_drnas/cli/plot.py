"""`keras-drnas plot`: the pictures of a search's output directory."""

import os

NAME, HELP = "plot", "draw the pictures of a search's output directory"


def add_arguments(parser):
    parser.add_argument("run_dir", help="the --output-dir of a search")
    parser.add_argument("--output-dir", help="where the pictures go (default: RUN_DIR/plots)")


def run(args):
    """Draws the pictures of a search's output directory."""
    from keras_drnas.plots import write_plots

    paths = write_plots(args.run_dir, args.output_dir)
    folders = sorted({os.path.dirname(path) for path in paths})
    print(f"Wrote {len(paths)} pictures to {', '.join(folders)}")
    return paths
