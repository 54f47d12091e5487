"""The result store: one JSON record per cell, written atomically, under a results directory.

Layout of ``DIR``::

    manifest.json        the expanded matrix (experiments, their cells and tables)
    cells/<id>.json      one record per cell that ran (``ok``, ``failed`` or ``skipped``)
    attempts/<id>.json   the last failed rerun of a cell whose finished record is kept
    artifacts/<hash>.pt  checkpoints, named by their content hash
    artifacts/cache/     cached outputs (teacher outputs, features) with their content hashes
    report.md, tables/   the tables, redrawn from the above

Nothing is ever written through a link that leads outside ``DIR``, a finished record is never
replaced by a failed one, and every artifact's content hash is checked before it is used.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from dlbench.bench.results.files import file_mode, read_json, write_atomic
from dlbench.registry.errors import DlbenchError
from dlbench.registry.records import CellRecord

MANIFEST = "manifest.json"
#: What a run writes under the results directory.
WRITTEN_FOLDERS = ("cells", "attempts", "artifacts", "artifacts/cache", "tables", "plots")
#: Each decided comparison's design, stored at its first look (see results/designs.py).
DESIGNS = "designs.json"
WRITTEN_FILES = (MANIFEST, DESIGNS, "report.md", "report.html")
LOCK = ".lock"
#: Files dlbench leaves in a folder before it holds a manifest (the lock, a merge in progress).
MERGE_MARKER = ".dlbench-merge"
OWN_MARKERS = (LOCK, MERGE_MARKER)
ARTIFACTS = "artifacts"
ATTEMPTS = "attempts"
CACHE = f"{ARTIFACTS}/cache"


class StoredRecords(Mapping[str, CellRecord]):
    """The stored records of a results directory as a read-only mapping, each read when first
    asked for (planners look up cells they make as they go: tuning trials, final runs)."""

    def __init__(self, store: ResultStore) -> None:
        self._store = store
        self._read: dict[str, CellRecord | None] = {}

    def __getitem__(self, cell_id: str) -> CellRecord:
        if cell_id not in self._read:
            self._read[cell_id] = self._store.get(cell_id)
        record = self._read[cell_id]
        if record is None:
            raise KeyError(cell_id)
        return record

    def __iter__(self) -> Iterator[str]:
        folder = self._store.cells_dir
        names = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        return iter([name for name in names if name in self])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class ResultStore:
    """Records of one matrix's cells, by cell id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cells_dir = root / "cells"

    # -- paths --------------------------------------------------------------------------------

    def target(self, relative: str | Path) -> Path:
        """``root/relative`` for writing, after checking that no link on the way leads outside
        the results directory.

        :raises DlbenchError: naming the link.
        """
        path = self.root / relative
        base = self.root.resolve()
        if not path.parent.resolve().is_relative_to(base):
            raise DlbenchError(
                f"{path.parent}: a link that leads outside the results directory {self.root}; "
                "refusing to write through it (replace the link with a folder)"
            )
        if path.is_symlink() or (path.exists() and not path.resolve().is_relative_to(base)):
            raise DlbenchError(
                f"{path}: a link; refusing to write through it (remove it to let dlbench "
                "write the file)"
            )
        return path

    # -- locking and the manifest ---------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock while writing, so two runs never write the same cells."""
        path = self.root / LOCK
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise DlbenchError(
                f"{path}: expected dlbench's lock file, found a "
                f"{'link' if path.is_symlink() else 'folder'}; remove it and run again"
            )
        lock = FileLock(path, mode=file_mode())
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise DlbenchError(
                f"--out {self.root}: another bench run is writing here; wait for it to finish "
                "or choose another --out"
            ) from None
        except OSError as exc:
            raise DlbenchError(f"{path}: cannot take the lock: {exc.strerror}") from None
        try:
            yield
        finally:
            lock.release()

    @classmethod
    def open(cls, root: Path, matrix_name: str) -> ResultStore:
        """Open (creating if needed) ``root`` for ``matrix_name``.

        :raises DlbenchError: when ``root`` is not a directory or holds another matrix's results.
        """
        if root.exists() and not root.is_dir():
            raise DlbenchError(f"--out {root}: exists and is not a directory")
        if root.is_dir() and not (root / MANIFEST).exists() and not (root / "cells").is_dir():
            # Not a results directory: never write over a user's own files.
            found = sorted(p.name for p in root.iterdir() if p.name not in OWN_MARKERS)
            if found:
                shown = ", ".join(found[:5]) + (
                    f" and {len(found) - 5} more" if len(found) > 5 else ""
                )
                raise DlbenchError(
                    f"--out {root}: not empty ({shown}) and not a results directory; a run "
                    "writes only into an empty folder or its own results directory: choose "
                    "another --out"
                )
        store = cls(root)
        manifest = store.read_manifest(missing_ok=True, damaged_ok=True)
        if manifest is not None and manifest.get("name") != matrix_name:
            raise DlbenchError(
                f"--out {root}: holds results of matrix {manifest.get('name')!r}, not "
                f"{matrix_name!r}; choose another --out directory"
            )
        # Every place a run writes, checked before anything trains.
        for folder in WRITTEN_FOLDERS:
            store.target(f"{folder}/x")
        for name in WRITTEN_FILES:
            store.target(name)
        try:
            store.cells_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DlbenchError(f"--out {root}: cannot create: {exc.strerror}") from None
        return store

    def read_manifest(
        self, missing_ok: bool = False, damaged_ok: bool = False
    ) -> dict[str, Any] | None:
        """The stored manifest as JSON; ``None`` if absent and ``missing_ok``, or damaged and
        ``damaged_ok`` (a run rewrites it from the matrix)."""
        path = self.root / MANIFEST
        if path.exists() and not path.resolve().is_relative_to(self.root.resolve()):
            if damaged_ok:
                return None
            raise DlbenchError(f"{path}: a link to outside the results directory; not read")
        try:
            data = read_json(path)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise DlbenchError(f"{self.root}: not a results directory (no {MANIFEST})") from None
        except (OSError, ValueError) as exc:
            if damaged_ok:
                return None
            raise DlbenchError(f"{path}: unreadable manifest: {exc}") from None
        if not isinstance(data, dict):
            if damaged_ok:
                return None
            raise DlbenchError(f"{path}: unreadable manifest: not a JSON object")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Store the expanded matrix that reports are drawn from."""
        write_atomic(self.target(MANIFEST), json.dumps(manifest, indent=2, sort_keys=True))

    # -- records -------------------------------------------------------------------------------

    def _read_record(self, path: Path, cell_id: str) -> CellRecord | None:
        if not path.resolve().is_relative_to(self.root.resolve()):
            message = f"{path}: a link to outside the results directory; not read"
            warnings.warn(message, stacklevel=3)
            return None
        try:
            record = CellRecord.from_json(read_json(path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            message = f"{path}: unreadable record ({exc}); the cell will run again"
            warnings.warn(message, stacklevel=3)
            return None
        if record.cell_id != cell_id:
            warnings.warn(f"{path}: record of another cell; the cell will run again", stacklevel=3)
            return None
        return record

    def get(self, cell_id: str) -> CellRecord | None:
        """The record of ``cell_id`` or ``None``; an unreadable one warns and counts as absent."""
        return self._read_record(self.cells_dir / f"{cell_id}.json", cell_id)

    def failed_attempt(self, cell_id: str) -> CellRecord | None:
        """The last failed rerun of a cell whose finished record was kept, if any."""
        return self._read_record(self.root / ATTEMPTS / f"{cell_id}.json", cell_id)

    def is_finished(
        self, cell_id: str, artifacts: Iterable[str] = (), probes: Iterable[str] = ()
    ) -> bool:
        """Whether ``cell_id`` has a successful record with these artifacts and probe results.

        Failed and skipped cells run again, and so does a cell whose consumers now need an
        artifact it did not store, or whose matrix now asks for a probe it did not run.
        """
        record = self.get(cell_id)
        return record is not None and self.satisfies(record, artifacts, probes)

    def satisfies(
        self, record: CellRecord, artifacts: Iterable[str] = (), probes: Iterable[str] = ()
    ) -> bool:
        """Whether ``record`` finished with these artifacts (present on disk) and probes."""
        return (
            record.status == "ok"
            and all(
                kind in record.artifacts and (self.root / record.artifacts[kind]).is_file()
                for kind in artifacts
            )
            and all(name in record.probes for name in probes)
        )

    def put(self, record: CellRecord) -> bool:
        """Store ``record`` atomically.

        A finished (``ok``) record is never replaced by a failed or skipped one: the failure is
        kept beside it in ``attempts/`` and the report lists it. A new finished record replaces
        the old one and clears that failure.

        :returns: whether ``record`` became the cell's record.
        """
        text = json.dumps(record.to_json(), indent=1, sort_keys=True, allow_nan=True)
        if record.status != "ok":
            existing = self.get(record.cell_id)
            if existing is not None and existing.status == "ok":
                write_atomic(self.target(f"{ATTEMPTS}/{record.cell_id}.json"), text)
                return False
        write_atomic(self.target(f"cells/{record.cell_id}.json"), text)
        if record.status == "ok":
            attempt = self.root / ATTEMPTS / f"{record.cell_id}.json"
            if attempt.is_file() and not attempt.is_symlink():
                attempt.unlink()
        return True

    def records(self, cell_ids: Iterable[str]) -> dict[str, CellRecord]:
        """The stored records among ``cell_ids``."""
        found = {}
        for cell_id in cell_ids:
            record = self.get(cell_id)
            if record is not None:
                found[cell_id] = record
        return found

    def failed_attempts(self, cell_ids: Iterable[str]) -> dict[str, CellRecord]:
        """The failed reruns kept beside finished records, among ``cell_ids``."""
        if not (self.root / ATTEMPTS).is_dir():
            return {}
        found = {}
        for cell_id in cell_ids:
            record = self.failed_attempt(cell_id)
            if record is not None:
                found[cell_id] = record
        return found
