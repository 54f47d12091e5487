"""Merge results directories of one matrix (run on several machines, say seeds 0-2 here and 3-5
there) into a new one whose report has every table over all of them. Records of one cell that
disagree are a conflict: reported, and the cell shows as failed with the reason, never one of
them picked silently. Experiments defined differently (other tables, title, description,
probes) do not merge. Artifacts are copied only after their content hash is checked and only
from inside their results directory. The merge is written into a temporary folder beside
``--out`` and renamed into place when whole, so an interrupted merge never leaves a half-merged
``--out``; its leftovers are recognised and removed by the next merge."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dlbench.bench.results.artifacts import verified_artifact
from dlbench.bench.results.files import write_atomic
from dlbench.bench.results.outputs import refuse_inside
from dlbench.bench.results.report_files import read_manifest
from dlbench.bench.results.store import MERGE_MARKER, ResultStore
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
            _check_same_definition(known, entry, manifests[0].source, manifest.source)
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


#: What defines an experiment beyond its cells: runs that differ in these are not one matrix.
DEFINITION = ("title", "description", "tables", "probes")


def _check_same_definition(
    first: ExperimentEntry, other: ExperimentEntry, first_source: str, other_source: str
) -> None:
    for key in DEFINITION:
        if getattr(first, key) != getattr(other, key):
            raise DlbenchError(
                f"experiment {first.name!r}: its {key} differ between the runs of "
                f"{first_source} and {other_source}; only runs of the same matrix definition "
                "merge (rerun one of them with the other's matrix file)"
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
                # Each record says which run it came from: the report names the source runs.
                source = {**record.environment, "merged_from": str(path)}
                merged[cell_id], origin[cell_id] = replace(record, environment=source), path
            elif known.status == record.status == "ok" and _result(known) != _result(record):
                reason = (
                    f"conflicting results for this cell in {origin[cell_id]} and {path} "
                    "(same configuration, different metrics); merge one of them, or rerun it"
                )
                conflicts.append(f"cell {cell_id}: {reason}")
                merged[cell_id] = replace(known, status="failed", error=reason)
    return merged, conflicts


#: The prefix of a merge's temporary folder beside ``--out`` (``.<name>.merging-XXXX``).
MERGING = ".merging-"
#: The file that marks a temporary folder as a merge's own.
MARKER = MERGE_MARKER


def merge_runs(runs: Sequence[Path], out: Path) -> list[str]:
    """Write the merge of ``runs`` into the new results directory ``out``; the conflicts and the
    artifacts left out (a link out of its results directory, or bytes that changed)."""
    refuse_inside(out, runs)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise DlbenchError(f"--out {out}: exists and is not a folder; give a new folder")
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
    parent = out.absolute().parent
    if not parent.is_dir():
        raise DlbenchError(f"--out {out}: folder {parent} does not exist")
    _remove_leftovers(parent, out.name)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}{MERGING}"))
    try:
        (staging / MARKER).write_text("a merge in progress; removed by the next merge\n")
        target = ResultStore.open(staging, manifest.name)
        problems = _write(target, stores, manifest, records)
        (staging / MARKER).unlink()
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return conflicts + problems


def _write(
    target: ResultStore,
    stores: Sequence[ResultStore],
    manifest: Manifest,
    records: dict[str, CellRecord],
) -> list[str]:
    """Write the merged manifest, records and verified artifacts into ``target``."""
    problems = []
    with target.lock():
        target.write_manifest(manifest.to_json())
        for cell_id, record in list(records.items()):
            kept = {}
            for kind, name in record.artifacts.items():
                reason = _copy_artifact(name, stores, target)
                if reason is None:
                    kept[kind] = name
                else:
                    problems.append(f"cell {cell_id}: artifact {name} not merged: {reason}")
            if kept != record.artifacts:
                records[cell_id] = record = replace(record, artifacts=kept)
            write_atomic(
                target.target(f"cells/{record.cell_id}.json"),
                json.dumps(record.to_json(), indent=1, sort_keys=True),
            )
    return problems


def _copy_artifact(name: str, stores: Sequence[ResultStore], target: ResultStore) -> str | None:
    """Copy artifact ``name`` from the first store that holds it whole; why not, or ``None``."""
    if (target.root / name).is_file():
        return None
    reasons = []
    for store in stores:
        if not (store.root / name).exists() and not (store.root / name).is_symlink():
            continue
        try:
            source = verified_artifact(store, name)
        except DlbenchError as exc:
            reasons.append(str(exc))
            continue
        destination = target.target(name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        return None
    return "; ".join(reasons) or "in none of the results directories"


def _remove_leftovers(parent: Path, name: str) -> None:
    """Remove the temporary folders of interrupted merges into ``parent / name``."""
    for folder in parent.glob(f".{name}{MERGING}*"):
        if folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            print(
                f"bench: removed {folder}, left by an interrupted merge into {parent / name}",
                file=sys.stderr,
            )
