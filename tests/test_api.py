"""dlbench from Python: ``dlbench.run`` runs a matrix given as a file or as data with the options
of ``bench run``, resumes without training, raises the same one-line errors, stops on Ctrl-C
with the finished cells kept, and its results read the same rows as ``bench export``."""

from __future__ import annotations

import csv
import io

import pytest
import yaml

import dlbench

MATRIX = {
    "name": "api",
    "defaults": {
        "dataset": {"name": "digits", "train_subset": 128},
        "strategy": {"name": "plain", "epochs": 1},
        "seeds": [0, 1],
    },
    "experiments": {
        "depth": {
            "title": "Depth",
            "model": {"name": "mlp", "hidden": 16, "depth": [2, 3]},
            "tables": [{"rows": "model.depth", "metric": "val_acc"}],
        }
    },
}


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch) -> None:
    monkeypatch.setattr("dlbench.registry.manager.entry_points", lambda group: [])


def test_a_matrix_from_data_and_from_a_file_give_the_same_results(tmp_path) -> None:
    from_data = dlbench.run(MATRIX, out=tmp_path / "data", jobs=1)
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(MATRIX))
    from_file = dlbench.run(path, out=tmp_path / "file", jobs=1)
    assert from_data.summary.ran == from_file.summary.ran == 4
    first, second = from_data.cells(), from_file.cells()
    assert sorted(first["cell_id"]) == sorted(second["cell_id"])
    by_id = dict(zip(second["cell_id"], second["val_acc@best"], strict=True))
    for cell_id, value in zip(first["cell_id"], first["val_acc@best"], strict=True):
        assert value == pytest.approx(by_id[cell_id])
    [table] = from_file.tables()
    assert table.experiment == "Depth" and "Val accuracy" in table.markdown
    assert len(table.to_frame()) == 2  # depths 2 and 3
    assert "<table" in from_file._repr_html_() and "Depth" in from_file._repr_html_()
    assert from_file.report().startswith("# Results: api")


def test_a_second_run_trains_nothing_and_overrides_apply(tmp_path) -> None:
    out = tmp_path / "o"
    dlbench.run(MATRIX, out=out, jobs=1)
    again = dlbench.run(MATRIX, out=out, jobs=1)
    assert (again.summary.ran, again.summary.reused) == (0, 4)
    more = dlbench.run(MATRIX, out=out, jobs=1, overrides={"seeds": [0, 1, 2]})
    assert (more.summary.ran, more.summary.reused) == (2, 4)
    plan = dlbench.plan(MATRIX, out=out, overrides=["seeds=[0,1,2,3]"])
    assert sorted(plan["status"]) == ["stored"] * 6 + ["to run"] * 2


def test_the_cells_are_the_rows_bench_export_writes(tmp_path, capsys) -> None:
    from dlbench.bench.cli import main

    out = tmp_path / "o"
    results = dlbench.run(MATRIX, out=out, jobs=1)
    capsys.readouterr()
    assert main(["export", str(out)]) == 0
    exported = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    frame = results.cells()
    assert len(exported) == len(frame) == 4
    assert list(frame.columns) == list(exported[0])
    by_id = {row["cell_id"]: row for row in exported}
    for _, row in frame.iterrows():
        assert float(by_id[row["cell_id"]]["val_acc@best"]) == pytest.approx(row["val_acc@best"])
    assert len(results.epochs()) == 4  # one epoch each


def test_errors_are_the_one_line_messages_of_bench_run(tmp_path, capsys) -> None:
    from dlbench.bench.cli import main

    bad = {**MATRIX, "defaults": {**MATRIX["defaults"], "seeds": "many"}}
    with pytest.raises(dlbench.DlbenchError) as raised:
        dlbench.run(bad, out=tmp_path / "o")
    message = str(raised.value)
    assert "\n" not in message and "seeds" in message
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    capsys.readouterr()
    assert main(["run", "--matrix", str(path), "--out", str(tmp_path / "p")]) == 2
    assert message.split(": ", 1)[-1] in capsys.readouterr().err
    with pytest.raises(dlbench.DlbenchError, match="jobs"):
        dlbench.run(MATRIX, out=tmp_path / "q", jobs=0)
    with pytest.raises(dlbench.DlbenchError, match="overrides"):
        dlbench.run(MATRIX, out=tmp_path / "r", overrides="seeds=[0]")
    assert not (tmp_path / "o" / "cells").exists() or not any((tmp_path / "o" / "cells").iterdir())


def test_ctrl_c_keeps_the_finished_cells_and_a_rerun_resumes(tmp_path, install) -> None:
    """Ctrl-C (the notebook's stop button) after the first cell: it is kept, the report is
    written, and the next call trains only what is left."""
    install(
        "stop_once",
        """
        import dlbench
        from dlbench.plugins.strategies.plain import run_plain

        STOPPED = []

        def run(cell, context):
            if cell.seed == 1 and not STOPPED:
                STOPPED.append(cell.id)
                raise KeyboardInterrupt
            return run_plain(cell, context)

        @dlbench.hookimpl
        def dlbench_register_strategies(register):
            register(dlbench.StrategySpec(
                name="stop_once", run=run, description="stops the run once, at seed 1",
                params=dlbench.TRAINING_PARAMS,
            ))
        """,
    )
    matrix = {**MATRIX, "defaults": {**MATRIX["defaults"], "strategy": {"name": "stop_once"}}}
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        dlbench.run(matrix, out=out, jobs=1)
    kept = list((out / "cells").glob("*.json"))
    assert 1 <= len(kept) < 4 and (out / "report.md").exists()
    resumed = dlbench.run(matrix, out=out, jobs=1)
    assert resumed.summary.reused == len(kept) and resumed.summary.ran == 4 - len(kept)


