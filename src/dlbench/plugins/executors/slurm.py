"""The ``slurm`` executor: each cell a task of a SLURM job array, through submitit (optional
extra ``dlbench[slurm]``).

Cells go out in waves, producers before consumers: a cell is submitted once the cells it needs
have finished. Jobs write records and artifacts into the results directory, which must be on a
filesystem the nodes share, with the same code as local runs. The driver follows its jobs with
``squeue`` (and ``sacct`` or ``scontrol`` for jobs that ended): a job that ended without a record
(cancelled, out of time, node failure, preemption, out of memory) is a failed record with
SLURM's reason and the job's log, never lost silently; the next ``bench run`` runs it again.

Job ids are kept in ``slurm/jobs.json`` under the results directory, so a driver that was
stopped and started again follows the jobs still queued or running instead of submitting them
twice. Logs are under ``slurm/logs/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlbench import (
    Cell,
    CellFunction,
    CellRecord,
    DlbenchError,
    ExecutorSpec,
    Param,
    Register,
    hookimpl,
    install_hint,
)

#: SLURM job states of a job that is not over.
ALIVE = frozenset(
    {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}
)
POLL_SECONDS = 2.0
#: The executor's options: resources submitit names, then any other sbatch option and the
#: limit on jobs in flight.
PARAMS = {
    "partition": Param(None, str, "the SLURM partition", nullable=True),
    "time": Param(60, int, "time limit of each job, in minutes", minimum=1),
    "cpus_per_task": Param(
        None, int, "CPUs per job (default: the cell's threads)", minimum=1, nullable=True
    ),
    "gpus_per_node": Param(None, int, "GPUs per job", minimum=0, nullable=True),
    "mem": Param(None, str, "memory per job, e.g. 8GB", nullable=True),
    "account": Param(None, str, "the account to charge", nullable=True),
    "qos": Param(None, str, "the quality of service", nullable=True),
    "sbatch": Param(
        None, str, "any other sbatch option, as KEY=VALUE", sequence=True, nullable=True
    ),
    "max_in_flight": Param(
        64, int, "the most jobs queued or running at once", minimum=1, maximum=100_000
    ),
}


class SlurmExecutor:
    """Submits cells to SLURM as job arrays and yields their records as they finish.

    :param resources: sbatch resources by name (``partition``, ``time`` in minutes,
        ``cpus_per_task``, ``gpus_per_node``, ``mem``, ``account``, ``qos``); ``None`` leaves one
        to SLURM (``cpus_per_task`` to the cell's threads).
    :param sbatch: any other sbatch option, as ``KEY=VALUE`` texts (``constraint=a100``).
    :param max_in_flight: the most jobs queued or running at once.
    """

    poll = POLL_SECONDS

    def __init__(
        self, *, sbatch: Sequence[str] | None = None, max_in_flight: int = 64, **resources: Any
    ) -> None:
        try:
            import submitit
        except ImportError:
            raise DlbenchError(
                f"the slurm executor needs submitit: {install_hint('slurm')}"
            ) from None
        if shutil.which("sbatch") is None:
            raise DlbenchError("the slurm executor needs SLURM's sbatch on the PATH (a login node)")
        self._submitit = submitit
        self.resources = {k: v for k, v in resources.items() if v is not None}
        self.extra = dict(_sbatch_option(text) for text in sbatch or ())
        self.max_in_flight = max_in_flight

    def run(self, cells: Sequence[Cell], run_cell: CellFunction) -> Iterator[CellRecord]:
        """Submit cells as their producers finish; yield each record as its job ends."""
        tracker = _Jobs(Path(run_cell.store_root) / "slurm")
        executor = self._executor(tracker.logs, run_cell)
        planned = {cell.id for cell in cells}
        waiting = list(cells)
        running: dict[str, Cell] = {}
        finished: set[str] = set()
        for cell in list(waiting):  # a driver started again: follow what is still in SLURM
            job = tracker.job(cell.id)
            if job is not None and _state(job)[0] in ALIVE:
                waiting.remove(cell)
                running[cell.id] = cell
        try:
            while waiting or running:
                ready = [c for c in waiting if _ready(c, planned, finished)]
                room = self.max_in_flight - len(running)
                if ready and room > 0:
                    batch = ready[:room]
                    jobs = self._submit(executor, run_cell, batch)
                    for cell, job in zip(batch, jobs, strict=True):
                        waiting.remove(cell)
                        running[cell.id] = cell
                        tracker.add(cell.id, job)
                    tracker.save()
                for cell_id in list(running):
                    record = self._outcome(running[cell_id], tracker, run_cell)
                    if record is not None:
                        del running[cell_id]
                        finished.add(cell_id)
                        yield record
                if running:
                    time.sleep(self.poll)
        except KeyboardInterrupt:
            _leave_or_cancel([str(tracker.job(c)) for c in running])
            raise

    def _executor(self, logs: Path, run_cell: CellFunction) -> Any:
        executor = self._submitit.SlurmExecutor(folder=str(logs / "%j"))
        options: dict[str, Any] = {"cpus_per_task": run_cell.threads, **self.resources}
        if isinstance(self.resources.get("time"), int):
            # SLURM warns a job this many seconds before its time limit (submitit's default is
            # 90): with a limit of a minute or two, a warning that early would arrive before the
            # job's Python had started to listen for it, and kill it without a word.
            options["signal_delay_s"] = min(90, self.resources["time"] * 15)
        if self.extra:
            options["additional_parameters"] = self.extra
        options["array_parallelism"] = self.max_in_flight
        try:
            executor.update_parameters(**options)
        except ValueError as exc:
            raise DlbenchError(f"executor 'slurm': {str(exc).splitlines()[0]}") from None
        return executor

    def _submit(self, executor: Any, run_cell: CellFunction, cells: list[Cell]) -> list[str]:
        with executor.batch():
            jobs = [executor.submit(run_cell, cell) for cell in cells]
        return [str(job.job_id) for job in jobs]

    def _outcome(self, cell: Cell, tracker: _Jobs, run_cell: CellFunction) -> CellRecord | None:
        """The cell's record once its job is over, or ``None`` while it runs."""
        job = str(tracker.job(cell.id))
        state, reason = _state(job)
        if state in ALIVE:
            return None
        record = _stored(Path(run_cell.store_root), cell.id, since=tracker.submitted(cell.id))
        log = tracker.log(job)
        if record is not None and record.status != "failed":
            return record
        if record is not None:
            # The job stopped the cell itself: submitit turns the signal SLURM sends before the
            # time limit into an error inside the cell. Say so, with the job and its log.
            ended = (
                "reached its time limit"
                if "timed-out" in (record.error or "")
                else f"ended {state}"
            )
            failed = replace(record, error=f"SLURM job {job} {ended}: {record.error}; log: {log}")
            run_cell.store(failed)
            return failed
        reason_text = f" ({reason})" if reason and reason != "None" else ""
        failed = CellRecord.failure(
            cell, f"SLURM job {job} ended {state}{reason_text} without a record; log: {log}"
        )
        run_cell.store(failed)
        return failed


class _Jobs:
    """The SLURM job of each submitted cell and when it was submitted (``slurm/jobs.json``)."""

    def __init__(self, folder: Path) -> None:
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.path = folder / "jobs.json"
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.entries: dict[str, dict[str, Any]] = {
            k: v for k, v in data.items() if isinstance(v, dict) and "job" in v
        }

    def add(self, cell_id: str, job: str) -> None:
        self.entries[cell_id] = {"job": job, "submitted": time.time()}

    def job(self, cell_id: str) -> str | None:
        entry = self.entries.get(cell_id)
        return str(entry["job"]) if entry else None

    def submitted(self, cell_id: str) -> float:
        """When the cell's job was submitted, to tell its record from an older one."""
        return float(self.entries.get(cell_id, {}).get("submitted", 0.0)) - 1.0

    def save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(temporary, self.path)

    def log(self, job: str) -> str:
        """The job's error log (submitit names it after the job)."""
        found = sorted(self.logs.rglob(f"{job}_*log.err"))
        return str(found[0]) if found else str(self.logs)


def _stored(root: Path, cell_id: str, since: float) -> CellRecord | None:
    """The record the job stored, if it is newer than the job."""
    path = root / "cells" / f"{cell_id}.json"
    for candidate in (path, root / "attempts" / f"{cell_id}.json"):
        if candidate.is_file() and candidate.stat().st_mtime >= since:
            try:
                return CellRecord.from_json(json.loads(candidate.read_text()))
            except (OSError, ValueError):
                return None
    return None


def _state(job: str) -> tuple[str, str]:
    """SLURM's state of ``job`` and its reason: from squeue while it is queued or running, then
    from sacct, else scontrol (which remembers ended jobs for a while)."""
    queued = _run(["squeue", "-h", "-j", job, "-o", "%T|%r"])
    if queued:
        state, _, reason = queued.splitlines()[0].partition("|")
        return state.strip(), reason.strip()
    accounted = _run(["sacct", "-n", "-P", "-X", "-j", job, "-o", "State"])
    if accounted:
        return accounted.splitlines()[0].split()[0].strip(), ""
    shown = _run(["scontrol", "-o", "show", "job", job])
    fields = dict(item.partition("=")[::2] for item in shown.split())
    if fields.get("JobState"):
        return fields["JobState"], fields.get("Reason", "")
    return "UNKNOWN", "SLURM no longer knows the job"


def _run(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return completed.stdout.strip() if completed.returncode == 0 else ""


def _ready(cell: Cell, planned: set[str], finished: set[str]) -> bool:
    return all(p in finished for p in cell.producers() if p in planned)


def _sbatch_option(text: str) -> tuple[str, Any]:
    """``constraint=a100`` -> ``("constraint", "a100")``; a whole number stays a number."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise DlbenchError(
            f"executor 'slurm' option sbatch: {text!r} is not KEY=VALUE (e.g. constraint=a100)"
        )
    value = value.strip()
    return key.strip(), int(value) if value.isdigit() else value


def _leave_or_cancel(jobs: list[str]) -> None:
    """Asked on a terminal whether to cancel the jobs in flight; otherwise they are left."""
    if not jobs:
        return
    command = "scancel " + " ".join(jobs)
    if sys.stdin.isatty():
        answer = input(f"\ncancel the {len(jobs)} SLURM job(s) still queued or running? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            subprocess.run(["scancel", *jobs], check=False)
            print(f"cancelled: {command}", file=sys.stderr)
            return
    print(
        f"bench: left {len(jobs)} SLURM job(s) queued or running; run the same command again to "
        f"follow them, or cancel them with: {command}",
        file=sys.stderr,
    )


@hookimpl
def dlbench_register_executors(register: Register[ExecutorSpec]) -> None:
    """Register ``slurm``."""
    register(
        ExecutorSpec(
            name="slurm",
            create=SlurmExecutor,
            description="cells as SLURM job arrays, via submitit (the 'slurm' extra)",
            params=PARAMS,
        )
    )
