"""What a finished search leaves for a budget search: the derived genotype,
the learnt concentrations, and the settings its networks and data need."""

import dataclasses
import json
import os

import numpy as np

from keras_drnas.search_space.genotype import Genotype
from keras_drnas.search_space.space import get_space
from keras_drnas.utils.errors import InputError

GENOTYPE = "genotype.json"
CONCENTRATIONS = "concentrations.json"
HISTORY = "history.json"
# The search's defaults (`keras-drnas search`) for settings a history may lack.
NETWORK_DEFAULTS = {"channels": 16, "cells_per_stage": 5, "num_cells": 8, "stem": "cifar"}


@dataclasses.dataclass
class SearchResult:
    """The files `keras-drnas search` writes to its output directory, read
    and checked.

    Attributes:
        directory: the run directory (empty when read from a search in memory).
        genotype: the derived `Genotype` (genotype.json).
        space: the `SearchSpace` searched (its op list and node count).
        concentrations: `{cell type: edges x ops array}`, the learnt beta
            (concentrations.json).
        op_masks: `{cell type: edges x ops bools}`, False for pruned ops.
        image_shape: the images the search ran on (history.json).
        num_classes: the classes of the search's data (history.json).
        mean: the per-channel mean of the search's normalization.
        std: the per-channel standard deviation of the search's normalization.
        args: the search's settings (history.json "args").

    Example:
    ```python
    result = SearchResult.load("runs/search")  # or SearchResult.from_search(search, (32, 32, 3), 10)
    result.network_settings(channels=8)  # build_network kwargs
    ```
    """

    directory: str
    genotype: Genotype
    space: object
    concentrations: dict
    op_masks: dict
    image_shape: tuple
    num_classes: int
    mean: list = None
    std: list = None
    args: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, directory):
        """Reads genotype.json, concentrations.json and history.json."""
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise InputError(f"{directory} is not a directory; pass the --output-dir of a keras-drnas search.")
        for name in (GENOTYPE, CONCENTRATIONS, HISTORY):
            if not os.path.isfile(os.path.join(directory, name)):
                raise InputError(
                    f"{directory} has no {name}; pass the --output-dir of a finished keras-drnas search "
                    "(it writes genotype.json, concentrations.json and history.json at the end)."
                )
        genotype = Genotype.load(os.path.join(directory, GENOTYPE))
        report = _read_json(os.path.join(directory, CONCENTRATIONS))
        history = _read_json(os.path.join(directory, HISTORY))
        space, concentrations, op_masks = _learnt_distribution(report, genotype,
                                                               os.path.join(directory, CONCENTRATIONS))
        try:
            image_shape = tuple(int(n) for n in history["image_shape"])
            num_classes = int(history["num_classes"])
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"{os.path.join(directory, HISTORY)} lacks image_shape or num_classes; was it written by "
                "keras-drnas search?"
            ) from None
        normalization = history.get("normalization") or {}
        return cls(directory, genotype, space, concentrations, op_masks, image_shape, num_classes,
                   normalization.get("mean"), normalization.get("std"), history.get("args") or {})

    @classmethod
    def from_search(cls, search, image_shape, num_classes, mean=None, std=None):
        """The same from a `SearchModel` over a supernet, in memory (no files):
        its genotype, concentrations and masks, and the supernet's size."""
        genotype = search.genotype()
        space, concentrations, op_masks = _learnt_distribution(search.concentration_report(), genotype,
                                                               "the search model")
        config = search.supernet.get_config()
        args = {name: config[name] for name in NETWORK_DEFAULTS if name in config}
        return cls("", genotype, space, concentrations, op_masks, tuple(int(n) for n in image_shape),
                   int(num_classes), _floats(mean), _floats(std), args)

    def network_settings(self, **overrides):
        """`build_network` keyword arguments for this search's networks: its
        channels and cells (unless overridden), data shape and normalization."""
        settings = {name: self.args.get(name) or default for name, default in NETWORK_DEFAULTS.items()}
        settings.update({name: value for name, value in overrides.items() if value is not None})
        settings.update(num_classes=self.num_classes, input_shape=self.image_shape, mean=self.mean, std=self.std)
        return settings


def _floats(values):
    return None if values is None else [float(v) for v in values]


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON ({error}); was it written by keras-drnas search?") from None


def _learnt_distribution(report, genotype, path):
    """The space, concentrations and masks of a concentration report, checked
    against the genotype's space (`path` names the report in messages)."""
    cell_types = get_space(genotype.space).cell_types
    if not isinstance(report, dict) or any(not isinstance(report.get(t), dict) for t in cell_types):
        raise InputError(f"{path} must hold {{cell type: {{op_names, concentration, op_mask}}}} for "
                         f"{' and '.join(cell_types)} cells.")
    op_names = report["normal"].get("op_names")
    if not op_names:
        raise InputError(f"{path} names no op_names; it must come from a supernet search.")
    space = get_space({"name": genotype.space, "op_names": op_names, "intermediate_nodes": genotype.intermediate_nodes})
    concentrations, op_masks = {}, {}
    for cell_type in cell_types:
        entry = report[cell_type]
        try:
            beta = np.asarray(entry["concentration"], dtype=np.float64)
            mask = np.asarray(entry.get("op_mask") or np.ones(beta.shape, bool), dtype=bool)
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: the {cell_type} concentration must be an edges x ops matrix.") from None
        expected = (space.num_edges, space.num_ops)
        if beta.shape != expected or mask.shape != expected:
            raise InputError(f"{path}: the {cell_type} concentration is {beta.shape} (mask {mask.shape}), but the "
                             f"{space.name} space has {expected[0]} edges x {expected[1]} ops.")
        if not np.all(np.isfinite(beta)) or np.any(beta <= 0):
            raise InputError(f"{path}: the {cell_type} concentrations must be positive numbers.")
        if not np.all(mask.any(axis=1)):
            raise InputError(f"{path}: the {cell_type} op_mask leaves an edge with no op.")
        concentrations[cell_type], op_masks[cell_type] = beta, mask
    return space, concentrations, op_masks
