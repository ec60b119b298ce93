"""`keras-drnas latency-table`: the TFLite latency of every block choice of
a chain space (mobilenet), measured with LiteRT on this machine, as CSV."""

NAME, HELP = "latency-table", "measure the TFLite latency of every block choice (mobilenet)"


def add_arguments(parser):
    from keras_drnas.cli.common import space_arg

    space_arg(parser, default="mobilenet")
    parser.add_argument("--channels", type=int, default=16, help="the first block's width, as the search will use")
    parser.add_argument("--input-shape", type=input_shape, default=(32, 32, 3),
                        help="the images as HxWxC, e.g. 32x32x3 or 224x224x3 (from 128 pixels up: ImageNet strides)")
    parser.add_argument("--num-classes", type=int, default=10, help="the classifier's outputs")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per model (the fastest is kept)")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads")
    parser.add_argument("-o", "--output", default="latency_table.csv", help="the CSV file to write")


def input_shape(text):
    import argparse

    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected HxWxC such as 32x32x3, got {text!r}")
    return shape


def run(args):
    """Measures the table, writes it, prints one line per block."""
    from keras_drnas.derived_model.latency import measure_latency_table

    table = measure_latency_table(args.space, args.channels, args.num_classes, args.input_shape, args.repeats,
                                  args.threads, progress=print)
    table.save(args.output)
    print(f"fixed parts {table.fixed_ms:.3f} ms; wrote {args.output}")
    return table
