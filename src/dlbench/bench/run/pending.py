"""Which planned cells must run now: not stored, failed, stale, or lacking what is now asked;
the failed runs of decided comparisons kept; and how each cell reads among its experiment's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dlbench.bench.matrix import Matrix
from dlbench.bench.results.store import ResultStore, StoredRecords
from dlbench.bench.run.fingerprint import CodeFingerprints
from dlbench.bench.run.plan import decided_comparisons, planned_cells, planners
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import Cell, varying_keys


def current_code(
    matrix: Matrix, catalog: Catalog, planned: Iterable[Cell] = ()
) -> dict[str, dict[str, str]]:
    """Cell id -> plugin -> fingerprint of the code that would run it now, for every cell of
    every experiment (selected or not) and every cell a planner made (``planned``)."""
    fingerprints = CodeFingerprints(catalog)
    cells = {c.id: c for e in (*matrix.experiments, *matrix.unselected) for c in e.cells}
    cells.update(matrix.cells)
    cells.update((cell.id, cell) for cell in planned)
    return {cell_id: fingerprints.of_cell(cell) for cell_id, cell in cells.items()}


def stale_cells(
    cells: Iterable[Cell], store: ResultStore, code: Mapping[str, Mapping[str, str]]
) -> dict[str, list[str]]:
    """Cell id -> plugins whose code changed since its stored (finished) result was made."""
    stale = {}
    for cell in cells:
        record = store.get(cell.id)
        if record is not None and record.status == "ok":
            changed = record.changed_code(code.get(cell.id, {}))
            if changed:
                stale[cell.id] = changed
    return stale


def pending_cells(
    cells: Iterable[Cell],
    matrix: Matrix,
    store: ResultStore,
    force: bool = False,
    stale: Iterable[str] = (),
    retry_failed: bool = False,
) -> list[Cell]:
    """Those of ``cells`` that must run: not stored, failed, stale, or lacking what is now asked
    (an artifact a consumer needs, a probe the matrix adds). A failed run of a decided
    comparison is kept (the comparison counts it) unless ``retry_failed``."""
    stale = set(stale)
    kept = set() if retry_failed or force else decided_failures(matrix, store)
    return [
        cell
        for cell in cells
        if force
        or cell.id in stale
        or (
            cell.id not in kept
            and not store.is_finished(
                cell.id,
                artifacts=matrix.artifacts.get(cell.id, ()),
                probes=[p.name for p in matrix.probes.get(cell.id, ())],
            )
        )
    ]


def cell_labels(matrix: Matrix, cells: Iterable[Cell]) -> dict[str, str]:
    """Cell id -> its description naming what sets it apart in its experiment (a strategy's
    ``lr`` as well as the model's parameters), for progress lines."""
    apart: dict[str, list[str]] = {}
    for experiment in matrix.experiments:
        keys = varying_keys(experiment.cells) if experiment.cells else []
        for cell in experiment.cells:
            apart.setdefault(cell.id, []).extend(k for k in keys if k not in apart[cell.id])
    return {cell.id: cell.describe(apart.get(cell.id, ())) for cell in cells}


def decided_failures(matrix: Matrix, store: ResultStore) -> set[str]:
    """The runs of decided comparisons whose stored record is a failure."""
    ids = {
        cell.id
        for _, comparison in decided_comparisons(matrix)
        for cell in (*comparison.a, *comparison.b)
    }
    return {i for i, record in store.records(ids).items() if record.status == "failed"}


def planned_now(matrix: Matrix, store: ResultStore) -> list[Cell]:
    """The cells the matrix's planners want given what is stored now."""
    return planned_cells(matrix, planners(matrix), StoredRecords(store))
