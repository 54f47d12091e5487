"""A failed cell's one line: what was raised, and where: the plugin, the stage of the run
(dataset load, model build, batch transform, loss, ...) and the innermost frame of the plugin's
own code, so that ``KeyError: 'grad_scale'`` reads with the file and line to look at."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from pathlib import Path

from dlbench.engine.stages import STAGE_OWNERS, stage_of
from dlbench.registry.errors import DlbenchError


def describe_failure(
    exc: BaseException,
    plugin_files: Mapping[str, tuple[str, frozenset[Path]]] | None = None,
) -> tuple[str, str | None]:
    """The failure's one-line reason and traceback; a fixed text where describing it fails too
    (running out of memory while formatting, an exception whose ``str`` raises).

    :param plugin_files: component kind (``model``, ``dataset``, ``strategy``) -> the plugin
        behind it and that plugin's source files. dlbench's own errors (``DlbenchError``)
        already say where and are left as they are.
    """
    try:
        message = str(exc)
    except Exception:
        message = ""
    if not message and isinstance(exc, MemoryError):
        message = "out of memory"
    error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    error = " ".join(error.split())  # one line, whatever the message holds
    if not isinstance(exc, DlbenchError):
        where = _where(exc, plugin_files or {})
        if where:
            error += f" ({where})"
    try:
        trace = "".join(traceback.format_exception(exc))
    except Exception:
        trace = None
    traceback.clear_frames(exc.__traceback__)
    return error, trace


def _where(exc: BaseException, plugin_files: Mapping[str, tuple[str, frozenset[Path]]]) -> str:
    """``plugin 'x', batch transform, /path/x.py:93``, or as much of it as is known."""
    stage = stage_of(exc) or "strategy run"
    owner = plugin_files.get(STAGE_OWNERS.get(stage, "strategy"))
    plugin = owner[0] if owner else None
    location = None
    try:
        frames = traceback.extract_tb(exc.__traceback__)
    except Exception:
        frames = traceback.StackSummary()
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        found = next((name for name, files in plugin_files.values() if path in files), None)
        if found is not None:
            plugin, location = found, f"{short_path(path)}:{frame.lineno}"
            break
    parts = [f"plugin {plugin!r}" if plugin else "", stage, location or ""]
    return ", ".join(part for part in parts if part)


def short_path(path: Path) -> str:
    """``path`` relative to the working directory where it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
