"""TensorBoard event files from stored records, so old runs, Ray runs and parallel runs export
alike and offline: one run per cell, its per-epoch curves as scalars and its parameters as
hparams with the final metrics; exporting again into the same folder replaces each cell's run.
Needs ``tensorboard`` (``pip install 'dlbench[tensorboard]'``)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from dlbench.registry.errors import DlbenchError

HINT = "pip install 'dlbench[tensorboard]'"
#: How TensorBoard names its event files.
EVENT_FILES = "events.out.tfevents."


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_")[:120] or "cell"


def export_tensorboard(rows: list[dict[str, Any]], epochs: list[dict[str, Any]], out: Path) -> int:
    """Write one TensorBoard run per cell of ``rows`` under ``out``; the number written.

    :param rows: tidy cell rows (``dlbench.reports.export.cell_rows``).
    :param epochs: tidy cell-and-epoch rows of the same cells.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DlbenchError(f"--to tensorboard needs tensorboard: {HINT}") from None
    by_cell: dict[str, list[dict[str, Any]]] = {}
    for row in epochs:
        by_cell.setdefault(row["cell_id"], []).append(row)
    written = 0
    for row in rows:
        if row["status"] != "ok":
            continue
        experiment = row["experiments"].split(",")[0]
        run = out / _safe(row["matrix"]) / _safe(experiment) / row["cell_id"]
        # Exported again, a cell's run replaces its earlier event files rather than adding a
        # second copy of every curve beside them.
        for earlier in run.glob(f"{EVENT_FILES}*"):
            if earlier.is_file() and not earlier.is_symlink():
                earlier.unlink()
        with SummaryWriter(log_dir=str(run)) as writer:
            for epoch in by_cell.get(row["cell_id"], []):
                for name, value in epoch.items():
                    if _number(value) and name not in ("epoch", "seed") and "." not in name:
                        writer.add_scalar(name, value, int(epoch["epoch"]))
            hparams = {
                k: v
                for k, v in row.items()
                if "." in k
                and k.split(".")[0] in ("model", "dataset", "strategy")
                and isinstance(v, (int, float, str, bool))
            }
            hparams["seed"] = row["seed"]
            finals = {f"final/{k}": v for k, v in row.items() if "@" in k and _number(v)}
            writer.add_hparams(hparams, finals, run_name=".")
        written += 1
    return written


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
