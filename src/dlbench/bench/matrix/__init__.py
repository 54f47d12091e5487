"""The matrix language: read a YAML matrix file, validate all of it, expand every experiment
into cells, and plan what must run.

Errors are raised with the key path (or ``--set`` text) they concern and turned into one line,
``file:line: key.path: message``, where the file is loaded (``load_matrix``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlbench.bench.matrix.experiment import Experiment, load_experiment
from dlbench.bench.matrix.merge import MatrixScope
from dlbench.bench.matrix.overrides import Override
from dlbench.bench.matrix.plan import plan_cells, probes_by_cell, required_artifacts
from dlbench.bench.matrix.references import experiment_order, references_in
from dlbench.bench.matrix.yamlfile import MatrixError, check_keys, document_of, load_yaml
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell, Component
from dlbench.registry.errors import DlbenchError, UnknownNameError, did_you_mean
from dlbench.registry.params import ParamError, resolve_params
from dlbench.reports.manifest import ExperimentEntry, Manifest

#: What a matrix given as data is called where a file's name would be.
DATA_SOURCE = "<matrix given as data>"
TOP_KEYS = ("name", "description", "executor", "defaults", "experiments")
DEFAULT_KEYS = (*COMPONENT_KINDS, "seeds", "repeats", "vary", "probes")
MAX_MATRIX_NAME = 100


@dataclass(frozen=True)
class Matrix:
    """A validated, expanded matrix file and the plan to run it.

    :param experiments: the selected experiments (all, unless ``--only`` narrowed them).
    :param cells: every cell to run, producers before consumers: the selected experiments' cells
        and the cells of other experiments whose artifacts they need.
    :param artifacts: cell id -> kinds of artifact that cell must store for its consumers.
    :param probes: cell id -> probes it runs with.
    :param unselected: experiments left out by ``--only``; leaderboards may still show them.
    :param executor_options: options the file gives its executor (``executor: {name: ray,
        address: auto}``), checked against what that executor declares.
    """

    name: str
    source: Path
    description: str
    executor: str
    experiments: tuple[Experiment, ...]
    executor_options: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)
    artifacts: dict[str, frozenset[str]] = field(default_factory=dict)
    probes: dict[str, tuple[Component, ...]] = field(default_factory=dict)
    unselected: tuple[Experiment, ...] = ()

    def unique_cells(self) -> list[Cell]:
        """Every cell to run once, producers before consumers."""
        return list(self.cells.values())

    def manifest(
        self,
        catalog: Catalog | None = None,
        code: Mapping[str, Mapping[str, str]] | None = None,
        plan: Mapping[str, tuple[tuple[Cell, ...], tuple[Cell, ...]]] | None = None,
    ) -> Manifest:
        """What reports need to redraw the tables without the matrix file or the plugins.

        :param catalog: where the probes' plot declarations come from.
        :param code: cell id -> plugin -> code fingerprint this run uses.
        :param plan: experiment name -> (its cells, its tuning trials) planned so far, for the
            experiments that plan their runs (they decide comparisons, or are tuned); the others
            show every cell.
        """
        plan = plan or {}
        selected = {e.name for e in self.experiments}
        probe_names = {p.name for e in self.experiments for p in e.probes}
        plots = {}
        for name in sorted(probe_names):
            plot = catalog.probes.get(name).plot if catalog is not None else None
            if plot is not None:
                plots[name] = plot
        return Manifest(
            name=self.name,
            source=str(self.source),
            description=self.description,
            experiments=tuple(
                ExperimentEntry(
                    name=e.name,
                    title=e.title,
                    description=e.description,
                    selected=e.name in selected,
                    cells=plan[e.name][0] if e.name in plan else e.cells,
                    skipped=e.skipped,
                    tables=e.tables,
                    probes=tuple(p.name for p in e.probes),
                    tune=e.tune,
                    trials=plan[e.name][1] if e.name in plan else (),
                )
                for e in (*self.experiments, *self.unselected)
            ),
            probe_plots=plots,
            code=dict(code or {}),
        )


def load_matrix(
    path: Path | Mapping[str, Any],
    catalog: Catalog,
    overrides: Sequence[Override] = (),
    only: Sequence[str] = (),
) -> Matrix:
    """Read, validate and expand the matrix at ``path`` (or given as data: a mapping, whose
    relative paths resolve against the working directory).

    :param overrides: ``--set`` values, applied after defaults.
    :param only: globs of experiment names to keep (all when empty).
    :raises DlbenchError: a one-line error naming file, line and key for anything invalid.
    """
    if isinstance(path, Path):
        document = load_yaml(path)
    else:
        document = document_of(path)
        path = Path.cwd() / DATA_SOURCE
    try:
        return _read(path, document.data, catalog, tuple(overrides), only)
    except MatrixError as exc:
        raise document.located(exc) from None


def _read(
    path: Path, data: Any, catalog: Catalog, overrides: tuple[Override, ...], only: Sequence[str]
) -> Matrix:
    if not isinstance(data, dict):
        raise MatrixError((), "expected a mapping with keys: " + ", ".join(TOP_KEYS))
    check_keys((), data, TOP_KEYS)
    name = data.get("name")
    if (
        not isinstance(name, str)
        or not name.isprintable()
        or len(name) > MAX_MATRIX_NAME
        or not name[:1].isalnum()
        or any(not (c.isalnum() or c in "_.-") for c in name)
    ):
        raise MatrixError(
            ("name",),
            f"expected a name of 1 to {MAX_MATRIX_NAME} letters, digits, '_', '.', '-', "
            "starting with a letter or digit",
        )
    executor, executor_options = _executor(data.get("executor", "local"), catalog)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise MatrixError(("description",), "expected a string")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise MatrixError(("defaults",), "expected a mapping")
    check_keys(("defaults",), defaults, DEFAULT_KEYS)
    bodies = data.get("experiments")
    if not isinstance(bodies, dict) or not bodies:
        raise MatrixError(("experiments",), "expected a mapping of experiment name to experiment")
    for key in bodies:
        if not isinstance(key, str):
            raise MatrixError(("experiments", str(key)), "experiment names must be strings")
    names = list(bodies)
    for override in overrides:
        if override.experiment is not None and override.experiment not in names:
            raise DlbenchError(
                f"--set {override.text}: no experiment {override.experiment!r}; "
                f"experiments: {', '.join(names)}"
            )
    selected = [n for n in names if not only or any(fnmatch.fnmatchcase(n, g) for g in only)]
    if not selected:
        raise DlbenchError(
            f"--only {' '.join(only)} matches no experiment; experiments: {', '.join(names)}"
        )
    expanded = _expand(bodies, MatrixScope(catalog, defaults, overrides, path.parent))
    experiments = tuple(expanded[n] for n in names if n in selected)
    cells = plan_cells(experiments, expanded)
    return Matrix(
        name,
        path,
        description,
        executor,
        experiments,
        executor_options,
        cells,
        required_artifacts(cells, catalog),
        probes_by_cell(experiments),
        tuple(expanded[n] for n in names if n not in selected),
    )


def _executor(raw: Any, catalog: Catalog) -> tuple[str, dict[str, Any]]:
    """``executor: NAME`` or ``executor: {name: NAME, OPTION: VALUE, ...}`` (``name`` left
    out: the local executor), checked."""
    options: dict[str, Any] = {}
    if isinstance(raw, dict):
        options = {str(k): v for k, v in raw.items() if k != "name"}
        raw = raw.get("name", "local")
    if not isinstance(raw, str) or raw not in catalog.executors:
        raise MatrixError(
            ("executor", "name") if options else ("executor",),
            str(UnknownNameError("executor", str(raw), catalog.executors.names())),
        )
    spec = catalog.executors.get(raw)
    try:
        resolve_params(spec.params, options, f"executor {raw!r}")
    except ParamError as exc:
        raise MatrixError(("executor", exc.key), str(exc)) from None
    return raw, options


def _expand(bodies: dict[str, Any], scope: MatrixScope) -> dict[str, Experiment]:
    """Every experiment, producers first; each ``--set`` must apply somewhere."""
    dependencies = {
        n: references_in([(scope.defaults, ("defaults",)), *_layer(bodies[n], ("experiments", n))])
        for n in bodies
    }
    expanded: dict[str, Experiment] = {}
    applied: set[int] = set()
    for name in experiment_order(dependencies):
        # Every experiment is validated, selected or not: a broken file fails before anything runs.
        produced = {n: e.cells for n, e in expanded.items()}
        expanded[name], used = load_experiment(name, bodies[name], scope, produced)
        applied |= used
    for index, override in enumerate(scope.overrides):
        if index not in applied:
            raise DlbenchError(f"--set {override.text}: {_unapplied(override, scope.catalog)}")
    _check_table_experiments(expanded)
    return expanded


def _unapplied(override: Override, catalog: Catalog) -> str:
    """Why an override applied nowhere, with a did-you-mean for a misspelt parameter."""
    section = override.section
    whose = (
        f"experiment {override.experiment!r}'s {section}"
        if override.experiment
        else f"any experiment's {section}"
    )
    block = override.block
    if block is not None:
        return (
            f"{block[0]!r} is not a name on {whose} axis; a per-name block ({section}.NAME.KEY) "
            f"applies where NAME is one of the {section} names"
        )
    known = sorted({key for entry in catalog.component(section) for key in entry.spec.params})
    hint = did_you_mean(override.key, known)
    hint = f"; {hint}" if hint else ""
    return f"{override.key!r} is not a parameter of {whose}{hint}"


def _check_table_experiments(expanded: dict[str, Experiment]) -> None:
    for experiment in expanded.values():
        for index, table in enumerate(experiment.tables):
            for name in table.experiments:
                if name not in expanded:
                    raise MatrixError(
                        ("experiments", experiment.name, "tables", index, "experiments"),
                        f"no experiment {name!r}; experiments: {', '.join(expanded)}",
                    )


def _layer(body: Any, keypath: tuple[str, ...]) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    return [(body, keypath)] if isinstance(body, dict) else []


__all__ = ["Matrix", "MatrixError", "load_matrix"]
