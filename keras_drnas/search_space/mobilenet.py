"""A MobileNetV2-like space for phones (Sandler et al., 2018): a chain of
inverted-residual blocks whose kernel size and expansion are searched per
block, as in ProxylessNAS (Cai et al., 2019) and FBNet (Wu et al., 2019).

The network is a stem (3x3 conv), a fixed first block (expansion 1, 16
channels), stages of searchable blocks, a 1x1 conv to 1280 channels, global
pooling and a dense classifier. Each searchable block is one edge of the
architecture matrix (block b reads block b - 1) and chooses among
inverted residuals of kernel 3, 5 or 7 and expansion 3 or 6, and `skip_connect`
(the block is left out) where its input and output shapes agree: not in a
stage's first block, which changes the width and may halve the resolution.

Every block of the derived network is built from Keras' built-in layers
(`Conv2D`, `DepthwiseConv2D`, `BatchNormalization`, `ReLU(6)`, `Add`), so it
saves as `.keras` without custom objects and converts to TFLite float32 and
int8 with built-in ops.
"""

import re

import keras
from keras import layers

from keras_drnas.search_space.derived_network import DerivedNetwork, check_genotype, network_inputs
from keras_drnas.search_space.ops import CONV_INIT, batch_norm, conv
from keras_drnas.search_space.space import GenotypeError, SearchSpace, get_space, register_space
from keras_drnas.utils.errors import InputError

SKIP = "skip_connect"
_BLOCK = re.compile(r"mb_k([357])_e([36])")
BLOCK_OPS = tuple(f"mb_k{k}_e{e}" for k in (3, 5, 7) for e in (3, 6))
# MobileNetV2's stages after its first block: (output width, searchable blocks, stride). The strides
# are those of 32x32 inputs; from 128 pixels up the stem and the first stage stride 2 as well
# (MobileNetV2's ImageNet backbone), so both end at 1/8 and 1/32 of the input: 4x4 and 7x7.
STAGES = ((24, 2, 1), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1))
FIRST_WIDTH, HEAD_WIDTH = 16, 1280
LARGE_INPUT = 128


def is_large_input(size):
    """Whether images of this height use the ImageNet backbone's strides."""
    return size is not None and size >= LARGE_INPUT


def scaled_width(width, channels):
    """A stage width for a network whose first block has `channels`
    channels (16 in MobileNetV2): scaled, rounded to a multiple of 4."""
    return max(4, int(round(width * channels / FIRST_WIDTH / 4)) * 4)


def _check_stages(stages):
    try:
        checked = tuple((int(w), int(n), int(s)) for w, n, s in stages)
        ok = checked == tuple(tuple(stage) for stage in stages)  # no 2.5 blocks
    except (TypeError, ValueError):
        checked, ok = (), False
    if not (ok and checked and all(w >= 1 and n >= 1 and s in (1, 2) for w, n, s in checked)):
        raise InputError(
            f"stages must be (width, blocks, stride) triples with width and blocks >= 1 and stride 1 or 2, "
            f"got {str(stages)[:80]}."
        )
    return checked


