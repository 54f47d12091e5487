"""Timings compare only when taken alike: on the same machine, under the same concurrency
(``bench compare --time``); each check refuses the comparison in one line rather than guess."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbench.registry.errors import DlbenchError


def concurrency(environment: Mapping[str, Any]) -> str:
    """How a record's cell shared the machine: ``jobs=2 threads=1``."""
    return f"jobs={environment.get('jobs', 1)} threads={environment.get('threads', '?')}"


def machine(environment: Mapping[str, Any]) -> str:
    """The machine a record's cell ran on: its CPU or GPU and instruction set."""
    capability = environment.get("capability") or {}
    device = environment.get("device", "?")
    return f"{device} {capability.get('name', '?')} {capability.get('isa', '?')}"


def check_same_concurrency(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Timings taken under different concurrency do not compare; say so rather than guess."""
    for key, old in baseline["cells"].items():
        new = current.get(key)
        if new is None or "concurrency" not in old or "concurrency" not in new:
            continue
        if old["concurrency"] != new["concurrency"]:
            raise DlbenchError(
                f"--time: {old['cell']} was timed with {old['concurrency']} in the baseline and "
                f"{new['concurrency']} now; timings compare only under the same concurrency "
                "(run with the same --jobs and --threads, or compare without --time)"
            )


def check_same_machine(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Timings from two machines say nothing about the code: refuse them."""
    old = {cell["machine"] for cell in baseline["cells"].values() if cell.get("machine")}
    new = {cell["machine"] for cell in current.values() if cell.get("machine")}
    if old and new and old != new:
        raise DlbenchError(
            f"--time: the baseline was timed on {', '.join(sorted(old))} and this run on "
            f"{', '.join(sorted(new))}; timings compare only on the same machine (compare "
            "without --time)"
        )
