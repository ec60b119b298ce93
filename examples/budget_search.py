"""Budget search with keras-tuner: the best architectures of a search's
learnt distribution that fit a parameter budget.

    python examples/budget_search.py

The paper (section 2.2) observes that DrNAS learns a distribution over
architectures, which "can be used to find architectures under resource
restrictions in a post search phase", and leaves that to future work. Here:

1. a NAS-Bench-201 search on scikit-learn's 8x8 digits (C=8, N=1, 8 epochs);
2. a `BudgetTuner`: its oracle samples genotypes from the learnt
   Dirichlet concentrations, rejects those over the budget (here the median
   parameter count of 11 samples, so about half the candidates fit), and
   keras-tuner trains the others for 5 epochs each and ranks them on the
   validation half (6 trials).
About a minute and a half on a 2-core CPU.

At the paper's scale the search is the NAS-Bench-201 one of
nb201_image_folder.py (C=16, N=5, 100 epochs on CIFAR-10) and candidates
are trained far longer; from the command line:

    keras-drnas search --data-dir /path/to/cifar10-jpg --epochs 100 --output-dir runs/nb201
    keras-drnas tune runs/nb201 --max-params 500000 --max-latency-ms 5 --trials 20 --epochs 30

`--smoke` searches one epoch with C=4 and trains 2 trials of 1 epoch.
Prints the budget, every sampled candidate that was rejected, keras-tuner's
results summary, and the best model's size and test accuracy.
"""

import argparse
import dataclasses
import tempfile

import keras
import numpy as np

import keras_drnas as kd
import keras_drnas.tuning  # kd.tuning: keras-tuner is imported only when asked for


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--search-epochs", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per trial")
    parser.add_argument("--output-dir", default="runs/examples/budget_search")
    parser.add_argument("--smoke", action="store_true", help="a one-epoch search and 2 one-epoch trials")
    args = parser.parse_args(argv)
    if args.smoke:
        args.channels, args.search_epochs, args.trials, args.epochs = 4, 1, 2, 1
        args.output_dir = tempfile.mkdtemp()

    keras.utils.set_random_seed(0)
    data = kd.data.digits_search_data()
    if args.smoke:
        data.train, data.validation = data.train.take(128), data.validation.take(128)
    mean, std = kd.data.channel_stats(data.train)
    pairs = kd.data.search_pairs(data.train, data.validation, 32, data.num_classes, mean=mean, std=std, seed=0)
    search = kd.SearchModel(kd.NASBench201Supernet(channels=args.channels, cells_per_stage=1, seed=0))
    search.compile(metrics=["accuracy"])
    search.fit(pairs, epochs=args.search_epochs, verbose=0)
    result = kd.tuning.SearchResult.from_search(search, data.image_shape, data.num_classes, mean, std)
    settings = result.network_settings()
    print(f"1. Searched {args.search_epochs} epochs; derived {result.genotype.to_string()} "
          f"({kd.count_parameters(kd.build_network(result.genotype, **settings).model):,} parameters)")

    # A budget that about half of the learnt distribution meets: the median size of a few samples.
    sampler = kd.tuning.GenotypeSampler(result.space, result.concentrations, result.op_masks)
    rng = np.random.default_rng(1)
    sizes = [kd.count_parameters(kd.build_network(sampler.sample(rng), **settings).model) for _ in range(11)]
    budget = kd.tuning.Budget(max_parameters=int(np.median(sizes)))
    recipe = dataclasses.replace(kd.RetrainRecipe.cpu(augment=False), batch_size=32)
    tuner = kd.tuning.BudgetTuner(result, budget, max_trials=args.trials, recipe=recipe,
                                  directory=args.output_dir, project_name="digits", overwrite=True)
    print(f"2. Budget: {budget.describe()}")
    tuner.search(data.train, validation_data=data.validation, epochs=args.epochs, verbose=0)
    for genotype, candidate in tuner.oracle.rejected().items():
        print(f"   rejected {genotype}: {', '.join(candidate['violations'])}")
    print(f"   sampled {tuner.oracle.draws} times, {len(tuner.oracle.candidates)} distinct candidates, "
          f"{len(tuner.oracle.rejected())} over budget")
    tuner.results_summary(3)

    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]  # a plain Keras model: keras.models.load_model needs no custom objects
    accuracy = kd.derived_model.test_accuracy(best, data.test)
    print(f"\nBest: {best_trial.hyperparameters['genotype']}\n  {kd.count_parameters(best):,} parameters "
          f"(budget {budget.max_parameters:,}), validation accuracy {best_trial.score:.4f}, "
          f"test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
