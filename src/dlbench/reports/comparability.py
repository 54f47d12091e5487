"""What compares with what: metrics only from the same device and instruction set (training's
float results differ between CPU kernels: an AVX2 and an AVX-512 machine train a CNN to other
numbers), timings only from the same machine under the same concurrency (``bench compare
--time``); each check refuses the comparison in one line rather than guess."""

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


def kernels(machine_text: str) -> str:
    """``cpu AVX512`` from ``cpu AMD EPYC AVX512``: the device and instruction set, which decide
    a run's float results (the CPU's name does not)."""
    words = machine_text.split()
    return f"{words[0]} {words[-1]}" if len(words) >= 2 else machine_text


def check_same_kernels(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Metrics trained on another device or instruction set differ by more than any tolerance
    tells apart from a regression: refuse them, naming both."""
    old = {kernels(c["machine"]) for c in baseline["cells"].values() if c.get("machine")}
    new = {kernels(c["machine"]) for c in current.values() if c.get("machine")}
    if old and new and old != new:
        raise DlbenchError(
            f"the baseline was trained on {', '.join(sorted(old))} and this run on "
            f"{', '.join(sorted(new))}: float results differ between devices and instruction "
            "sets, so metrics compare only on the same (record a baseline here with bench "
            "baseline export, or pass --any-machine to compare anyway)"
        )
