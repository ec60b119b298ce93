"""The DARTS-space search network (normal and reduction cells)."""

import keras
from keras import layers

from keras_drnas.search_space.darts import DARTS, check_stem, reduction_cells, stem_downsampling, stems
from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.supernet import Supernet, check_image_shape, check_positive, register_supernet


@register_supernet(DARTS.name)
@keras.saving.register_keras_serializable(package="keras_drnas")
class DartsSupernet(Supernet):
    """The DARTS-space search network (normal and reduction cells).

    Args:
        num_cells: total cells (proxy 8; CIFAR direct search 20).
        stem: `"cifar"` (one conv, `stem_multiplier` x C channels) or
            `"imagenet"` (three stride-2 convs, inputs a multiple of 32).
        stem_multiplier: width of the CIFAR stem in units of C.
        op_mask: `{"normal": mask, "reduce": mask}` for a pruned search.
        space: the cells' space (default: DARTS with the reference code's
            seven ops and four intermediate nodes, its `steps`).
        **kwargs: `channels` (C of the first cells: proxy 16, direct search
            36 / 48), `num_classes`, `partial_channels`, `remat`,
            `relaxation`, `inference`, `seed`: see `Supernet`.

    Example:
    >>> net = DartsSupernet(channels=8, num_cells=3, seed=0)
    >>> tuple(net(keras.ops.zeros((2, 16, 16, 3))).shape)
    (2, 10)
    """

    arguments = ("num_cells", "stem", "stem_multiplier", "op_mask")

    def __init__(self, num_cells=8, stem="cifar", stem_multiplier=3, op_mask=None, space=DARTS, **kwargs):
        super().__init__(space, **kwargs)
        self.num_cells = int(num_cells)
        check_positive(num_cells=self.num_cells)
        self.stem = check_stem(stem)
        self.stem_multiplier = int(stem_multiplier)
        op_mask = op_mask or {}
        self.normal_distribution = self.make_distribution("normal", op_mask.get("normal"), 0)
        self.reduce_distribution = self.make_distribution("reduce", op_mask.get("reduce"), 1)
        self.stem_layers = stems(stem, self.channels, self.stem_multiplier)
        reductions = reduction_cells(self.num_cells)
        width = self.channels
        reduction_prev = stem == "imagenet"
        self.cell_layers = []
        for i in range(self.num_cells):
            reduction = i in reductions
            if reduction:
                width *= 2
            distribution = self.reduce_distribution if reduction else self.normal_distribution
            self.cell_layers.append(
                DrNASCell(
                    self.space,
                    width,
                    reduction=reduction,
                    reduction_prev=reduction_prev,
                    partial_channels=self.partial_channels,
                    op_mask=distribution.op_mask,
                    own_concentration=False,
                    remat=self.remat,
                    name=f"cell_{i}",
                )
            )
            reduction_prev = reduction
        self.head = layers.GlobalAveragePooling2D(name="global_pooling")
        self.classifier = layers.Dense(self.num_classes, dtype="float32", name="classifier")

    @property
    def downsampling(self):
        """The factor by which the network shrinks its input."""
        return 2 ** (len(reduction_cells(self.num_cells)) + stem_downsampling(self.stem))

    def distributions(self):
        return {"normal": self.normal_distribution, "reduce": self.reduce_distribution}

    def call(self, inputs, training=None):
        check_image_shape(inputs, self.downsampling, f"The {self.space.name} supernet")
        weights = {k: d.op_weights(training=training) for k, d in self.distributions().items()}
        s0 = self.stem_layers[0](inputs, training=training)
        s1 = self.stem_layers[1](s0, training=training) if len(self.stem_layers) > 1 else s0
        for cell in self.cell_layers:
            out = cell([s0, s1], op_weights=weights[self.cell_type(cell)], training=training)
            s0, s1 = s1, out
        return self.classifier(self.head(s1))

    def inheritable_layers(self, genotype):
        pairs = [(stem.name, stem) for stem in self.stem_layers] + [("classifier", self.classifier)]
        for cell in self.cell_layers:
            pairs += [(f"{cell.name}_{p.name}", p) for p in cell.preprocess]
            kept = self.space.kept_edges(genotype.reduce if cell.reduction else genotype.normal)
            for k, (row, node, _, op_name) in enumerate(kept):
                pairs += [(f"{cell.name}_node_{node}_{k % 2}_{op_name}", op)
                          for op in cell.edges[row].candidate_ops if op.name == op_name]
        return pairs

    def get_config(self):
        config = super().get_config()
        config.update(
            num_cells=self.num_cells,
            stem=self.stem,
            stem_multiplier=self.stem_multiplier,
            op_mask={k: d.op_mask for k, d in self.distributions().items()},
        )
        return config
