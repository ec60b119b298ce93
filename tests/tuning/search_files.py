"""Run directories as `keras-drnas search` leaves them, for the tuning tests."""

import json

import numpy as np

from keras_drnas.search_space import NAS_BENCH_201, derive_genotype


def write_run(directory, space=NAS_BENCH_201, concentrations=None, op_masks=None, args=None):
    """The files `keras-drnas search` leaves, for a search of tiny networks on digits."""
    directory.mkdir(parents=True, exist_ok=True)
    cell_types = space.cell_types
    rng = np.random.default_rng(0)
    shape = (space.num_edges, space.num_ops)
    concentrations = concentrations or {t: rng.uniform(0.5, 3.0, shape) for t in cell_types}
    op_masks = op_masks or {t: np.ones((space.num_edges, space.num_ops), bool) for t in cell_types}
    weights = {t: np.where(op_masks[t], beta, 0) / np.sum(np.where(op_masks[t], beta, 0), 1, keepdims=True)
               for t, beta in concentrations.items()}
    derive_genotype(space, weights).save(directory / "genotype.json")
    report = {t: {"op_names": list(space.op_names), "concentration": np.asarray(beta).tolist(),
                  "op_mask": np.asarray(op_masks[t]).tolist()} for t, beta in concentrations.items()}
    (directory / "concentrations.json").write_text(json.dumps(report))
    history = {"args": {"channels": 4, "cells_per_stage": 1, "num_cells": 2, "dataset": "digits", "seed": 0,
                        **(args or {})},
               "image_shape": [8, 8, 1], "num_classes": 10, "normalization": {"mean": [0.3], "std": [0.4]}}
    (directory / "history.json").write_text(json.dumps(history))
    return directory
