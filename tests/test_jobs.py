"""``bench run --jobs N``: cells in worker processes, the same results as one after another,
a worker killed mid-cell costs no cell, Ctrl-C stops everything, and timings taken under
different concurrency are not compared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import start_bench

MATRIX = """\
name: parallel
defaults:
  dataset: {name: digits, train_subset: 256}
  strategy: {name: plain, epochs: 2, batch_size: 32}
experiments:
  teacher:
    model: {name: mlp, hidden: 16, depth: [2, 3]}
  student:
    model: {name: mlp, hidden: 8}
    strategy: {name: distill, teacher: {from: teacher, where: {model.depth: 2}}, epochs: 2}
    tables:
      - kind: leaderboard
        experiments: [teacher, student]
"""
TIMINGS = {"train_seconds", "images_per_second"}


def results(out: Path) -> dict[str, tuple]:
    """Each cell's final metrics and epochs, timings left out."""
    found = {}
    for path in (out / "cells").glob("*.json"):
        record = json.loads(path.read_text())
        final = {k: v for k, v in record["final"].items() if k.split("@")[0] not in TIMINGS}
        epochs = [{k: v for k, v in e.items() if k != "seconds"} for e in record["epochs"]]
        found[record["cell_id"]] = (record["status"], final, epochs)
    return found


def test_jobs_give_the_results_of_a_serial_run(bench, write_matrix, tmp_path) -> None:
    path = write_matrix(MATRIX)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert bench("run", "--matrix", path, "--out", serial, "--threads", "1").code == 0
    result = bench("run", "--matrix", path, "--out", parallel, "--threads", "1", "--jobs", "2")
    assert result.code == 0, result.err
    assert results(parallel) == results(serial)
    assert len(results(parallel)) == 3
    for record_path in (parallel / "cells").glob("*.json"):
        environment = json.loads(record_path.read_text())["environment"]
        assert (environment["jobs"], environment["threads"]) == (2, 1)
    # One progress display: every cell named once, with its outcome.
    assert result.err.count("done in") == 3


def test_a_bad_number_of_jobs_is_one_line(bench, write_matrix) -> None:
    result = bench("run", "--matrix", write_matrix(MATRIX), "--jobs", "0")
    assert result.code == 2 and "--jobs 0: executor 'local' parameter 'jobs'" in result.err
    assert "expected an integer between 1 and 256, or 'auto', got 0" in result.err


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in found.split()]


def start(path: Path, out: Path, *extra: str) -> subprocess.Popen:
    return start_bench(path, out, "--threads", "1", *extra)


SLOW = MATRIX.replace("train_subset: 256", "train_subset: 1200").replace("epochs: 2", "epochs: 30")


def wait_for_workers(process: subprocess.Popen, count: int) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # The spawn start method adds a resource tracker beside the workers.
        workers = [p for p in children(process.pid) if b"spawn_main" in _cmdline(p)]
        if len(workers) >= count:
            return workers
        time.sleep(0.1)
    pytest.fail("workers did not start")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_a_worker_killed_mid_cell_costs_no_cell(write_matrix, tmp_path) -> None:
    path, out = write_matrix(SLOW), tmp_path / "o"
    process = start(path, out, "--jobs", "2")
    workers = wait_for_workers(process, 2)
    time.sleep(4)  # both workers are inside a teacher cell by now
    os.kill(workers[0], signal.SIGKILL)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    outcomes = {status for status, _, _ in results(out).values()}
    assert outcomes == {"ok"} and len(results(out)) == 3


def test_ctrl_c_stops_the_workers_and_keeps_what_finished(write_matrix, tmp_path) -> None:
    path, out = write_matrix(SLOW), tmp_path / "o"
    process = start(path, out, "--jobs", "2")
    workers = wait_for_workers(process, 2)
    time.sleep(4)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(1)
    assert not [w for w in workers if Path(f"/proc/{w}").exists() and _cmdline(w)]
    assert {status for status, _, _ in results(out).values()} <= {"ok"}


def test_compare_refuses_timings_taken_under_other_concurrency(
    bench, write_matrix, tmp_path
) -> None:
    path = write_matrix(MATRIX)
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert bench("run", "--matrix", path, "--out", serial, "--threads", "1").code == 0
    assert (
        bench("run", "--matrix", path, "--out", parallel, "--threads", "1", "--jobs", "2").code == 0
    )
    assert bench("compare", parallel, serial).code == 0  # metrics alone compare
    refused = bench("compare", parallel, serial, "--time", "0.5")
    assert refused.code == 2 and "timings compare only under the same concurrency" in refused.err
    assert "jobs=1 threads=1" in refused.err and "jobs=2 threads=1" in refused.err


@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_worker_and_a_rerun_resumes(write_matrix, tmp_path) -> None:
    path, out = write_matrix(SLOW), tmp_path / "o"
    process = start(path, out, "--jobs", "2")
    workers = wait_for_workers(process, 2)
    time.sleep(4)
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + 60  # orphaned workers notice their driver is gone and exit
    while [w for w in workers if _cmdline(w)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if _cmdline(w)]
    before = results(out)
    rerun = start(path, out, "--jobs", "2")
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert f"{3 - len(before)} cell(s) to run, {len(before)} already stored" in err
    after = results(out)
    assert len(after) == 3 and {status for status, _, _ in after.values()} == {"ok"}
    assert all(after[cell] == before[cell] for cell in before)  # stored results untouched


def test_stored_runs_tell_the_executor_how_long_each_configuration_takes(
    bench, write_matrix, tmp_path
) -> None:
    from dlbench.bench.results.store import ResultStore, StoredRecords
    from dlbench.bench.run.cell_job import stored_durations
    from dlbench.bench.run.planners import configuration
    from dlbench.registry.cell import Cell

    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(MATRIX), "--out", out, "--jobs", "1").code == 0
    records = list(StoredRecords(ResultStore(out)).values())
    durations = stored_durations(records)
    assert len(durations) == len(records) == 3
    for record in records:
        other_seed = Cell.from_json({**record.cell, "seed": 7})
        assert durations[configuration(other_seed)] == record.timings["total"] > 0
