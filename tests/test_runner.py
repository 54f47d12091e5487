"""Running a matrix: resume, identity-driven reruns, failures, lifecycle hooks, executors."""

from __future__ import annotations

import io
import json
from importlib.metadata import version
from pathlib import Path

import inline_plugins
import pytest
import torch

from dlbench import ExecutorSpec, hookimpl
from dlbench.bench.matrix import load_matrix
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import RunSummary, run_matrix
from dlbench.bench.run.services import RunOptions, RunSettings

MATRIX = """
name: runner
defaults:
  dataset: digits
  strategy: {name: fake, epochs: 2}
experiments:
  depth:
    model: {name: mlp, depth: [2, 3]}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


@pytest.fixture(autouse=True)
def _clear_runs() -> None:
    inline_plugins.RUNS.clear()


@pytest.fixture
def fake_catalog(make_catalog):
    return make_catalog(fake=inline_plugins.FakeStrategyPlugin())


def run(catalog, matrix_path: Path, out: Path, force: bool = False, **plugins) -> RunSummary:
    matrix = load_matrix(matrix_path, catalog)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(torch.device("cpu"), out / "data", download=False, threads=1)
    return run_matrix(
        matrix,
        store,
        catalog,
        settings,
        LineProgress(io.StringIO()),
        RunOptions(force=force, threads_given=True),
    )


def test_rerun_trains_nothing(fake_catalog, write_matrix, tmp_path) -> None:
    path = write_matrix(MATRIX)
    first = run(fake_catalog, path, tmp_path / "out")
    assert (first.ran, first.reused) == (2, 0)
    second = run(fake_catalog, path, tmp_path / "out")
    assert (second.ran, second.reused) == (0, 2)
    assert len(inline_plugins.RUNS) == 2


def test_force_reruns_everything(fake_catalog, write_matrix, tmp_path) -> None:
    path = write_matrix(MATRIX)
    run(fake_catalog, path, tmp_path / "out")
    assert run(fake_catalog, path, tmp_path / "out", force=True).ran == 2


def test_adding_a_model_runs_only_the_new_cells(fake_catalog, write_matrix, tmp_path) -> None:
    run(fake_catalog, write_matrix(MATRIX), tmp_path / "out")
    before = list(inline_plugins.RUNS)
    grown = (
        MATRIX.replace("depth: [2, 3]", "depth: [2, 3, 4]")
        .replace("{name: mlp,", "{name: [mlp, residual_mlp],")
        .replace("{rows: model.depth,", "{rows: model.depth, columns: model.name,")
    )
    summary = run(fake_catalog, write_matrix(grown), tmp_path / "out")
    assert (summary.ran, summary.reused) == (4, 2)
    assert not set(before) & set(inline_plugins.RUNS[len(before) :])


def test_editing_one_parameter_reruns_only_the_cells_it_touches(
    fake_catalog, write_matrix, tmp_path
) -> None:
    text = (
        MATRIX
        + """
  other:
    model: {name: mlp, depth: 5}
