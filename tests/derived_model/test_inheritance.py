
import numpy as np
import pytest
import tensorflow as tf

import keras_drnas as kd
from keras_drnas.derived_model import build_network

# Ops whose derived layer holds weights the supernet op also has (convolution kernels, batch-norm statistics).
WEIGHTED_OPS = {"nor_conv_1x1", "nor_conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"}


def _chosen_ops(supernet, genotype):
    """(derived layer name, supernet op, op name) for the chosen op of every edge of every cell."""
    chosen = []
    for cell in supernet.cells():
        if isinstance(supernet, kd.NASBench201Supernet):
            for edge in cell.edges:
                node, src = (int(part) for part in edge.name.split("_")[1:])
                ops = [op for op, s in genotype.normal[node * (node - 1) // 2:][:node] if s == src]
                assert len(ops) == 1, (edge.name, genotype.normal)
                source = [o for o in edge.candidate_ops if o.name == ops[0]]
                chosen.append((f"{cell.name}_{edge.name}_{ops[0]}", source[0] if source else None, ops[0]))
        else:
            for k, (op, src) in enumerate(genotype.reduce if cell.reduction else genotype.normal):
                node = 2 + k // 2
                edge = cell.edges[cell.space.edges.index((node, src))]
                source = [o for o in edge.candidate_ops if o.name == op]
                chosen.append((f"{cell.name}_node_{node}_{k % 2}_{op}", source[0] if source else None, op))
    return chosen


@pytest.mark.parametrize("space", ["nas-bench-201", "darts"])
def test_inherit_supernet_weights(space):
    from keras_drnas.derived_model import inherit_supernet_weights

    supernet = kd.NASBench201Supernet(channels=4, cells_per_stage=1, seed=0) if space == "nas-bench-201" else kd.DartsSupernet(channels=4, num_cells=3, seed=0)
    supernet(tf.random.normal((2, 8, 8, 3)))
    genotype = supernet.genotype()
    model = build_network(genotype, channels=4, cells_per_stage=1, num_cells=3, input_shape=(8, 8, 3)).model
    copied, total = inherit_supernet_weights(model, supernet, genotype)
    assert copied > total // 2
    # Every chosen op with weights has all of its supernet weights, in order, in the derived layer of
    # the same name (the derived batch norms' scale/offset have no supernet counterpart).
    names = {layer.name for layer in model.layers}
    chosen = _chosen_ops(supernet, genotype)
    expected = [name for name, _, op in chosen if op in WEIGHTED_OPS]
    assert len(expected) >= 3, genotype  # the test is about something
    compared = []
    for name, source, op in chosen:
        if op not in WEIGHTED_OPS:
            continue
        assert name in names and source is not None, name
        target = model.get_layer(name)
        assert source.weights and target.weights, name
        pool = {}
        for weight in target.weights:
            pool.setdefault(weight.name, []).append(weight)
        for weight in source.weights:
            assert pool.get(weight.name), f"{name}: no {weight.name} left to inherit {weight.path}"
            np.testing.assert_array_equal(pool[weight.name].pop(0).numpy(), weight.numpy(), err_msg=f"{name}: {weight.path}")
        assert any(np.abs(w.numpy()).max() > 0 for w in source.weights if "kernel" in w.name), name
        compared.append(name)
    assert compared == expected
    np.testing.assert_array_equal(model.get_layer("classifier").kernel.numpy(), supernet.classifier.kernel.numpy())
