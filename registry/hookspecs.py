"""The hooks a dlbench plugin may implement.

Registration hooks receive a ``register`` callback and call it once per record. Lifecycle hooks
observe training; they must not change the cell or the record they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from registry.cell import Cell
    from registry.run import CellRecord
    from registry.specs import (
        DatasetSpec,
        ExecutorSpec,
        ModelFamily,
        ModelSpec,
        ProbeSpec,
        StrategySpec,
    )

PROJECT_NAME = "dlbench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -------------------------------------------------------------------------
# Registration
# -------------------------------------------------------------------------


@hookspec
def dlbench_register_models(register: Callable[[ModelSpec | ModelFamily], None]) -> None:
    """Register model architectures.

    :param register: call with one :class:`~registry.specs.ModelSpec` per model, or with a
        :class:`~registry.specs.ModelFamily` for many models resolved by name on demand.
    """


@hookspec
def dlbench_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets.

    :param register: call with one :class:`~registry.specs.DatasetSpec` per dataset.
    """


@hookspec
def dlbench_register_strategies(register: Callable[[StrategySpec], None]) -> None:
    """Register training strategies.

    :param register: call with one :class:`~registry.specs.StrategySpec` per strategy.
    """


@hookspec
def dlbench_register_executors(register: Callable[[ExecutorSpec], None]) -> None:
    """Register executors, the ways cells are run.

    :param register: call with one :class:`~registry.specs.ExecutorSpec` per executor.
    """


@hookspec
def dlbench_register_probes(register: Callable[[ProbeSpec], None]) -> None:
    """Register probes, diagnostics that observe training (e.g. gradient norms).

    :param register: call with one :class:`~registry.specs.ProbeSpec` per probe.
    """


# -------------------------------------------------------------------------
# Lifecycle
# -------------------------------------------------------------------------


@hookspec
def dlbench_cell_start(cell: Cell) -> None:
    """Called before a cell starts training.

    :param cell: the resolved cell about to run.
    """


@hookspec
def dlbench_epoch_end(cell: Cell, epoch: int, metrics: Mapping[str, float]) -> None:
    """Called after each training epoch of a cell.

    :param cell: the running cell.
    :param epoch: the epoch just finished, counting from 1.
    :param metrics: that epoch's metrics (``train_loss``, ``val_acc``, ...).
    """


@hookspec
def dlbench_cell_end(cell: Cell, record: CellRecord) -> None:
    """Called when a cell has finished or failed, before its record is stored.

    :param cell: the cell that ran.
    :param record: its outcome; ``record.status`` is ``ok`` or ``failed``.
    """
