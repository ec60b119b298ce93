"""Initializing a derived network from the searched supernet's weights."""

from keras_drnas.search_strategy.nas_bench_201_supernet import NASBench201Supernet


def _copy_matching(source, target):
    """Copies weights of equal name and shape, in order; returns the count.

    Search batch norms have no scale/offset (only statistics), so those of
    the derived network keep their initial values.
    """
    pool = {}
    for weight in source.weights:
        pool.setdefault(weight.name, []).append(weight)
    copied = 0
    for weight in target.weights:
        candidates = pool.get(weight.name, [])
        if candidates and tuple(candidates[0].shape) == tuple(weight.shape):
            weight.assign(candidates.pop(0))
            copied += 1
    return copied


def _supernet_pairs(model, supernet, genotype):
    """(derived layer, supernet layer) pairs that compute the same thing."""
    if isinstance(supernet, NASBench201Supernet):
        pairs = [("stem", supernet.stem_layers[0]), ("lastact_bn", supernet.head.layers[0]),
                 ("classifier", supernet.classifier)]
        for layer in supernet.body:
            if layer.name.startswith("reduction_"):
                pairs.append((layer.name, layer))
            else:
                for edge in layer.edges:
                    for op in edge.candidate_ops:
                        pairs.append((f"{layer.name}_{edge.name}_{op.name}", op))
        return pairs
    pairs = [(stem.name, stem) for stem in supernet.stem_layers] + [("classifier", supernet.classifier)]
    for cell in supernet.cell_layers:
        pairs += [(f"{cell.name}_{p.name}", p) for p in cell.preprocess]
        cell_pairs = genotype.reduce if cell.reduction else genotype.normal
        for k, (op_name, src) in enumerate(cell_pairs):
            node = 2 + k // 2
            edge = cell.edges[cell.space.edges.index((node, src))]
            for op in edge.candidate_ops:
                if op.name == op_name:
                    pairs.append((f"{cell.name}_node_{node}_{k % 2}_{op_name}", op))
    return pairs


def inherit_supernet_weights(model, supernet, genotype):
    """Initializes a derived network from the matching parts of a searched
    supernet: stem, reduction blocks, preprocessing, the chosen op of every
    edge, classifier. Ops are inherited only where widths agree (K = 1 in
    the last stage); search batch norms carry statistics but no scale/offset.

    Returns (weights copied, weights of the derived network).
    """
    names = {layer.name for layer in model.layers}
    copied = 0
    for name, source in _supernet_pairs(model, supernet, genotype):
        if name in names:
            copied += _copy_matching(source, model.get_layer(name))
    return copied, len(model.weights)


