"""The default executor: cells run in this process one after another, or with ``jobs`` above 1
in that many worker processes (started with spawn, never fork: torch's threads would not
survive it), producers before their consumers.

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
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dlbench import Cell, CellFunction, CellRecord, ExecutorSpec, Param, Register, hookimpl

#: Runs of a cell whose worker died, before it counts as failed.
RETRIES = 2
#: More worker processes than this is a typo, not a machine.
MAX_JOBS = 256


class LocalExecutor:
    """Runs cells on this machine: in this process, or in ``jobs`` worker processes.

    The executor shares the machine between its workers: each cell gets the threads the user
    gave (``--threads``) or the cores divided by the workers, and each worker a GPU of its own
    where several are visible and cells may use them.

    :param jobs: worker processes; 1 runs every cell in this process.
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        if self.jobs <= 1:
            for cell in cells:
                yield run_cell(cell)
            return
        threads = run_cell.threads if run_cell.threads_given else run_cell.threads // self.jobs
        shared = run_cell.for_workers(self.jobs, max(1, threads))
        yield from _Workers(self.jobs, _gpus(run_cell.device), shared).run(cells)


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
                    1,
                    int,
                    "cells run at once, in worker processes (1: in this process)",
                    minimum=1,
                    maximum=MAX_JOBS,
                ),
            },
        )
    )
