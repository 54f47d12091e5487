"""What a run would do, without training: every planned cell with its status (stored, to run,
stale, slow, will fail), what each planner says of its plan, and why cells would not run.
``bench run --dry-run`` prints it; ``dlbench.run(..., dry_run=True)`` returns it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dlbench.bench.matrix import Matrix
from dlbench.bench.results.store import ResultStore, StoredRecords
from dlbench.bench.run.designs import keep_designs
from dlbench.bench.run.pending import current_code, pending_cells, planned_now, stale_cells
from dlbench.bench.run.plan import decided_comparisons, planned_experiments, planners
from dlbench.bench.run.runner import executor_plan
from dlbench.bench.run.services import RunOptions, RunSettings
from dlbench.bench.run.slow_options import slow_cells
from dlbench.engine.model_check import output_problem
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell, varying_keys
from dlbench.registry.errors import DlbenchError

#: Models above this many parameters are not built by a dry run (it stays quick).
MAX_CHECKED_PARAMETERS = 50_000_000
COLUMNS = ("experiment", "cell", "status", "description")


@dataclass(frozen=True)
class Preview:
    """A run's plan as things stand.

    :param rows: one (experiment, cell id, status, description) per planned cell, and one per
        combination that cannot run (status ``skipped``).
    :param planned: cells planned now; ``pending`` of them would run.
    :param notes: each planner's account of its plan (a comparison's standing, a study's).
    :param slow: why some cells would run only with ``--allow-slow`` (empty when none would).
    :param executor: how the executor would run the cells to run (workers, threads and why),
        as the run says it.
    """

    rows: list[list[str]]
    planned: int
    pending: int
    notes: list[str]
    slow: str = ""
    executor: str = ""


def preview(
    matrix: Matrix, catalog: Catalog, out: Path, settings: RunSettings, options: RunOptions
) -> Preview:
    """What running ``matrix`` into ``out`` with ``settings`` and ``options`` would do now; the
    model of each cell is built once and its output shape checked against the dataset's class
    count."""
    store = ResultStore(out)
    records = StoredRecords(store)
    keep_designs(decided_comparisons(matrix), records, store, write=False)
    planned = planned_now(matrix, store)
    stale = stale_cells(planned, store, current_code(matrix, catalog, planned))
    plan = planned_experiments(matrix, records)
    to_run = pending_cells(planned, matrix, store, stale=stale, retry_failed=options.retry_failed)
    pending = {cell.id for cell in to_run}
    problems = model_problems(matrix, catalog)
    slow, slow_reason = slow_cells(to_run, settings.device)
    slow_ids = {cell.id for cell in slow}
    rows = []
    for experiment in matrix.experiments:
        finals, trials = plan.get(experiment.name, (experiment.cells, ()))
        tuned = [d.key for d in experiment.tune.space] if experiment.tune else []
        apart = varying_keys(experiment.cells) if experiment.cells else []
        for cell in (*trials, *finals):
            status = "to run" if cell.id in pending else "stored"
            if cell.id in stale:
                status = f"stale (code of plugin {', '.join(stale[cell.id])} changed)"
            if cell.id in slow_ids:
                status = "slow (needs --allow-slow)"
            problem = problems.get(cell.id)
            if problem is not None:
                status = "will fail"
            text = ("trial: " if cell in trials else "") + cell.describe([*apart, *tuned])
            rows.append([experiment.name, cell.id, status, problem or text])
        for skipped in experiment.skipped:
            rows.append(
                [experiment.name, "-", "skipped", f"{skipped.description}: {skipped.reason}"]
            )
    notes = [line for planner in planners(matrix) for line in planner.notes(records)]
    slow_text = f"{len(slow)} cell(s) run only with --allow-slow: {slow_reason}" if slow else ""
    executor = executor_plan(matrix, store, catalog, settings, options, to_run)
    return Preview(rows, len(planned), len(pending), notes, slow_text, executor)


def model_problems(matrix: Matrix, catalog: Catalog) -> dict[str, str]:
    """Cell id -> why its model's output does not fit its dataset, for the models that build
    cheaply on the CPU with the dataset's declared shape."""
    verdicts: dict[str, str | None] = {}
    problems = {}
    for cell in matrix.unique_cells():
        key = f"{cell.model.describe()}|{cell.dataset.name}|{_classes(cell, catalog)}"
        if key not in verdicts:
            verdicts[key] = _check(cell, catalog)
        if verdicts[key] is not None:
            problems[cell.id] = str(verdicts[key])
    return problems


def _classes(cell: Cell, catalog: Catalog) -> int:
    classes = cell.dataset.params.get("classes")
    if isinstance(classes, list) and classes:
        return len(classes)
    return int(catalog.datasets.get(cell.dataset.name).num_classes)


def _check(cell: Cell, catalog: Catalog) -> str | None:
    spec = catalog.datasets.get(cell.dataset.name)
    try:
        model = catalog.models.get(cell.model.name).build(
            tuple(spec.input_shape), _classes(cell, catalog), **cell.model.params
        )
    except (DlbenchError, OSError):
        return None  # e.g. weights that only the real run can load: it will say so
    if sum(p.numel() for p in model.parameters()) > MAX_CHECKED_PARAMETERS:
        return None
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, *spec.input_shape, generator=generator)
    return output_problem(
        model,
        inputs,
        _classes(cell, catalog),
        f"model {cell.model.name!r} on dataset {cell.dataset.name!r}",
    )
