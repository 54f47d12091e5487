"""The ``tune`` block of an experiment: every arm (one configuration of its other axes) tuned
with the same budget of trials before its final runs (see ``dlbench.stats.tuning``)::

    tune:
      space:
        strategy.lr: {log_uniform: [1.0e-4, 1.0e-2]}
        model.hidden: {int: [32, 256]}
        strategy.optimizer: {choice: [adam, sgd]}
      trials: 8          # per arm
      sampler: tpe       # random | quasi_random | tpe
      metric: val_acc    # the validation metric trials are judged by (at its best epoch)
      seed: 0            # the study's seed
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dlbench.bench.matrix.expand import size_refusal
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError, check_keys
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.errors import did_you_mean
from dlbench.registry.params import Param, ParamError, resolve_params
from dlbench.stats.tuning import DISTRIBUTIONS, SAMPLERS, SearchDimension, TuneSpec

#: The most trials per arm, dimensions and choices a study takes.
MAX_TRIALS = 1000
MAX_DIMENSIONS = 20
MAX_CHOICES = 100

TUNE_PARAMS = {
    "trials": Param(8, int, "trials per arm (the budget)", minimum=1, maximum=MAX_TRIALS),
    "sampler": Param("tpe", str, "how trials are proposed", choices=SAMPLERS),
    "metric": Param("val_acc", str, "the validation metric trials are judged by"),
    "at": Param("best", str, "the epoch it is read at", choices=("best", "last")),
    "direction": Param(
        None, str, "maximize or minimize (default: from the metric)",
        choices=("maximize", "minimize"), nullable=True,
    ),
    "seed": Param(0, int, "the study's seed", minimum=0, maximum=2**31 - 1),
    "wave": Param(4, int, "trials proposed at once", minimum=1, maximum=MAX_TRIALS),
    "final_runs": Param(3, int, "final runs of each arm with its best parameters", minimum=1,
                        maximum=200),
}  # fmt: skip


def parse_tune(
    keypath: KeyPath,
    raw: Any,
    cells: Sequence[Cell],
    axes: Sequence[str],
    metrics: Mapping[str, str | None],
    catalog: Catalog,
) -> TuneSpec:
    """An experiment's ``tune`` mapping, checked against its arms (``cells``) and axes."""
    if not isinstance(raw, dict) or "space" not in raw:
        raise MatrixError(keypath, "expected a mapping with space, and trials, sampler, ...")
    check_keys(keypath, raw, ("space", *TUNE_PARAMS))
    try:
        values = resolve_params(TUNE_PARAMS, {k: v for k, v in raw.items() if k != "space"}, "tune")
    except ParamError as exc:
        raise MatrixError((*keypath, exc.key), str(exc)) from None
    if values["metric"] not in metrics:
        raise MatrixError(
            (*keypath, "metric"), f"expected one of this experiment's metrics: {', '.join(metrics)}"
        )
    metric = values["metric"]
    if not metric.startswith("val"):
        raise MatrixError(
            (*keypath, "metric"),
            f"{metric!r}: trials must be judged on validation data, never on the test set or "
            "the training data; name a validation metric (val_acc, val_loss, ...)",
        )
    direction = values.pop("direction")
    if direction is None and metrics[metric] is None:
        raise MatrixError(
            (*keypath, "direction"),
            f"metric {metric!r} declares no direction: say maximize or minimize",
        )
    maximize = metrics[metric] == "higher" if direction is None else direction == "maximize"
    space = _space((*keypath, "space"), raw["space"], cells, axes, catalog)
    return TuneSpec(space=space, maximize=maximize, **values)


def _space(
    keypath: KeyPath, raw: Any, cells: Sequence[Cell], axes: Sequence[str], catalog: Catalog
) -> tuple[SearchDimension, ...]:
    if not isinstance(raw, dict) or not raw or len(raw) > MAX_DIMENSIONS:
        raise MatrixError(
            keypath, f"expected a mapping of 1 to {MAX_DIMENSIONS} parameters, e.g. strategy.lr"
        )
    dimensions = []
    for key, body in raw.items():
        where = (*keypath, key)
        section, _, name = str(key).partition(".")
        if section not in COMPONENT_KINDS or not name or "." in name:
            raise MatrixError(where, "expected model.KEY, dataset.KEY or strategy.KEY")
        if key in axes:
            raise MatrixError(where, "an axis of the experiment is not tuned; leave one of them")
        declared = [_declared(where, cell, section, name, catalog) for cell in cells]
        dimensions.append(_dimension(where, str(key), body, declared))
    _check_sizes(keypath, dimensions, cells, catalog)
    return tuple(dimensions)


