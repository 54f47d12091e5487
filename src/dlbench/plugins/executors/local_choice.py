"""How the local executor shares a machine: workers and threads per worker chosen from the
cores this process may use, the memory available and the cells' footprints; the order the cells
run in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlbench import Cell, CellFunction

AUTO = "auto"
#: Models with this many parameters or more train well on every core of one process.
BIG_MODEL = 5_000_000
#: Workers are planned to use at most this share of the memory available.
MEMORY_SHARE = 0.8
#: Cells whose footprint is estimated to plan the workers (the first of a long list).
MAX_ESTIMATED = 200


def work(cell: Cell, run_cell: CellFunction) -> float:
    """A cell's work, to compare cells: its model's parameters times its epochs (at least 1)."""
    epochs = cell.strategy.params.get("epochs", 1)
    parameters = max(1, run_cell.footprint(cell).parameters)
    return parameters * (epochs if isinstance(epochs, int) and epochs > 0 else 1)


def longest_first(cells: Sequence[Cell], run_cell: CellFunction) -> list[Cell]:
    """``cells`` with the most ``work`` first (the order of equals kept), so that the last
    cells to finish are short ones and no worker waits long for the others. Results do not
    depend on the order: a cell's seed fixes its run."""
    return sorted(cells, key=lambda cell: work(cell, run_cell), reverse=True)


@dataclass(frozen=True)
class Machine:
    """What this process may use: its cores and the memory available now (bytes)."""

    cores: int
    memory: int


def this_machine() -> Machine:
    """The cores this process may use (its CPU affinity) and the memory available now."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return Machine(cores, _available_memory())


def _available_memory() -> int:
    """Memory available without swapping (``MemAvailable``), else the machine's whole memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 2**40


def choose(
    jobs: int | str, cells: Sequence[Cell], run_cell: CellFunction, machine: Machine, gpus: int = 0
) -> tuple[int, int, str]:
    """Workers, threads per cell, and one line saying why.

    ``auto``: one worker per core for small cells (their small products use threads poorly, so
    two workers of one thread each beat one of two), one worker with every core for cells whose
    models are big (``BIG_MODEL`` parameters and up: their products use the cores well, and a
    second copy would only cost memory) or when there is a single cell, a worker per GPU on a GPU;
    never more workers than cells, or than the memory available holds at the largest cell's
    footprint. A number is taken as asked, within those same bounds, with a notice if capped.
    """
    found = [run_cell.footprint(cell) for cell in list(cells)[:MAX_ESTIMATED]]
    footprint = max(one.memory_bytes for one in found)
    biggest = max(one.parameters for one in found)
    by_memory = max(1, int(machine.memory * MEMORY_SHARE) // max(footprint, 1))
    bounds = {"memory": by_memory, "cells": len(cells)}
    if not gpus:
        bounds["cores"] = machine.cores
    if run_cell.in_process_plugins:
        # Plugins handed to this process as objects: no other process can load them.
        bounds[f"plugins of this process only ({', '.join(run_cell.in_process_plugins)})"] = 1
    if jobs == AUTO:
        if gpus:
            wanted, reason = gpus, f"a worker per GPU ({gpus})"
        elif biggest >= BIG_MODEL or len(cells) == 1:
            wanted, reason = 1, "big cells take every core" if len(cells) > 1 else "one cell"
        else:
            wanted, reason = machine.cores, "small cells: a worker per core"
    else:
        wanted, reason = int(jobs), "as asked"
    workers = max(1, min(wanted, *bounds.values()))
    threads = run_cell.threads if run_cell.threads_given else max(1, machine.cores // workers)
    limits = [name for name, bound in bounds.items() if bound == workers and bound < wanted]
    capped = f", capped by {' and '.join(limits)}" if limits else ""
    why = (
        f"jobs {jobs}: {workers} worker(s) of {threads} thread(s) ({reason}{capped}; "
        f"{machine.cores} core(s), {machine.memory / 2**30:.1f} GiB available, about "
        f"{footprint / 2**30:.1f} GiB a worker, {len(cells)} cell(s))"
    )
    return workers, threads, why
