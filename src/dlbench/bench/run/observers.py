"""Lifecycle hooks (cell start, epoch end, cell end) called plugin by plugin, so that one
observer's exception never costs a cell, a record or the run."""

from __future__ import annotations

import traceback
import warnings
from pathlib import Path
from typing import Any

from dlbench.bench.run.failures import short_path
from dlbench.registry.manager import PluginHost

#: A plugin module (or object) that sets this to true makes its lifecycle hooks' exceptions fail
#: the cell instead of being reported as warnings.
REQUIRED_ATTRIBUTE = "dlbench_required"


class ObserverError(RuntimeError):
    """A required observer plugin's lifecycle hook raised."""


class ObserverWarning(UserWarning):
    """An optional observer plugin's lifecycle hook raised; ``traceback`` holds its traceback
    (``bench --debug`` prints it)."""

    traceback: str = ""


def hook_location(exc: BaseException, function: Any) -> str:
    """``path/plugin.py:12``: the deepest line of the traceback in the hook function's own
    file, else the line where the function starts."""
    code = getattr(function, "__code__", None)
    home = Path(code.co_filename).resolve() if code is not None else None
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if home is not None and Path(frame.filename).resolve() == home:
            return f"{short_path(home)}:{frame.lineno}"
    return f"{short_path(home)}:{code.co_firstlineno}" if code is not None and home else "?"


class Observers:
    """Calls one lifecycle hook in every plugin that implements it, each on its own.

    :param results_dir: the run's results directory, handed to every hook.
    """

    def __init__(self, host: PluginHost, results_dir: Path) -> None:
        self._host = host
        self._results_dir = results_dir
        self._warned: set[str] = set()
        #: One line per plugin whose hook failed, for the records and the report.
        self.failures: list[str] = []

    def notify(self, hook_name: str, *, failures_fail: bool = True, **kwargs: Any) -> None:
        """Call ``hook_name`` in each plugin with ``kwargs`` and the results directory.

        An exception from an optional plugin is a warning, once per plugin and run; from a
        required one it raises ``ObserverError`` when ``failures_fail`` (else it warns too).
        """
        kwargs["results_dir"] = self._results_dir
        for impl in getattr(self._host.hook, hook_name).get_hookimpls():
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as exc:
                where = hook_location(exc, impl.function)
                message = f"plugin {impl.plugin_name!r} failed in {hook_name} ({where}): "
                message += f"{type(exc).__name__}: {exc}"
                if failures_fail and getattr(impl.plugin, REQUIRED_ATTRIBUTE, False) is True:
                    raise ObserverError(message) from exc
                if impl.plugin_name not in self._warned:
                    self._warned.add(impl.plugin_name)
                    self.failures.append(" ".join(message.split()))
                    warning = ObserverWarning(
                        f"{message}; its hooks' errors are ignored for the rest of this run"
                    )
                    warning.traceback = "".join(traceback.format_exception(exc))
                    warnings.warn(warning, stacklevel=2)
