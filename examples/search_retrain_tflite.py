"""Search -> retrain -> TFLite: the whole path from a search to a file a
phone can run.

    python examples/search_retrain_tflite.py

1. a NAS-Bench-201 search on scikit-learn's 8x8 digits (C=8, N=1, 10 epochs);
2. the derived cell retrained from scratch (C=8, N=1, 20 epochs, SGD with a
   cosine schedule) on both search halves, tested on the held-out digits;
3. export: .keras, SavedModel, float32 and int8 TFLite, each TFLite file
   checked against Keras on the test images.
About a minute on a 2-core CPU.

The paper's CIFAR-10 pipeline searches the DARTS space progressively (see
progressive_darts.py) and retrains 20 cells at C=36 for 600 epochs, batch
96, SGD 0.025 cosine, momentum 0.9, weight decay 3e-4, cutout 16,
drop-path 0.3 and an auxiliary head weighted 0.4 (`RetrainRecipe()`); with
`--data-dir /path/to/cifar10-jpg` this script runs the same steps on photos
at the sizes given by the flags.

`--smoke` runs one epoch of each step with C=4. Prints the derived cell,
its size, its test accuracy and every exported file with its size and its
agreement with the Keras model.
"""

import argparse
import dataclasses
import os
import tempfile

import keras
import numpy as np

import keras_drnas as kd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="an ImageFolder tree (default: the digits)")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells-per-stage", type=int, default=1)
    parser.add_argument("--search-epochs", type=int, default=10)
    parser.add_argument("--retrain-epochs", type=int, default=20)
    parser.add_argument("--output-dir", default="runs/examples/search_retrain_tflite")
    parser.add_argument("--smoke", action="store_true", help="one epoch of each step, C=4")
    args = parser.parse_args(argv)
    if args.smoke:
        args.channels, args.search_epochs, args.retrain_epochs = 4, 1, 1
        args.output_dir = tempfile.mkdtemp()

    keras.utils.set_random_seed(0)
    data = kd.data.image_folder_search_data(args.data_dir) if args.data_dir else kd.data.digits_search_data()
    photos = args.data_dir is not None
    if args.smoke:
        data.train, data.validation = data.train.take(256), data.validation.take(256)
    mean, std = kd.data.channel_stats(data.train)

    # 1. Search.
    pairs = kd.data.search_pairs(data.train, data.validation, 32, data.num_classes, augment=photos,
                                 mean=mean, std=std, seed=0)
    search = kd.SearchModel(kd.NASBench201Supernet(channels=args.channels, cells_per_stage=args.cells_per_stage,
                                                   num_classes=data.num_classes, seed=0))
    search.compile(metrics=["accuracy"])
    search.fit(pairs, epochs=args.search_epochs, verbose=0)
    genotype = search.genotype()
    print(f"1. Searched {args.search_epochs} epochs: {genotype.to_string()}")

    # 2. Retrain the derived network from scratch (normalization inside: it takes [0, 1] pixels).
    network = kd.build_network(genotype, channels=args.channels, cells_per_stage=args.cells_per_stage,
                               num_classes=data.num_classes, input_shape=data.image_shape, mean=mean, std=std)
    recipe = dataclasses.replace(kd.RetrainRecipe.cpu(args.retrain_epochs, augment=photos), batch_size=32)
    kd.retrain(network, data.train.concatenate(data.validation), recipe, data.num_classes, verbose=0)
    test = data.test if data.test is not None else data.validation
    accuracy = kd.derived_model.test_accuracy(network.model, test)
    print(f"2. Retrained {recipe.epochs} epochs: {kd.count_parameters(network.model):,} parameters, "
          f"{kd.count_flops(network.model):,} multiply-adds, test accuracy {accuracy:.4f}")

    # 3. Export and check every TFLite file against Keras.
    images = np.stack([x for x, _ in test.take(100).as_numpy_iterator()])
    calibration = np.stack([x for x, _ in data.train.take(100).as_numpy_iterator()])
    report = kd.export_all(network.model, args.output_dir, images, calibration_images=calibration)
    print("3. Exported:")
    for kind, entry in report.items():
        check = f"  top-1 agreement {entry['top1_agreement']:.2f}" if "top1_agreement" in entry else ""
        print(f"   {kind:15s} {entry['bytes'] / 1024:8.1f} KiB  {entry['path']}{check}")
    keras_file = os.path.join(args.output_dir, "model.keras")
    print(f"   load without this library: keras.models.load_model({keras_file!r})")


if __name__ == "__main__":
    main()
