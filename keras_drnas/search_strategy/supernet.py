"""What every supernet offers: its distributions, genotype, pruning, widening.

A supernet holds one `ArchitectureDistribution` per cell type; each forward
pass draws one sample per type and hands it to every cell of that type, as
the reference code does.
"""

import keras
import numpy as np

from keras_drnas.search_space.derivation import derive_genotype
from keras_drnas.search_space.space import get_space, space_names
from keras_drnas.search_strategy.cell import DrNASCell
from keras_drnas.search_strategy.distribution import owned_distribution
from keras_drnas.utils import keras_compat
from keras_drnas.utils.errors import InputError


_SUPERNETS = {}  # space name -> Supernet subclass


def register_supernet(space_name):
    """Class decorator: the supernet `build_supernet` makes for the search
    space named `space_name` (one supernet class may serve several spaces)."""
    def register(cls):
        _SUPERNETS[get_space(space_name).name] = cls
        return cls
    return register


def build_supernet(space, **kwargs):
    """The supernet of `space` (a name, config or `SearchSpace`).

    Keyword arguments are the supernet's (see `Supernet` and the space's
    supernet class); those only another registered space's supernet takes
    (e.g. `cells_per_stage` for a DARTS search) are ignored, so one set of
    settings serves every space.

    Example:
    >>> net = build_supernet("nb201", channels=8, cells_per_stage=1, num_cells=3, seed=0)
    >>> type(net).__name__
    'NASBench201Supernet'
    """
    space = get_space(space)
    if space.name not in _SUPERNETS:
        raise InputError(
            f"No supernet is registered for the {space.name} space; decorate one with "
            f"@register_supernet({space.name!r})."
        )
    cls = _SUPERNETS[space.name]
    known = {name for other in _SUPERNETS.values() for name in other.arguments} | set(Supernet.arguments)
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InputError(f"build_supernet got unknown arguments {unknown}; it takes {', '.join(sorted(known))}.")
    taken = set(cls.arguments) | set(Supernet.arguments)
    return cls(space=space, **{k: v for k, v in kwargs.items() if k in taken})


def supernet_spaces():
    """Names of the spaces `build_supernet` can search."""
    return [name for name in space_names() if name in _SUPERNETS]


def check_image_shape(inputs, downsampling, model_name):
    """Clear errors for inputs a supernet cannot take."""
    shape = inputs.shape
    if len(shape) != 4:
        raise InputError(
            f"{model_name} takes images of shape (batch, height, width, channels), "
            f"got a tensor of shape {tuple(shape)}."
        )
    for size in shape[1:3]:
        if size is not None and (size < 2 * downsampling or size % downsampling):
            raise InputError(
                f"{model_name} halves the resolution {int(np.log2(downsampling))} "
                f"times, so height and width must be multiples of {downsampling}, at least {2 * downsampling} "
                f"(its last cells would see one pixel otherwise); got {shape[1]}x{shape[2]}. Resize or pad the images."
            )


def check_positive(**sizes):
    """Clear errors for sizes that must be at least 1 (channels, cells, classes)."""
    for name, value in sizes.items():
        if value < 1:
            raise InputError(f"{name} must be at least 1, got {name}={value}.")


def check_input_shape(image_shape, model_input_shape, what="the model"):
    """Image size and channels must match what the model was built for."""
    expected = tuple(model_input_shape[-3:])
    for got, want, axis in zip(image_shape, expected, ("height", "width", "channels")):
        if want is not None and got is not None and got != want:
            raise InputError(
                f"Images are {tuple(image_shape)} but {what} expects {expected}: the "
                f"{axis} differs. Resize the images or rebuild the model for this input."
            )


