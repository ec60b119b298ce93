"""Net2Net widening for progressive learning (paper eq. 7-8).

When the partial-channel divisor K shrinks, every op inside the mixed ops
grows from C/K_old to C/K_new channels. The mapping g keeps the first n
channels and copies randomly chosen existing ones into the rest; weights are
copied without Net2Net's division by the replication factor, because the
information flow on an edge has the same scale whatever the fraction.
Batch-norm parameters and statistics, and the optimizer's slots, follow the
same indices.
"""

import numpy as np


def net2net_mapping(old_size, new_size, rng):
    """g: {0..new_size-1} -> {0..old_size-1}; g(j) = j for j < old_size,
    a uniform random existing channel otherwise (eq. 7)."""
    if new_size < old_size:
        raise ValueError(f"widening cannot shrink {old_size} channels to {new_size}.")
    return np.concatenate([np.arange(old_size), rng.integers(0, old_size, new_size - old_size)])


def take(array, index):
    """Applies one mapping per axis (None: the axis is unchanged), eq. 8:
    U[o, i, ...] = W[g(o), g(i), ...]."""
    for axis, mapping in enumerate(index):
        if mapping is not None:
            array = np.take(array, mapping, axis=axis)
    return array


def widen_weights(old_weights, new_weights, rng, mappings=None):
    """Fills `new_weights` from the narrower `old_weights` (same structure).

    Axes whose size differs are channel axes; within one call, every axis
    that grows from n to q uses the same mapping g, so a conv's output
    channels, the next conv's input channels and the batch norm between them
    stay aligned.

    Returns:
        [(old_variable, new_variable, index)] where `index` holds the mapping
        per axis, to widen optimizer slots the same way.
    """
    mappings = {} if mappings is None else mappings
    old_weights, new_weights = list(old_weights), list(new_weights)
    if len(old_weights) != len(new_weights):
        raise ValueError(f"cannot widen: {len(old_weights)} weights into {len(new_weights)}.")
    pairs = []
    for old, new in zip(old_weights, new_weights):
        if old.name != new.name or len(old.shape) != len(new.shape):
            raise ValueError(f"cannot widen {old.path} {old.shape} into {new.path} {new.shape}.")
        index = []
        for old_size, new_size in zip(old.shape, new.shape):
            if old_size == new_size:
                index.append(None)
            else:
                key = (int(old_size), int(new_size))
                if key not in mappings:
                    mappings[key] = net2net_mapping(*key, rng)
                index.append(mappings[key])
        new.assign(take(np.asarray(old.numpy()), index))
        pairs.append((old, new, index))
    return pairs
