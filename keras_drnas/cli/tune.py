"""`keras-drnas tune`: budget search in a finished search's learnt distribution."""

import argparse
import dataclasses
import json
import os
import time

from keras_drnas.cli.common import load_search_data

NAME, HELP = "tune", "budget search: sample the learnt distribution, train what fits"


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --output-dir of a finished search")
    parser.add_argument("--max-params", type=int, help="budget: the most parameters a candidate may have")
    parser.add_argument("--max-multiply-adds", type=int, help="budget: the most multiply-adds of one image")
    parser.add_argument("--max-latency-ms", type=float,
                        help="budget: the most milliseconds of one float32 TFLite inference on this machine "
                        "(the fastest of the timed runs, one thread)")
    parser.add_argument("--latency-table", metavar="CSV",
                        help="mobilenet: predict --max-latency-ms from this latency table (keras-drnas latency-table, "
                        "or one measured on a phone) instead of timing each candidate here")
    parser.add_argument("--trials", type=int, default=5, help="candidates within the budget to train")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of each trial")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sample from Dir(beta / T): below 1 nearer the derived genotype, above 1 more varied")
    parser.add_argument("--channels", type=int, help="candidates' C (default: the search's)")
    parser.add_argument("--cells-per-stage", type=int, help="spaces of three stages: candidates' cells per stage (default: the search's)")
    parser.add_argument("--num-cells", type=int, help="spaces with reduction cells: candidates' cells in all (default: the search's)")
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


def run(args):
    """Budget search: samples architectures from a finished search's learnt
    Dirichlet distributions, rejects those over the budget and trains the
    others briefly as keras-tuner trials, on the search's data (train half;
    ranked on the validation half). Writes best_model.keras and tune.json.
    Returns the tuner."""
    from keras_drnas.derived_model import RetrainRecipe
    from keras_drnas.derived_model.retrain import test_accuracy
    from keras_drnas.search_strategy import LatencyTable
    from keras_drnas.tuning import Budget, BudgetTuner, SearchResult
    from keras_drnas.utils.errors import InputError
    from keras_drnas.utils.files import atomic_write_text

    if args.latency_table and args.max_latency_ms is None:
        raise InputError("--latency-table predicts a latency budget; give it with --max-latency-ms.")
    if args.max_params is None and args.max_multiply_adds is None and args.max_latency_ms is None:
        raise InputError("Give a budget: --max-params, --max-multiply-adds and/or --max-latency-ms.")
    result = SearchResult.load(args.run_dir)
    table = LatencyTable.load(args.latency_table, result.space) if args.latency_table else None
    budget = Budget(args.max_params, args.max_multiply_adds, args.max_latency_ms, latency_table=table)
    # keras-tuner's distributed mode: one chief runs the oracle, workers run trials in the chief's directory.
    worker = "KERASTUNER_ORACLE_IP" in os.environ and os.environ.get("KERASTUNER_TUNER_ID") != "chief"
    if os.path.isdir(os.path.join(args.output_dir, TUNER_PROJECT)) and not (args.resume or worker):
        raise InputError(f"{args.output_dir} holds a tuning already; pass --resume to continue it, "
                         "or choose another --output-dir.")
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
        "budget": dict(dataclasses.asdict(dataclasses.replace(budget, latency_table=None)),
                       latency_table=args.latency_table),
        "samples": oracle.draws,
        "candidates": oracle.candidates,
        "trials": [dict(t.hyperparameters.values, trial_id=t.trial_id, val_accuracy=t.score) for t in trials],
        "best": dict(best_trial.hyperparameters.values, val_accuracy=best_trial.score, test_accuracy=accuracy,
                     test_set="test split" if search_data.test is not None else "validation half (no test split)"),
        "seconds": round(seconds, 1),
    }
    atomic_write_text(os.path.join(args.output_dir, "tune.json"), json.dumps(record, indent=1))
    values = best_trial.hyperparameters.values
    latency = ""
    if "latency_ms" in values:
        latency = f", {values['latency_ms']:.3f} ms TFLite latency ({'predicted' if table else 'measured'})"
    print(f"\nBudget: {budget.describe()}")
    print(f"Sampled {oracle.draws} architectures ({len(oracle.candidates)} distinct); rejected {len(rejected)} "
          f"over budget; trained {len(trials)} for {args.epochs} epochs each in {seconds:.0f} s.")
    print(f"Best: {values['genotype']}\n  {values['parameters']:,} parameters, {values['multiply_adds']:,} "
          f"multiply-adds{latency}; validation accuracy {best_trial.score:.4f}, test accuracy {accuracy:.4f}")
    print(f"Wrote {model_path} and tune.json to {args.output_dir}")
    return tuner
