"""Run one cell in this process: its context and strategy, then store its record, then tell the
observers."""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import torch

from dlbench.bench.run.context import CellContext
from dlbench.bench.run.failures import describe_failure
from dlbench.bench.run.fingerprint import CodeFingerprints
from dlbench.bench.run.observers import Observers
from dlbench.bench.run.services import Services
from dlbench.engine.device import seed_everything
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord, non_finite_metrics


class CellRunner:
    """Runs one cell in this process, stores its record, then tells the observers.

    Any failure inside the cell becomes a failed record; only an interrupt propagates.
    """

    def __init__(self, services: Services, environment: Mapping[str, Any]) -> None:
        self._services = services
        self._store = services.store
        self._environment = dict(environment)
        self._observers = Observers(services.catalog.host, services.store.root.resolve())
        self._fingerprints = CodeFingerprints(services.catalog)

    @property
    def catalog(self) -> Any:
        """The plugins this runner runs cells with."""
        return self._services.catalog

    def note_environment(self, **values: Any) -> None:
        """Add ``values`` to the environment every record of this runner carries."""
        self._environment.update(values)

    def __call__(self, cell: Cell) -> CellRecord:
        """Train ``cell``, store its record (a failure beside an earlier finished record, never
        over it), tell the observers, and return the record."""
        self._services.progress.cell_started(cell)
        record = self._outcome(cell)
        self._store.put(record)
        return self._after_stored(cell, record)

    def _after_stored(self, cell: Cell, record: CellRecord) -> CellRecord:
        """Tell the observers; if one of them has failed in this run, say so in the record (stored
        again), so that the report lists it."""
        self._observers.notify("dlbench_cell_end", failures_fail=False, cell=cell, record=record)
        failures = list(self._observers.failures)
        if failures and record.environment.get("observer_failures") != failures:
            record = replace(
                record, environment={**record.environment, "observer_failures": failures}
            )
            self._store.put(record)
        return record

    def _outcome(self, cell: Cell) -> CellRecord:
        started = time.perf_counter()
        base: dict[str, Any] = {
            "cell_id": cell.id,
            "cell": cell.to_json(),
            "environment": self._environment,
            "code": self._fingerprints.of_cell(cell),
        }
        missing = self._missing_producer(cell)
        if missing is not None:
            return CellRecord(status="skipped", error=missing, finished_at=_now(), **base)

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            self._services.progress.epoch_ended(epoch, metrics)
            self._observers.notify("dlbench_epoch_end", cell=cell, epoch=epoch, metrics=metrics)

        context = CellContext(cell, self._services, on_epoch)
        try:
            self._observers.notify("dlbench_cell_start", cell=cell)
            seed_everything(cell.init_seed)
            strategy = self._services.catalog.strategies.get(cell.strategy.name)
            result = strategy.run(cell, context)
            problem = non_finite_metrics(result.epochs, result.final)
            if problem is not None:
                raise ValueError(f"the run ended with {problem}: metrics must be finite numbers")
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
            error, trace = describe_failure(exc, self._fingerprints.sources(cell))
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
            wanted = self._services.plan.artifacts.get(producer, frozenset())
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


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _timings(started: float, context: CellContext) -> dict[str, float]:
    return {"total": time.perf_counter() - started, "data": context.data_seconds}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
