"""The dlbench plugin contract (floor 1): hookspecs, the records plugins register, cells, the
run context and executor protocols, the plugin manager and name lookup. It imports nothing else
of dlbench.

Plugin authors import :mod:`dlbench` (which re-exports what they need from here); this package
is what the rest of dlbench builds on.
"""

from dlbench.registry.catalog import Catalog, build_catalog
from dlbench.registry.cell import Cell, Component
from dlbench.registry.context import RunContext
from dlbench.registry.data import Augmentation, DatasetSplits, Normalization, Split
from dlbench.registry.errors import (
    ConformanceError,
    DataUnavailableError,
    DlbenchError,
    DuplicateNameError,
    PluginLoadError,
    UnknownNameError,
)
from dlbench.registry.execution import CellFunction, Executor
from dlbench.registry.hookspecs import Register, hookimpl
from dlbench.registry.manager import ENTRY_POINT_GROUP, PluginHost, build_plugin_manager
from dlbench.registry.params import Param
from dlbench.registry.probes import Probe, ProbePlot
from dlbench.registry.records import CellRecord, TrainingResult
from dlbench.registry.specs import (
    STANDARD_METRICS,
    DatasetRequest,
    DatasetSpec,
    ExecutorSpec,
    ModelFamily,
    ModelSpec,
    ProbeSpec,
    StrategySpec,
)
from dlbench.registry.training import (
    AfterBackward,
    Batch,
    BatchTransform,
    EpochCallback,
    LossFn,
    TrainingHooks,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "STANDARD_METRICS",
    "AfterBackward",
    "Augmentation",
    "Batch",
    "BatchTransform",
    "Catalog",
    "Cell",
    "CellFunction",
    "CellRecord",
    "Component",
    "ConformanceError",
    "DataUnavailableError",
    "DatasetRequest",
    "DatasetSpec",
    "DatasetSplits",
    "DlbenchError",
    "DuplicateNameError",
    "EpochCallback",
    "Executor",
    "ExecutorSpec",
    "LossFn",
    "ModelFamily",
    "ModelSpec",
    "Normalization",
    "Param",
    "PluginHost",
    "PluginLoadError",
    "Probe",
    "ProbePlot",
    "ProbeSpec",
    "Register",
    "RunContext",
    "Split",
    "StrategySpec",
    "TrainingHooks",
    "TrainingResult",
    "UnknownNameError",
    "build_catalog",
    "build_plugin_manager",
    "hookimpl",
]