@pytest.mark.parametrize("out", ["", "  ", 3, ["o"]])
def test_an_empty_or_wrong_typed_out_is_refused(tmp_path, monkeypatch, out) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(dlbench.DlbenchError, match="out") as raised:
        dlbench.run(MATRIX, out=out)
    assert "\n" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_of_the_users_own_files_is_never_written_into(tmp_path, capsys) -> None:
    from dlbench.bench.cli import main

    own = {"report.md": "my notes", "report.html": "<p>mine</p>", "tables/t.csv": "1,2"}
    for name, text in own.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(MATRIX))
    assert main(["run", "--matrix", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a results directory" in err and "report.md" in err and err.count("\n") == 1
    with pytest.raises(dlbench.DlbenchError, match="not a results directory"):
        dlbench.run(MATRIX, out=tmp_path)
    assert {n: (tmp_path / n).read_text() for n in own} == own
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.yaml",
        "report.html",
        "report.md",
        "tables",
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda out: dlbench.run(MATRIX, out=out, overrides=[1]), "expected KEY=VALUE texts"),
        (lambda out: dlbench.run(MATRIX, out=out, overrides=3), "got int"),
        (
            lambda out: dlbench.run(MATRIX, out=out, executor_options=[("jobs", 2)]),
            "executor_options: expected a mapping",
        ),
        (lambda out: dlbench.run(3, out=out), "matrix: expected a file path or a mapping"),
        (lambda out: dlbench.plan(MATRIX, out=out, only="mlps"), "--only mlps matches no"),
        (
            lambda out: dlbench.plan(MATRIX, out=out, executor_options={"k" * 100_000: 1}),
            "takes no option 'kkkk",
        ),
    ],
    ids=["override-int", "overrides-int", "options-list", "matrix-int", "only-text", "long-key"],
)
def test_wrong_typed_arguments_are_one_line_errors(tmp_path, call, message) -> None:
    with pytest.raises(dlbench.DlbenchError) as raised:
        call(tmp_path / "o")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert len(str(raised.value)) < 400  # what the caller wrote is shown cut, never whole


class TinyModels:
    """A plugin handed to ``dlbench.run`` as an object, never installed."""

    @dlbench.hookimpl
    def dlbench_register_models(self, register):
        from torch import nn

        def build(input_shape, num_classes, *, hidden):
            return nn.Sequential(
                nn.Flatten(), nn.Linear(64, hidden), nn.Linear(hidden, num_classes)
            )

        register(
            dlbench.ModelSpec(
                name="tiny_obj",
                build=build,
                description="two linear layers",
                params={"hidden": dlbench.Param(8, int, "width", minimum=1)},
            )
        )


def test_plugins_handed_as_objects_run_in_this_process(tmp_path, capsys) -> None:
    matrix = {
        **MATRIX,
        "experiments": {
            "tiny": {
                "model": {"name": "tiny_obj", "hidden": [4, 8]},
                "tables": [{"rows": "model.hidden", "metric": "val_acc"}],
            }
        },
    }
    planned = dlbench.plan(matrix, out=tmp_path / "o", plugins=[TinyModels()])
    assert len(planned) == 4
    assert "capped by plugins of this process only (TinyModels)" in planned.attrs["executor"]
    results = dlbench.run(matrix, out=tmp_path / "o", plugins={"tiny": TinyModels()})
    assert len(results.cells()) == 4 and set(results.cells()["status"]) == {"ok"}
    with pytest.raises(dlbench.DlbenchError, match="unknown model 'tiny_obj'"):
        dlbench.plan(matrix, out=tmp_path / "p")
    with pytest.raises(dlbench.DlbenchError, match="plugins: expected a list"):
        dlbench.plan(matrix, out=tmp_path / "p", plugins=TinyModels())  # type: ignore[arg-type]


def test_progress_off_prints_nothing_and_a_table_renders_as_the_report_shows_it(
    tmp_path, capsys
) -> None:
    capsys.readouterr()
    results = dlbench.run(MATRIX, out=tmp_path / "o", progress=False, jobs=2)
    printed = capsys.readouterr()
    assert len(results.cells()) == 4
    assert printed.out == "" and printed.err == "", printed
    table = results.tables()[0]
    shown = table._repr_markdown_()
    assert table.markdown in shown and table.caption in shown and table.experiment in shown
    with pytest.raises(dlbench.DlbenchError, match="progress: expected True or False"):
        dlbench.run(MATRIX, out=tmp_path / "p", progress="no")  # type: ignore[arg-type]
