"""Run a matrix: skip finished cells, run the rest through the executor, store each record."""

from __future__ import annotations

import gc
import os
import platform
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from dlbench.bench.context import CellContext, DatasetCache, RunSettings
from dlbench.bench.environment import capture_environment
from dlbench.bench.matrix import Matrix
from dlbench.bench.observers import Observers
from dlbench.bench.progress import Progress, SilentProgress
from dlbench.bench.store import ResultStore
from dlbench.engine.device import resolve_device, seed_everything, set_threads
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell, Component
from dlbench.registry.records import CellRecord


@dataclass
class RunSummary:
    """What a run did.

    :param kept: finished records kept because their rerun failed (the failure is beside them).
    """

    total: int = 0
    reused: int = 0
    ran: int = 0
    failed: list[CellRecord] = field(default_factory=list)
    skipped: list[CellRecord] = field(default_factory=list)
    kept: list[CellRecord] = field(default_factory=list)


class CellRunner:
    """Runs one cell in this process, stores its record, then tells the observers.

    Any failure inside the cell becomes a failed record; only an interrupt propagates.
    """

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
        self._observers = Observers(catalog.host)

    def __call__(self, cell: Cell) -> CellRecord:
        """Train ``cell``, store its record (a failure beside an earlier finished record, never
        over it), tell the observers, and return the record."""
        self._progress.cell_started(cell)
        record = self._outcome(cell)
        self._store.put(record)
        self._observers.notify("dlbench_cell_end", failures_fail=False, cell=cell, record=record)
        return record

    def _outcome(self, cell: Cell) -> CellRecord:
        started = time.perf_counter()
        base: dict[str, Any] = {
            "cell_id": cell.id,
            "cell": cell.to_json(),
            "environment": self._environment,
        }
        missing = self._missing_producer(cell)
        if missing is not None:
            return CellRecord(status="skipped", error=missing, finished_at=_now(), **base)

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            self._progress.epoch_ended(epoch, metrics)
            self._observers.notify("dlbench_epoch_end", cell=cell, epoch=epoch, metrics=metrics)

        context = CellContext(
            cell,
            self._catalog,
            self._settings,
            self._datasets,
            self._store,
            on_epoch,
            wanted=self._artifacts.get(cell.id, frozenset()),
            probes=self._probes.get(cell.id, ()),
        )
        try:
            self._observers.notify("dlbench_cell_start", cell=cell)
            seed_everything(cell.seed)
            result = self._catalog.strategies.get(cell.strategy.name).run(cell, context)
            return CellRecord(
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
            error, trace = _describe_failure(exc)
            del exc
            del context  # drop what the failed cell held (tensors, the model) before recording
            _release_memory()
            return CellRecord(
                status="failed",
                error=error,
                traceback=trace,
                timings={"total": time.perf_counter() - started},
                finished_at=_now(),
                **base,
            )

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


def _describe_failure(exc: BaseException) -> tuple[str, str | None]:
    """The failure's one-line reason and traceback; a fixed text where describing it fails too
    (running out of memory while formatting, an exception whose ``str`` raises)."""
    try:
        error = f"{type(exc).__name__}: {exc}"
    except Exception:
        error = type(exc).__name__
    if isinstance(exc, MemoryError) or isinstance(exc, torch.OutOfMemoryError):
        error = f"out of memory ({error})"
    try:
        trace = "".join(traceback.format_exception(exc))
    except Exception:
        trace = None
    traceback.clear_frames(exc.__traceback__)
    return error, trace


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _timings(started: float, context: CellContext) -> dict[str, float]:
    return {"total": time.perf_counter() - started, "data": context.data_seconds}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class CellJob:
    """Runs one cell of a matrix wherever it is called; implements
    :class:`~dlbench.registry.execution.CellFunction`.

    Plain data, so it pickles: an executor may call it here or send it to another process or
    machine, where it builds the plugin catalog, resolves the device, and writes the record
    (and any artifact) into the results directory, which must be reachable (shared) there.

    :param device: the device policy (``auto``, ``cpu``, ``cuda``), resolved where the cell runs.
    :param threads: torch threads per cell.
    :param data_root: dataset folder, as seen from where the cell runs.
    :param store_root: the results directory.
    :param artifacts: cell id -> artifact kinds other cells need from it.
    :param probes: cell id -> probe components (``Component.to_json()``).
    :param environment: the driver's environment, completed where the cell runs.
    """

    device: str
    threads: int
    data_root: str
    download: bool
    store_root: str
    artifacts: dict[str, list[str]]
    probes: dict[str, list[dict[str, Any]]]
    environment: dict[str, Any]
    _runner: CellRunner | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # The runner holds this process's catalog and progress display; elsewhere a new one is
        # built from the plain data.
        return {**self.__dict__, "_runner": None}

    def attach(self, runner: CellRunner) -> CellJob:
        """Use ``runner`` (this process's catalog and progress) when called here."""
        self._runner = runner
        return self

    def __call__(self, cell: Cell) -> CellRecord:
        """Run ``cell``, store its record and return it."""
        if self._runner is None:
            self._runner = self._remote_runner()
        return self._runner(cell)

    def _remote_runner(self) -> CellRunner:
        from dlbench.bench.host import load_catalog

        settings = RunSettings(
            device=resolve_device(self.device),
            data_root=Path(self.data_root),
            download=self.download,
            threads=set_threads(self.threads),
        )
        return CellRunner(
            load_catalog(),
            settings,
            ResultStore(Path(self.store_root)),
            {k: frozenset(v) for k, v in self.artifacts.items()},
            {k: tuple(Component(**p) for p in v) for k, v in self.probes.items()},
            {
                **self.environment,
                "device": str(settings.device),
                "host": platform.node(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            },
            SilentProgress(),
        )


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
    """Run every unfinished cell of ``matrix``; each record is stored as soon as it finishes.

    Cells run producers first. A cell that fails is stored as failed and the rest go on; a cell
    whose producer failed is stored as skipped; a finished record is never replaced by a failed
    rerun. An interrupt stops the run; every record stored before it stays, and the cell in
    flight is not recorded.
    """
    store.write_manifest(matrix.manifest(catalog).to_json())
    cells = matrix.unique_cells()
    pending = pending_cells(matrix, store, force)
    summary = RunSummary(total=len(cells), reused=len(cells) - len(pending))
    executor = catalog.executors.get(executor_name or matrix.executor).create(
        **(executor_options or {})
    )
    environment = capture_environment(
        settings.device, settings.threads, matrix.source.resolve().parent
    )
    runner = CellRunner(
        catalog, settings, store, matrix.artifacts, matrix.probes, environment, progress
    )
    job = CellJob(
        device=device_policy,
        threads=settings.threads,
        data_root=str(settings.data_root),
        download=settings.download,
        store_root=str(store.root.resolve()),
        artifacts={k: sorted(v) for k, v in matrix.artifacts.items()},
        probes={k: [p.to_json() for p in v] for k, v in matrix.probes.items()},
        environment=dict(environment),
    ).attach(runner)
    progress.matrix_started(total=len(pending), reused=summary.reused)
    try:
        for record in executor.run(pending, job):
            summary.ran += 1
            if record.status != "ok" and store.is_finished(record.cell_id):
                summary.kept.append(record)
            elif record.status == "failed":
                summary.failed.append(record)
            elif record.status == "skipped":
                summary.skipped.append(record)
            progress.cell_finished(record)
    finally:
        progress.close()
    return summary
