"""Signals: SIGTERM, SIGHUP and Ctrl-C stop a run like Ctrl-C, in one line, at any moment."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import BENCH, SMALL, records, start_bench


def start(matrix: Path, out: Path) -> subprocess.Popen:
    return start_bench(matrix, out)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(write_matrix, tmp_path, signum, code) -> None:
    # A one-epoch cell, then one that trains for minutes: the signal finds the second in flight.
    text = SMALL.replace(
        "    model: {name: mlp, hidden: 8, depth: [2, 3]}",
        "    model: {name: mlp, hidden: 8, depth: 2}\n"
        "  long:\n"
        "    dataset: {name: digits, train_subset: 1000}\n"
        "    strategy: {name: plain, epochs: 5000}\n"
        "    model: {name: mlp, hidden: 8, depth: 3}",
    )
    matrix, out = write_matrix(text), tmp_path / "o"
    process = start(matrix, out)
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"bench: stopped ({signal.Signals(signum).name})")
    assert {r["status"] for r in records(out).values()} == {"ok"}  # the cell in flight: none
    assert len(records(out)) == 1
    shorter = "experiments.long.strategy.epochs=1"
    finished = subprocess.run(  # the lock was released
        [BENCH, "run", "--matrix", str(matrix), "--out", str(out), "--set", shorter],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0 and "1 cell(s) to run, 1 already stored" in finished.stderr


def test_ctrl_c_during_start_up_prints_no_traceback(write_matrix, tmp_path) -> None:
    process = start(write_matrix(SMALL), tmp_path / "o")
    time.sleep(0.5)  # still importing torch and loading plugins
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert "Traceback" not in err
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("bench: stopped (interrupted)")


LONG_PAIR = """\
name: long
defaults:
  dataset: {name: digits, train_subset: 1000}
  strategy: {name: plain, epochs: 5000}
experiments:
  e:
    model: {name: mlp, hidden: 64, depth: [2, 3]}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("jobs", "started"),
    [("2", "jobs 2: 2 worker(s)"), ("auto", "starting 1 worker(s) beside this process")],
)
def test_ctrl_c_stops_cells_running_in_workers_and_beside_them_at_once(
    write_matrix, tmp_path, jobs, started
) -> None:
    """Two long cells in flight (in two workers, or here and in one worker): Ctrl-C stops the
    run within seconds, whichever thread of the run the signal reaches, and records nothing."""
    out = tmp_path / "o"
    process = start_bench(write_matrix(LONG_PAIR), out, "--jobs", jobs)
    seen = ""
    deadline = time.monotonic() + 120
    assert process.stderr is not None
    while started not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    assert started in seen, seen
    time.sleep(8)  # both cells training
    stopped_at = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert time.monotonic() - stopped_at < 20, "the run went on after Ctrl-C"
    assert process.returncode == 130, seen + err
    assert "Traceback" not in err
    assert not list((out / "cells").glob("*.json"))
