"""Run a matrix: skip finished cells, run the rest through the executor, count the outcomes."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlbench.bench.matrix import Matrix
from dlbench.bench.results.files import remove_dead_temporaries, write_atomic
from dlbench.bench.results.store import WRITTEN_FOLDERS, ResultStore, StoredRecords
from dlbench.bench.run.cell_job import CellJob, stored_durations
from dlbench.bench.run.cell_runner import CellRunner
from dlbench.bench.run.designs import keep_designs
from dlbench.bench.run.environment import capture_environment
from dlbench.bench.run.executors import ExecutorChoice, choose_executor
from dlbench.bench.run.pending import cell_labels, current_code, pending_cells, stale_cells
from dlbench.bench.run.plan import decided_comparisons, planned_cells, planned_experiments, planners
from dlbench.bench.run.progress import Progress, SilentProgress
from dlbench.bench.run.services import CellPlan, RunOptions, RunSettings, Services
from dlbench.bench.run.slow_options import slow_cells
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell
from dlbench.registry.errors import DlbenchError, install_hint
from dlbench.registry.records import CellRecord
from dlbench.reports.manifest import Manifest


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
    manifest: Manifest | None = None


#: Where live TensorBoard curves go, under the results directory.
LIVE_CURVES = "tb"
#: The file that names the MLflow store live runs go to, under the results directory.
LIVE_MLFLOW = "mlflow.json"


def run_matrix(
    matrix: Matrix,
    store: ResultStore,
    catalog: Catalog,
    settings: RunSettings,
    progress: Progress,
    options: RunOptions | None = None,
) -> RunSummary:
    """Run every unfinished cell of ``matrix``; each record is stored as soon as it finishes.

    Cells run producers first. A cell that fails is stored as failed and the rest go on; a cell
    whose producer failed is stored as skipped; a finished record is never replaced by a failed
    rerun. A finished cell whose code changed since runs again unless ``options.keep_stale``.
    An interrupt stops the run; every record stored before it stays, and the cell in flight is
    not recorded.
    """
    options = options or RunOptions()
    choice = choose_executor(matrix, catalog, options)
    if options.tensorboard:
        _start_live_curves(store, progress)
    if options.mlflow is not None:
        _start_live_mlflow(store, options.mlflow, progress)
    removed = remove_dead_temporaries(store.root, WRITTEN_FOLDERS)
    if removed:
        progress.note(f"removed {removed} temporary file(s) left by an interrupted run")
    plans = planners(matrix)
    decided = decided_comparisons(matrix)
    keep_designs(decided, StoredRecords(store), store)
    planned = planned_cells(matrix, plans, StoredRecords(store))
    code = current_code(matrix, catalog, planned)
    store.write_manifest(_manifest(matrix, catalog, code, store).to_json())
    summary = RunSummary()
    job = _cell_job(matrix, store, catalog, settings, progress, options, choice)
    executor = catalog.executors.get(choice.name).create(**choice.options)
    attempted: set[str] = set()
    try:
        while True:
            stale = {} if options.keep_stale else stale_cells(planned, store, code)
            pending = [
                cell
                for cell in pending_cells(
                    planned, matrix, store, options.force, stale, options.retry_failed
                )
                if cell.id not in attempted
            ]
            if not pending and attempted:
                break
            _refuse_slow(pending, settings, options)
            if attempted:
                progress.note(f"the planners want {len(pending)} more cell(s)")
            attempted.update(cell.id for cell in pending)
            progress.matrix_started(
                total=len(pending),
                reused=len(planned) - len(attempted),
                labels=cell_labels(matrix, pending),
            )
            if not pending:
                break
            # How long runs of each configuration took (this run's earlier waves, earlier runs
            # into this directory), for an executor choosing workers.
            job.durations = stored_durations(StoredRecords(store).values())
            started = time.perf_counter()
            _run_wave(executor, pending, job, store, progress, summary)
            keep_designs(decided, StoredRecords(store), store)
            seconds = time.perf_counter() - started
            for line in (
                n for planner in plans for n in planner.notes(StoredRecords(store), seconds)
            ):
                progress.note(line)
            planned = planned_cells(matrix, plans, StoredRecords(store))
            code = current_code(matrix, catalog, planned)
            # A report drawn before the run ends (or after it is stopped) shows every run
            # planned so far, not only the first wave's.
            store.write_manifest(_manifest(matrix, catalog, code, store).to_json())
    finally:
        progress.close()
        summary.total, summary.reused = len(planned), len(planned) - summary.ran
        summary.manifest = _manifest(matrix, catalog, code, store)
    return summary


def executor_plan(
    matrix: Matrix,
    store: ResultStore,
    catalog: Catalog,
    settings: RunSettings,
    options: RunOptions,
    cells: list[Cell],
) -> str:
    """How the executor would run ``cells`` (a dry run's first wave), in the words the run
    prints: the executor's ``plan`` where it has one (the local executor's workers, threads
    and why, caps included), else its name and options. Stored runs say how long their
    configurations take, as in the run."""
    choice = choose_executor(matrix, catalog, options)
    executor = catalog.executors.get(choice.name).create(**choice.options)
    plan = getattr(executor, "plan", None)
    if plan is None or not cells:
        return f"executor {choice.describe()}"
    job = _cell_job(matrix, store, catalog, settings, SilentProgress(), options, choice)
    job.durations = stored_durations(StoredRecords(store).values())
    return f"executor {choice.name}: {plan(cells, job)}"


def _start_live_curves(store: ResultStore, progress: Progress) -> None:
    """Make ``RESULTS/tb``, which turns the built-in TensorBoard observer on in every process
    of the run."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise DlbenchError(
            f"--tensorboard needs tensorboard: {install_hint('tensorboard')}"
        ) from None
    folder = store.target(LIVE_CURVES)
    folder.mkdir(exist_ok=True)
    progress.note(f"live curves: tensorboard --logdir {folder}")


