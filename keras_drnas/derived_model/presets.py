"""The cells DrNAS published, ready to build and retrain.

`build_network(DRNAS_CIFAR10, channels=36, num_cells=20)` is the paper's
CIFAR-10 network (4.1 M parameters); `build_network(DRNAS_IMAGENET,
channels=48, num_cells=14, num_classes=1000, input_shape=(224, 224, 3),
stem="imagenet")` its ImageNet network (5.7 M).
"""

from keras_drnas.search_space.genotype import Genotype

# The cells DrNAS published (paper, Figures 2 and 3): (op, input node) for
# nodes 2..5, two per node, output the concat of nodes 2..5.
DRNAS_CIFAR10 = Genotype(
    "darts",
    normal=[("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2),
            ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2), ("dil_conv_5x5", 3)],
    reduce=[("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 1),
            ("sep_conv_5x5", 1), ("dil_conv_5x5", 3), ("skip_connect", 4), ("sep_conv_5x5", 1)],
)
DRNAS_IMAGENET = Genotype(
    "darts",
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0), ("dil_conv_3x3", 3), ("skip_connect", 0), ("sep_conv_3x3", 1)],
    reduce=[("max_pool_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2),
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1)],
)
