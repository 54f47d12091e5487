"""Live runs in MLflow: while a matrix runs, each cell is an MLflow run whose metrics appear
epoch by epoch, in an MLflow experiment named after the matrix (``dlbench/<matrix name>``).

On when the results directory holds ``mlflow.json`` (``bench run --mlflow [URI]`` writes it, or
``dlbench.run(..., mlflow=URI)``): ``{"tracking_uri": URI}``, ``null`` for MLflow's own default
(``$MLFLOW_TRACKING_URI``, else MLflow's default store). Off otherwise, at no cost. A cell's run
gets the cell's parameters as params, each epoch's metrics at its epoch, its final metrics, and
its cell id and record digest as tags when it ends, the tags ``bench export --to mlflow`` reads:
exporting the directory afterwards adds nothing twice (and attaches the report). Works in every
process of a run. Needs ``mlflow`` (the ``mlflow`` extra).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlbench import Cell, CellRecord, hookimpl

#: The file under the results directory that turns live MLflow runs on and names the store.
SETTINGS = "mlflow.json"
#: Tags that name a cell's MLflow run (``bench export --to mlflow`` reads the same).
CELL_TAG, DIGEST_TAG = "dlbench.cell_id", "dlbench.record_digest"

#: The open run of each cell running in this process: (client, run id).
_runs: dict[str, tuple[Any, str]] = {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _settings(results_dir: Path) -> tuple[str | None, str] | None:
    """(tracking URI, experiment name) when live runs are on, else ``None``."""
    path = results_dir / SETTINGS
    if not path.is_file() or path.is_symlink():
        return None
    data = json.loads(path.read_text()[:10_000])
    uri = data.get("tracking_uri") if isinstance(data, dict) else None
    manifest = json.loads((results_dir / "manifest.json").read_text())
    name = manifest.get("name") if isinstance(manifest, dict) else None
    return (uri if isinstance(uri, str) else None), f"dlbench/{name or results_dir.name}"


@hookimpl
def dlbench_cell_start(cell: Cell, results_dir: Path) -> None:
    """Open the cell's MLflow run (when live runs are on)."""
    found = _settings(results_dir)
    if found is None:
        return
    from mlflow import MlflowClient

    uri, name = found
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(
        experiment_id,
        run_name=cell.slug(),
        tags={CELL_TAG: cell.id, "dlbench.description": cell.describe()},
    )
    _runs[cell.id] = (client, run.info.run_id)


@hookimpl
def dlbench_epoch_end(
    cell: Cell, epoch: int, metrics: Mapping[str, float], results_dir: Path
) -> None:
    """Log the epoch's metrics at its epoch."""
    if cell.id not in _runs:
        return
    from mlflow.entities import Metric

    client, run_id = _runs[cell.id]
    now = int(time.time() * 1000)
    found = [
        Metric(key, float(value), now, epoch)
        for key, value in metrics.items()
        if key != "epoch" and _number(value)
    ]
    client.log_batch(run_id, metrics=found)


@hookimpl
def dlbench_cell_end(cell: Cell, record: CellRecord, results_dir: Path) -> None:
    """Log the parameters, the final metrics and the record's digest, and end the run."""
    if cell.id not in _runs:
        return
    from mlflow.entities import Metric, Param

    client, run_id = _runs.pop(cell.id)
    now = int(time.time() * 1000)
    params = [Param(k, str(v)[:6000]) for k, v in cell.flat_params().items()]
    finals = [
        Metric(f"final/{key.replace('@', '.')}", float(value), now, 0)
        for key, value in record.final.items()
        if _number(value)
    ]
    try:
        for start in range(0, len(params), 100):
            client.log_batch(run_id, params=params[start : start + 100])
        client.log_batch(run_id, metrics=finals)
        client.set_tag(run_id, DIGEST_TAG, record.digest())
    finally:
        client.set_terminated(run_id, status="FINISHED" if record.status == "ok" else "FAILED")
