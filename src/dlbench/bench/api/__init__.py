"""dlbench from Python (a notebook, a script): ``run`` does what ``bench run`` does, with the
same options, store, resume and errors, and returns ``Results``: cells and epochs as pandas
DataFrames, each table as a DataFrame and as markdown, the report, and an HTML view for
Jupyter."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlbench.bench.api.results import Results, ResultTable, _pandas
from dlbench.registry.errors import DlbenchError

if TYPE_CHECKING:
    import pandas

__all__ = ["ResultTable", "Results", "plan", "run"]


def run(
    matrix: Path | str | Mapping[str, Any],
    *,
    out: Path | str | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    only: Sequence[str] = (),
    jobs: int | str | None = None,
    executor: str | None = None,
    executor_options: Mapping[str, Any] | None = None,
    device: str = "auto",
    threads: int | None = None,
    data_root: Path | str | None = None,
    download: bool = True,
    force: bool = False,
    keep_stale: bool = False,
    allow_slow: bool = False,
    retry_failed: bool = False,
    tensorboard: bool = False,
    mlflow: str | bool = False,
    plugins: Sequence[object] | Mapping[str, object] = (),
    progress: bool = True,
) -> Results:
    """Run a matrix as ``bench run`` does, in this process, and return its ``Results``.

    :param matrix: a matrix file, or the matrix as data (a mapping of the same keys).
    :param out: the results directory (default ``runs/<matrix name>``); a rerun resumes it.
    :param overrides: ``--set`` values: ``["strategy.epochs=1"]`` or ``{"strategy.epochs": 1}``.
    :param only: globs of the experiments to run.
    :param jobs: the local executor's workers (``--jobs``): ``"auto"`` (the default) or a number.
    :param executor: ``local``, ``ray``, ``slurm`` or a plugin's.
    :param executor_options: the executor's options (``--executor-opt``).
    :param device: ``auto``, ``cpu`` or ``cuda``.
    :param threads: torch threads per cell (default: every core this process may use).
    :param data_root: where datasets live (default ``$DLBENCH_DATA``, else a user cache folder).
    :param download: whether missing datasets may be downloaded.
    :param force: rerun cells already stored.
    :param keep_stale: reuse results whose plugin code changed since (marked stale).
    :param allow_slow: run options this device runs slowly (bf16 without native support).
    :param retry_failed: run again the failed runs of decided comparisons (``--retry-failed``);
        a verdict that changes is marked revised in the report.
    :param tensorboard: write each cell's curves as TensorBoard event files while it trains,
        under ``out/tb`` (``--tensorboard``).
    :param mlflow: log each cell to MLflow while it trains (``--mlflow``): a tracking URI, or
        ``True`` for ``$MLFLOW_TRACKING_URI``, else MLflow's default store.
    :param progress: show progress (bars in a terminal or a notebook, lines otherwise, and the
        run's notes: what auto jobs chose, what each wave of a decided comparison adds); false
        shows nothing, for outputs that are kept (a notebook's). Errors are raised either way.
    :param plugins: plugin objects (modules, classes or instances with ``@dlbench.hookimpl``
        functions) to use beside the installed ones, without installing them: a list (each
        named after its module or class) or a mapping of name to plugin. Only this process can
        load them, so their cells run here (never in worker processes).
    :raises DlbenchError: with the same one-line message ``bench run`` prints.
    :raises KeyboardInterrupt: when interrupted (Ctrl-C, or the notebook's stop button), after
        the report of the finished cells is written; run it again to resume.
    """
    from dlbench.bench.host import default_data_root
    from dlbench.bench.run.progress import SilentProgress, make_progress
    from dlbench.bench.run.session import run_into, settings_for, stopped_message

    if not isinstance(progress, bool):
        raise DlbenchError(f"progress: expected True or False, got {type(progress).__name__}")
    loaded, catalog, directory, options = _prepare(
        matrix, out, overrides, only, jobs, executor, executor_options, device,
        force=force, keep_stale=keep_stale, allow_slow=allow_slow, retry_failed=retry_failed,
        tensorboard=tensorboard, threads_given=threads is not None, plugins=plugins,
        mlflow=_mlflow(mlflow),
    )  # fmt: skip
    root = (Path(data_root) if data_root else default_data_root()).expanduser().resolve()
    settings = settings_for(device, root, download, threads)
    try:
        shown = make_progress() if progress else SilentProgress()
        summary, _ = run_into(loaded, catalog, directory, settings, options, shown)
    except KeyboardInterrupt:
        print(stopped_message("interrupted", directory, "call"), file=sys.stderr)
        raise
    return Results(directory, summary)


def plan(
    matrix: Path | str | Mapping[str, Any],
    *,
    out: Path | str | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    only: Sequence[str] = (),
    jobs: int | str | None = None,
    executor: str | None = None,
    executor_options: Mapping[str, Any] | None = None,
    device: str = "auto",
    threads: int | None = None,
    plugins: Sequence[object] | Mapping[str, object] = (),
) -> pandas.DataFrame:
    """What ``run`` with the same arguments would do now, training nothing (``bench run
    --dry-run``): a pandas DataFrame with a row per planned cell (experiment, cell, status,
    description), statuses as the dry run prints them (``stored``, ``to run``, ``stale``, ...).
    Its ``attrs["executor"]`` says how the executor would run the cells to run (workers,
    threads and why, as the run says it), ``attrs["notes"]`` what each planner says of its plan.

    :raises DlbenchError: with the same one-line message ``bench run --dry-run`` prints.
    """
    from dlbench.bench.host import default_data_root
    from dlbench.bench.run.preview import COLUMNS, preview
    from dlbench.bench.run.session import settings_for

    loaded, catalog, directory, options = _prepare(
        matrix, out, overrides, only, jobs, executor, executor_options, device,
        threads_given=threads is not None, plugins=plugins,
    )  # fmt: skip
    settings = settings_for(device, default_data_root(), False, threads)
    found = preview(loaded, catalog, directory, settings, options)
    frame = _pandas().DataFrame(found.rows, columns=list(COLUMNS))
    frame.attrs.update(executor=found.executor, notes=list(found.notes), slow=found.slow)
    return frame


def _prepare(
    matrix: Path | str | Mapping[str, Any],
    out: Path | str | None,
    overrides: Sequence[str] | Mapping[str, Any],
    only: Sequence[str],
    jobs: int | str | None,
    executor: str | None,
    executor_options: Mapping[str, Any] | None,
    device: str,
    plugins: Sequence[object] | Mapping[str, object] = (),
    **flags: bool | str | None,
) -> tuple[Any, Any, Path, Any]:
    """The loaded matrix, the catalog (the installed plugins and ``plugins``), the results
    directory and the run's options, with bad options refused before anything runs."""
    from dlbench.bench.host import load_catalog_reporting
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.matrix.yamlfile import as_typed
    from dlbench.bench.run.executors import choose_executor
    from dlbench.bench.run.services import RunOptions

    if not isinstance(matrix, (str, Path, Mapping)):
        raise DlbenchError(
            f"matrix: expected a file path or a mapping, got {type(matrix).__name__}"
        )
    catalog = load_catalog_reporting(_named(plugins))
    source = matrix if isinstance(matrix, Mapping) else Path(matrix)
    if isinstance(only, str):
        only = [only]  # one glob, not its letters
    loaded = load_matrix(source, catalog, _overrides(overrides), list(only))
    if out is not None and (not isinstance(out, (str, Path)) or not str(out).strip()):
        raise DlbenchError(f"out {out!r}: expected a folder path (a non-empty str or Path)")
    directory = Path(out) if out is not None else Path("runs") / loaded.name
    if executor_options is not None and not isinstance(executor_options, Mapping):
        raise DlbenchError(
            f"executor_options: expected a mapping of option to value, e.g. {{'jobs': 2}}; "
            f"got {type(executor_options).__name__}"
        )
    given = [
        (str(k), v, f"executor option {as_typed(str(k))}")
        for k, v in (executor_options or {}).items()
    ]
    if jobs is not None:
        given.append(("jobs", jobs, f"jobs={jobs!r}"))
    options = RunOptions.given(
        given,
        executor=executor,
        device=device,
        command="dlbench.run({...})" if isinstance(source, Mapping) else f"dlbench.run({matrix!r})",
        **flags,
    )
    choose_executor(loaded, catalog, options)  # bad options, before anything else
    return loaded, catalog, directory, options


def _mlflow(value: str | bool) -> str | None:
    """``mlflow=``: off (``False``), MLflow's default (``True``) or a tracking URI."""
    if value is False:
        return None
    if value is True:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise DlbenchError(
            f"mlflow: expected True or a tracking URI (sqlite:///mlflow.db, http://HOST:PORT), "
            f"got {type(value).__name__}"
        )
    return value


def _named(plugins: Sequence[object] | Mapping[str, object]) -> dict[str, object]:
    """Plugin objects by name: a mapping as given; a list named after each one's module (a
    module's own name, else the module its class is defined in) or class."""
    if isinstance(plugins, Mapping):
        if not all(isinstance(name, str) and name for name in plugins):
            raise DlbenchError("plugins: a mapping's keys must be non-empty names (str)")
        return dict(plugins)
    if isinstance(plugins, (str, bytes)) or not isinstance(plugins, Sequence):
        raise DlbenchError(
            f"plugins: expected a list of plugin objects or a mapping of name to plugin, got "
            f"{type(plugins).__name__}"
        )
    named: dict[str, object] = {}
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        name = str(name).rpartition(".")[2]
        if name in named:
            raise DlbenchError(f"plugins: two plugins named {name!r}; pass a mapping of names")
        named[name] = plugin
    return named


def _overrides(overrides: Sequence[str] | Mapping[str, Any]) -> list[Any]:
    """The parsed ``--set`` values of a list of texts or a mapping of key to value."""
    from dlbench.bench.matrix.overrides import parse_override

    return [parse_override(text) for text in _override_texts(overrides)]


def _override_texts(overrides: Sequence[str] | Mapping[str, Any]) -> list[str]:
    """``--set`` texts from a list of them, or from a mapping of key to value."""
    if isinstance(overrides, Mapping):
        import json

        try:
            # JSON is YAML: each value reads back as what it is.
            return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
        except (TypeError, ValueError) as exc:
            raise DlbenchError(f"overrides: a value is not plain data: {exc}") from None
    if isinstance(overrides, str) or not isinstance(overrides, Sequence):
        raise DlbenchError(
            "overrides: expected a list of KEY=VALUE texts or a mapping, got "
            f"{type(overrides).__name__}"
        )
    wrong = [item for item in overrides if not isinstance(item, str)]
    if wrong:
        raise DlbenchError(
            f"overrides: expected KEY=VALUE texts, got {type(wrong[0]).__name__} {wrong[0]!r:.40}"
        )
    return list(overrides)
