"""The dlbench plugin contract.

A plugin is a module (or any object) with functions marked ``@hookimpl`` whose names are hooks from
:mod:`registry.hookspecs`. Registration hooks get a ``register`` callback; call it with a frozen
record for each thing the plugin provides::

    # my_plugin.py
    from torch import nn
    from registry import ModelSpec, Param, hookimpl

    def build_tiny(input_shape, num_classes, *, hidden=32):
        features = 1
        for size in input_shape:
            features *= size
        return nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))

    @hookimpl
    def dlbench_register_models(register):
        register(ModelSpec(
            name="tiny",
            build=build_tiny,
            description="one hidden layer",
            params={"hidden": Param(32, int, "hidden width", minimum=1)},
        ))

Make it installable with an entry point in the ``dlbench`` group::

    [project.entry-points.dlbench]
    tiny = "my_plugin"

After ``pip install``, ``bench list models`` shows ``tiny`` and a matrix can name it. A plugin that
fails to import is reported and skipped; set ``DLBENCH_STRICT_PLUGINS=1`` to make that an error and
``DLBENCH_DISABLE_PLUGINS=tiny,other`` to block plugins by name.
"""

from registry.catalog import Catalog, build_catalog
from registry.cell import Cell, Component
from registry.data import DatasetSplits, Normalization, Split
from registry.errors import (
    DataUnavailableError,
    DlbenchError,
    DuplicateNameError,
    PluginLoadError,
    UnknownNameError,
)
from registry.hookspecs import hookimpl
from registry.manager import ENTRY_POINT_GROUP, PluginHost, build_plugin_manager
from registry.params import Param
from registry.run import CellRecord, Executor, Probe, RunContext, TrainingResult
from registry.specs import (
    DatasetRequest,
    DatasetSpec,
    ExecutorSpec,
    ModelFamily,
    ModelSpec,
    ProbeSpec,
    StrategySpec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Catalog",
    "Cell",
    "CellRecord",
    "Component",
    "DataUnavailableError",
    "DatasetRequest",
    "DatasetSpec",
    "DatasetSplits",
    "DlbenchError",
    "DuplicateNameError",
    "Executor",
    "ExecutorSpec",
    "ModelFamily",
    "ModelSpec",
    "Normalization",
    "Param",
    "PluginHost",
    "PluginLoadError",
    "Probe",
    "ProbeSpec",
    "RunContext",
    "Split",
    "StrategySpec",
    "TrainingResult",
    "UnknownNameError",
    "build_catalog",
    "build_plugin_manager",
    "hookimpl",
]
