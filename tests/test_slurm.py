"""The slurm executor against a real single-node SLURM (see ``slurm_cluster``): records equal a
local run's, a job cancelled mid-cell is reported and rerun next time, a job out of time is
reported with SLURM's reason, and a driver started again follows the jobs still running rather
than submitting them twice. Run by ``tox -e slurm``; skipped, with the reason, where SLURM
cannot be started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import BENCH, start_bench
from slurm_cluster import local_slurm, missing

pytest.importorskip("submitit", reason="needs submitit (the slurm extra)")
pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "SLURM is here")

TIMINGS = {"train_seconds", "images_per_second"}

MATRIX = """\
name: cluster
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 2}
experiments:
  teacher:
    model: {name: mlp, hidden: 16, depth: [2, 3]}
  student:
    model: {name: mlp, hidden: 8}
    strategy: {name: distill, teacher: {from: teacher, where: {model.depth: 2}}, epochs: 2}
"""
#: Cells of about 0.8 s an epoch on one core.
SLOW = """\
name: slow
defaults:
  dataset: digits
  strategy: {name: plain, epochs: 200, batch_size: 32}
experiments:
  e:
    model: {name: mlp, hidden: 1024, depth: 6}
    seeds: [0, 1]
"""


@pytest.fixture(scope="module")
def cluster():
    try:
        with local_slurm() as environment:
            yield environment
    except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        pytest.skip(f"could not start a local SLURM: {exc}")


def bench(environment, *args: object, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BENCH, *map(str, args)], capture_output=True, text=True, env=environment, timeout=timeout
    )


def results(out: Path) -> dict[str, tuple]:
    found = {}
    for path in (out / "cells").glob("*.json"):
        record = json.loads(path.read_text())
        final = {k: v for k, v in record["final"].items() if k.split("@")[0] not in TIMINGS}
        found[record["cell_id"]] = (record["status"], final)
    return found


def squeue(environment) -> list[str]:
    listed = subprocess.run(
        ["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=environment
    )
    return listed.stdout.split("\n") if listed.stdout.strip() else []


def test_records_equal_a_local_runs(cluster, tmp_path) -> None:
    (tmp_path / "m.yaml").write_text(MATRIX)
    local, remote = tmp_path / "local", tmp_path / "slurm"
    started = time.monotonic()
    assert (
        bench(
            cluster, "run", "--matrix", tmp_path / "m.yaml", "--out", local, "--threads", "1"
        ).returncode
        == 0
    )
    local_seconds = time.monotonic() - started
    started = time.monotonic()
    run = bench(
        cluster,
        "run",
        "--matrix",
        tmp_path / "m.yaml",
        "--out",
        remote,
        "--threads",
        "1",
        "--executor",
        "slurm",
        "--executor-opt",
        "time=10",
    )
    assert run.returncode == 0, run.stderr
    print(f"local {local_seconds:.0f} s, slurm {time.monotonic() - started:.0f} s")
    assert results(remote) == results(local)
    assert (remote / "slurm" / "jobs.json").is_file()
    assert list((remote / "slurm" / "logs").rglob("*log.out"))


def wait_running(environment, count: int = 1, seconds: float = 120) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = [line.split()[0] for line in squeue(environment) if "RUNNING" in line]
        if len(running) >= count:
            return running
        time.sleep(0.5)
    pytest.fail(f"no job running: {squeue(environment)}")


def start(environment, matrix: Path, out: Path, *extra: str) -> subprocess.Popen:
    return start_bench(
        matrix, out, "--threads", "1", "--executor", "slurm", *extra, env=environment
    )


def test_a_cancelled_job_is_reported_and_rerun_next_time(cluster, tmp_path) -> None:
    (tmp_path / "m.yaml").write_text(
        SLOW.replace("seeds: [0, 1]", "seeds: [0]").replace("epochs: 200", "epochs: 40")
    )
    out = tmp_path / "o"
    driver = start(cluster, tmp_path / "m.yaml", out)
    (job,) = wait_running(cluster)
    time.sleep(3)
    subprocess.run(["scancel", job], env=cluster, check=True)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 1, err
    (record,) = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert record["status"] == "failed"
    assert f"SLURM job {job} ended CANCELLED" in record["error"] and "log:" in record["error"]
    assert "CANCELLED" in (out / "report.md").read_text()
    again = bench(
        cluster,
        "run",
        "--matrix",
        tmp_path / "m.yaml",
        "--out",
        out,
        "--threads",
        "1",
        "--executor",
        "slurm",
    )
    assert again.returncode == 0, again.stderr
    assert {status for status, _ in results(out).values()} == {"ok"}


def test_a_job_out_of_time_is_reported_with_slurms_reason(cluster, tmp_path) -> None:
    (tmp_path / "m.yaml").write_text(SLOW.replace("seeds: [0, 1]", "seeds: [0]"))
    out = tmp_path / "o"
    run = bench(
        cluster,
        "run",
        "--matrix",
        tmp_path / "m.yaml",
        "--out",
        out,
        "--threads",
        "1",
        "--executor",
        "slurm",
        "--executor-opt",
        "time=1",
        timeout=400,
    )
    assert run.returncode == 1, run.stderr
    (record,) = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert "reached its time limit" in record["error"] and "timed-out" in record["error"]


def test_a_driver_started_again_follows_the_running_jobs(cluster, tmp_path) -> None:
    (tmp_path / "m.yaml").write_text(SLOW.replace("epochs: 200", "epochs: 40"))
    out = tmp_path / "o"
    first = start(cluster, tmp_path / "m.yaml", out)
    jobs = wait_running(cluster, count=2)
    os.killpg(first.pid, signal.SIGINT)  # not a terminal: the jobs are left, with a way out
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130
    assert "left 2 SLURM job(s) queued or running" in err and "scancel" in err
    submitted = json.loads((out / "slurm" / "jobs.json").read_text())
    second = start(cluster, tmp_path / "m.yaml", out)
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    assert json.loads((out / "slurm" / "jobs.json").read_text()) == submitted  # none again
    assert sorted(line.split()[0] for line in squeue(cluster)) == []
    assert {status for status, _ in results(out).values()} == {"ok"}
    assert len(jobs) == 2
