"""Second thoughts cannot inflate a decision's error rate: each decided comparison's design
(rule, confidence, min_runs, max_runs, wave) is stored in the results directory at its first
look, and a later run whose matrix changes it is refused, naming the stored design. A rule whose
rate holds however it is extended (anytime-valid) may raise ``max_runs`` on stored looks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dlbench.bench.results.designs import read_designs, write_designs
from dlbench.bench.results.store import DESIGNS, ResultStore
from dlbench.registry.errors import DlbenchError
from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import Comparison
from dlbench.stats.records import RUNNING
from dlbench.stats.rules import get_rule

#: Settings a rule that is anytime-valid may change after a look (its rate holds at any looks).
EXTENDABLE = ("max_runs", "min_runs", "wave")


def keep_designs(
    found: Sequence[tuple[str, Comparison]],
    records: Mapping[str, CellRecord],
    store: ResultStore,
    write: bool = True,
) -> None:
    """Check every comparison (experiment name, comparison) that has taken a look against its
    stored design, and (with ``write``) store the design of those looking for the first time
    and the verdict of those reaching one for the first time.

    :raises DlbenchError: one line naming the comparison, the stored design and the change.
    """
    stored = read_designs(store)
    added = False
    for experiment, comparison in found:
        key, design = comparison.key(), comparison.spec.design()
        before = stored.get(key)
        if before is not None:
            _check(experiment, comparison, before.get("design", {}), design)
        standing = comparison.standing(records)
        if before is None and standing.looks:
            before = stored[key] = {
                "comparison": f"{experiment}: {comparison.describe()}",
                "design": design,
            }
            added = True
        decision = standing.decision
        if before is not None and "verdict" not in before and decision.verdict != RUNNING:
            # The verdict first reached: a rerun that retries failed runs and changes it is
            # marked revised in the report.
            before["verdict"] = {"verdict": decision.verdict, "n": decision.n}
            added = True
    if added and write:
        write_designs(store, stored)


def _check(
    experiment: str, comparison: Comparison, before: Mapping[str, object], now: dict[str, object]
) -> None:
    changed = [k for k in now if before.get(k) != now[k]]
    if (
        get_rule(str(before.get("rule", now["rule"]))).anytime_valid
        and before.get("rule") == now["rule"]
    ):
        changed = [k for k in changed if k not in EXTENDABLE]
    if not changed:
        return
    stored = ", ".join(f"{k} {before.get(k)}" for k in now)
    asked = ", ".join(f"{k} {before.get(k)} -> {now[k]}" for k in changed)
    raise DlbenchError(
        f"experiment {experiment!r}, {comparison.describe()}: its design was stored at its "
        f"first look ({stored}; in {DESIGNS}) and the matrix now changes {asked}; changing a "
        "design after a look would inflate its error rate: restore the stored settings, or "
        "decide anew in another results directory (--out)"
    )
