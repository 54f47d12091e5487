"""Results as tidy rows: one per cell (or per cell and epoch), every resolved parameter, final
metric, timing and environment fact in a column of its own. Pure: rows from a manifest and its
records; writing them is the host's job."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dlbench.registry.cell import COMPONENT_KINDS
from dlbench.registry.records import CellRecord
from dlbench.reports.manifest import Manifest

#: Environment facts copied into every row, as ``environment.<name>`` columns.
ENVIRONMENT_COLUMNS = ("device", "device_name", "threads", "jobs", "git_revision", "command")


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}", inner)
    elif isinstance(value, (list, tuple)):
        yield prefix, "[" + ", ".join(str(v) for v in value) + "]"
    else:
        yield prefix, value


def cell_columns(record: CellRecord) -> dict[str, Any]:
    """A record's identity and configuration: ``cell_id``, ``status``, ``seed``,
    ``model.name``, ``model.depth``, ..."""
    row: dict[str, Any] = {"cell_id": record.cell_id, "status": record.status}
    row["error"] = record.error or ""
    cell = record.cell
    row["seed"] = cell.get("seed")
    for kind in COMPONENT_KINDS:
        component = cell.get(kind, {})
        row[f"{kind}.name"] = component.get("name")
        row[f"{kind}.plugin"] = component.get("plugin")
        row.update(_flat(kind, component.get("params", {})))
    environment = record.environment
    for name in ENVIRONMENT_COLUMNS:
        row[f"environment.{name}"] = environment.get(name)
    row.update(_flat("environment.versions", environment.get("versions", {})))
    machine = environment.get("machine", {})
    for name in ("cpu", "cores", "memory_bytes", "cuda", "cudnn"):
        row[f"environment.{name}"] = machine.get(name)
    row["finished_at"] = record.finished_at
    return row


def cell_rows(
    manifest: Manifest, records: Mapping[str, CellRecord], source: str = ""
) -> list[dict[str, Any]]:
    """One row per stored cell of ``manifest``: configuration, final metrics, timings, and its
    ``role``: ``trial`` for a tuning trial, else ``run``."""
    experiments: dict[str, list[str]] = {}
    trials: set[str] = set()
    for experiment in manifest.experiments:
        for cell in (*experiment.cells, *experiment.trials):
            experiments.setdefault(cell.id, []).append(experiment.name)
        trials.update(cell.id for cell in experiment.trials)
    rows = []
    for cell_id, names in experiments.items():
        record = records.get(cell_id)
        if record is None:
            continue
        row: dict[str, Any] = {
            "results": source,
            "matrix": manifest.name,
            "experiments": ",".join(names),
            "role": "trial" if cell_id in trials else "run",
        }
        row.update(cell_columns(record))
        row.update({key: value for key, value in record.final.items()})
        row.update({f"timings.{key}": value for key, value in record.timings.items()})
        rows.append(row)
    return rows


def epoch_rows(
    manifest: Manifest, records: Mapping[str, CellRecord], source: str = ""
) -> list[dict[str, Any]]:
    """One row per stored cell and epoch: the cell's columns and that epoch's metrics."""
    rows = []
    for row in cell_rows(manifest, records, source):
        record = records[row["cell_id"]]
        base = {k: v for k, v in row.items() if "@" not in k and not k.startswith("timings.")}
        for epoch in record.epochs:
            rows.append({**base, **epoch})
    return rows


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every column of ``rows``, in first-seen order."""
    return list(dict.fromkeys(key for row in rows for key in row))


def decision_rows(
    manifest: Manifest, records: Mapping[str, CellRecord], source: str = ""
) -> list[dict[str, Any]]:
    """One row per decided comparison of ``manifest``: where it stands on ``records``."""
    from dlbench.reports.decisions import comparisons

    rows = []
    for experiment in manifest.shown:
        for comparison in comparisons(experiment.cells, experiment.tables):
            standing = comparison.standing(records)
            decision, spec = standing.decision, comparison.spec
            better = comparison.probability(records, decision)
            rows.append(
                {
                    "results": source,
                    "matrix": manifest.name,
                    "experiment": experiment.name,
                    "table": comparison.table.title,
                    "column": comparison.derived.title,
                    "row": comparison.row,
                    "metric": f"{comparison.table.metric}@{comparison.table.at}",
                    "a": comparison.derived.minuend,
                    "b": comparison.derived.subtrahend,
                    "verdict": decision.verdict,
                    "pairs": decision.n,
                    "rule": spec.rule,
                    "estimand": decision.estimand,
                    "estimate": decision.estimate,
                    "low": decision.low,
                    "high": decision.high,
                    "margin": spec.margin,
                    "confidence": spec.confidence,
                    "min_runs": spec.min_runs,
                    "max_runs": spec.max_runs,
                    "family": spec.family,
                    "family_size": comparison.family_size,
                    "failed_a": decision.failed_a,
                    "failed_b": decision.failed_b,
                    "runs_needed": decision.needed,
                    "note": decision.note,
                    "p_a_better": better.value if better else None,
                    "p_a_better_low": better.low if better else None,
                    "p_a_better_high": better.high if better else None,
                }
            )
    return rows
