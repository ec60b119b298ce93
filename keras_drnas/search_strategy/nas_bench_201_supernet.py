"""The NAS-Bench-201 search network: one-input cells in three stages."""

import keras
from keras import layers

from keras_drnas.search_space.ops import batch_norm
from keras_drnas.search_space.nas_bench_201 import NAS_BENCH_201, residual_block, stem
from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.supernet import Supernet, check_image_shape, check_positive, register_supernet


@register_supernet(NAS_BENCH_201.name)
@keras.saving.register_keras_serializable(package="keras_drnas")
class NASBench201Supernet(Supernet):
    """The NAS-Bench-201 search network.

    Stem conv3x3 + BN, then three stages of `cells_per_stage` cells at C, 2C
    and 4C channels joined by stride-2 residual blocks, BN-ReLU, global
    pooling and a dense classifier that returns logits.

    Any space of one-input cells can be searched on this skeleton.

    Args:
        cells_per_stage: the paper's N (5).
        op_mask: edges x ops booleans for a pruned search.
        space: the cells' space (default: NAS-Bench-201 with its five ops).
        **kwargs: `channels` (the paper's C, 16), `num_classes`,
            `partial_channels`, `remat`, `relaxation`, `inference`, `seed`:
            see `Supernet`.

    Example:
    >>> net = NASBench201Supernet(channels=8, cells_per_stage=1, seed=0)
    >>> tuple(net(keras.ops.zeros((2, 16, 16, 3))).shape)
    (2, 10)
    >>> net.genotype().space
    'nas-bench-201'
    """

    arguments = ("cells_per_stage", "op_mask")

    def __init__(self, cells_per_stage=5, op_mask=None, space=NAS_BENCH_201, **kwargs):
        super().__init__(space, **kwargs)
        self.cells_per_stage = int(cells_per_stage)
        check_positive(cells_per_stage=self.cells_per_stage)
        self.normal_distribution = self.make_distribution("normal", op_mask, 0)
        self.stem_layers = [stem(self.channels)]
        self.body = []
        width = self.channels
        for stage in range(3):
            if stage:
                self.body.append(residual_block(width, width * 2, 2, f"reduction_{stage}"))
                width *= 2
            for i in range(self.cells_per_stage):
                self.body.append(
                    DrNASCell(
                        self.space,
                        width,
                        partial_channels=self.partial_channels,
                        op_mask=self.normal_distribution.op_mask,
                        own_concentration=False,
                        remat=self.remat,
                        name=f"cell_{stage}_{i}",
                    )
                )
        self.head = keras.Sequential(
            [batch_norm(True), layers.ReLU(), layers.GlobalAveragePooling2D()], name="lastact"
        )
        self.classifier = layers.Dense(self.num_classes, dtype="float32", name="classifier")

    def distributions(self):
        return {"normal": self.normal_distribution}

    def call(self, inputs, training=None):
        check_image_shape(inputs, 4, f"The {self.space.name} supernet")
        op_weights = self.normal_distribution.op_weights(training=training)
        x = self.stem_layers[0](inputs, training=training)
        for layer in self.body:
            if isinstance(layer, DrNASCell):
                x = layer(x, op_weights=op_weights, training=training)
            else:
                x = layer(x, training=training)
        return self.classifier(self.head(x, training=training))

    def inheritable_layers(self, genotype):
        pairs = [("stem", self.stem_layers[0]), ("lastact_bn", self.head.layers[0]), ("classifier", self.classifier)]
        for layer in self.body:
            if isinstance(layer, DrNASCell):
                pairs += [(f"{layer.name}_{edge.name}_{op.name}", op) for edge in layer.edges for op in edge.candidate_ops]
            else:
                pairs.append((layer.name, layer))
        return pairs

    def get_config(self):
        config = super().get_config()
        config.update(cells_per_stage=self.cells_per_stage, op_mask=self.normal_distribution.op_mask)
        return config
