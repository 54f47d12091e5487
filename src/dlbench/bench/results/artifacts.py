"""Artifacts in a results directory: checkpoints stored under their content hash, and cached
outputs (teacher outputs, features) with their hash beside them; every one verified before use
and never read from outside the results directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from dlbench.bench.results.files import file_mode, sha256_of, verify_hash, write_atomic
from dlbench.bench.results.store import ARTIFACTS, CACHE, ResultStore
from dlbench.registry.errors import DlbenchError


def cached(store: ResultStore, key: str, write: Callable[[Path], None]) -> Path:
    """The cache file for ``key``, written by ``write(path)`` the first time it is asked for.

    For outputs shared by many cells (teacher outputs, extracted features): computed once
    per results directory and reused by every cell and every rerun. Its content hash is kept
    beside it and checked on every use.
    """
    path = store.target(f"{CACHE}/{key}.pt")
    digest_path = store.target(f"{CACHE}/{key}.sha256")
    if path.is_file() and digest_path.is_file():
        verify_hash(path, digest_path.read_text(encoding="ascii").strip())
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".cache.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        os.chmod(temp, file_mode())
        write_atomic(digest_path, sha256_of(Path(temp)) + "\n")
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)
    return path


def put_artifact(store: ResultStore, write: Callable[[Path], None], suffix: str = ".pt") -> str:
    """Store a file written by ``write(path)`` under its content hash; return its path.

    The path is relative to the results directory. The same content is stored once.
    """
    directory = store.target(f"{ARTIFACTS}/x").parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".artifact.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        os.chmod(temp, file_mode())
        name = f"{ARTIFACTS}/{sha256_of(Path(temp))[:32]}{suffix}"
        os.replace(temp, store.target(name))
    finally:
        Path(temp).unlink(missing_ok=True)
    return name


def verified_artifact(store: ResultStore, name: str) -> Path:
    """The artifact ``name`` (as a record stores it), after checking that it lies inside
    the results directory and that its bytes still match the content hash in its name.

    :raises DlbenchError: saying which check failed.
    """
    path = store.root / name
    base = store.root.resolve()
    if Path(name).is_absolute() or not path.resolve().is_relative_to(base):
        raise DlbenchError(
            f"{name}: an artifact path outside the results directory {store.root}; refused"
        )
    expected = Path(name).stem
    if len(expected) != 32 or any(c not in "0123456789abcdef" for c in expected):
        raise DlbenchError(f"{name}: not a content-hashed artifact name; refused")
    verify_hash(path, expected)
    return path
