"""The result store: one JSON record per cell, written atomically, under a results directory.

Layout of ``DIR``::

    manifest.json        the expanded matrix (experiments, their cells and tables)
    cells/<id>.json      one record per cell that ran (``ok``, ``failed`` or ``skipped``)
    artifacts/<hash>.pt  checkpoints and cached outputs, named by their content hash
    report.md            the tables, redrawn from the above
    tables/*.csv         the same tables as CSV
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from registry.errors import DlbenchError
from registry.run import CellRecord

MANIFEST = "manifest.json"
LOCK = ".lock"
ARTIFACTS = "artifacts"


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class ResultStore:
    """Records of one matrix's cells, by cell id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cells_dir = root / "cells"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock while writing, so two runs never write the same cells."""
        lock = FileLock(self.root / LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise DlbenchError(
                f"--out {self.root}: another bench run is writing here; wait for it to finish "
                "or choose another --out"
            ) from None
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
        store = cls(root)
        manifest = store.read_manifest(missing_ok=True)
        if manifest is not None and manifest.get("name") != matrix_name:
            raise DlbenchError(
                f"--out {root}: holds results of matrix {manifest.get('name')!r}, not "
                f"{matrix_name!r}; choose another --out directory"
            )
        try:
            store.cells_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DlbenchError(f"--out {root}: cannot create: {exc.strerror}") from None
        return store

    def read_manifest(self, missing_ok: bool = False) -> dict[str, Any] | None:
        """The stored manifest; ``None`` if absent and ``missing_ok``."""
        path = self.root / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if missing_ok:
                return None
            raise DlbenchError(f"{self.root}: not a results directory (no {MANIFEST})") from None
        except (OSError, ValueError) as exc:
            raise DlbenchError(f"{path}: unreadable manifest: {exc}") from None
        if not isinstance(data, dict):
            raise DlbenchError(f"{path}: unreadable manifest: not a JSON object")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Store the expanded matrix that reports are drawn from."""
        write_atomic(self.root / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))

    def get(self, cell_id: str) -> CellRecord | None:
        """The record of ``cell_id`` or ``None``; an unreadable one warns and counts as absent."""
        path = self.cells_dir / f"{cell_id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = CellRecord.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            warnings.warn(
                f"{path}: unreadable record ({exc}); the cell will run again", stacklevel=2
            )
            return None
        if record.cell_id != cell_id:
            warnings.warn(f"{path}: record of another cell; the cell will run again", stacklevel=2)
            return None
        return record

    def is_finished(
        self, cell_id: str, artifacts: Iterable[str] = (), probes: Iterable[str] = ()
    ) -> bool:
        """Whether ``cell_id`` has a successful record with these artifacts and probe results.

        Failed and skipped cells run again, and so does a cell whose consumers now need an
        artifact it did not store, or whose matrix now asks for a probe it did not run.
        """
        record = self.get(cell_id)
        return (
            record is not None
            and record.status == "ok"
            and all(
                kind in record.artifacts and (self.root / record.artifacts[kind]).is_file()
                for kind in artifacts
            )
            and all(name in record.probes for name in probes)
        )

    def cached(self, key: str, write: Callable[[Path], None]) -> Path:
        """The cache file for ``key``, written by ``write(path)`` the first time it is asked for.

        For outputs shared by many cells (teacher outputs, extracted features): computed once
        per results directory and reused by every cell and every rerun.
        """
        path = self.root / ARTIFACTS / "cache" / f"{key}.pt"
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".cache.", suffix=".tmp")
        os.close(fd)
        try:
            write(Path(temp))
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
        return path

    def put_artifact(self, write: Callable[[Path], None], suffix: str = ".pt") -> str:
        """Store a file written by ``write(path)`` under its content hash; return its path.

        The path is relative to the results directory. The same content is stored once.
        """
        directory = self.root / ARTIFACTS
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".artifact.", suffix=".tmp")
        os.close(fd)
        try:
            write(Path(temp))
            digest = hashlib.sha256()
            with open(temp, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            name = f"{ARTIFACTS}/{digest.hexdigest()[:32]}{suffix}"
            os.replace(temp, self.root / name)
        finally:
            Path(temp).unlink(missing_ok=True)
        return name

    def put(self, record: CellRecord) -> None:
        """Store ``record`` atomically, replacing an earlier failed record of the same cell."""
        write_atomic(
            self.cells_dir / f"{record.cell_id}.json",
            json.dumps(record.to_json(), indent=1, sort_keys=True, allow_nan=True),
        )

    def records(self, cell_ids: list[str]) -> dict[str, CellRecord]:
        """The stored records among ``cell_ids``."""
        found = {}
        for cell_id in cell_ids:
            record = self.get(cell_id)
            if record is not None:
                found[cell_id] = record
        return found
