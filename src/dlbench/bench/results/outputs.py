"""Where the output commands (export, baseline, schema, merge, TensorBoard) write: never inside
what they read, never over a folder, and atomically, so that a command can neither damage its own
input nor leave half a file; every refusal is one line naming the option and the path."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from dlbench.bench.results.files import file_mode, write_atomic
from dlbench.registry.errors import DlbenchError


def refuse_inside(out: Path, inputs: Iterable[Path], option: str = "--out") -> None:
    """Refuse ``out`` when it is one of ``inputs``, lies inside one, or holds one.

    :raises DlbenchError: naming the input it would write into.
    """
    target = out.expanduser().resolve()
    for source in inputs:
        base = source.expanduser().resolve()
        if target == base or target.is_relative_to(base):
            raise DlbenchError(
                f"{option} {out}: inside {source}, which this command reads; write it elsewhere"
            )
        if base.is_relative_to(target):
            raise DlbenchError(
                f"{option} {out}: holds {source}, which this command reads; write it elsewhere"
            )


def write_output(
    path: Path, content: str | bytes, inputs: Iterable[Path] = (), option: str = "--out"
) -> None:
    """Write an output file atomically, after ``refuse_inside`` and a check that ``path`` is
    not a folder."""
    write_output_with(path, lambda temp: write_atomic(temp, content), inputs, option)


def write_output_with(
    path: Path, write: Callable[[Path], None], inputs: Iterable[Path] = (), option: str = "--out"
) -> None:
    """Like ``write_output``, for a library that writes the file itself (``write(path)``):
    it writes a temporary file beside ``path``, which then replaces ``path`` in one step."""
    if path.is_dir():
        raise DlbenchError(f"{option} {path}: is a folder; give the name of a file to write")
    refuse_inside(path, inputs, option)
    if not path.parent.is_dir():
        raise DlbenchError(f"{option} {path}: folder {path.parent} does not exist")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        write(temp)
        os.chmod(temp, file_mode())
        os.replace(temp, path)
    except OSError as exc:
        raise DlbenchError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)
