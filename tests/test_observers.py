"""Observers: what they learn, and what a raising observer costs (nothing, unless required)."""

from __future__ import annotations

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
