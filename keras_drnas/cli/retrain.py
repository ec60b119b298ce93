"""`keras-drnas retrain`: the network of a genotype, trained from scratch."""

import argparse
import dataclasses
import json
import os
import time

from keras_drnas.cli.common import (
    data_args,
    distribution_strategy,
    load_search_data,
    network_shape_args,
    strategy_arg,
    worker_output,
)

NAME, HELP = "retrain", "retrain the network of a genotype"


def network_args(parser):
    parser.add_argument("--auxiliary", action="store_true", help="networks that take one: the auxiliary head at 2/3 depth (weight 0.4)")
    parser.add_argument("--drop-path", type=float, default=0.0, help="networks that take it: the drop-path rate (paper 0.3)")
    parser.add_argument("--cutout", type=int, default=0, help="cutout size (paper 16)")
    parser.add_argument("--retrain-epochs", type=int, default=30, help="epochs of retraining")
    parser.add_argument("--retrain-batch-size", type=int, default=64, help="batch size of retraining")
    parser.add_argument("--retrain-learning-rate", type=float, default=0.05,
                        help="initial learning rate of retraining (cosine to 0)")


def add_arguments(parser):
    parser.add_argument("--genotype", required=True, help="genotype JSON written by search")
    data_args(parser)
    network_shape_args(parser, num_cells=8)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="crop (padding 4) + flip; default on for photos, off for digits")
    parser.add_argument("--output-dir", default="runs/retrain", help="where model.keras and retrain.json go")
    parser.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="Keras' fit verbosity")
    strategy_arg(parser)
    network_args(parser)


def run(args, search_data=None):
    """Builds the genotype's network, retrains it, writes model.keras and
    retrain.json (history and test accuracy). Returns (network, data)."""
    strategy = distribution_strategy(args.strategy)
    with worker_output(args, strategy) as worker_args, strategy.scope():  # the network and its optimizer are made in it
        return _retrain(worker_args, search_data)


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
    print(f"Retraining {genotype.to_string()} ({count_parameters(network.model) / 1e6:.3f} M parameters, "
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
