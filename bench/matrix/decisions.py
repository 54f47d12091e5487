"""The ``decide`` block of a derived column: a comparison that adds runs in waves until it is
decided (see :mod:`dlbench.reports.decisions`)::

    derived:
      - title: Improvement
        diff: [residual_mlp, mlp]
        decide: {confidence: 0.95, margin: 0.005, min_runs: 3, max_runs: 20, wave: 2}
        p_better: true

An experiment with a decided comparison plans its own runs (seeds ``0 .. max_runs - 1`` as
needed), so it takes no ``seeds`` or ``repeats`` of its own.
"""

from __future__ import annotations

from typing import Any

from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError
from dlbench.registry.params import Param, ParamError, resolve_params
from dlbench.reports.decisions import DecideSpec, higher_is_better
from dlbench.reports.sequential import MAX_RUNS, MIN_RUNS

DECIDE_PARAMS = {
    "confidence": Param(
        0.95,
        float,
        "simultaneous coverage of the intervals: a false decision at most 1 - confidence",
        minimum=0.5,
        maximum=0.999,
        exclusive_minimum=True,
    ),
    "margin": Param(
        0.0,
        float,
        "region of practical equivalence, ±margin in the metric's units (0.005 = half a "
        "percentage point of accuracy); 0 for none",
        minimum=0,
    ),
    "min_runs": Param(3, int, "runs of each side before the first look", minimum=MIN_RUNS),
    "max_runs": Param(20, int, "the most runs of each side", minimum=MIN_RUNS, maximum=MAX_RUNS),
    "wave": Param(2, int, "runs added to each side between looks", minimum=1, maximum=MAX_RUNS),
    "better": Param(
        None,
        str,
        "which values are better (default: lower for losses and times, else higher)",
        choices=("higher", "lower"),
        nullable=True,
    ),
}


def parse_decide(where: KeyPath, raw: Any, metric: str) -> DecideSpec:
    """A derived column's ``decide`` mapping, checked; defaults for what it leaves out."""
    if not isinstance(raw, dict):
        raise MatrixError(where, "expected a mapping of confidence, margin, min_runs, ...")
    try:
        values = resolve_params(DECIDE_PARAMS, {str(k): v for k, v in raw.items()}, "decide")
    except ParamError as exc:
        raise MatrixError((*where, exc.key), str(exc)) from None
    if values["min_runs"] > values["max_runs"]:
        raise MatrixError(
            (*where, "min_runs"),
            f"min_runs {values['min_runs']} is above max_runs {values['max_runs']}",
        )
    better = values.pop("better")
    return DecideSpec(
        **values,
        higher_is_better=higher_is_better(metric) if better is None else better == "higher",
    )


def planned_runs(tables: Any) -> int | None:
    """The runs an experiment's decided comparisons may ask for (the largest ``max_runs``), read
    before its cells are built; ``None`` when nothing is decided. Values are checked later, with
    the tables."""
    found = []
    for table in tables if isinstance(tables, list) else []:
        derived = table.get("derived") if isinstance(table, dict) else None
        for item in derived if isinstance(derived, list) else []:
            decide = item.get("decide") if isinstance(item, dict) else None
            if isinstance(decide, dict):
                runs = decide.get("max_runs", DECIDE_PARAMS["max_runs"].default)
                valid = isinstance(runs, int) and not isinstance(runs, bool)
                found.append(runs if valid and MIN_RUNS <= runs <= MAX_RUNS else MAX_RUNS)
    return max(found) if found else None