@register_space
class MobileNetSpace(SearchSpace):
    """Inverted-residual blocks in a MobileNetV2 chain (see the module).

    Args:
        op_names: the candidate choices of every block, from `mb_k{3,5,7}_e{3,6}`
            and `skip_connect` (default: all seven).
        stages: `(width, blocks, stride)` per stage, widths at `channels=16`
            and strides at 32x32 inputs (default: MobileNetV2's, 16 blocks).

    Example:
    >>> space = get_space("mobilenet").with_stages(((16, 1, 1), (24, 2, 2)))
    >>> space.num_edges, space.skip_allowed()
    (3, [False, False, True])
    """

    name = "mobilenet"
    display_name = "MobileNet"
    aliases = ("mobilenetv2", "mobile")
    default_op_names = BLOCK_OPS + (SKIP,)
    configurable_nodes = False  # its blocks come from its stages (with_stages)
    default_intermediate_nodes = sum(blocks for _, blocks, _ in STAGES)
    # No reference code searches this space with DrNAS: the NAS-Bench-201 reference's rates, and
    # progressive stages that only prune (a block mixes whole inputs, so no partial channels).
    search_learning_rates = {"learning_rate": 0.025, "min_learning_rate": 1e-3, "arch_learning_rate": 3e-4}
    progressive_stages = ((25, 1, 7), (25, 1, 3))
    network_arguments = ("channels", "num_classes", "input_shape", "stages", "mean", "std")

    def __init__(self, op_names=None, intermediate_nodes=None, stages=STAGES):
        self.stages = _check_stages(stages)
        nodes = sum(blocks for _, blocks, _ in self.stages)
        if intermediate_nodes is not None and intermediate_nodes != nodes:
            raise InputError(
                f"The mobilenet space's blocks come from its stages ({nodes}); got intermediate_nodes="
                f"{intermediate_nodes}. Use with_stages to change them."
            )
        self.default_intermediate_nodes = nodes
        super().__init__(op_names, nodes)
        if not any(op != SKIP for op in self.op_names):
            raise InputError(f"The mobilenet space needs at least one block op besides {SKIP}, got {self.op_names}.")

    def check_op_name(self, name):
        if name not in self.default_op_names:
            raise InputError(f"Unknown mobilenet op {name!r}. Known: {', '.join(self.default_op_names)}.")
        return name

    @property
    def edges(self):
        """A chain: block b (node b + 1) reads node b."""
        return tuple((node + 1, node) for node in range(self.intermediate_nodes))

    def blocks(self, channels=FIRST_WIDTH, large_input=False):
        """`(input width, output width, stride)` of every searchable block."""
        result, width = [], channels
        for stage, (out, count, stride) in enumerate(self.stages):
            out = scaled_width(out, channels)
            if stage == 0 and large_input:
                stride = 2
            for b in range(count):
                result.append((width, out, stride if b == 0 else 1))
                width = out
        return result

    def skip_allowed(self):
        """Per block: whether `skip_connect` keeps its shape (same width and
        resolution), at any `channels`."""
        return [b > 0 for _, count, _ in self.stages for b in range(count)]

    def op_mask(self):
        """Blocks x ops: False where an op cannot run (a skip that would change the shape)."""
        allowed = self.skip_allowed()
        return [[op != SKIP or allowed[b] for op in self.op_names] for b in range(self.num_edges)]

    def with_ops(self, op_names):
        return self if tuple(op_names) == self.op_names else type(self)(op_names, stages=self.stages)

    def with_stages(self, stages):
        """The same choices over another backbone (see `stages`)."""
        return type(self)(self.op_names, stages=stages)

    def with_intermediate_nodes(self, intermediate_nodes):
        return type(self)(self.op_names, intermediate_nodes, self.stages)

    def config(self):
        return {**super().config(), "stages": [list(stage) for stage in self.stages]}

    @classmethod
    def from_config(cls, config):
        return cls(config.get("op_names"), stages=config.get("stages", STAGES))

    def __hash__(self):
        return hash((self.name, self.op_names, self.stages))

    def __repr__(self):
        return f"MobileNetSpace(op_names={self.op_names}, stages={self.stages})"

    # Derivation: every block keeps its strongest op (the default); a masked skip weighs 0.

    def random_cell(self, rng):
        return [(str(rng.choice([op for op, ok in zip(self.op_names, row) if ok])), b)
                for b, row in enumerate(self.op_mask())]

    def check_cell(self, pairs, cell_type):
        if not pairs:
            raise GenotypeError("A mobilenet genotype lists one (op, input) pair per block; got none.")
        for block, (op, src) in enumerate(pairs):
            self.check_genotype_op(op, cell_type)
            if src != block:
                raise GenotypeError(f"Block {block} of a mobilenet chain reads node {block}, got node {src}.")
        return len(pairs)

    def to_string(self, genotype):
        return " ".join(op for op, _ in genotype.normal)

    def parse(self, text):
        ops = str(text).split()
        if not ops or any(op.count("~") for op in ops):
            raise GenotypeError(f"A mobilenet genotype string lists one op per block, got {str(text)[:80]!r}.")
        return {"normal": [(op, block) for block, op in enumerate(ops)]}

    def describe(self, genotype):
        return "\n".join([f"{self.display_name} blocks:"]
                         + [f"  block {b}: {op}" for b, (op, _) in enumerate(genotype.normal)]
                         + [self.to_string(genotype)])

    # Networks --------------------------------------------------------------

    def check_blocks(self, genotype):
        """Raises unless the genotype has one op per block of this backbone and
        no skip where a block changes the shape."""
        if len(genotype.normal) != self.num_edges:
            raise GenotypeError(
                f"The genotype lists {len(genotype.normal)} blocks but this mobilenet backbone has "
                f"{self.num_edges}; pass the stages it was searched with (build_network(..., stages=...))."
            )
        for block, ((op, _), allowed) in enumerate(zip(genotype.normal, self.skip_allowed())):
            if op == SKIP and not allowed:
                raise GenotypeError(
                    f"Block {block} starts a stage (it changes the width or resolution), so it cannot be {SKIP}."
                )

    def build_network(self, genotype, channels=FIRST_WIDTH, num_classes=10, input_shape=(32, 32, 3), stages=None,
                      mean=None, std=None):
        """The MobileNet network of a genotype, built-in layers only.

        Args:
            genotype: a mobilenet `Genotype` with one op per block of this space.
            channels: the first block's width (16, MobileNetV2's); stage widths scale with it.
            num_classes: the classifier's outputs.
            input_shape: the images' (height, width, channels); from 128 pixels
                up the ImageNet backbone's strides are used.
            stages: the backbone searched, if not this space's (a genotype names
                its space but not its stages).
            mean: per-channel input mean, normalized inside the model (None: no normalization).
            std: per-channel input standard deviation, with `mean`.

        Example:
        >>> from keras_drnas.search_space import Genotype
        >>> space = get_space("mobilenet").with_stages(((16, 2, 2),))
        >>> genotype = Genotype(space, [("mb_k3_e3", 0), ("skip_connect", 1)])
        >>> space.build_network(genotype, channels=8, input_shape=(16, 16, 3)).model.output_shape
        (None, 10)
        """
        if stages is not None and _check_stages(stages) != self.stages:
            return self.with_stages(stages).build_network(genotype, channels, num_classes, input_shape, None, mean, std)
        check_genotype(genotype, self)
        self.check_blocks(genotype)
        inputs, x = network_inputs(input_shape, mean, std)
        large = is_large_input(input_shape[0])
        x = stem(channels, 2 if large else 1)(x)
        x = inverted_residual(channels, channels, 3, 1, 1, name="block_first")(x)
        for block, ((op, _), (width, out, stride)) in enumerate(zip(genotype.normal, self.blocks(channels, large))):
            if op != SKIP:
                x = block_op(op, width, out, stride, name=f"block_{block}_{op}")(x)
        x = head(self.head_width(channels))(x)
        outputs = layers.Dense(num_classes, name="classifier")(layers.GlobalAveragePooling2D(name="pooling")(x))
        model = keras.Model(inputs, outputs, name="mobilenet_network")
        return DerivedNetwork(model, model, [])

    @staticmethod
    def head_width(channels):
        return scaled_width(HEAD_WIDTH, channels)


