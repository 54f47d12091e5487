"""Merge results directories of one matrix (run on several machines, say seeds 0-2 here and 3-5
there) into a new one whose report has every table over all of them. Records of one cell that
disagree are a conflict: reported, and the cell shows as failed with the reason, never one of
them picked silently."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dlbench.bench.files import write_atomic
from dlbench.bench.report_files import read_manifest
from dlbench.bench.store import ResultStore
from dlbench.registry.errors import DlbenchError
from dlbench.registry.records import CellRecord
from dlbench.reports.manifest import ExperimentEntry, Manifest

#: Metrics that measure the machine, not the result: records may differ in them and agree.
TIMING_KEYS = ("train_seconds", "images_per_second")


def merge_manifests(manifests: Sequence[Manifest]) -> Manifest:
    """One manifest with every experiment's cells from all of ``manifests`` (same matrix)."""
    names = {m.name for m in manifests}
    if len(names) > 1:
        raise DlbenchError(
            f"results of different matrices ({', '.join(sorted(names))}) do not merge"
        )
    experiments: dict[str, ExperimentEntry] = {}
    for manifest in manifests:
        for entry in manifest.experiments:
            known = experiments.get(entry.name)
            if known is None:
                experiments[entry.name] = entry
                continue
            cells = {c.id: c for c in (*known.cells, *entry.cells)}
            skipped = tuple(dict.fromkeys((*known.skipped, *entry.skipped)))
            experiments[entry.name] = replace(
                known,
                cells=tuple(cells.values()),
                skipped=skipped,
                selected=known.selected or entry.selected,
            )
    first = manifests[0]
    return replace(
        first,
        source=" + ".join(dict.fromkeys(m.source for m in manifests)),
        experiments=tuple(experiments.values()),
        probe_plots={k: v for m in manifests for k, v in m.probe_plots.items()},
        code={k: v for m in manifests for k, v in m.code.items()},
    )


def _result(record: CellRecord) -> str:
    final = {k: v for k, v in record.final.items() if k.partition("@")[0] not in TIMING_KEYS}
    return json.dumps([final, record.model_card], sort_keys=True)


def merge_records(
    sources: Sequence[tuple[Path, dict[str, CellRecord]]],
) -> tuple[dict[str, CellRecord], list[str]]:
    """Each cell's record across ``sources``; a finished record beats a failure, agreeing ones
    are one, disagreeing ones a conflict (a failed record saying so). The conflicts' reasons."""
    merged: dict[str, CellRecord] = {}
    origin: dict[str, Path] = {}
    conflicts = []
    for path, records in sources:
        for cell_id, record in records.items():
            known = merged.get(cell_id)
            if known is None or (known.status != "ok" and record.status == "ok"):
                merged[cell_id], origin[cell_id] = record, path
            elif known.status == record.status == "ok" and _result(known) != _result(record):
                reason = (
                    f"conflicting results for this cell in {origin[cell_id]} and {path} "
                    "(same configuration, different metrics); merge one of them, or rerun it"
                )
                conflicts.append(f"cell {cell_id}: {reason}")
                merged[cell_id] = replace(known, status="failed", error=reason)
    return merged, conflicts


def merge_runs(runs: Sequence[Path], out: Path) -> list[str]:
    """Write the merge of ``runs`` into the new results directory ``out``; the conflicts."""
    if out.exists() and any(out.iterdir()):
        raise DlbenchError(f"--out {out}: not empty; give a new folder for the merged results")
    stores = []
    for run in runs:
        if not run.is_dir():
            raise DlbenchError(f"{run}: not a results directory")
        stores.append(ResultStore(run))
    manifests = [read_manifest(store) for store in stores]
    manifest = merge_manifests(manifests)
    ids = manifest.cell_ids()
    records, conflicts = merge_records([(store.root, store.records(ids)) for store in stores])
    target = ResultStore.open(out, manifest.name)
    with target.lock():
        target.write_manifest(manifest.to_json())
        for record in records.values():
            for name in record.artifacts.values():
                for store in stores:
                    source = store.root / name
                    if source.is_file() and not (out / name).exists():
                        destination = target.target(name)
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(source, destination)
            write_atomic(
                target.target(f"cells/{record.cell_id}.json"),
                json.dumps(record.to_json(), indent=1, sort_keys=True),
            )
    return conflicts
