"""Files of the results directory: atomic writes with the user's umask, bounded reads, hashes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from dlbench.registry.errors import DlbenchError

#: Stored JSON files larger than this are refused unread (a record is a few hundred KB at most).
MAX_JSON_BYTES = 64 * 1024 * 1024


@cache
def file_mode() -> int:
    """The mode new files get under the user's umask (files are never executable)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` so that readers see the old file or the whole new one.

    The file gets the mode the user's umask gives new files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), file_mode())
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    """A stored JSON file, refused unread when larger than ``MAX_JSON_BYTES``.

    :raises OSError: when it cannot be read; :raises ValueError: when it is not JSON or too big.
    """
    with open(path, "rb") as handle:
        data = handle.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES // 2**20} MiB")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply to be a dlbench file") from None


def verify_hash(path: Path, expected: str) -> None:
    """Check that ``path``'s SHA-256 starts with ``expected`` (a content-hashed name, or the
    digest stored beside a file).

    :raises DlbenchError: when the file is missing or its bytes changed.
    """
    try:
        actual = sha256_of(path)
    except FileNotFoundError:
        raise DlbenchError(f"{path}: artifact missing; rerun its producer cell") from None
    if not expected or not actual.startswith(expected):
        raise DlbenchError(
            f"{path}: damaged (its content hash {actual[:32]} does not match {expected[:32]}); "
            "delete it and rerun its producer"
        )


#: A temporary file nothing has written to for this long belongs to a writer that died: the
#: largest write (a checkpoint) takes seconds.
TEMPORARY_IDLE_SECONDS = 600.0


def remove_dead_temporaries(
    root: Path, folders: Iterable[str], idle_seconds: float = TEMPORARY_IDLE_SECONDS
) -> int:
    """Remove the temporary files (``.NAME.XXXX.tmp``, as ``write_atomic`` and the store
    name them) that writers which died left in ``root`` and its ``folders``, once nothing has
    written to them for ``idle_seconds``. Links are never followed. Call it holding the results
    directory's lock. Returns how many were removed."""
    removed = 0
    now = time.time()
    for folder in (".", *folders):
        directory = root / folder
        if directory.is_symlink() or not directory.is_dir():
            continue
        for path in directory.glob(".*.tmp"):
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > idle_seconds:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