def stem(channels, stride, name="stem"):
    """3x3 conv, batch norm, ReLU6."""
    return keras.Sequential([
        conv(channels, 3, stride),
        batch_norm(True), layers.ReLU(6.0)], name=name)


def head(channels, name="head"):
    """1x1 conv to the feature width, batch norm, ReLU6."""
    return keras.Sequential([
        conv(channels, 1), batch_norm(True), layers.ReLU(6.0)],
        name=name)


def inverted_residual(in_channels, channels, kernel_size, expansion, stride, name):
    """MobileNetV2's block: 1x1 expansion (unless `expansion` is 1), a
    depthwise conv at `stride`, a linear 1x1 projection, each with batch
    norm; the input is added when the shape is kept."""
    inputs = keras.Input((None, None, in_channels))
    x = inputs
    if expansion != 1:
        x = conv(in_channels * expansion, 1)(x)
        x = layers.ReLU(6.0)(batch_norm(True)(x))
    x = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same", use_bias=False,
                               depthwise_initializer=CONV_INIT)(x)
    x = layers.ReLU(6.0)(batch_norm(True)(x))
    x = batch_norm(True)(conv(channels, 1)(x))
    if stride == 1 and in_channels == channels:
        x = layers.Add()([inputs, x])
    return keras.Model(inputs, x, name=name)


def block_op(op, in_channels, channels, stride, name=None):
    """The layer of one choice of a block (`mb_k*_e*` or `skip_connect`)."""
    if op == SKIP:
        if stride != 1 or in_channels != channels:
            raise InputError(f"{SKIP} keeps the shape; this block has stride {stride}, {in_channels}->{channels} channels.")
        return keras.Sequential([layers.Identity()], name=name or op)
    match = _BLOCK.fullmatch(op)
    if not match:
        raise InputError(f"Unknown mobilenet op {op!r}. Known: {', '.join(MobileNetSpace.default_op_names)}.")
    return inverted_residual(in_channels, channels, int(match[1]), int(match[2]), stride, name or op)


MOBILENET = get_space(MobileNetSpace.name)
