"""TensorBoard event files from stored records, so old runs, Ray runs and parallel runs export
alike and offline: one run per cell, in a folder named by the cell (``Cell.slug``: the layout
the live observer ``bench run --tensorboard`` writes), its per-epoch curves as scalars and its
parameters as hparams with the final metrics; exporting again into the same folder replaces
each cell's run. Needs ``tensorboard`` (the ``tensorboard`` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlbench.registry.cell import Cell
from dlbench.registry.errors import DlbenchError, install_hint
from dlbench.reports.compare import finite_number

#: How TensorBoard names its event files.
EVENT_FILES = "events.out.tfevents."


def export_tensorboard(
    rows: list[dict[str, Any]],
    epochs: list[dict[str, Any]],
    out: Path,
    cells: Mapping[str, Mapping[str, Any]],
) -> int:
    """Write one TensorBoard run per cell of ``rows`` under ``out``; the number written.

    :param rows: tidy cell rows (``dlbench.reports.export.cell_rows``).
    :param epochs: tidy cell-and-epoch rows of the same cells.
    :param cells: cell id -> the stored cell (``Cell.to_json``), which names its run's folder.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DlbenchError(
            f"--to tensorboard needs tensorboard: {install_hint('tensorboard')}"
        ) from None
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in epochs:
        by_cell.setdefault(row["cell_id"], []).append(row)
    written = 0
    for row in rows:
        if row["status"] != "ok":
            continue
        cell = Cell.from_json(cells[row["cell_id"]])
        run = out / cell.slug()
        # Exported again, a cell's run replaces its earlier event files rather than adding a
        # second copy of every curve beside them.
        for earlier in run.glob(f"{EVENT_FILES}*"):
            if earlier.is_file() and not earlier.is_symlink():
                earlier.unlink()
        with SummaryWriter(log_dir=str(run)) as writer:
            for epoch in by_cell.get(row["cell_id"], []):
                for name, value in epoch.items():
                    if finite_number(value) and name not in ("epoch", "seed") and "." not in name:
                        writer.add_scalar(name, value, int(epoch["epoch"]))
            finals = {f"final/{k}": v for k, v in row.items() if "@" in k and finite_number(v)}
            writer.add_hparams(cell.flat_params(), finals, run_name=".")
        written += 1
    return written
