"""The local executor's worker processes: spawned, fed cells as their producers finish, each
cell retried in a new worker when its worker dies; with this process as one more worker, which
runs cells in a thread of its own until the work left repays starting the others."""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from dlbench import Cell, CellFunction, CellRecord
from dlbench.plugins.executors.local_choice import (
    longest_first,
    work,
)

#: Runs of a cell whose worker died, before it counts as failed.
RETRIES = 2
#: Seconds that starting workers costs (each imports torch and the plugins; about 4 s on a
#: 2-core machine): ``auto`` starts them only when the work left would save more.
WORKER_START_S = 5.0
#: Seconds between looks at a cell in flight in this process, before workers start.
POLL_S = 0.5
#: Seconds between wake-ups of the run's thread while cells run, to answer signals.
WAKE_S = 1.0


class _Workers:
    """Spawned worker processes fed cells as their producers finish.

    With ``here`` (a cell function and its threads), this process is one more worker: it runs
    cells in a thread of its own, and the pool of ``jobs`` processes starts only once the work
    left would repay its start (``WORKER_START_S``): a cell's time is a stored run's of its
    configuration where there is one, else estimated from the cells run here, the one in
    flight included (its time so far is a lower bound), by ``work``.
    """

    def __init__(
        self,
        jobs: int,
        gpus: tuple[int, ...],
        run_cell: CellFunction,
        here: tuple[CellFunction, int] | None = None,
    ) -> None:
        self.jobs, self.gpus, self.run_cell, self.here = jobs, gpus, run_cell, here
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
        """Yield each cell's record as soon as it finishes."""
        # This process takes the cells in their order (producers first: the first ones tell
        # how long cells take); workers take the longest ready cell first, so that the last
        # to finish are short ones.
        waiting = list(cells)
        planned = {cell.id for cell in cells}
        finished: set[str] = set()
        running: dict[Future[CellRecord], Cell] = {}
        here_cell: Cell | None = None
        here_thread: threading.Thread | None = None
        pool = None if self.here is not None else self._pool()
        pace = _Pace(cells, self.run_cell)
        try:
            while waiting or running:
                ready = [c for c in waiting if _ready(c, planned, finished)]
                if self.here is not None and here_cell is None and ready:
                    here_cell = ready.pop(0)
                    waiting.remove(here_cell)
                    future, here_thread = _in_thread(*self.here, here_cell)
                    running[future] = here_cell
                    pace.started(here_cell)
                if pool is None and pace.workers_pay(waiting, self.jobs + 1):
                    self.run_cell.note(
                        f"jobs auto: starting {self.jobs} worker(s) beside this process "
                        f"for {len(waiting)} cell(s)"
                    )
                    pool = self._pool()
                if pool is not None:
                    busy = sum(1 for cell in running.values() if cell is not here_cell)
                    free = max(0, self.jobs - busy) if self.here else None
                    for cell in longest_first(ready, self.run_cell)[:free]:
                        waiting.remove(cell)
                        running[pool.submit(self.run_cell, cell)] = cell
                # Never wait without a timeout: a signal (Ctrl-C, SIGTERM) delivered to another
                # thread of this process would not wake a wait that has none, and the run would
                # go on until a cell ends. Without workers yet, look again soon: the cell in
                # flight here may show that the work left repays them.
                timeout = POLL_S if pool is None and waiting else WAKE_S
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    cell = running.pop(future)
                    record: CellRecord | None
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken = True
                        record = self._retry_or_fail(cell, waiting)
                    if cell is here_cell:
                        here_cell = None
                        pace.finished(cell)
                    if record is not None:
                        finished.add(cell.id)
                        yield record
                if broken and pool is not None:
                    # The pool is unusable once a worker died: every cell in flight runs again.
                    for future, cell in list(running.items()):
                        if cell is here_cell:
                            continue
                        del running[future]
                        record = self._retry_or_fail(cell, waiting)
                        if record is not None:
                            finished.add(cell.id)
                            yield record
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool()
        finally:
            if pool is not None:
                _stop(pool)
            if here_cell is not None and here_thread is not None:
                _interrupt(here_thread)  # the run stops: so does the cell in flight here

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


class _Pace:
    """How long the cells left would take, from stored runs of their configurations and the
    cells run in this process (the one in flight counts with its time so far, once that
    exceeds a worker's start)."""

    def __init__(self, cells: Sequence[Cell], run_cell: CellFunction) -> None:
        self.works = {cell.id: work(cell, run_cell) for cell in cells}
        self.stored = {cell.id: run_cell.footprint(cell).seconds for cell in cells}
        self.seconds = self.units = 0.0
        self.flight: tuple[Cell, float] | None = None

    def started(self, cell: Cell) -> None:
        """``cell`` started in this process now."""
        self.flight = (cell, time.perf_counter())

    def finished(self, cell: Cell) -> None:
        """The cell in flight here finished."""
        if self.flight is not None:
            self.seconds += time.perf_counter() - self.flight[1]
            self.units += self.works[cell.id]
        self.flight = None

    def workers_pay(self, left: Sequence[Cell], processes: int) -> bool:
        """Whether ``processes`` processes (this one and the workers) would save more on the
        cells ``left`` than starting the workers costs: they save (1 - 1/k) of the work left,
        k the processes that would have a cell each."""
        if not left:
            return False
        rates = [self.seconds / self.units] if self.units else []
        if self.flight is not None:
            cell, since = self.flight
            elapsed = time.perf_counter() - since
            # A first cell's time includes loading its dataset (once per process): trusted as
            # a measure of the cells only once it exceeds what a worker's start costs.
            if elapsed >= WORKER_START_S:
                rates.append(elapsed / self.works[cell.id])
        rate = max(rates, default=0.0)
        estimates = [
            known if (known := self.stored[c.id]) is not None else rate * self.works[c.id]
            for c in left
        ]
        share = 1 - 1 / min(processes, len(left) + (self.flight is not None))
        return sum(estimates) * share > WORKER_START_S


def _in_thread(
    run_cell: CellFunction, threads: int, cell: Cell
) -> tuple[Future[CellRecord], threading.Thread]:
    """Run ``cell`` in a new thread of this process with ``threads`` torch threads (a new
    thread starts with OpenMP's default, every core, whatever this process set). The thread
    is a daemon: a run that stops does not wait for the cell in flight, which is not
    recorded."""
    import torch

    future: Future[CellRecord] = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            torch.set_num_threads(threads)
            future.set_result(run_cell(cell))
        except BaseException as exc:  # handed to the run, which raises it where it waits
            future.set_exception(exc)

    thread = threading.Thread(target=target, name=f"dlbench-cell-{cell.id}", daemon=True)
    thread.start()
    return future, thread


def _interrupt(thread: threading.Thread, timeout: float = 30.0) -> None:
    """Raise ``KeyboardInterrupt`` in ``thread`` (at its next Python step: within a batch of
    training) and wait for it to end; its cell is not recorded, as a cell in flight in a
    worker is not. Without this, a stopped run in a notebook would train on unseen."""
    if thread.ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
    )
    thread.join(timeout)


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
