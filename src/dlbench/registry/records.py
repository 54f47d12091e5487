"""What a cell produces: a strategy's ``TrainingResult`` and the stored ``CellRecord``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from dlbench.registry.schema import ShapeError, check_fields

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
        except ShapeError as exc:
            raise RecordFormatError(str(exc)) from None
        return cls(**data)


def metric_value(record: CellRecord, metric: str, at: str) -> float | None:
    """``metric`` from a record's final metrics, at the ``best`` or ``last`` epoch."""
    value = record.final.get(f"{metric}@{at}", record.final.get(metric))
    return float(value) if isinstance(value, (int, float)) else None