class Supernet(keras.Model):
    """Common API of the supernets: distributions, genotype, pruning, and
    the arguments every supernet takes.

    Subclasses create their distributions with `make_distribution` in
    `__init__`, after calling this one, and list their own keyword
    arguments in `arguments`.

    Args:
        space: the `SearchSpace` (or its name or config), with the ops to
            search (`SearchSpace.with_ops`).
        channels: C, the width of the first cells (16).
        num_classes: classifier outputs (10).
        partial_channels: the paper's K: every edge mixes its ops on C/K of
            the channels (1); every cell width must be divisible by it.
        remat: recompute each cell's activations in the backward pass
            (see `DrNASCell`): less memory, one more forward pass per step.
        relaxation: `"dirichlet"` or `"softmax"`, see `ArchitectureDistribution`.
        inference: `"mean"` or `"sample"`, see `ArchitectureDistribution`.
        seed: the samplers' seed, see `ArchitectureDistribution`.
    """

    arguments = ("channels", "num_classes", "partial_channels", "remat", "relaxation", "inference", "seed")

    def __init__(self, space, channels=16, num_classes=10, partial_channels=1, remat=False, relaxation="dirichlet",
                 inference="mean", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.space = get_space(space)
        self.channels = int(channels)
        self.num_classes = int(num_classes)
        self.partial_channels = int(partial_channels)
        check_positive(channels=self.channels, num_classes=self.num_classes)
        self.remat = bool(remat)
        self.relaxation = relaxation
        self.inference = inference
        self.seed = seed

    def get_config(self):
        config = super().get_config()
        config.update(
            space=self.space.config(),
            channels=self.channels,
            num_classes=self.num_classes,
            partial_channels=self.partial_channels,
            remat=self.remat,
            relaxation=self.relaxation,
            inference=self.inference,
            seed=self.seed,
        )
        return config

    def build(self, input_shape):
        # Tracing `call` symbolically creates every sub-layer's variables.
        self.compute_output_spec(keras.KerasTensor(tuple(input_shape)))
        self.built = True

    def distributions(self):
        """{cell type: ArchitectureDistribution}."""
        raise NotImplementedError

    def cells(self):
        """Every `DrNASCell` of the network, in order."""
        return [layer for layer in keras_compat.flatten_layers(self, include_self=False)
                if isinstance(layer, DrNASCell)]

    def expected_op_weights(self):
        """{cell type: edges x ops NumPy array of Dirichlet means}."""
        return {k: keras.ops.convert_to_numpy(d.expected_weights()) for k, d in self.distributions().items()}

    def concentrations(self):
        """{cell type: edges x ops NumPy array of concentrations (beta)}."""
        return {k: keras.ops.convert_to_numpy(d.concentration()) for k, d in self.distributions().items()}

    def genotype(self):
        """The architecture of largest Dirichlet mean (see `derive_genotype`)."""
        return derive_genotype(self.space, self.expected_op_weights())

    def prune(self, ops_kept):
        """Keeps the `ops_kept` ops of largest concentration per edge in every cell type."""
        for cell_type, distribution in self.distributions().items():
            mask = distribution.prune(ops_kept)
            for cell in self.cells():
                if self.cell_type(cell) == cell_type:
                    cell.set_op_mask(mask)

    def widen(self, partial_channels, seed=None):
        """Sets `partial_channels` for every cell and widens their ops
        (progressive learning, Net2Net). Returns the (old variable, new
        variable, index) triples."""
        rng = np.random.default_rng(seed)
        pairs = []
        for cell in self.cells():
            pairs += cell.widen(partial_channels, rng)
        self.partial_channels = int(partial_channels)
        return pairs

    def inheritable_layers(self, genotype):
        """(layer name in the space's evaluation network of `genotype`,
        supernet layer computing the same thing) pairs, for
        `inherit_supernet_weights`."""
        raise NotImplementedError(f"{type(self).__name__} names no layers for a derived network to inherit.")

    @staticmethod
    def cell_type(cell):
        """`"reduce"` or `"normal"`, the key of the cell's distribution."""
        return "reduce" if cell.reduction else "normal"

    def make_distribution(self, cell_type, op_mask, seed_offset):
        distribution = owned_distribution(
            self, self.space.num_edges, self.space.num_ops, op_mask, f"{cell_type}_distribution", seed_offset
        )
        distribution.build()
        return distribution