#: The most model corners a study's size check builds (choices multiply them).
MAX_CORNERS = 256


def _check_sizes(
    keypath: KeyPath, dimensions: Sequence[SearchDimension], cells: Sequence[Cell], catalog: Catalog
) -> None:
    """Every trial passes the size check an ordinary cell passes: each arm's model at the
    largest value of each tuned number (models grow with their widths and depths), crossed
    with the tuned choices (the first ``MAX_CORNERS`` such corners)."""
    tuned = [d for d in dimensions if d.key.startswith("model.")]
    if not tuned:
        return
    options = [d.values if d.distribution == "choice" else (max(d.values),) for d in tuned]
    corners = itertools.islice(itertools.product(*options), MAX_CORNERS)
    for corner in corners:
        values = {d.key.partition(".")[2]: value for d, value in zip(tuned, corner, strict=True)}
        for arm in _arms(cells):
            trial = replace(arm, model=replace(arm.model, params={**arm.model.params, **values}))
            too_big = size_refusal(trial, catalog)
            if too_big is not None:
                numbers = [d.key for d in tuned if d.distribution != "choice"]
                where = (*keypath, (numbers or [tuned[0].key])[0])
                shown = ", ".join(f"{k}={v}" for k, v in values.items())
                raise MatrixError(
                    where,
                    f"trials would include an impossible cell ({trial.model.name} with "
                    f"{shown}): {too_big}; narrow the range",
                )


def _arms(cells: Sequence[Cell]) -> list[Cell]:
    """One cell per distinct model and dataset among ``cells``."""
    arms: dict[str, Cell] = {}
    for cell in cells:
        key = json.dumps([cell.model.to_json(), cell.dataset.to_json()], sort_keys=True)
        arms.setdefault(key, cell)
    return list(arms.values())


def _declared(where: KeyPath, cell: Cell, section: str, name: str, catalog: Catalog) -> Param:
    component = getattr(cell, section)
    params = catalog.component(section).get(component.name).params
    if name not in params:
        hint = did_you_mean(name, params)
        hint = f"; {hint}" if hint else ""
        raise MatrixError(where, f"{section} {component.name!r} has no parameter {name!r}{hint}")
    return params[name]


def _dimension(where: KeyPath, key: str, body: Any, declared: list[Param]) -> SearchDimension:
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in DISTRIBUTIONS:
        raise MatrixError(
            where, f"expected one of {', '.join(DISTRIBUTIONS)}, e.g. {{log_uniform: [1e-4, 1e-2]}}"
        )
    kind, values = next(iter(body.items()))
    if kind == "choice":
        if not isinstance(values, list) or not values or len(values) > MAX_CHOICES:
            raise MatrixError((*where, kind), f"expected a list of 1 to {MAX_CHOICES} values")
    elif not isinstance(values, list) or len(values) != 2:
        raise MatrixError((*where, kind), "expected [low, high]")
    for param in declared:
        try:
            converted = tuple(param.convert(v) for v in values)
        except ValueError as exc:
            raise MatrixError((*where, kind), f"{key}: {exc}") from None
        if kind != "choice":
            _check_range(where, kind, key, param, converted)
    return SearchDimension(key, kind, converted)


def _check_range(
    where: KeyPath, kind: str, key: str, param: Param, bounds: tuple[Any, ...]
) -> None:
    if param.type not in (int, float) or (kind == "int") != (param.type is int):
        expected = {int: "int", float: "uniform or log_uniform"}.get(param.type, "choice")
        raise MatrixError(
            (*where, kind), f"{key} takes {param.describe()}; tune it with {expected}"
        )
    low, high = bounds
    if not low < high:
        raise MatrixError((*where, kind), f"expected low < high, got [{low}, {high}]")
    if kind == "log_uniform" and low <= 0:
        raise MatrixError((*where, kind), "a log-uniform range needs low > 0")
