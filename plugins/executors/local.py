"""The default executor: cells run in this process one after another, or in worker processes
(started with spawn, never fork: torch's threads would not survive it), producers before their
consumers. How many workers, and how many threads each, it chooses from the machine and the
cells (``jobs: auto``) or takes from ``--jobs`` within the machine's bounds.

Each worker gets the cell function (it pickles), builds the plugin catalog once and keeps its
datasets loaded between cells; it stores each record itself. Workers ignore Ctrl-C; the run
stops them. A cell whose worker process dies (killed, out of memory) is run again in a new
worker, up to :data:`RETRIES` times, and is then a failed record: never lost silently.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbench import Cell, CellFunction, CellRecord, ExecutorSpec, Param, Register, hookimpl

#: Runs of a cell whose worker died, before it counts as failed.
RETRIES = 2
#: More worker processes than this is a typo, not a machine.
MAX_JOBS = 256
AUTO = "auto"
#: Models with this many parameters or more train well on every core of one process.
BIG_MODEL = 5_000_000
#: Workers are planned to use at most this share of the memory available.
MEMORY_SHARE = 0.8
#: Cells whose footprint is estimated to plan the workers (the first of a long list).
MAX_ESTIMATED = 200


class LocalExecutor:
    """Runs cells on this machine: in this process, or in worker processes.

    The executor shares the machine: with ``jobs: auto`` (the default) it chooses the workers
    and the threads of each from the cores this process may use, the memory available and the
    cells (see :func:`choose`); a number asks for that many, capped by cores and memory with a
    notice. Each cell gets the threads the user gave (``--threads``), else the cores divided by
    the workers, and each worker a GPU of its own where several are visible.

    :param jobs: ``auto``, or the worker processes (1 runs every cell in this process).
    """

    def __init__(self, jobs: int | str = AUTO) -> None:
        self.jobs = jobs

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        if not cells:
            return
        gpus = _gpus(run_cell.device)
        workers, threads, why = choose(self.jobs, cells, run_cell, _machine(), len(gpus))
        print(f"bench: {why}", file=sys.stderr)
        shared = run_cell.for_workers(workers, threads, why)
        if workers == 1:
            for cell in cells:
                yield shared(cell)
            return
        yield from _Workers(workers, gpus, shared).run(longest_first(cells, run_cell))


def longest_first(cells: Sequence[Cell], run_cell: CellFunction) -> list[Cell]:
    """``cells`` with the most work first (parameters times epochs; the order of equals kept),
    so that the last cells to finish are short ones and no worker waits long for the others.
    Results do not depend on the order: a cell's seed fixes its run."""

    def work(cell: Cell) -> float:
        epochs = cell.strategy.params.get("epochs", 1)
        return run_cell.footprint(cell).parameters * (epochs if isinstance(epochs, int) else 1)

    return sorted(cells, key=work, reverse=True)


@dataclass(frozen=True)
class Machine:
    """What this process may use: its cores and the memory available now (bytes)."""

    cores: int
    memory: int


def _machine() -> Machine:
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
    models are big (:data:`BIG_MODEL` parameters and up: their products use the cores well, and a
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
    if jobs == AUTO:
        if gpus:
            wanted, reason = gpus, f"a worker per GPU ({gpus})"
        elif biggest >= BIG_MODEL or len(cells) == 1:
            wanted, reason = 1, "big cells take every core" if len(cells) > 1 else "one cell"
        else:
            wanted, reason = machine.cores, "small cells: a worker per core"
    else:
        wanted, reason = int(jobs), f"--jobs {jobs}"
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
        """Queue ``cell`` again, or after :data:`RETRIES` its failed record (stored here)."""
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
