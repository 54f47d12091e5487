"""Run a matrix: skip finished cells, execute the rest through the executor, store each record."""

from __future__ import annotations

import os
import platform
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.context import CellContext, DatasetCache, RunSettings
from bench.engine.device import seed_everything
from bench.environment import capture_environment
from bench.matrix import Matrix
from bench.progress import Progress
from bench.store import ResultStore
from registry.catalog import Catalog
from registry.cell import Cell, Component
from registry.run import CellJob, CellRecord


@dataclass
class RunSummary:
    """What a run did."""

    total: int = 0
    reused: int = 0
    ran: int = 0
    failed: list[CellRecord] = field(default_factory=list)
    skipped: list[CellRecord] = field(default_factory=list)


class CellRunner:
    """Runs one cell in this process and turns any failure inside it into a failed record."""

    def __init__(
        self,
        catalog: Catalog,
        settings: RunSettings,
        store: ResultStore,
        artifacts: Mapping[str, frozenset[str]],
        probes: Mapping[str, tuple[Component, ...]],
        environment: Mapping[str, Any],
        progress: Progress,
    ) -> None:
        self._catalog = catalog
        self._settings = settings
        self._store = store
        self._artifacts = artifacts
        self._probes = probes
        self._environment = dict(environment)
        self._progress = progress
        self._datasets = DatasetCache()

    def __call__(self, cell: Cell) -> CellRecord:
        """Train ``cell`` and return its record; only an interrupt propagates."""
        hook = self._catalog.host.hook
        started = time.perf_counter()
        self._progress.cell_started(cell)
        base: dict[str, Any] = {
            "cell_id": cell.id,
            "cell": cell.to_json(),
            "environment": self._environment,
        }
        missing = self._missing_producer(cell)
        if missing is not None:
            record = CellRecord(status="skipped", error=missing, finished_at=_now(), **base)
            hook.dlbench_cell_end(cell=cell, record=record)
            return record
        hook.dlbench_cell_start(cell=cell)

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            self._progress.epoch_ended(epoch, metrics)
            hook.dlbench_epoch_end(cell=cell, epoch=epoch, metrics=metrics)

        probes: tuple[Component, ...] = self._probes.get(cell.id, ())
        context = CellContext(
            cell,
            self._catalog,
            self._settings,
            self._datasets,
            self._store,
            on_epoch,
            wanted=self._artifacts.get(cell.id, frozenset()),
            probes=probes,
        )
        try:
            seed_everything(cell.seed)
            result = self._catalog.strategies.get(cell.strategy.name).run(cell, context)
            record = CellRecord(
                status="ok",
                epochs=result.epochs,
                final=result.final,
                timings=_timings(started, context),
                finished_at=_now(),
                artifacts=context.artifacts,
                probes=context.probe_results(),
                model_card=context.model_card,
                **base,
            )
        except Exception as exc:
            record = CellRecord(
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                timings=_timings(started, context),
                finished_at=_now(),
                **base,
            )
        hook.dlbench_cell_end(cell=cell, record=record)
        return record

    def _missing_producer(self, cell: Cell) -> str | None:
        """Why a cell this one needs is not available, or ``None``."""
        for producer in cell.producers():
            wanted = self._artifacts.get(producer, frozenset())
            if self._store.is_finished(producer, artifacts=wanted):
                continue
            record = self._store.get(producer)
            reason = (
                f"failed: {record.error}"
                if record is not None and record.status != "ok"
                else "did not finish"
            )
            return f"needs cell {producer}, which {reason}"
        return None


def _timings(started: float, context: CellContext) -> dict[str, float]:
    return {"total": time.perf_counter() - started, "data": context.data_seconds}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SilentProgress:
    """Progress that shows nothing (for cells run away from the terminal)."""

    def matrix_started(self, total: int, reused: int) -> None:
        """Nothing to show."""

    def cell_started(self, cell: Cell) -> None:
        """Nothing to show."""

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Nothing to show."""

    def cell_finished(self, record: CellRecord) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""


def run_cell_job(job: CellJob, cell_json: Mapping[str, Any]) -> dict[str, Any]:
    """Run one cell in this process from plain data, store its record, and return it as JSON.

    For executors that run cells in other processes or on other machines: it builds the plugin
    catalog there, resolves the device there, and writes the record (and any artifact) into the
    shared results directory, so a consumer that runs next finds its producer's checkpoint.
    """
    from bench.engine.device import resolve_device, set_threads
    from registry.catalog import build_catalog
    from registry.manager import build_plugin_manager

    catalog = build_catalog(build_plugin_manager())
    settings = RunSettings(
        device=resolve_device(job.device),
        data_root=Path(job.data_root),
        download=job.download,
        threads=set_threads(job.threads),
    )
    store = ResultStore(Path(job.store_root))
    runner = CellRunner(
        catalog,
        settings,
        store,
        {k: frozenset(v) for k, v in job.artifacts.items()},
        {k: tuple(Component(**p) for p in v) for k, v in job.probes.items()},
        {
            **job.environment,
            "device": str(settings.device),
            "host": platform.node(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        },
        SilentProgress(),
    )
    record = runner(Cell.from_json(cell_json))
    store.put(record)
    return record.to_json()


def pending_cells(matrix: Matrix, store: ResultStore, force: bool = False) -> list[Cell]:
    """The cells of ``matrix`` that must run: not stored, failed, or lacking what is now asked."""
    return [
        cell
        for cell in matrix.unique_cells()
        if force
        or not store.is_finished(
            cell.id,
            artifacts=matrix.artifacts.get(cell.id, ()),
            probes=[p.name for p in matrix.probes.get(cell.id, ())],
        )
    ]


def run_matrix(
    matrix: Matrix,
    store: ResultStore,
    catalog: Catalog,
    settings: RunSettings,
    progress: Progress,
    *,
    force: bool = False,
    executor_name: str | None = None,
    executor_options: Mapping[str, Any] | None = None,
    device_policy: str = "auto",
) -> RunSummary:
    """Run every unfinished cell of ``matrix`` and store its record as soon as it finishes.

    Cells run producers first. A cell that fails is stored as failed and the rest go on; a cell
    whose producer failed is stored as skipped. An interrupt stops the run; every record stored
    before it stays, and the cell in flight is not recorded.
    """
    store.write_manifest(matrix.manifest())
    cells = matrix.unique_cells()
    pending = pending_cells(matrix, store, force)
    summary = RunSummary(total=len(cells), reused=len(cells) - len(pending))
    executor = catalog.executors.get(executor_name or matrix.executor).create(
        **(executor_options or {})
    )
    environment = capture_environment(
        settings.device, settings.threads, matrix.source.resolve().parent
    )
    execute = CellRunner(
        catalog, settings, store, matrix.artifacts, matrix.probes, environment, progress
    )
    job = CellJob(
        device=device_policy,
        data_root=str(settings.data_root),
        download=settings.download,
        threads=settings.threads,
        store_root=str(store.root.resolve()),
        artifacts={k: sorted(v) for k, v in matrix.artifacts.items()},
        probes={k: [p.to_json() for p in v] for k, v in matrix.probes.items()},
        environment=dict(environment),
    )
    progress.matrix_started(total=len(pending), reused=summary.reused)
    try:
        for record in executor.run(pending, execute, job):
            store.put(record)
            summary.ran += 1
            if record.status == "failed":
                summary.failed.append(record)
            elif record.status == "skipped":
                summary.skipped.append(record)
            progress.cell_finished(record)
    finally:
        progress.close()
    return summary
