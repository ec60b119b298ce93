"""The MobileNet search network: a chain of mixed inverted-residual blocks."""

import keras
from keras import layers

from keras_drnas.search_space.mobilenet import MOBILENET, block_op, head, inverted_residual, is_large_input, stem
from keras_drnas.search_strategy.cell import add_n
from keras_drnas.search_strategy.distribution import validate_mask
from keras_drnas.search_strategy.mixed_op import weighted_op
from keras_drnas.search_strategy.supernet import Supernet, check_image_shape, register_supernet
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError


@keras.saving.register_keras_serializable(package="keras_drnas")
class MixedBlock(keras.layers.Layer):
    """One searchable block: the op weights' sum of its unmasked choices,
    each a whole block from `in_channels` to `channels` at `stride`."""

    def __init__(self, op_names, in_channels, channels, stride, op_mask, **kwargs):
        super().__init__(**kwargs)
        self.op_names = list(op_names)
        self.in_channels, self.channels, self.stride = int(in_channels), int(channels), int(stride)
        self.op_mask = [bool(m) for m in op_mask]
        self.candidate_ops, self.columns = [], []
        for column, (op, on) in enumerate(zip(self.op_names, self.op_mask)):
            if on:
                self.candidate_ops.append(block_op(op, self.in_channels, self.channels, self.stride,
                                                   name=f"{self.name}_{op}"))
                self.columns.append(column)

    def build(self, input_shape):
        for op in self.candidate_ops:
            op.build(input_shape)
        self.built = True

    def call(self, inputs, op_weights, training=None):
        return add_n([weighted_op(op, inputs, op_weights[column], training)
                      for op, column in zip(self.candidate_ops, self.columns)])

    def set_op_mask(self, op_mask):
        """Prunes: drops the layers of newly masked choices (never revives one)."""
        op_mask = [bool(m) for m in op_mask]
        if any(new and not old for old, new in zip(self.op_mask, op_mask)):
            raise InputError(f"{self.name}: cannot unmask choices that were pruned.")
        with keras_compat.unlocked_state(self):
            for position in reversed(range(len(self.columns))):
                if not op_mask[self.columns[position]]:
                    del self.candidate_ops[position]
                    del self.columns[position]
        self.op_mask = op_mask

    def get_config(self):
        config = super().get_config()
        config.update(op_names=self.op_names, in_channels=self.in_channels, channels=self.channels,
                      stride=self.stride, op_mask=self.op_mask)
        return config


@register_supernet(MOBILENET.name)
@keras.saving.register_keras_serializable(package="keras_drnas")
class MobileNetSupernet(Supernet):
    """The MobileNet search network (see `keras_drnas.search_space.mobilenet`).

    Stem, a fixed first block, one `MixedBlock` per searchable block of the
    space's stages, the 1x1 head, global pooling and a dense classifier that
    returns logits. One Dirichlet per block; every block's choices are whole
    inverted residuals, so `partial_channels` stays 1. The blocks are created
    when the input size is known: from 128 pixels up with the ImageNet
    backbone's strides.

    Args:
        op_mask: blocks x ops booleans for a pruned search (the space's own
            mask, no skip where a block changes the shape, always applies).
        space: a mobilenet space (default: MobileNetV2's stages, seven choices).
        **kwargs: `channels` (the first block's width, 16), `num_classes`,
            `relaxation`, `inference`, `seed`: see `Supernet`.

    Example:
    >>> space = MOBILENET.with_stages(((16, 1, 1), (24, 2, 2)))
    >>> net = MobileNetSupernet(space=space, channels=8, seed=0)
    >>> tuple(net(keras.ops.zeros((2, 16, 16, 3))).shape)
    (2, 10)
    """

    arguments = ("op_mask",)

    def __init__(self, op_mask=None, space=MOBILENET, **kwargs):
        super().__init__(space, **kwargs)
        if self.partial_channels != 1 or self.remat:
            raise InputError(
                "The mobilenet supernet mixes whole blocks: partial_channels must be 1 and remat False, got "
                f"partial_channels={self.partial_channels}, remat={self.remat}."
            )
        own = self.space.op_mask()
        user = own if op_mask is None else validate_mask(op_mask, self.space.num_edges, self.space.num_ops)
        mask = [[a and b for a, b in zip(row, user_row)] for row, user_row in zip(own, user)]
        self.normal_distribution = self.make_distribution("normal", mask, 0)
        self.blocks = []

    def build(self, input_shape):
        large = is_large_input(input_shape[1])
        self.stem_layers = [stem(self.channels, 2 if large else 1),
                            inverted_residual(self.channels, self.channels, 3, 1, 1, name="block_first")]
        mask = self.normal_distribution.op_mask
        self.blocks = [MixedBlock(self.space.op_names, width, out, stride, mask[b], name=f"block_{b}")
                       for b, (width, out, stride) in enumerate(self.space.blocks(self.channels, large))]
        self.head_layers = [head(self.space.head_width(self.channels)), layers.GlobalAveragePooling2D()]
        self.classifier = layers.Dense(self.num_classes, dtype="float32", name="classifier")
        super().build(input_shape)

    def distributions(self):
        return {"normal": self.normal_distribution}

    def call(self, inputs, training=None):
        large = is_large_input(inputs.shape[1])
        check_image_shape(inputs, 32 if large else 4, f"The {self.space.name} supernet")
        op_weights = self.normal_distribution.op_weights(training=training)
        x = inputs
        for layer in self.stem_layers:
            x = layer(x, training=training)
        for b, block in enumerate(self.blocks):
            x = block(x, op_weights[b], training=training)
        for layer in self.head_layers:
            x = layer(x, training=training)
        return self.classifier(x)

    def prune(self, ops_kept):
        mask = self.normal_distribution.prune(ops_kept)
        for block, row in zip(self.blocks, mask):
            block.set_op_mask(row)

    def widen(self, partial_channels, seed=None):
        if partial_channels != 1:
            raise InputError("The mobilenet supernet mixes whole blocks; its stages keep partial_channels at 1.")
        return []

    def inheritable_layers(self, genotype):
        pairs = [("stem", self.stem_layers[0]), ("block_first", self.stem_layers[1]), ("head", self.head_layers[0]),
                 ("classifier", self.classifier)]
        for b, block in enumerate(self.blocks):
            pairs += [(f"block_{b}_{block.op_names[column]}", op) for op, column in zip(block.candidate_ops,
                                                                                          block.columns)]
        return pairs

    def get_config(self):
        config = super().get_config()
        config.update(op_mask=self.normal_distribution.op_mask)
        return config
