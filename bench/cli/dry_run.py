"""``bench run --dry-run``: the cells, which are stored and which would run, and why not."""

from __future__ import annotations

from pathlib import Path

import torch

from dlbench.bench.cli.common import EXIT_OK
from dlbench.bench.matrix import Matrix
from dlbench.bench.results.store import ResultStore, StoredRecords
from dlbench.bench.run.executors import ExecutorChoice
from dlbench.bench.run.plan import planned_experiments, planners
from dlbench.bench.run.runner import current_code, pending_cells, planned_now, stale_cells
from dlbench.bench.run.slow_options import slow_cells
from dlbench.engine.model_check import output_problem
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell
from dlbench.registry.errors import DlbenchError
from dlbench.reports.markdown import render_rows

#: Models above this many parameters are not built by a dry run (it stays quick).
MAX_CHECKED_PARAMETERS = 50_000_000


def dry_run(
    matrix: Matrix, catalog: Catalog, out: Path, device: torch.device, executor: ExecutorChoice
) -> int:
    """Print every cell with its status; the model of each is built once and its output shape
    checked against the dataset's class count."""
    store = ResultStore(out)
    records = StoredRecords(store)
    planned = planned_now(matrix, store)
    stale = stale_cells(planned, store, current_code(matrix, catalog, planned))
    plan = planned_experiments(matrix, records)
    pending = {cell.id for cell in pending_cells(planned, matrix, store, stale=stale)}
    problems = model_problems(matrix, catalog)
    to_run = [c for c in planned if c.id in pending]
    slow, slow_reason = slow_cells(to_run, device)
    slow_ids = {cell.id for cell in slow}
    rows = []
    for experiment in matrix.experiments:
        finals, trials = plan.get(experiment.name, (experiment.cells, ()))
        for cell in (*trials, *finals):
            status = "to run" if cell.id in pending else "stored"
            if cell.id in stale:
                status = f"stale (code of plugin {', '.join(stale[cell.id])} changed)"
            problem = problems.get(cell.id)
            if cell.id in slow_ids:
                status = "slow (needs --allow-slow)"
            if problem is not None:
                status = "will fail"
            tuned = [d.key for d in experiment.tune.space] if experiment.tune else []
            role = "trial: " if cell in trials else ""
            text = role + cell.describe(tuned)
            rows.append([experiment.name, cell.id, status, problem or text])
        for skipped in experiment.skipped:
            rows.append(
                [experiment.name, "-", "skipped", f"{skipped.description}: {skipped.reason}"]
            )
    print(render_rows(rows, ["experiment", "cell", "status", "cell"], tablefmt="simple"))
    print(
        f"\n{len(planned)} unique cell(s) planned, {len(pending)} to run; "
        f"results would go to {out}; executor {executor.describe()}"
    )
    for line in (line for planner in planners(matrix) for line in planner.notes(records)):
        print(f"plan {line}")
    if slow:
        print(f"{len(slow)} cell(s) run only with --allow-slow: {slow_reason}")
    return EXIT_OK


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
