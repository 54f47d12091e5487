"""Run a matrix: skip finished cells, run the rest through the executor, count the outcomes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlbench.bench.cell_job import CellJob
from dlbench.bench.cell_runner import CellRunner
from dlbench.bench.context import RunSettings
from dlbench.bench.environment import capture_environment
from dlbench.bench.matrix import Matrix
from dlbench.bench.progress import Progress
from dlbench.bench.store import ResultStore
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord


@dataclass
class RunSummary:
    """What a run did.

    :param kept: failed reruns of cells whose finished record was kept (the failure is beside it).
    """

    total: int = 0
    reused: int = 0
    ran: int = 0
    failed: list[CellRecord] = field(default_factory=list)
    skipped: list[CellRecord] = field(default_factory=list)
    kept: list[CellRecord] = field(default_factory=list)


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
