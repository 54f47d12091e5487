"""Results out of dlbench: tidy rows of one or more results directories as CSV, JSON lines or
parquet, as a pandas DataFrame (``load_results``), or as TensorBoard event files."""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

from dlbench.bench.results.outputs import write_output, write_output_with
from dlbench.bench.results.report_files import read_manifest
from dlbench.bench.results.store import ResultStore
from dlbench.registry.errors import DlbenchError, install_hint
from dlbench.reports.export import cell_rows, columns, decision_rows, epoch_rows

FORMATS = ("csv", "jsonl", "parquet")


def rows(
    paths: Iterable[Path | str], epochs: bool = False, decisions: bool = False
) -> list[dict[str, Any]]:
    """Tidy rows of every results directory in ``paths``, in order: one per cell, per cell and
    epoch (``epochs``), or per decided comparison (``decisions``)."""
    found: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if not path.is_dir():
            raise DlbenchError(f"{path}: not a results directory")
        if path.resolve() in seen:
            warnings.warn(f"{path}: given more than once; its rows are read once", stacklevel=3)
            continue
        seen.add(path.resolve())
        store = ResultStore(path)
        manifest = read_manifest(store)
        records = store.records(manifest.cell_ids())
        build = decision_rows if decisions else epoch_rows if epochs else cell_rows
        found += build(manifest, records, str(path))
    return found


def stored_cells(paths: Iterable[Path | str]) -> dict[str, dict[str, Any]]:
    """Cell id -> its stored cell (``Cell.to_json``) for every record of the results
    directories ``paths``."""
    found: dict[str, dict[str, Any]] = {}
    for path in map(Path, paths):
        store = ResultStore(path)
        records = store.records(read_manifest(store).cell_ids())
        found.update({cell_id: record.cell for cell_id, record in records.items()})
    return found


def load_results(
    paths: Path | str | Sequence[Path | str], epochs: bool = False
) -> pandas.DataFrame:
    """A pandas DataFrame with one row per cell (or per cell and epoch, with ``epochs``) of the
    results directories ``paths``: the same columns as ``bench export``.

    """
    import pandas

    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not isinstance(paths, Sequence) or not all(isinstance(p, (str, Path)) for p in paths):
        raise DlbenchError(
            f"load_results: expected a results directory or a list of them (str or Path), got "
            f"{type(paths).__name__}"
        )
    found = rows(paths, epochs)
    return pandas.DataFrame(found, columns=columns(found))


def _plain(value: Any) -> Any:
    """JSON-safe: non-finite numbers become null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write(
    found: list[dict[str, Any]], fmt: str, out: Path | None, inputs: Sequence[Path] = ()
) -> str | None:
    """Write rows as ``fmt`` to ``out`` (atomically, never inside ``inputs``), or return the text
    (csv, jsonl) for standard output."""
    if fmt == "parquet":
        if out is None:
            raise DlbenchError("--format parquet needs --out FILE")
        import pandas

        frame = pandas.DataFrame(found, columns=columns(found))
        try:
            write_output_with(out, lambda path: frame.to_parquet(path), inputs)
        except ImportError as exc:
            raise DlbenchError(f"--format parquet: {exc}; {install_hint('export')}") from None
        return None
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.DictWriter(buffer, fieldnames=columns(found), lineterminator="\n")
        writer.writeheader()
        writer.writerows(found)
    else:
        for row in found:
            buffer.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")
    if out is None:
        return buffer.getvalue()
    write_output(out, buffer.getvalue(), inputs)
    return None
