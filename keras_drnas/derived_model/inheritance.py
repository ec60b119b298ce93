"""Initializing a derived network from the searched supernet's weights."""


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


def inherit_supernet_weights(model, supernet, genotype):
    """Initializes a derived network from the matching parts of a searched
    supernet: stem, reduction blocks, preprocessing, the chosen op of every
    edge, classifier. Ops are inherited only where widths agree (K = 1 in
    the last stage); search batch norms carry statistics but no scale/offset.

    Returns (weights copied, weights of the derived network).
    """
    names = {layer.name for layer in model.layers}
    copied = 0
    for name, source in supernet.inheritable_layers(genotype):
        if name in names:
            copied += _copy_matching(source, model.get_layer(name))
    return copied, len(model.weights)


