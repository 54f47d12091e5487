"""The overview a report opens with: each decided comparison's outcome, the source runs of a
merged report with their environments, and the environment gathered over every record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbench.registry.records import CellRecord
from dlbench.reports.decisions import comparisons
from dlbench.reports.manifest import Manifest

#: Lists in records' environments that a report gathers from every record, not only the first:
#: plugins left out of the run and observers that failed in it.
GATHERED = ("plugin_problems", "observer_failures")


def gathered_environment(records: list[CellRecord]) -> dict[str, Any]:
    """The first record's environment, with ``GATHERED`` lists merged over every record and
    ``concurrency``: each threads / jobs that cells ran with, and how many did."""
    environment = dict(next((r.environment for r in records if r.environment), {}))
    for key in GATHERED:
        merged = [
            str(line)
            for record in records
            for line in record.environment.get(key) or ()
            if isinstance(record.environment.get(key), list)
        ]
        if merged:
            environment[key] = list(dict.fromkeys(merged))
    # How the cells really ran: a run may run some here and the rest in workers.
    counts: dict[str, int] = {}
    for record in records:
        how = f"{record.environment.get('threads', '?')} / {record.environment.get('jobs', 1)}"
        counts[how] = counts.get(how, 0) + 1
    if counts:
        environment["concurrency"] = [f"{how} ({n} cell(s))" for how, n in counts.items()]
    return environment


def outcomes(manifest: Manifest, records: Mapping[str, CellRecord]) -> list[str]:
    """Each decided comparison's standing, in one line."""
    lines = []
    for experiment in manifest.shown:
        for comparison in comparisons(experiment.cells, experiment.tables):
            decision = comparison.standing(records).decision
            lines.append(
                f"{experiment.title}: {comparison.describe(labelled=True)}: "
                f"{comparison.verdict_words(decision)}, n={decision.n}"
            )
    return lines


def source_runs(records: list[CellRecord]) -> list[tuple[str, str]]:
    """For a merged report: each source run and one line of its first record's environment."""
    found: dict[str, str] = {}
    for record in records:
        source = record.environment.get("merged_from")
        if isinstance(source, str) and source not in found:
            environment = record.environment
            machine = environment.get("machine") or {}
            found[source] = (
                f"{environment.get('device', '?')} on {machine.get('cpu', '?')}, "
                f"threads {environment.get('threads', '?')}, jobs {environment.get('jobs', 1)}, "
                f"git {environment.get('git_revision') or 'unknown'}, "
                f"command {environment.get('command', '')}"
            )
    return sorted(found.items())
