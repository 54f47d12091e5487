"""What running a cell takes, estimated before it runs: its model's parameters (from the model
plugin's own count, else the model built once on the CPU) and the memory of the process."""

from __future__ import annotations

import resource
import sys

from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell

#: Memory allowed for a cell's dataset held in memory (MNIST is 47 MB as uint8, CIFAR 150 MB).
DATA_ALLOWANCE = 256 * 2**20


def process_memory() -> int:
    """This process's peak resident memory in bytes: what a worker importing the same holds."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def model_parameters(cell: Cell, catalog: Catalog) -> int:
    """The parameters of ``cell``'s model on its dataset (0 where they cannot be counted)."""
    spec = catalog.models.get(cell.model.name)
    shape = tuple(catalog.datasets.get(cell.dataset.name).input_shape)
    classes = _classes(cell, catalog)
    try:
        if spec.parameter_count is not None:
            return int(spec.parameter_count(shape, classes, **cell.model.params))
        built = spec.build(shape, classes, **cell.model.params)
        return int(sum(p.numel() for p in built.parameters()))
    except Exception:  # a model that cannot be counted here: the run itself will say why
        return 0


def _classes(cell: Cell, catalog: Catalog) -> int:
    classes = cell.dataset.params.get("classes")
    if isinstance(classes, list) and classes:
        return len(classes)
    return int(catalog.datasets.get(cell.dataset.name).num_classes)
