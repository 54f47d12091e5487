"""How cells are run: the executor contract and the picklable function that runs one cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from dlbench.registry.cell import Cell
    from dlbench.registry.records import CellRecord


@dataclass(frozen=True)
class Footprint:
    """What running one cell takes, estimated before it runs.

    :param parameters: its model's parameters (0 where unknown).
    :param memory_bytes: the memory a process running it holds: the process itself (Python,
        torch, the plugins), the model's training state (weights, gradients, optimizer moments)
        and the dataset held in memory.
    :param seconds: the wall time a stored run of the same configuration (another seed) took,
        where the results directory holds one; ``None`` where it does not.
    """

    parameters: int
    memory_bytes: int
    seconds: float | None = None


class CellFunction(Protocol):
    """Runs one cell and returns its record; picklable, so it can run in another process.

    Called where the executor puts it (this process, a worker process, a cluster node), it
    builds what it needs there (the plugin catalog, the device) and writes the record and any
    artifact into the results directory, which must be reachable from there. It never raises
    for a failure inside the cell: that is a ``failed`` record.

    :ivar device: the device policy (``auto``, ``cpu`` or ``cuda``), resolved where the cell runs.
    :ivar threads: the CPU threads one cell uses: those the user gave (``--threads``), else the
        cores of the machine that started the run.
    :ivar threads_given: whether the user gave them; an executor that shares one machine
        between several cells at once (``for_workers``) keeps given threads and otherwise
        chooses its own share.
    :ivar store_root: the results directory, where executors that run cells elsewhere may keep
        their own files (logs, job ids) beside the records.
    :ivar in_process_plugins: plugins handed to this process as objects rather than installed;
        while there are any, cells can run only in this process (elsewhere they fail, saying so).
    """

    device: str
    threads: int
    threads_given: bool
    store_root: str
    in_process_plugins: tuple[str, ...]

    def for_workers(self, workers: int, threads: int, why: str = "") -> CellFunction:
        """A copy for ``workers`` processes that run cells at once on one machine, each cell
        with ``threads`` CPU threads; both, and ``why`` they were chosen, are recorded with
        every result. With one worker the cells run in this process."""
        ...

    def footprint(self, cell: Cell) -> Footprint:
        """What running ``cell`` takes (for an executor sharing a machine between cells)."""
        ...

    def __call__(self, cell: Cell) -> CellRecord:
        """Run ``cell``; return its stored record."""
        ...

    def store(self, record: CellRecord) -> None:
        """Store a record made outside a cell's run: the failure of a cell whose worker died."""
        ...

    def note(self, text: str) -> None:
        """Tell the user one line about how the cells run (the workers chosen, a pool started,
        jobs submitted), shown with the run's progress: above its bars in a terminal, and not
        at all where the run was asked to be quiet (``dlbench.run(progress=False)``)."""
        ...


class Executor(Protocol):
    """Runs cells and yields their records as they finish."""

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Run every cell, each after the cells it depends on (``cell.producers()``).

        :param cells: cells in an order where producers come before their consumers.
        :param run_cell: runs one cell; call it here or send it (it pickles) where cells run.
        """
        ...
