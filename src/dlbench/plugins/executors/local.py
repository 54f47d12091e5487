"""The default executor: cells run in this process one after another, or in worker processes
(started with spawn, never fork: torch's threads would not survive it), producers before their
consumers. How many workers, and how many threads each, it chooses from the machine and the
cells (``jobs: auto``) or takes from ``--jobs`` within the machine's bounds. ``auto`` makes this
process one of the workers: it runs cells in a thread of its own and starts the other workers
only once the work left (the cell in flight tells how long cells take) would repay their start.

Each worker gets the cell function (it pickles), builds the plugin catalog once and keeps its
datasets loaded between cells; it stores each record itself. Workers ignore Ctrl-C; the run
stops them. A cell whose worker process dies (killed, out of memory) is run again in a new
worker, up to ``RETRIES`` times, and is then a failed record: never lost silently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dlbench import Cell, CellFunction, CellRecord, ExecutorSpec, Param, Register, hookimpl
from dlbench.plugins.executors.local_choice import (
    AUTO,
    choose,
    this_machine,
)
from dlbench.plugins.executors.local_workers import _Pace, _Workers

#: More worker processes than this is a typo, not a machine.
MAX_JOBS = 256


class LocalExecutor:
    """Runs cells on this machine: in this process, or in worker processes.

    The executor shares the machine: with ``jobs: auto`` (the default) it chooses the workers
    and the threads of each from the cores this process may use, the memory available and the
    cells (see ``choose``); a number asks for that
    many, capped by cores and memory with a notice. Each cell gets the threads the user gave
    (``--threads``), else the cores divided by the workers, and each worker a GPU of its own
    where several are visible.

    :param jobs: ``auto``, or the worker processes (1 runs every cell in this process).
    """

    def __init__(self, jobs: int | str = AUTO) -> None:
        self.jobs = jobs

    def plan(self, cells: Sequence[Cell], run_cell: CellFunction) -> str:
        """How ``cells`` would run: the workers, the threads of each and why, and whether cells
        run here first; the line ``run`` prints (a dry run prints it too)."""
        return _said(cells, run_cell, *self._choose(cells, run_cell))

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        if not cells:
            return
        chosen = self._choose(cells, run_cell)
        workers, threads, why, here_first = chosen
        run_cell.note(_said(cells, run_cell, *chosen))
        if here_first:
            # Starting workers costs seconds (each imports torch and the plugins): this process
            # runs cells, at a worker's threads, and starts the other workers only once the
            # work left (the cell in flight here tells how long cells take) repays their start.
            here = run_cell.for_workers(1, threads, why + "; ran in the starting process")
            shared = run_cell.for_workers(workers, threads, why)
            yield from _Workers(workers - 1, (), shared, here=(here, threads)).run(list(cells))
            return
        shared = run_cell.for_workers(workers, threads, why)
        if workers == 1:
            for cell in cells:
                yield shared(cell)
            return
        yield from _Workers(workers, _gpus(run_cell.device), shared).run(cells)

    def _choose(self, cells: Sequence[Cell], run_cell: CellFunction) -> tuple[int, int, str, bool]:
        """Workers, threads, why, and whether cells run here until workers would pay."""
        gpus = _gpus(run_cell.device)
        workers, threads, why = choose(self.jobs, cells, run_cell, this_machine(), len(gpus))
        return workers, threads, why, workers > 1 and self.jobs == AUTO and not gpus


def _said(
    cells: Sequence[Cell],
    run_cell: CellFunction,
    workers: int,
    threads: int,
    why: str,
    here_first: bool,
) -> str:
    """The line saying how cells run: ``why``, and whether cells run here first."""
    if not here_first:
        return why
    if _Pace(cells, run_cell).workers_pay(cells, workers):
        return f"{why}; stored runs of these configurations say workers pay: they start now"
    return f"{why}; cells run here until workers would pay"


def _gpus(device: str) -> tuple[int, ...]:
    """The visible GPUs to hand out one per worker, where cells may use CUDA and there are
    several (with one, every worker shares it)."""
    if device == "cpu":
        return ()
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return tuple(range(count)) if count > 1 else ()


@hookimpl
def dlbench_register_executors(register: Register[ExecutorSpec]) -> None:
    """Register ``local``."""
    register(
        ExecutorSpec(
            name="local",
            create=LocalExecutor,
            description="run cells on this machine: in this process, or in --jobs worker processes",
            params={
                "jobs": Param(
                    AUTO,
                    int,
                    "cells run at once, in worker processes (1: in this process); auto "
                    "chooses from the cores, the memory available and the cells",
                    minimum=1,
                    maximum=MAX_JOBS,
                    keywords=(AUTO,),
                ),
            },
        )
    )
