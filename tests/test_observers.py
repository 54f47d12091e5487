"""Observers: what they learn, and what a raising observer costs (nothing, unless required)."""

from __future__ import annotations

import json

import pytest
from helpers import SMALL, records

RAISING_OBSERVER = """\
import dlbench

dlbench_required = {required}


@dlbench.hookimpl
def dlbench_{hook}({arguments}):
    raise RuntimeError("observer is broken")
"""


WATCHER_OBSERVER = """\
import dlbench


@dlbench.hookimpl
def dlbench_cell_end(cell, record, results_dir):
    folder = results_dir / "observers" / "watcher"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cell.id}.txt").write_text(record.status)


@dlbench.hookimpl
def dlbench_epoch_end(cell, epoch):
    raise RuntimeError("the dashboard is down")
"""


def test_an_observer_that_raises_costs_no_cell(bench, install, write_matrix, tmp_path) -> None:
    install(
        "observer",
        RAISING_OBSERVER.format(required=False, hook="cell_end", arguments="cell, record"),
    )
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0
    # Located like a failing strategy: the plugin, the hook, and the file and line that raised.
    assert result.err.count("plugin 'observer' failed in dlbench_cell_end (") == 1
    assert "observer.py:8): RuntimeError: observer is broken" in result.err, result.err
    assert "Traceback" not in result.err
    assert {r["status"] for r in records(out).values()} == {"ok"}
    again = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert again.code == 0 and "0 cell(s) to run" in again.err
    debug = bench("--debug", "run", "--matrix", write_matrix(SMALL), "--out", tmp_path / "d")
    assert debug.code == 0
    assert (
        "Traceback (most recent call last)" in debug.err
        and "line 8, in dlbench_cell_end" in debug.err
    )


def test_a_required_observer_that_raises_fails_the_cell(
    bench, install, write_matrix, tmp_path
) -> None:
    install("observer", RAISING_OBSERVER.format(required=True, hook="cell_start", arguments="cell"))
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 1
    assert all("observer is broken" in r["error"] for r in records(out).values())


def test_an_observer_learns_the_results_directory_and_failures_reach_the_report(
    bench, install, write_matrix, tmp_path
) -> None:
    install("watcher", WATCHER_OBSERVER)
    install("broken_import", "raise ImportError('a missing dependency')\n")
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 0, result.err
    written = sorted(p.stem for p in (out / "observers" / "watcher").glob("*.txt"))
    assert written == sorted(p.stem for p in (out / "cells").glob("*.json"))
    report = (out / "report.md").read_text()
    problems = report.split("## Plugins left out or failing")[1]
    assert "plugin 'broken\\_import'" in problems or "broken_import" in problems
    assert "the dashboard is down" in problems
    page = (out / "report.html").read_text()
    assert "observer failed" in page and "plugin left out" in page


PEEKING_OBSERVER = """\
import json

import dlbench


@dlbench.hookimpl
def dlbench_epoch_end(cell, epoch, metrics, results_dir):
    # What TensorBoard reads during epoch 3's hooks is what the run has written so far: epochs
    # 1 and 2, and 3 where the built-in observer was called first.
    if epoch != 3:
        return
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run,) = (results_dir / "tb").glob(f"*-{cell.id[:8]}")
    accumulator = EventAccumulator(str(run))
    accumulator.Reload()
    seen = [event.step for event in accumulator.Scalars("val_acc")]
    folder = results_dir / "observers" / "peek"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cell.id}.json").write_text(json.dumps(seen))
"""


def test_tensorboard_reads_each_cells_curves_while_it_trains(
    bench, install, write_matrix, tmp_path
) -> None:
    pytest.importorskip("tensorboard", reason="needs tensorboard (the tensorboard extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    install("peek", PEEKING_OBSERVER)
    out = tmp_path / "o"
    text = SMALL.replace("epochs: 1}", "epochs: 4}")
    result = bench("run", "--matrix", write_matrix(text), "--out", out, "--tensorboard")
    assert result.code == 0, result.err
    assert f"live curves: tensorboard --logdir {out / 'tb'}" in result.err
    peeks = sorted((out / "observers" / "peek").glob("*.json"))
    assert len(peeks) == 2
    seen = [json.loads(p.read_text()) for p in peeks]
    assert all(steps in ([1, 2], [1, 2, 3]) for steps in seen), seen  # mid-run, never epoch 4
    for record in records(out).values():
        (run,) = (out / "tb").glob(f"*-{record['cell_id'][:8]}")
        accumulator = EventAccumulator(str(run))
        accumulator.Reload()
        losses = [event.value for event in accumulator.Scalars("train_loss")]
        assert losses == pytest.approx([e["train_loss"] for e in record["epochs"]])
    # Without the flag (and no tb folder), nothing is written.
    quiet = tmp_path / "q"
    assert bench("run", "--matrix", write_matrix(text), "--out", quiet).code == 0
    assert not (quiet / "tb").exists()
