"""Live training curves in TensorBoard: while a matrix runs, each cell's epochs are written as
TensorBoard event files the moment they finish, so that ``tensorboard --logdir RESULTS/tb``
shows the curves of a long run as it goes.

On when the results directory holds a ``tb`` folder (``bench run --tensorboard`` makes it, or
``dlbench.run(..., tensorboard=True)``); off otherwise, at no cost. One run per cell, in a
folder named by the cell (``Cell.slug``, the layout ``bench export --to tensorboard`` writes);
the cell's parameters and seed as hparams with its final metrics when it ends. A cell that runs
again replaces its earlier event files. Works in every process of a run (each worker writes the
cells it trains). Needs ``tensorboard`` (the ``tensorboard`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlbench import Cell, CellRecord, hookimpl

#: The folder under the results directory that holds the live runs (and turns them on).
FOLDER = "tb"
#: How TensorBoard names its event files.
EVENT_FILES = "events.out.tfevents."

#: The open writer of each cell running in this process.
_writers: dict[str, Any] = {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@hookimpl
def dlbench_cell_start(cell: Cell, results_dir: Path) -> None:
    """Open the cell's run (when live curves are on)."""
    folder = results_dir / FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return
    from torch.utils.tensorboard import SummaryWriter

    run = folder / cell.slug()
    for earlier in run.glob(f"{EVENT_FILES}*"):
        if earlier.is_file() and not earlier.is_symlink():
            earlier.unlink()
    _writers[cell.id] = SummaryWriter(log_dir=str(run))


@hookimpl
def dlbench_epoch_end(
    cell: Cell, epoch: int, metrics: Mapping[str, float], results_dir: Path
) -> None:
    """Write the epoch's metrics and flush them, so TensorBoard shows them now."""
    writer = _writers.get(cell.id)
    if writer is None:
        return
    for name, value in metrics.items():
        if name != "epoch" and _number(value):
            writer.add_scalar(name, value, epoch)
    writer.flush()


@hookimpl
def dlbench_cell_end(cell: Cell, record: CellRecord, results_dir: Path) -> None:
    """Add the cell's hparams with its final metrics, and close its run."""
    writer = _writers.pop(cell.id, None)
    if writer is None:
        return
    try:
        finals = {f"final/{k}": v for k, v in record.final.items() if "@" in k and _number(v)}
        if record.status == "ok":
            writer.add_hparams(cell.flat_params(), finals, run_name=".")
    finally:
        writer.close()
