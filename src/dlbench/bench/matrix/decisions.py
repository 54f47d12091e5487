"""The ``decide`` block of a derived column: a comparison that adds runs in waves until it is
decided (see ``dlbench.stats``)::

    derived:
      - title: Improvement
        diff: [residual_mlp, mlp]
        decide: {rule: sign, confidence: 0.95, margin: 0.005, min_runs: 3, max_runs: 20,
                 wave: 2}
        p_better: true

An experiment with a decided comparison plans its own runs (seeds ``0 .. max_runs - 1`` as
needed), so it takes no ``seeds`` or ``repeats`` of its own.
"""

from __future__ import annotations

from typing import Any

from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError
from dlbench.registry.params import ParamError, resolve_params
from dlbench.reports.formatting import is_accuracy
from dlbench.stats.records import MAX_RUNS, MIN_RUNS, DecideSpec
from dlbench.stats.settings import DECIDE_PARAMS


def parse_decide(where: KeyPath, raw: Any, metric: str, direction: str | None) -> DecideSpec:
    """A derived column's ``decide`` mapping, checked; defaults for what it leaves out.

    :param direction: which values of ``metric`` are better, as its strategy declares it
        (``None`` when it declares none: then ``better:`` must say).
    """
    if not isinstance(raw, dict):
        raise MatrixError(where, "expected a mapping of confidence, margin, min_runs, ...")
    try:
        values = resolve_params(DECIDE_PARAMS, {str(k): v for k, v in raw.items()}, "decide")
    except ParamError as exc:
        raise MatrixError((*where, exc.key), str(exc)) from None
    if is_accuracy(metric) and values["margin"] >= 1:
        raise MatrixError(
            (*where, "margin"),
            f"margin {values['margin']:g} for {metric}, an accuracy stored as a fraction: it "
            "would call any two models equivalent; give it as a fraction (0.005 is half a "
            "point), below 1",
        )
    if values["min_runs"] > values["max_runs"]:
        raise MatrixError(
            (*where, "min_runs"),
            f"min_runs {values['min_runs']} is above max_runs {values['max_runs']}",
        )
    better = values.pop("better") or direction
    if better is None:
        raise MatrixError(
            (*where, "better"),
            f"metric {metric!r} declares no direction: say which values are better "
            "(better: higher or better: lower)",
        )
    return DecideSpec(**values, higher_is_better=better == "higher")


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
