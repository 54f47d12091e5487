"""Stored runs into an MLflow tracking store: one MLflow run per finished cell, in an MLflow
experiment named after the matrix, with the cell's parameters as params, its per-epoch metrics
at their epochs, its final metrics, the cell id and the record's digest as tags, and the results
directory's report as an artifact.

Idempotent: a cell whose record is already there (same cell id, same record digest) is left as
it is; a cell whose record changed since (it ran again) replaces its earlier MLflow run. The
tracking store is MLflow's own default (``MLFLOW_TRACKING_URI``, else MLflow's default store)
unless a URI is given: ``sqlite:///mlflow.db``, ``http://127.0.0.1:5000``, ...
Needs ``mlflow`` (the ``mlflow`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbench.bench.results.report_files import REPORT, read_manifest
from dlbench.bench.results.store import ResultStore
from dlbench.registry.cell import Cell
from dlbench.registry.errors import DlbenchError, install_hint
from dlbench.registry.records import CellRecord
from dlbench.reports.compare import finite_number

#: Tags that name a cell's MLflow run; the live observer (a plugin: it reads the public API
#: only) writes the same two, test_mlflow_export checks they agree.
CELL_TAG, DIGEST_TAG = "dlbench.cell_id", "dlbench.record_digest"
#: MLflow takes at most this many metrics in one batch.
BATCH = 1000


@dataclass
class Exported:
    """What an export did: runs written, runs left as they were, runs replaced."""

    written: int = 0
    unchanged: int = 0
    replaced: int = 0
    tracking_uri: str = ""


def params_of(cell: Cell) -> dict[str, str]:
    """The cell's parameters as MLflow params (text, at most 6000 characters each)."""
    return {key: str(value)[:6000] for key, value in cell.flat_params().items()}


def export_mlflow(paths: Iterable[Path], tracking_uri: str | None = None) -> Exported:
    """Export every finished cell of the results directories ``paths``.

    :raises DlbenchError: when mlflow is not installed or the store cannot be reached.
    """
    try:
        from mlflow import MlflowClient, get_tracking_uri
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise DlbenchError(f"--to mlflow needs mlflow: {install_hint('mlflow')}") from None
    where = f"--to mlflow: the tracking store {tracking_uri or '(MLflow default)'}"
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        done = Exported(tracking_uri=tracking_uri or get_tracking_uri())
        for path in paths:
            _export_one(client, ResultStore(path), done)
    except DlbenchError:
        raise
    except MlflowException as exc:
        raise DlbenchError(f"{where}: {' '.join(str(exc).split())[:300]}") from None
    except Exception as exc:  # the store's own errors: an unknown scheme, a refused connection
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise DlbenchError(f"{where}: {message}") from None
    return done


def _export_one(client: Any, store: ResultStore, done: Exported) -> None:
    manifest = read_manifest(store)
    records = store.records(manifest.cell_ids())
    name = f"dlbench/{manifest.name}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    report = store.root / REPORT
    for record in records.values():
        if record.status != "ok":
            continue
        wanted = record.digest()
        found = client.search_runs(
            [experiment_id], filter_string=f"tags.`{CELL_TAG}` = '{record.cell_id}'"
        )
        same = [run for run in found if run.data.tags.get(DIGEST_TAG) == wanted]
        if same:
            # Written before (by this export or live): only the report may be newer.
            if report.is_file() and not report.is_symlink():
                client.log_artifact(same[0].info.run_id, str(report))
            done.unchanged += 1
            continue
        for run in found:
            client.delete_run(run.info.run_id)
        done.replaced += bool(found)
        _write_run(client, experiment_id, record, wanted, report)
        done.written += 1


def _write_run(
    client: Any, experiment_id: str, record: CellRecord, wanted: str, report: Path
) -> None:
    from mlflow.entities import Metric, Param

    cell = Cell.from_json(record.cell)
    run = client.create_run(
        experiment_id,
        run_name=cell.slug(),
        tags={CELL_TAG: record.cell_id, DIGEST_TAG: wanted, "dlbench.description": cell.describe()},
    )
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    metrics = [
        Metric(key, float(value), now, int(epoch.get("epoch", index + 1)))
        for index, epoch in enumerate(record.epochs)
        for key, value in epoch.items()
        if key != "epoch" and finite_number(value)
    ]
    metrics += [
        Metric(f"final/{key.replace('@', '.')}", float(value), now, 0)
        for key, value in record.final.items()
        if finite_number(value)
    ]
    params = [Param(key, value) for key, value in params_of(cell).items()]
    client.log_batch(run_id, params=params[:100])
    for start in range(100, len(params), 100):
        client.log_batch(run_id, params=params[start : start + 100])
    for start in range(0, len(metrics), BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH])
    if report.is_file() and not report.is_symlink():
        client.log_artifact(run_id, str(report))
    client.set_terminated(run_id, status="FINISHED")