def _start_live_mlflow(store: ResultStore, uri: str, progress: Progress) -> None:
    """Write ``RESULTS/mlflow.json``, which turns the built-in MLflow observer on in every
    process of the run, logging to ``uri`` (``""``: MLflow's default store)."""
    try:
        from mlflow import get_tracking_uri
    except ImportError:
        raise DlbenchError(f"--mlflow needs mlflow: {install_hint('mlflow')}") from None
    where = uri or get_tracking_uri()
    write_atomic(store.target(LIVE_MLFLOW), json.dumps({"tracking_uri": uri or None}))
    progress.note(f"live runs in MLflow: {where}")


def _manifest(
    matrix: Matrix, catalog: Catalog, code: Mapping[str, Mapping[str, str]], store: ResultStore
) -> Manifest:
    """The matrix as planned so far, for the report."""
    return matrix.manifest(catalog, code, planned_experiments(matrix, StoredRecords(store)))


def _refuse_slow(pending: list[Cell], settings: RunSettings, options: RunOptions) -> None:
    if not options.allow_slow:
        slow, reason = slow_cells(pending, settings.device)
        if slow:
            raise DlbenchError(
                f"{len(slow)} cell(s) to run ask for options this device runs slowly: {reason}; "
                "pass --allow-slow to run them anyway, or set strategy.precision=fp32"
            )


def _run_wave(
    executor: Any,
    pending: list[Cell],
    job: CellJob,
    store: ResultStore,
    progress: Progress,
    summary: RunSummary,
) -> None:
    """Run ``pending`` through the executor, counting outcomes as they come."""
    for record in executor.run(pending, job):
        summary.ran += 1
        if record.status != "ok" and store.is_finished(record.cell_id):
            summary.kept.append(record)
        elif record.status == "failed":
            summary.failed.append(record)
        elif record.status == "skipped":
            summary.skipped.append(record)
        progress.cell_finished(record)


def _cell_job(
    matrix: Matrix,
    store: ResultStore,
    catalog: Catalog,
    settings: RunSettings,
    progress: Progress,
    options: RunOptions,
    choice: ExecutorChoice,
) -> CellJob:
    """The function that runs one cell, here or wherever the executor sends it."""
    environment = capture_environment(
        settings.device, settings.threads, matrix.source.resolve().parent, options.command
    )
    environment["jobs"] = 1
    environment["executor"] = choice.describe()
    problems = [*catalog.host.load_errors, *catalog.host.warnings]
    if problems:
        environment["plugin_problems"] = problems
    plan = CellPlan(matrix.artifacts, matrix.probes)
    runner = CellRunner(Services(catalog, settings, store, progress, plan), environment)
    return CellJob(
        device=options.device,
        threads=settings.threads,
        threads_given=options.threads_given,
        data_root=str(settings.data_root),
        download=settings.download,
        store_root=str(store.root.resolve()),
        artifacts={k: sorted(v) for k, v in matrix.artifacts.items()},
        probes={k: [p.to_json() for p in v] for k, v in matrix.probes.items()},
        environment=dict(environment),
        plugins=tuple(catalog.host.plugins),
        in_process_plugins=tuple(n for n, i in catalog.host.plugins.items() if i.in_process),
    ).attach(runner, progress.note)
