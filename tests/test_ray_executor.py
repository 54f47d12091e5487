"""The ray executor on a real local Ray cluster (loopback only). Run by ``tox -e ray``; skipped
where ray is not installed (the default environment)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray executor's tests need ray (the ray extra)")

from dlbench.bench.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

SMALL = """\
name: raysmall
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 2}
experiments:
  teacher:
    model: {name: mlp, hidden: 32}
  student:
    model: {name: mlp, hidden: 8, depth: [2, 3]}
    strategy: {name: distill, teacher: {from: teacher}, epochs: 2}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


@pytest.fixture(scope="session", autouse=True)
def cluster(tmp_path_factory):
    """A real local cluster with two fake GPUs, so that GPU placement can be checked."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    temp = Path("/tmp") / f"rt{os.getpid()}"  # short: AF_UNIX socket paths are limited
    ray.init(
        address="local",
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        _temp_dir=str(temp),
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def bench(*args: object) -> int:
    return main([str(a) for a in args])


TIMINGS = {"train_seconds", "images_per_second"}


def results(out: Path) -> dict[str, dict]:
    """Every cell's final metrics, less the timings (which differ between any two runs)."""
    found = {}
    for path in (out / "cells").glob("*.json"):
        record = json.loads(path.read_text())
        found[record["cell_id"]] = {k: v for k, v in record["final"].items() if k not in TIMINGS}
    return found


def tables(out: Path) -> dict[str, str]:
    """The report's CSV tables, except those with a training-time column."""
    return {
        path.name: path.read_text()
        for path in (out / "tables").glob("*.csv")
        if "Train time" not in path.read_text().splitlines()[0]
    }


def test_quick_example_on_ray_gives_the_local_tables(tmp_path) -> None:
    # Every experiment of the quick example (all four strategies), one epoch a cell: the same
    # cells must give the same numbers on Ray as here, whatever their length.
    quick = ("run", "--matrix", REPO / "examples" / "quick.yaml", "--set", "strategy.epochs=1")
    assert bench(*quick, "--out", tmp_path / "local", "--threads", "1") == 0
    assert bench(*quick, "--out", tmp_path / "ray", "--threads", "1", "--executor", "ray") == 0
    assert results(tmp_path / "ray") == results(tmp_path / "local")
    assert len(results(tmp_path / "ray")) == 26
    local_tables = tables(tmp_path / "local")
    assert len(local_tables) >= 6
    assert tables(tmp_path / "ray") == local_tables


def test_cells_get_the_clusters_gpus(tmp_path) -> None:
    matrix = tmp_path / "m.yaml"
    matrix.write_text(SMALL)
    assert (
        bench(
            "run",
            "--matrix",
            matrix,
            "--out",
            tmp_path / "o",
            "--executor",
            "ray",
            "--threads",
            "1",
        )
        == 0
    )
    records = [json.loads(p.read_text()) for p in (tmp_path / "o" / "cells").glob("*.json")]
    assert len(records) == 3
    # Ray gave each task one of the two fake GPUs and set its visible devices.
    assert {r["environment"]["cuda_visible_devices"] for r in records} <= {"0", "1"}


def _kill_a_running_cell(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first worker process seen running a cell (Ray titles it ray::_run_after)."""
    while not stop.is_set() and not killed:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"ray::_run_after"):
                time.sleep(0.5)  # inside the cell, not at its start
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
                return
        time.sleep(0.05)


def test_a_killed_worker_is_retried_and_the_matrix_finishes(tmp_path) -> None:
    matrix = tmp_path / "m.yaml"
    matrix.write_text(
        SMALL.replace("train_subset: 200", "train_subset: 1000").replace("epochs: 2", "epochs: 20")
    )
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_a_running_cell, args=(stop, killed))
    killer.start()
    try:
        code = bench(
            "run",
            "--matrix",
            matrix,
            "--out",
            tmp_path / "o",
            "--executor",
            "ray",
            "--threads",
            "1",
        )
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed, "no running cell was found to kill"
    print(f"killed worker {killed[0]}; the run exited {code}")
    assert code == 0
    assert len(list((tmp_path / "o" / "cells").glob("*.json"))) == 3


def test_ray_missing_is_a_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("no ray here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    matrix = tmp_path / "m.yaml"
    matrix.write_text(SMALL)
    assert bench("run", "--matrix", matrix, "--out", tmp_path / "o", "--executor", "ray") == 2
    assert "pip install 'ray>=" in capsys.readouterr().err


def test_planned_runs_on_ray_match_the_local_ones(tmp_path) -> None:
    """A tuned study and a decided comparison plan the same cells on Ray as locally."""
    pytest.importorskip("optuna", reason="tuning needs Optuna (the tune extra)")
    from test_decisions import DECIDE
    from test_tuning import TUNED

    for name, text in (("tuned", TUNED), ("decided", DECIDE)):
        matrix = tmp_path / f"{name}.yaml"
        matrix.write_text(text)
        local, remote = tmp_path / f"{name}-local", tmp_path / f"{name}-ray"
        assert bench("run", "--matrix", matrix, "--out", local, "--threads", "1") == 0
        argv = ("run", "--matrix", matrix, "--out", remote, "--executor", "ray", "--threads", "1")
        assert bench(*argv) == 0
        assert set(results(remote)) == set(results(local)), name
