"""The hooks a dlbench plugin may implement.

Registration hooks receive a ``register`` callback and call it once per record; they run once
per process that builds the plugin catalog (the ``bench`` command, and each worker process or
cluster node that runs cells). An exception in a registration hook skips the whole plugin (every
name it registered is withdrawn) unless ``DLBENCH_STRICT_PLUGINS`` is set.

Lifecycle hooks observe training where the cell runs (so in Ray or worker processes too); they
must not change the cell or the record they are given. An exception in one is reported as a
warning once per plugin, listed with the records and in the report, and never fails a cell,
unless the plugin sets ``dlbench_required = True`` (then it fails the cell at
``cell_start``/``epoch_end``; at ``cell_end`` the record is already stored and is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from dlbench.registry.cell import Cell
    from dlbench.registry.records import CellRecord
    from dlbench.registry.specs import (
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
"""Marks a plugin's hook functions, e.g. ``@dlbench.hookimpl`` over
``def dlbench_register_models(register)``; the hooks reference lists every hook."""

SpecT = TypeVar("SpecT")

Register: TypeAlias = Callable[[SpecT], None]
"""The callback a registration hook receives: ``register(spec)``. Annotate with the record
type, e.g. ``def dlbench_register_models(register: Register[ModelSpec]) -> None``.
"""


# -------------------------------------------------------------------------
# Registration
# -------------------------------------------------------------------------


@hookspec
def dlbench_register_models(register: Register[ModelSpec | ModelFamily]) -> None:
    """Register model architectures.

    :param register: call with one ``ModelSpec`` per model, or with a
        ``ModelFamily`` for many models resolved by name on demand.
    """


@hookspec
def dlbench_register_datasets(register: Register[DatasetSpec]) -> None:
    """Register datasets.

    :param register: call with one ``DatasetSpec`` per dataset.
    """


@hookspec
def dlbench_register_strategies(register: Register[StrategySpec]) -> None:
    """Register training strategies.

    :param register: call with one ``StrategySpec`` per strategy.
    """


@hookspec
def dlbench_register_executors(register: Register[ExecutorSpec]) -> None:
    """Register executors, the ways cells are run.

    :param register: call with one ``ExecutorSpec`` per executor.
    """


@hookspec
def dlbench_register_probes(register: Register[ProbeSpec]) -> None:
    """Register probes, diagnostics that observe training (e.g. gradient norms).

    :param register: call with one ``ProbeSpec`` per probe.
    """


# -------------------------------------------------------------------------
# Lifecycle
# -------------------------------------------------------------------------


@hookspec
def dlbench_cell_start(cell: Cell, results_dir: Path) -> None:
    """Called before a cell starts training.

    :param cell: the resolved cell about to run.
    :param results_dir: the run's results directory (shared by every process of the run). An
        observer that writes files writes them under ``results_dir / "observers" / <its name>``,
        so that nothing of a run lies outside it.
    """


@hookspec
def dlbench_epoch_end(
    cell: Cell, epoch: int, metrics: Mapping[str, float], results_dir: Path
) -> None:
    """Called after each training epoch of a cell.

    :param cell: the running cell.
    :param epoch: the epoch just finished, counting from 1.
    :param metrics: that epoch's metrics (``train_loss``, ``val_acc``, ...).
    :param results_dir: the run's results directory (see ``dlbench_cell_start``).
    """


@hookspec
def dlbench_cell_end(cell: Cell, record: CellRecord, results_dir: Path) -> None:
    """Called when a cell has finished or failed, after its record is stored.

    :param cell: the cell that ran.
    :param record: its outcome; ``record.status`` is ``ok`` or ``failed``.
    :param results_dir: the run's results directory (see ``dlbench_cell_start``).
    """
