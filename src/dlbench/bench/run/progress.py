"""Progress of a run: bars on a terminal (matrix and current cell), plain lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Protocol, TextIO

from tqdm import tqdm

from dlbench.registry.cell import Cell
from dlbench.registry.records import CellRecord


class Progress(Protocol):
    """Receives the events of a run."""

    def matrix_started(
        self, total: int, reused: int, labels: Mapping[str, str] | None = None
    ) -> None:
        """``total`` cells will run; ``reused`` were already stored (called again for each
        wave a planner adds); ``labels``: cell id -> the words that name it among the others
        of its experiment (strategy parameters included)."""

    def cell_started(self, cell: Cell) -> None:
        """A cell starts."""

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """The current cell finished an epoch."""

    def cell_finished(self, record: CellRecord) -> None:
        """The current cell finished or failed."""

    def note(self, text: str) -> None:
        """Say one line about the run (not about a cell)."""

    def close(self) -> None:
        """The run is over (or interrupted)."""


def make_progress(stream: TextIO | None = None) -> Progress:
    """Bars when ``stream`` (default stderr) is a terminal or a Jupyter notebook's output, plain
    lines otherwise (logs, pipes)."""
    stream = stream or sys.stderr
    notebook = type(stream).__module__.startswith("ipykernel")
    return BarProgress(stream) if stream.isatty() or notebook else LineProgress(stream)


def _epochs(cell: Cell) -> int | None:
    epochs = cell.strategy.params.get("epochs")
    return epochs if isinstance(epochs, int) else None


def _summary(metrics: Mapping[str, float]) -> str:
    parts = []
    if "train_loss" in metrics:
        parts.append(f"train_loss {metrics['train_loss']:.4f}")
    if "val_acc" in metrics:
        parts.append(f"val_acc {metrics['val_acc']:.2%}")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


class LineProgress:
    """One line per cell, epoch and outcome; for logs and pipes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._total = 0
        self._done = 0
        self._started = time.perf_counter()
        self._cell: Cell | None = None
        self._labels: dict[str, str] = {}

    def _print(self, text: str) -> None:
        # One write per line: a signal between a line and its newline would glue the next
        # message (``bench: stopped ...``) to it.
        self._stream.write(text + "\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        """Print ``text`` as a line."""
        self._print(f"bench: {text}")

    def matrix_started(
        self, total: int, reused: int, labels: Mapping[str, str] | None = None
    ) -> None:
        """Say how many cells will run (again for each wave a planner adds)."""
        self._total, self._done, self._started = total, 0, time.perf_counter()
        self._labels = dict(labels or {})
        self._print(f"{total} cell(s) to run, {reused} already stored")

    def cell_started(self, cell: Cell) -> None:
        """Name the cell."""
        self._cell = cell
        label = self._labels.get(cell.id) or cell.describe()
        self._print(f"[{self._done + 1}/{self._total}] {label} ({cell.id})")

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """One line per epoch."""
        total = _epochs(self._cell) if self._cell else None
        self._print(f"  epoch {epoch}{f'/{total}' if total else ''}: {_summary(metrics)}")

    def cell_finished(self, record: CellRecord) -> None:
        """Outcome and time left."""
        if self._cell is None or self._cell.id != record.cell_id:
            # Run elsewhere (a worker process): name the cell with its outcome.
            label = self._labels.get(record.cell_id) or Cell.from_json(record.cell).describe()
            self._print(f"[{self._done + 1}/{self._total}] {label} ({record.cell_id})")
        else:
            # The cell running here finished (one run elsewhere leaves it as it is).
            self._cell = None
        self._done += 1
        elapsed = time.perf_counter() - self._started
        eta = elapsed / self._done * (self._total - self._done)
        took = record.timings.get("total", 0.0)
        if record.status == "ok":
            self._print(f"  done in {_duration(took)}; eta {_duration(eta)}")
        elif record.status == "skipped":
            self._print(f"  SKIPPED: {record.error}")
        else:
            self._print(f"  FAILED after {_duration(took)}: {record.error}")

    def close(self) -> None:
        """Nothing to tidy."""


class BarProgress:
    """A matrix bar (cells, ETA) and a bar for the current cell (epochs, loss, accuracy)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._matrix: tqdm | None = None
        self._cell: tqdm | None = None
        self._cell_id = ""

    def note(self, text: str) -> None:
        """Print ``text`` as a line above the bars."""
        tqdm.write(f"bench: {text}", file=self._stream)

    def matrix_started(
        self, total: int, reused: int, labels: Mapping[str, str] | None = None
    ) -> None:
        """Open the matrix bar (a new one for each wave a planner adds)."""
        if self._matrix is not None:
            self._matrix.close()
        self._matrix = tqdm(
            total=total,
            desc=f"cells ({reused} stored)",
            unit="cell",
            position=0,
            file=self._stream,
            dynamic_ncols=True,
        )

    def cell_started(self, cell: Cell) -> None:
        """Open a bar for the cell."""
        self._cell_id = cell.id
        label = f"{cell.model.describe()} seed {cell.seed}"
        self._cell = tqdm(
            total=_epochs(cell),
            desc=label if len(label) <= 48 else label[:47] + "…",
            unit="epoch",
            position=1,
            leave=False,
            file=self._stream,
            dynamic_ncols=True,
        )

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Advance the cell bar and show loss and accuracy."""
        if self._cell is not None:
            self._cell.set_postfix_str(_summary(metrics), refresh=False)
            self._cell.update(1)

    def cell_finished(self, record: CellRecord) -> None:
        """Close the cell bar (when it is this cell's) and advance the matrix bar; failures get
        a line of their own."""
        if self._cell is not None and self._cell_id == record.cell_id:
            self._cell.close()
            self._cell = None
        if record.status != "ok":
            tqdm.write(
                f"{record.status.upper()} {record.cell_id}: {record.error}", file=self._stream
            )
        if self._matrix is not None:
            self._matrix.update(1)

    def close(self) -> None:
        """Close any open bar."""
        for bar in (self._cell, self._matrix):
            if bar is not None:
                bar.close()


class SilentProgress:
    """Progress that shows nothing (for cells run away from the terminal)."""

    def note(self, text: str) -> None:
        """Nothing to show."""

    def matrix_started(
        self, total: int, reused: int, labels: Mapping[str, str] | None = None
    ) -> None:
        """Nothing to show."""

    def cell_started(self, cell: Cell) -> None:
        """Nothing to show."""

    def epoch_ended(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Nothing to show."""

    def cell_finished(self, record: CellRecord) -> None:
        """Nothing to show."""

    def close(self) -> None:
        """Nothing to close."""
