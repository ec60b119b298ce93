
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.derived_model import build_network


@pytest.mark.parametrize("space", ["nas-bench-201", "darts"])
def test_inherit_supernet_weights(space):
    from keras_drnas.derived_model import inherit_supernet_weights

    supernet = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0) if space == "nas-bench-201" else kd.DartsSupernet(channels=4, num_cells=3, seed=0)
    supernet(tf.random.normal((2, 8, 8, 3)))
    genotype = supernet.genotype()
    model = build_network(genotype, channels=4, cells_per_stage=1, num_cells=3, input_shape=(8, 8, 3)).model
    copied, total = inherit_supernet_weights(model, supernet, genotype)
    assert copied > total // 2
    op, src = genotype.normal[0]
    if space == "nas-bench-201":
        target = model.get_layer(f"cell_0_0_edge_1_0_{op}") if op not in ("none", "skip_connect") else None
        source_edge = supernet.cells()[0].edges[0]
    else:
        target = model.get_layer(f"cell_0_node_2_0_{op}")
        source_edge = supernet.cells()[0].edges[supernet.space.edges.index((2, src))]
    if target is not None and target.weights:
        source = [o for o in source_edge.candidate_ops if o.name == op][0]
        np.testing.assert_array_equal(target.weights[0].numpy(), source.weights[0].numpy())
    np.testing.assert_array_equal(model.get_layer("classifier").kernel.numpy(), supernet.classifier.kernel.numpy())
