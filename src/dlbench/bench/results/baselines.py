"""Baselines on disk: export a results directory's metrics as a small JSON file, and read a
baseline back (a file, checked, or another results directory)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dlbench.bench.results.files import read_json
from dlbench.bench.results.report_files import read_manifest
from dlbench.bench.results.store import ResultStore
from dlbench.registry.errors import DlbenchError
from dlbench.reports.compare import FORMAT, baseline_cells


def export_baseline(run: Path) -> dict[str, Any]:
    """The finished cells of a results directory and their metrics, as a baseline."""
    if not run.is_dir():
        raise DlbenchError(f"{run}: not a results directory")
    store = ResultStore(run)
    manifest = read_manifest(store)
    records = store.records(manifest.cell_ids()).values()
    return {"format": FORMAT, "matrix": manifest.name, "cells": baseline_cells(records)}


def load_baseline(path: Path) -> dict[str, Any]:
    """A baseline from a results directory or an exported JSON file, its shape checked."""
    if path.is_dir():
        return export_baseline(path)
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise DlbenchError(f"{path}: no such baseline file or results directory") from None
    except (OSError, ValueError) as exc:
        raise DlbenchError(f"{path}: unreadable baseline: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DlbenchError(f"{path}: not a dlbench baseline (expected format {FORMAT!r})")
    problem = _shape_problem(data)
    if problem is not None:
        raise DlbenchError(f"{path}: damaged baseline: {problem}")
    return data


def _shape_problem(data: dict[str, Any]) -> str | None:
    cells = data.get("cells")
    if not isinstance(cells, dict):
        return "'cells' is not a mapping"
    for key, cell in cells.items():
        if not isinstance(cell, dict):
            return f"cells.{key} is not a mapping"
        if not isinstance(cell.get("cell"), str) or not isinstance(cell.get("metrics"), dict):
            return f"cells.{key} needs 'cell' (text) and 'metrics' (a mapping)"
        if not isinstance(cell.get("group", ""), str):
            return f"cells.{key}.group is not text"
        if not isinstance(cell.get("concurrency", ""), str):
            return f"cells.{key}.concurrency is not text"
        for metric, value in cell["metrics"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"cells.{key}.metrics.{metric} is not a number"
            if not math.isfinite(value):
                return f"cells.{key}.metrics.{metric} is not finite"
    return None
