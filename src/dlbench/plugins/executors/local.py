"""The default executor: cells run in this process one after another, or in worker processes
(started with spawn, never fork: torch's threads would not survive it), producers before their
consumers. How many workers, and how many threads each, it chooses from the machine and the
cells (``jobs: auto``) or takes from ``--jobs`` within the machine's bounds. ``auto`` runs the
first cells in this process and starts workers only once the work left would repay their start.

Each worker gets the cell function (it pickles), builds the plugin catalog once and keeps its
datasets loaded between cells; it stores each record itself. Workers ignore Ctrl-C; the run
stops them. A cell whose worker process dies (killed, out of memory) is run again in a new
worker, up to ``RETRIES`` times, and is then a failed record: never lost silently.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dlbench import Cell, CellFunction, CellRecord, ExecutorSpec, Param, Register, hookimpl
from dlbench.plugins.executors.local_choice import (
    AUTO,
    choose,
    longest_first,
    this_machine,
    work,
)

#: Runs of a cell whose worker died, before it counts as failed.
RETRIES = 2
#: More worker processes than this is a typo, not a machine.
MAX_JOBS = 256
#: Seconds that starting workers costs (each imports torch and the plugins; about 4 s on a
#: 2-core machine): ``auto`` starts them only when the work left would save more.
WORKER_START_S = 5.0


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
        print(f"bench: {_said(cells, run_cell, *chosen)}", file=sys.stderr)
        left = list(cells)
        if here_first:
            # Starting workers costs seconds (each imports torch and the plugins): cells run
            # here, at a worker's threads, until the work left is worth starting them.
            here = run_cell.for_workers(1, threads, why + "; ran in the starting process")
            left = yield from _run_here_while_small(left, here, workers)
            if not left:
                return
            print(
                f"bench: jobs auto: starting {workers} workers for {len(left)} cell(s)",
                file=sys.stderr,
            )
        shared = run_cell.for_workers(workers, threads, why)
        if workers == 1:
            for cell in cells:
                yield shared(cell)
            return
        yield from _Workers(workers, _gpus(run_cell.device), shared).run(
            longest_first(left, run_cell)
        )

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
    if _workers_pay_at_once(list(cells), run_cell, workers):
        return f"{why}; stored runs of these configurations say workers pay: they start now"
    return f"{why}; cells run here until workers would pay"


def _workers_pay_at_once(cells: list[Cell], run_cell: CellFunction, workers: int) -> bool:
    """Whether stored runs of ``cells``' configurations say the time workers would save on them
    exceeds their start (``_run_here_while_small`` then runs none here)."""
    known = [run_cell.footprint(cell).seconds for cell in cells]
    seconds = sum(s for s in known if s is not None)
    return seconds * (1 - 1 / min(workers, len(cells))) > WORKER_START_S


def _run_here_while_small(
    cells: list[Cell], run_cell: CellFunction, workers: int
) -> Generator[CellRecord, None, list[Cell]]:
    """Run ``cells`` here in their order (producers first), while the time the work left would save
    on ``workers`` workers is under ``WORKER_START_S``; return the cells left for workers.
    A cell's time is a stored run's of its configuration where there is one, else estimated
    from the cells run here so far (by ``work``)."""
    left = list(cells)
    done: set[str] = set()
    planned = {cell.id for cell in cells}
    works = {cell.id: work(cell, run_cell) for cell in cells}
    # Runs of the same configurations stored earlier (earlier waves, earlier runs) say how long
    # these take before any of them runs here.
    stored = {cell.id: run_cell.footprint(cell).seconds for cell in cells}
    seconds = units = 0.0
    while left:
        # Workers save (1 - 1/k) of the work left, k the workers that would have a cell each.
        share = 1 - 1 / min(workers, len(left))
        rate = seconds / units if units else None
        estimates = [
            known if (known := stored[c.id]) is not None else (rate * works[c.id] if rate else 0.0)
            for c in left
        ]
        if sum(estimates) * share > WORKER_START_S:
            return left
        cell = next(c for c in left if _ready(c, planned, done))
        left.remove(cell)
        started = time.perf_counter()
        yield run_cell(cell)
        seconds += time.perf_counter() - started
        units += works[cell.id]
        done.add(cell.id)
    return left


def _gpus(device: str) -> tuple[int, ...]:
    """The visible GPUs to hand out one per worker, where cells may use CUDA and there are
    several (with one, every worker shares it)."""
    if device == "cpu":
        return ()
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return tuple(range(count)) if count > 1 else ()


class _Workers:
    """A pool of spawned worker processes fed cells as their producers finish."""

    def __init__(self, jobs: int, gpus: tuple[int, ...], run_cell: CellFunction) -> None:
        self.jobs, self.gpus, self.run_cell = jobs, gpus, run_cell
        self.attempts: dict[str, int] = {}

    def _pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        slots = context.SimpleQueue()
        for index in range(self.jobs):
            slots.put(self.gpus[index % len(self.gpus)] if self.gpus else None)
        return ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=_start_worker, initargs=(slots,)
        )

    def run(self, cells: Sequence[Cell]) -> Iterator[CellRecord]:
        waiting = list(cells)
        planned = {cell.id for cell in cells}
        finished: set[str] = set()
        running: dict[Future[CellRecord], Cell] = {}
        pool = self._pool()
        try:
            while waiting or running:
                for cell in [c for c in waiting if _ready(c, planned, finished)]:
                    waiting.remove(cell)
                    running[pool.submit(self.run_cell, cell)] = cell
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    cell = running.pop(future)
                    record: CellRecord | None
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken = True
                        record = self._retry_or_fail(cell, waiting)
                    if record is not None:
                        finished.add(cell.id)
                        yield record
                if broken:
                    # The pool is unusable once a worker died: every cell in flight runs again.
                    for cell in running.values():
                        record = self._retry_or_fail(cell, waiting)
                        if record is not None:
                            finished.add(cell.id)
                            yield record
                    running.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            _stop(pool)

    def _retry_or_fail(self, cell: Cell, waiting: list[Cell]) -> CellRecord | None:
        """Queue ``cell`` again, or after ``RETRIES`` its failed record (stored here)."""
        self.attempts[cell.id] = self.attempts.get(cell.id, 0) + 1
        if self.attempts[cell.id] <= RETRIES:
            waiting.insert(0, cell)
            return None
        record = CellRecord.failure(
            cell,
            f"its worker process died {self.attempts[cell.id]} times (killed, or out of memory)",
        )
        self.run_cell.store(record)
        return record


def _ready(cell: Cell, planned: set[str], finished: set[str]) -> bool:
    """A cell may start once the producers it needs from this run have finished."""
    return all(p in finished for p in cell.producers() if p in planned)


def _start_worker(slots: Any) -> None:
    """In a new worker: leave Ctrl-C to the run, end with the run, and take a GPU of its own
    where there are any."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_gone, args=(parent.sentinel,), daemon=True).start()
    gpu = slots.get()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)


def _exit_when_gone(run_sentinel: int) -> None:
    """Exit as soon as the run's process is gone (killed with -9, say): a worker left behind
    would go on training cells that nobody waits for. Its cell in flight is not recorded, and
    the next run trains it."""
    multiprocessing.connection.wait([run_sentinel])
    os._exit(1)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: a cell in flight when the run stops is not recorded."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)


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
