"""Where a comparison stands on the runs recorded so far: the looks it has taken, its rule's
decision, and the runs a side it wants next; and ``decide``, the same replay on any numbers.

Runs are paired by seed: seed ``s`` of A and seed ``s`` of B share every varied source of
randomness. A comparison plans seeds ``0 .. min_runs - 1`` first, then ``wave`` more at a time
while undecided, up to ``max_runs``; it looks once all the runs a look plans are recorded. A run
recorded as failed, or without a finite value, is a loss for its side in its pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dlbench.registry.errors import DlbenchError
from dlbench.registry.params import ParamError, resolve_params
from dlbench.stats.records import RUNNING, UNDECIDED, DecideSpec, Decision, waiting
from dlbench.stats.rules import get_rule
from dlbench.stats.settings import DECIDE_PARAMS


@dataclass(frozen=True)
class Standing:
    """A comparison's decision and how many runs of each side it wants now.

    :param looks: the runs a side at each look taken so far.
    """

    decision: Decision
    wanted: int
    looks: tuple[int, ...] = ()


def values_of(runs: Mapping[int, float | None], count: int) -> np.ndarray:
    """Seeds ``0 .. count - 1`` of ``runs`` as floats, NaN where a run failed or gave no finite
    value."""
    found = np.full(count, np.nan)
    for seed in range(count):
        value = runs.get(seed)
        if value is not None and math.isfinite(value):
            found[seed] = value
    return found


def evaluate(
    spec: DecideSpec,
    a: Mapping[int, float | None],
    b: Mapping[int, float | None],
    family_size: int = 1,
) -> Standing:
    """Where ``A - B`` stands on the runs recorded so far.

    :param a: seed -> A's metric for that run, ``None`` (or a non-finite value) for a run that
        failed; ``b`` alike. Runs without a record are absent.
    :param family_size: decided comparisons sharing the error rate (``family: table``).
    :returns: the decision at the first decisive look (or the last look taken), and how many
        runs (seeds ``0 .. wanted - 1``) each side should have for the next look. Where every
        run of a side so far failed, no pair can complete: the comparison stops, undecided,
        with a note saying so.
    """
    schedule = spec.schedule()
    looks = []
    for planned in schedule:
        if not all(seed in a and seed in b for seed in range(planned)):
            break
        looks.append(planned)
    if not looks:
        return Standing(waiting(), schedule[0])
    alpha = (1 - spec.confidence) / max(family_size, 1)
    rule = get_rule(spec.rule)
    first, second = values_of(a, looks[-1]), values_of(b, looks[-1])
    start = looks[0]
    dead = [n for n, runs in (("A", first), ("B", second)) if np.isnan(runs[:start]).all()]
    if dead:
        # Every run of a side at the first look failed: no pair can complete, and more runs of
        # a broken configuration would only repeat its failure (counted as losses they would
        # decide nothing about the methods). Stop there and say why.
        decision = rule.replay(first[:start], second[:start], [start], spec, alpha)
        note = f"no pair can complete: every run of {' and '.join(dead)} failed"
        undecided = replace(decision, verdict=UNDECIDED, note=note)
        return Standing(undecided, start, (start,))
    decision = rule.replay(first, second, looks, spec, alpha)
    if decision.verdict != RUNNING:
        return Standing(decision, decision.n, tuple(looks))
    if looks[-1] == spec.max_runs:
        needed = rule.needed(first, second, spec, alpha)
        return Standing(
            replace(decision, verdict=UNDECIDED, needed=needed), spec.max_runs, tuple(looks)
        )
    return Standing(decision, schedule[len(looks)], tuple(looks))


def decide(a: Sequence[float | None], b: Sequence[float | None], **settings: Any) -> Decision:
    """Replay a decided comparison on per-seed values, as the planner does, and say where it
    stands: users can audit a rule on their own numbers.

    :param a: A's value for seeds 0, 1, ... in order; ``None``, NaN or an infinite value for a
        run that failed (a loss for A in its pair). ``b`` alike, as long as ``a``.
    :param settings: the keys of a matrix's ``decide`` block (``rule``, ``confidence``,
        ``margin``, ``min_runs``, ``max_runs``, ``wave``, ``better``, ``family``), plus
        ``higher_is_better`` (default true) as another way to say ``better``.
    :returns: a ``Decision``: ``verdict`` (``"a better"``,
        ``"b better"``, ``"equivalent"``, ``"undecided"`` at ``max_runs``, or ``"running"``
        where more runs would be planned), ``n`` (pairs it rests on), ``low`` and ``high`` (the
        repeated confidence interval for the rule's estimand of ``A - B``), and more.
    :raises DlbenchError: for an unknown or invalid setting, or sequences of different lengths.
    """
    spec = decide_spec(settings)
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        raise DlbenchError("decide: a and b must be sequences of numbers, one per seed")
    first, second = _numbers(a, "a"), _numbers(b, "b")
    if len(first) != len(second):
        raise DlbenchError(
            f"decide: a has {len(first)} values and b {len(second)}: pair them by seed"
        )
    if len(first) > spec.max_runs:
        raise DlbenchError(f"decide: {len(first)} values a side, above max_runs {spec.max_runs}")
    return evaluate(spec, dict(enumerate(first)), dict(enumerate(second))).decision


def decide_spec(settings: Mapping[str, Any]) -> DecideSpec:
    """A ``DecideSpec`` from a ``decide`` block's keys (plus ``higher_is_better``)."""
    given = dict(settings)
    higher = given.pop("higher_is_better", None)
    if higher is not None and not isinstance(higher, bool):
        raise DlbenchError(f"decide: higher_is_better {higher!r}: expected true or false")
    try:
        values = resolve_params(DECIDE_PARAMS, given, "decide")
    except ParamError as exc:
        raise DlbenchError(f"decide: {exc}") from None
    if values["min_runs"] > values["max_runs"]:
        raise DlbenchError(
            f"decide: min_runs {values['min_runs']} is above max_runs {values['max_runs']}"
        )
    better = values.pop("better")
    if better is not None and higher is not None and (better == "higher") != higher:
        raise DlbenchError("decide: better and higher_is_better disagree")
    if better is not None:
        higher = better == "higher"
    return DecideSpec(**values, higher_is_better=True if higher is None else higher)


def _numbers(values: Sequence[float | None], name: str) -> list[float | None]:
    try:
        items = list(values)
    except TypeError:
        raise DlbenchError(f"decide: {name} must be a sequence of numbers, one per seed") from None
    found: list[float | None] = []
    for index, value in enumerate(items):
        if value is None:
            found.append(None)
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, bool
        ):
            found.append(float(value))
        else:
            raise DlbenchError(
                f"decide: {name}[{index}] is {type(value).__name__}: expected a number or None"
            )
    return found
