"""NAS-Bench-201 search on a folder of images (paper section 4.3).

    python examples/nb201_image_folder.py --data-dir /path/to/cifar10-jpg

`--data-dir` is an ImageFolder tree: `class/image.jpg`, or `train/class/...`
and `test/class/...` (the layout of CIFAR-10 as JPEG files). The default is
sized for a CPU: C=8, N=1, 2,000 training images (1,000 per half), 10
epochs, batch 64; about two minutes on CIFAR-10 on a 2-core CPU. In those
150 architecture steps the concentrations barely leave 1 (the anchor); the
paper's 100 epochs take about 39,000.

The paper's setting (C=16, N=5, 100 epochs on the CIFAR-10 train split, split
50/50 into weight and architecture halves, batch 64, crop + flip; weights:
SGD 0.025 cosine to 1e-3, momentum 0.9, weight decay 3e-4; concentrations:
Adam 3e-4, betas (0.5, 0.999), anchor lambda 1e-3, the defaults of
`SearchModel.compile` in this space):

    python examples/nb201_image_folder.py --data-dir /path/to/cifar10-jpg \\
        --channels 16 --cells-per-stage 5 --epochs 100 --max-images 0

`--smoke` makes a tiny folder of PNGs and runs one epoch of a C=4 supernet.
Prints the data, the genotype after every epoch, the derived cell and its
mean op weights, and where the per-epoch log went.
"""

import argparse
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

import keras_drnas as kd


def tiny_image_folder(root, classes=3, per_class=16, size=16):
    """PNG files whose class is the brightest color channel."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(os.path.join(root, f"class_{c}"))
        for i in range(per_class):
            pixels = (rng.random((size, size, 3)) * 200).astype("uint8")
            pixels[..., c] = 255
            with open(os.path.join(root, f"class_{c}", f"{i}.png"), "wb") as f:
                f.write(tf.io.encode_png(pixels).numpy())
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="an ImageFolder tree (required unless --smoke)")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells-per-stage", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-images", type=int, default=2000, help="training images to use (0: all)")
    parser.add_argument("--output-dir", default="runs/examples/nb201_image_folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny generated folder, one epoch")
    args = parser.parse_args(argv)
    if args.smoke:
        args.output_dir = tempfile.mkdtemp()
        args.data_dir = tiny_image_folder(os.path.join(args.output_dir, "images"))
        args.channels, args.cells_per_stage, args.epochs, args.batch_size = 4, 1, 1, 8
    elif not args.data_dir:
        parser.error("--data-dir is required (or --smoke)")

    keras.utils.set_random_seed(args.seed)
    data = kd.data.image_folder_search_data(args.data_dir, seed=args.seed, max_images=args.max_images or None)
    print(f"Data: {args.data_dir} ({data.name}), images of {data.image_shape}, {data.num_classes} classes")
    mean, std = kd.data.channel_stats(data.train)
    pairs = kd.data.search_pairs(data.train, data.validation, args.batch_size, data.num_classes, augment=True,
                                 mean=mean, std=std, seed=args.seed)
    supernet = kd.NASBench201Supernet(channels=args.channels, cells_per_stage=args.cells_per_stage,
                                      num_classes=data.num_classes, seed=args.seed)
    search = kd.SearchModel(supernet)
    search.compile(metrics=["accuracy"])  # the reference code's optimizers for this space
    log = os.path.join(args.output_dir, "genotypes.jsonl")
    search.fit(pairs, epochs=args.epochs, verbose=2, callbacks=[kd.callbacks.GenotypeLogger(log)])

    genotype = search.genotype()
    print(f"\n{genotype}")
    weights = supernet.expected_op_weights()["normal"]
    print("Mean op weights per edge (" + ", ".join(kd.NAS_BENCH_201.op_names) + "):")
    for (dst, src), row in zip(kd.NAS_BENCH_201.edges, weights):
        print(f"  {dst}<-{src}: " + " ".join(f"{w:.3f}" for w in row))
    print(f"Genotype and concentrations of every epoch: {log}")


if __name__ == "__main__":
    main()
