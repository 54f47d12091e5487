"""What passes between the runner, strategies and executors while a cell runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import torch
    from torch import nn

    from registry.cell import Cell
    from registry.data import DatasetSplits


@dataclass(frozen=True)
class TrainingResult:
    """What a strategy returns.

    :param epochs: one mapping of metric name to value per epoch, in order.
    :param final: metrics of the whole cell, e.g. ``val_acc@best``, ``test_acc@last``.
    """

    epochs: list[dict[str, float]]
    final: dict[str, Any]


class RunContext(Protocol):
    """Services the runner gives a strategy for one cell."""

    @property
    def device(self) -> torch.device:
        """The device to train on."""
        ...

    def load_dataset(self) -> DatasetSplits:
        """The cell's dataset, already on :attr:`device`."""
        ...

    def build_model(self, splits: DatasetSplits) -> nn.Module:
        """The cell's model for ``splits``' input shape and class count, on :attr:`device`."""
        ...

    def epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Report a finished epoch (progress display and lifecycle hooks)."""
        ...

    def probes(self) -> list[Probe]:
        """The probes this cell runs with; pass them to the training loop."""
        ...

    def trained_model(self, model: nn.Module) -> None:
        """Hand over the trained model: its card (parameters, layers, blocks) goes into the
        record, and its weights are stored as the cell's checkpoint when another cell needs them.
        """
        ...

    def load_model(self, reference: str) -> nn.Module:
        """The trained model of the cell that ``reference`` (``cell:<id>``) names, in eval mode.

        The checkpoint is loaded with ``weights_only=True``.
        """
        ...

    def producer(self, reference: str) -> Cell:
        """The cell that ``reference`` (``cell:<id>``) names."""
        ...

    def checkpoint_name(self, reference: str) -> str:
        """The referenced cell's stored checkpoint file, named by its content hash."""
        ...

    def cached(self, key: Mapping[str, Any], compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """A tensor computed once per results directory for ``key`` and reused after that.

        ``key`` must name everything the tensor depends on (a checkpoint, the dataset and its
        preprocessing); it is hashed into the cache file's name.
        """
        ...


Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class CellRecord:
    """The stored outcome of one cell.

    :param cell_id: the cell's content hash.
    :param status: ``ok``; ``failed`` with :attr:`error` and :attr:`traceback`; or ``skipped``
        with :attr:`error` when a cell it needs did not finish.
    :param cell: the resolved configuration (:meth:`Cell.to_json`).
    :param epochs: per-epoch metrics.
    :param final: final metrics.
    :param timings: wall-clock seconds (``total``, ``data``, ``train``).
    :param environment: versions, device, threads, git revision.
    :param artifacts: kind -> file (relative to the results directory), e.g. a checkpoint.
    :param probes: probe name -> what it observed.
    :param model_card: parameters, trainable parameters, conv and linear layers, blocks.
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

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the store."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellRecord:
        """Rebuild a record from :meth:`to_json` output."""
        return cls(**data)


class Probe(Protocol):
    """Observes a model during training; see :class:`registry.specs.ProbeSpec`."""

    #: Global training steps (counting from 1) after whose backward pass :meth:`observe` runs.
    steps: frozenset[int]

    def observe(self, model: nn.Module, step: int, epoch: int) -> None:
        """Look at the model after the backward pass of ``step``, before the optimizer step."""
        ...

    def result(self) -> dict[str, Any]:
        """What was observed, JSON-serialisable; stored in the record under the probe's name."""
        ...


@dataclass(frozen=True)
class CellJob:
    """Everything a process needs to run cells of a matrix, in plain data (picklable).

    An executor that runs cells elsewhere (another process, another machine) sends this with
    each cell and calls :func:`bench.runner.run_cell_job` there.

    :param device: the device policy (``auto``, ``cpu``, ``cuda``), resolved where the cell runs.
    :param data_root: dataset folder, as seen from where the cell runs.
    :param store_root: the results directory; it must be reachable (shared) where cells run.
    :param artifacts: cell id -> artifact kinds other cells need from it.
    :param probes: cell id -> probe components (``Component.to_json()``).
    """

    device: str
    data_root: str
    download: bool
    threads: int
    store_root: str
    artifacts: dict[str, list[str]]
    probes: dict[str, list[dict[str, Any]]]
    environment: dict[str, Any]


class Executor(Protocol):
    """Runs cells and yields their records as they finish."""

    def run(
        self, cells: Sequence[Cell], execute: Callable[[Cell], CellRecord], job: CellJob
    ) -> Iterator[CellRecord]:
        """Run every cell, each after the cells it depends on (``cell.producers()``).

        :param cells: cells in an order where producers come before their consumers.
        :param execute: runs one cell in this process and returns its record; it never raises
            for a failure inside the cell (that is a ``failed`` record).
        :param job: what running a cell in another process needs, for executors that do.
        """
        ...
