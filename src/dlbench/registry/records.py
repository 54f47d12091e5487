"""What a cell produces: a strategy's ``TrainingResult`` and the stored ``CellRecord``."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from dlbench.registry.schema import ShapeError, check_fields, check_value

if TYPE_CHECKING:
    from dlbench.registry.cell import Cell


@dataclass(frozen=True)
class TrainingResult:
    """What a strategy returns.

    :param epochs: one mapping of metric name to value per epoch, in order.
    :param final: metrics of the whole cell, e.g. ``val_acc@best``, ``test_acc@last``.
    """

    epochs: list[dict[str, float]]
    final: dict[str, Any]


Status = Literal["ok", "failed", "skipped"]
STATUSES: tuple[str, ...] = ("ok", "failed", "skipped")


class RecordFormatError(ShapeError):
    """A stored record whose fields are missing or of the wrong type."""


#: The types of the environment's keys that reports and exports read (``capture_environment``
#: writes them); other keys are kept as any JSON value.
ENVIRONMENT_TYPES: dict[str, Any] = {
    "device": str,
    "device_name": str,
    "threads": int,
    "jobs": int,
    "executor": str,
    "jobs_choice": str,
    "command": str,
    "platform": str,
    "executable": str,
    "git_revision": str | None,
    "versions": dict[str, str | None],
    "capability": dict[str, Any],
    "machine": dict[str, Any],
    "plugin_problems": list[str],
    "observer_failures": list[str],
    "merged_from": str,
}
#: The same for ``environment.machine``.
MACHINE_TYPES: dict[str, Any] = {
    "cpu": str | None,
    "cores": int,
    "memory_bytes": int | None,
    "gpus": list[str],
    "cuda": str | None,
    "cudnn": int | None,
}


@dataclass(frozen=True)
class CellRecord:
    """The stored outcome of one cell.

    :param cell_id: the cell's content hash.
    :param status: ``ok``; ``failed`` with ``error`` and ``traceback``; or ``skipped``
        with ``error`` when a cell it needs did not finish.
    :param cell: the resolved configuration (``Cell.to_json``).
    :param epochs: per-epoch metrics.
    :param final: final metrics.
    :param timings: wall-clock seconds (``total``, ``data``, ``train``).
    :param environment: versions, device, threads, git revision.
    :param artifacts: kind -> file (relative to the results directory), e.g. a checkpoint.
    :param probes: probe name -> what it observed.
    :param model_card: parameters, trainable parameters, conv and linear layers, blocks.
    :param code: plugin name -> fingerprint of the source it ran with (see
        ``dlbench.bench.run.fingerprint``); a changed one reruns the cell.
    """

    cell_id: str
    status: Status
    cell: dict[str, Any]
    epochs: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    finished_at: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)
    probes: dict[str, Any] = field(default_factory=dict)
    model_card: dict[str, Any] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the store."""
        return asdict(self)

    def digest(self) -> str:
        """A short digest of the record as stored: the same record gives the same digest, a
        changed one (the cell ran again) another. Trackers tag their runs with it."""
        text = json.dumps(self.to_json(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def changed_code(self, current: Mapping[str, str]) -> list[str]:
        """The plugins whose code fingerprint differs between this record and ``current``.

        Records from before fingerprints (none stored) and plugins without readable source
        (an empty fingerprint) never count as changed.
        """
        return sorted(
            name
            for name, value in current.items()
            if value and self.code.get(name) and self.code[name] != value
        )

    @classmethod
    def failure(cls, cell: Cell, error: str, **fields: Any) -> CellRecord:
        """A failed record of ``cell``, stamped now (for failures outside the cell's run: a
        worker or a cluster job that died)."""
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(
            cell_id=cell.id,
            status="failed",
            cell=cell.to_json(),
            error=error,
            finished_at=finished,
            **fields,
        )

    @classmethod
    def from_json(cls, data: Any) -> CellRecord:
        """Rebuild a record from ``to_json`` output, checking every field against its
        declared type, the cell inside it, and every number (it must fit a float).

        :raises RecordFormatError: naming the first field that is missing or of the wrong shape.
        """
        from dlbench.registry.cell import Cell

        try:
            check_fields(cls, data, "record", required=("cell_id", "status", "cell"))
            Cell.from_json(data["cell"])
            _check_environment(data.get("environment", {}))
            _check_finite(data)
        except ShapeError as exc:
            raise RecordFormatError(str(exc)) from None
        return cls(**data)


def _check_environment(environment: Mapping[str, Any]) -> None:
    """The environment's known keys, and its machine's, hold values of their types."""
    for key, expected in ENVIRONMENT_TYPES.items():
        if key in environment:
            check_value(environment[key], expected, f"record.environment.{key}")
    machine = environment.get("machine", {})
    for key, expected in MACHINE_TYPES.items():
        if key in machine:
            check_value(machine[key], expected, f"record.environment.machine.{key}")


def _check_finite(data: Mapping[str, Any]) -> None:
    """Timings, and a finished run's metrics, are finite numbers: training that diverges is
    stored as failed, so a NaN or an infinity there is damage, not a measurement."""
    problem = non_finite("timings", data.get("timings", {}))
    if problem is None and data.get("status") == "ok":
        problem = non_finite_metrics(data.get("epochs", []), data.get("final", {}))
    if problem is not None:
        raise ShapeError(f"record.{problem} where a finite number belongs")


def non_finite_metrics(epochs: Sequence[Mapping[str, Any]], final: Mapping[str, Any]) -> str | None:
    """``final.KEY: nan`` (or ``epochs[i].KEY``) for the first metric that is a NaN or an
    infinity, else ``None``."""
    for where, values in [("final", final), *((f"epochs[{i}]", e) for i, e in enumerate(epochs))]:
        problem = non_finite(where, values)
        if problem is not None:
            return problem
    return None


def non_finite(where: str, values: Mapping[str, Any]) -> str | None:
    """``WHERE.KEY: nan`` for the first value of ``values`` that is a non-finite float."""
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            return f"{where}.{str(key)[:40]}: {value}"
    return None


def metric_value(record: CellRecord, metric: str, at: str) -> float | None:
    """``metric`` from a record's final metrics, at the ``best`` or ``last`` epoch."""
    value = record.final.get(f"{metric}@{at}", record.final.get(metric))
    return float(value) if isinstance(value, (int, float)) else None
