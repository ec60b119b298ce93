"""Progressive DARTS-space search (paper section 2.4): stages that prune
ops and widen the partial channels, inside one `fit`.

    python examples/progressive_darts.py

The default searches scikit-learn's 8x8 digits (offline) with a small
supernet: 5 cells, C=8, two stages of 5 epochs, K 4 -> 2 and ops 7 -> 4,
about six minutes on a 2-core CPU (most of it tracing the DARTS graph).
`--data-dir` takes an ImageFolder tree instead.

The paper's CIFAR-10 setting (the search network is the evaluation network,
20 cells and C=36; 25 + 25 epochs, K 6 -> 4, ops 7 -> 4, the first 10 epochs
of each stage without architecture steps, batch 64, crop + flip; weights
SGD 0.1 cosine, concentrations Adam 6e-4):

    python examples/progressive_darts.py --data-dir /path/to/cifar10-jpg \\
        --channels 36 --num-cells 20 --stages 25:6:7,25:4:4 --warmup-epochs 10

`--smoke` runs two one-epoch stages of a one-cell (a reduction cell), C=4
supernet whose cell has 2 intermediate nodes (the DARTS cell has 4), on 64
digits.
Prints each stage, the pruned op masks and the derived normal and reduction
cells.
"""

import argparse

import keras

import keras_drnas as kd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="an ImageFolder tree (default: the digits)")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--num-cells", type=int, default=5)
    parser.add_argument("--intermediate-nodes", type=int, default=4)
    parser.add_argument("--stages", default="5:4:7,5:2:4", help="epochs:partial_channels:ops_kept,...")
    parser.add_argument("--warmup-epochs", type=int, default=0, help="epochs per stage without architecture steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="two one-epoch stages of a tiny supernet")
    args = parser.parse_args(argv)
    if args.smoke:
        args.channels, args.num_cells, args.intermediate_nodes = 4, 1, 2
        args.stages, args.batch_size = "1:2:7,1:1:4", 32

    keras.utils.set_random_seed(args.seed)
    stages = [kd.callbacks.Stage.parse(text) for text in args.stages.split(",")]
    progressive = kd.callbacks.ProgressiveLearning(stages, arch_warmup_epochs=args.warmup_epochs, seed=args.seed)
    if args.data_dir:
        data = kd.data.image_folder_search_data(args.data_dir, seed=args.seed)
    else:
        data = kd.data.digits_search_data(seed=args.seed)
    if args.smoke:
        data.train, data.validation = data.train.take(64), data.validation.take(64)
    pairs = kd.data.search_pairs(data.train, data.validation, args.batch_size, data.num_classes,
                                 augment=args.data_dir is not None, seed=args.seed)
    supernet = kd.DartsSupernet(channels=args.channels, num_cells=args.num_cells, num_classes=data.num_classes,
                                space=kd.DARTS.with_intermediate_nodes(args.intermediate_nodes),
                                partial_channels=stages[0].partial_channels, seed=args.seed)
    search = kd.SearchModel(supernet)
    search.compile(metrics=["accuracy"])
    print(f"Searching the DARTS space on {data.name} in {len(stages)} stages: "
          + ", then ".join(f"{s.epochs} epochs at K={s.partial_channels} with {s.ops_kept} ops" for s in stages))
    search.fit(pairs, epochs=progressive.total_epochs, verbose=2, callbacks=[progressive])

    print(f"\nAfter the last stage: K={supernet.partial_channels}")
    for cell_type, distribution in supernet.distributions().items():
        kept = [sum(row) for row in distribution.op_mask]
        print(f"  {cell_type} cells keep {min(kept)}-{max(kept)} of {supernet.space.num_ops} ops per edge")
    print(search.genotype())


if __name__ == "__main__":
    main()