"""
    )
    run(fake_catalog, write_matrix(text), tmp_path / "out")
    edited = text.replace(
        "model: {name: mlp, depth: 5}", "model: {name: mlp, depth: 5, hidden: 64}"
    )
    summary = run(fake_catalog, write_matrix(edited), tmp_path / "out")
    assert (summary.ran, summary.reused) == (1, 2)


def test_reordering_the_file_keeps_cell_identities(fake_catalog, write_matrix, tmp_path) -> None:
    run(fake_catalog, write_matrix(MATRIX), tmp_path / "out")
    reordered = MATRIX.replace("depth: [2, 3]", "depth: [3, 2]").replace(
        "{name: fake, epochs: 2}", "{epochs: 2, name: fake}"
    )
    assert run(fake_catalog, write_matrix(reordered), tmp_path / "out").ran == 0


def test_failed_cell_is_recorded_and_the_rest_runs(fake_catalog, write_matrix, tmp_path) -> None:
    text = MATRIX.replace(
        "model: {name: mlp, depth: [2, 3]}",
        "model: {name: mlp, depth: [2, 3]}\n    strategy: {name: fake, fail: [false, true]}",
    ).replace("{rows: model.depth,", "{rows: model.depth, columns: strategy.fail,")
    path = write_matrix(text)
    summary = run(fake_catalog, path, tmp_path / "out")
    assert summary.ran == 4
    assert len(summary.failed) == 2
    record = summary.failed[0]
    assert record.error.startswith("RuntimeError: planned failure (plugin 'fake', strategy run, ")
    assert "Traceback" in (record.traceback or "")
    # Failed cells are not cached: the next run tries them again, and only them.
    again = run(fake_catalog, path, tmp_path / "out")
    assert (again.ran, again.reused, len(again.failed)) == (2, 2, 2)


def test_lifecycle_hooks_see_every_cell_and_epoch(make_catalog, write_matrix, tmp_path) -> None:
    events: list[tuple] = []

    class Observer:
        @hookimpl
        def dlbench_cell_start(self, cell):
            events.append(("start", cell.id))

        @hookimpl
        def dlbench_epoch_end(self, cell, epoch, metrics):
            events.append(("epoch", cell.id, epoch, round(metrics["val_acc"], 3)))

        @hookimpl
        def dlbench_cell_end(self, cell, record):
            events.append(("end", cell.id, record.status))

    catalog = make_catalog(fake=inline_plugins.FakeStrategyPlugin(), observer=Observer())
    run(catalog, write_matrix(MATRIX), tmp_path / "out")
    first, second = inline_plugins.RUNS
    assert events == [
        ("start", first),
        ("epoch", first, 1, 0.25),
        ("epoch", first, 2, 0.5),
        ("end", first, "ok"),
        ("start", second),
        ("epoch", second, 1, 0.25),
        ("epoch", second, 2, 0.5),
        ("end", second, "ok"),
    ]


def test_matrix_picks_a_plugin_executor(make_catalog, write_matrix, tmp_path) -> None:
    class Reversed:
        def __init__(self, **options):
            del options

        def run(self, cells, run_cell):
            for cell in reversed(cells):
                yield run_cell(cell)

    class ExecutorPlugin:
        @hookimpl
        def dlbench_register_executors(self, register):
            register(
                ExecutorSpec(name="reversed", create=Reversed, description="runs cells last first")
            )

    catalog = make_catalog(fake=inline_plugins.FakeStrategyPlugin(), executors=ExecutorPlugin())
    path = write_matrix("executor: reversed\n" + MATRIX.lstrip())
    matrix = load_matrix(path, catalog)
    run(catalog, path, tmp_path / "out")
    assert [cell.id for cell in reversed(matrix.unique_cells())] == inline_plugins.RUNS


def test_corrupted_record_warns_and_the_cell_runs_again(
    fake_catalog, write_matrix, tmp_path
) -> None:
    path = write_matrix(MATRIX)
    run(fake_catalog, path, tmp_path / "out")
    victim = sorted((tmp_path / "out" / "cells").glob("*.json"))[0]
    victim.write_text(victim.read_text()[:40])
    with pytest.warns(UserWarning, match="unreadable record"):
        summary = run(fake_catalog, path, tmp_path / "out")
    assert summary.ran == 1
    json.loads(victim.read_text())


def test_records_carry_config_metrics_timings_and_environment(
    fake_catalog, write_matrix, tmp_path
) -> None:
    run(fake_catalog, write_matrix(MATRIX), tmp_path / "out")
    record = json.loads(next((tmp_path / "out" / "cells").glob("*.json")).read_text())
    assert record["status"] == "ok"
    assert record["cell"]["model"]["name"] == "mlp"
    assert record["cell"]["model"]["version"]
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
    assert "val_acc@best" in record["final"]
    assert record["timings"]["total"] >= 0
    environment = record["environment"]
    assert environment["threads"] == 1
    assert environment["device"] == "cpu"
    assert environment["versions"]["torch"] == version("torch")
    assert "git_revision" in environment


def test_results_of_another_matrix_are_refused(fake_catalog, write_matrix, tmp_path) -> None:
    run(fake_catalog, write_matrix(MATRIX), tmp_path / "out")
    other = write_matrix(MATRIX.replace("name: runner", "name: other"), name="other.yaml")
    with pytest.raises(Exception, match="holds results of matrix 'runner', not 'other'"):
        run(fake_catalog, other, tmp_path / "out")


def test_interrupt_keeps_finished_cells_and_records_nothing_in_flight(
    fake_catalog, write_matrix, tmp_path
) -> None:
    text = MATRIX.replace(
        "model: {name: mlp, depth: [2, 3]}",
        "model: {name: mlp, depth: [2, 3]}\n    strategy: {name: fake, interrupt: [false, true]}",
    ).replace("{rows: model.depth,", "{rows: model.depth, columns: strategy.interrupt,")
    path = write_matrix(text)
    with pytest.raises(KeyboardInterrupt):
        run(fake_catalog, path, tmp_path / "out")
    stored = list((tmp_path / "out" / "cells").glob("*.json"))
    assert len(stored) == 1
    assert json.loads(stored[0].read_text())["cell"]["strategy"]["params"]["interrupt"] is False
    assert not list((tmp_path / "out" / "cells").glob(".*.tmp"))


def test_line_progress_names_cells_epochs_and_outcomes(
    fake_catalog, write_matrix, tmp_path
) -> None:
    matrix = load_matrix(write_matrix(MATRIX), fake_catalog)
    store = ResultStore.open(tmp_path / "out", matrix.name)
    stream = io.StringIO()
    settings = RunSettings(torch.device("cpu"), tmp_path, download=False, threads=1)
    run_matrix(matrix, store, fake_catalog, settings, LineProgress(stream))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "2 cell(s) to run, 0 already stored"
    # The executor's note about its workers comes through the progress display, as a line.
    assert lines.pop(1).startswith("bench: jobs auto: 1 worker(s)")
    assert lines[1].startswith("[1/2] mlp(activation=relu, depth=2, hidden=512) on digits by fake")
    assert lines[2] == "  epoch 1/2: train_loss 0.7500, val_acc 25.00%"
    assert lines[4].startswith("  done in 0s; eta ")


def test_the_run_summary_counts_the_skips_the_report_lists(bench, write_matrix, tmp_path) -> None:
    text = """\
    name: skips
    defaults: {dataset: {name: digits, train_subset: 64}, strategy: {name: plain, epochs: 1}}
    experiments:
      e:
        model: {name: [mlp, cnn], hidden: 8}
    """
    # cnn has no 'hidden': a block keeps it to mlp; cnn on 8x8 digits runs, so skip via shape.
    text = text.replace("model: {name: [mlp, cnn], hidden: 8}", "model: {name: [mlp, cnn]}")
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    report = (tmp_path / "o" / "report.md").read_text()
    skipped_in_report = report.count("\n- `e`")
    assert f"{skipped_in_report} skipped" in result.err
