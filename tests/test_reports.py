"""Reports are a pure function of stored records: exact markdown, CSV, seeds, failures."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap

import pytest
from helpers import SMALL

from dlbench import Cell, CellRecord, Component
from dlbench.reports.formatting import format_value, format_values, human_count
from dlbench.reports.manifest import DerivedColumn, ExperimentEntry, Manifest, TableSpec
from dlbench.reports.markdown import render_csv, render_markdown_table, render_report
from dlbench.reports.table import RecordView
from dlbench.reports.tables import build_table


def view(records, stale=None) -> RecordView:
    return RecordView(records, stale or {})


def make_cell(model: str, depth: int, seed: int = 0) -> Cell:
    return Cell(
        model=Component(model, {"depth": depth}, "p", "1"),
        dataset=Component("digits", {}, "p", "1"),
        strategy=Component("plain", {"epochs": 1}, "p", "1"),
        seed=seed,
    )


def ok(cell: Cell, best: float, last: float | None = None) -> CellRecord:
    final = {"val_acc@best": best, "val_acc@last": best if last is None else last}
    return CellRecord(cell_id=cell.id, status="ok", cell=cell.to_json(), final=final)


def failed(cell: Cell) -> CellRecord:
    return CellRecord(cell_id=cell.id, status="failed", cell=cell.to_json(), error="E: boom")


RESIDUAL_TABLE = TableSpec(
    title="",
    rows="model.depth",
    columns="model.name",
    metric="val_acc",
    derived=(DerivedColumn("Improvement", "residual_mlp", "mlp"),),
    labels={"mlp": "Acc MLP", "residual_mlp": "Acc MLP Residual"},
)


def test_lab_shaped_table_renders_exactly() -> None:
    cells = [make_cell(m, d) for m in ("mlp", "residual_mlp") for d in (6, 8)]
    accuracies = [0.9837, 0.9875, 0.9860, 0.9268]
    records = {c.id: ok(c, a) for c, a in zip(cells, accuracies, strict=True)}
    table = build_table(RESIDUAL_TABLE, cells, view(records))
    assert render_markdown_table(table) == textwrap.dedent(
        """\
        |  Depth  |  Acc MLP  |  Acc MLP Residual  |  Improvement  |
        |:-------:|:---------:|:------------------:|:-------------:|
        |    6    |  98.37%   |       98.60%       |    +0.23%     |
        |    8    |  98.75%   |       92.68%       |    -6.07%     |"""
    )
    assert table.caption == (
        "Val accuracy (best-validation epoch) by model; Improvement = Acc MLP Residual - Acc MLP."
    )


def test_single_column_table_says_which_epoch() -> None:
    cells = [make_cell("mlp", d) for d in (2, 4)]
    records = {c.id: ok(c, 0.9, last=0.8 + i / 100) for i, c in enumerate(cells)}
    spec = TableSpec(title="", rows="model.depth", columns=None, metric="val_acc", at="last")
    table = build_table(spec, cells, view(records))
    assert table.headers == ["Depth", "Val accuracy (last epoch)"]
    assert table.rows == [["2", "80.00%"], ["4", "81.00%"]]


def test_seeds_are_averaged_with_their_spread() -> None:
    cells = [make_cell("mlp", 2, seed) for seed in (0, 1, 2)]
    records = {c.id: ok(c, a) for c, a in zip(cells, (0.90, 0.92, 0.94), strict=True)}
    spec = TableSpec(title="", rows="model.depth", columns=None, metric="val_acc")
    table = build_table(spec, cells, view(records))
    assert table.rows == [["2", "92.00 ± 2.00%"]]
    assert "mean ± standard deviation over n = 3 seeds" in table.caption


def test_missing_and_failed_cells_are_marked_and_derived_left_blank() -> None:
    cells = [make_cell(m, 6) for m in ("mlp", "residual_mlp")]
    records = {cells[0].id: failed(cells[0])}
    table = build_table(RESIDUAL_TABLE, cells, view(records))
    assert table.rows == [["6", "failed", "—", "—"]]
    assert table.csv_rows == [
        ["6", "Acc MLP", 0, "", "", ""],
        ["6", "Acc MLP Residual", 0, "", "", ""],
        ["6", "Improvement", 0, "", "", ""],
    ]


def test_csv_has_raw_numbers_with_n_spread_and_each_seed() -> None:
    cells = [make_cell(m, 6, seed) for m in ("mlp", "residual_mlp") for seed in (0, 1)]
    accuracies = {
        ("mlp", 0): 0.5,
        ("mlp", 1): 0.7,
        ("residual_mlp", 0): 0.75,
        ("residual_mlp", 1): 0.75,
    }
    records = {c.id: ok(c, accuracies[c.model.name, c.seed]) for c in cells}
    rows = list(
        csv.reader(io.StringIO(render_csv(build_table(RESIDUAL_TABLE, cells, view(records)))))
    )
    assert rows[0] == ["Depth", "Model", "n", "mean", "std", "seed_0", "seed_1"]
    numbers = {row[1]: [float(v) for v in row[2:]] for row in rows[1:]}
    assert numbers["Acc MLP"] == pytest.approx([2, 0.6, 0.1414, 0.5, 0.7], abs=1e-4)
    assert numbers["Acc MLP Residual"] == pytest.approx([2, 0.75, 0.0, 0.75, 0.75])
    assert numbers["Improvement"] == pytest.approx([2, 0.15, 0.1414, 0.25, 0.05], abs=1e-4)


def test_report_lists_failed_and_skipped_cells() -> None:
    cells = [make_cell("mlp", 2), make_cell("mlp", 4)]
    manifest = {
        "name": "m",
        "source": "m.yaml",
        "experiments": [
            {
                "name": "e",
                "title": "Depth",
                "description": "",
                "cells": [{"id": c.id, **c.to_json()} for c in cells],
                "skipped": [{"experiment": "e", "description": "x on y", "reason": "no way"}],
                "tables": [
                    TableSpec("", "model.depth", None, "val_acc").to_json(),
                ],
            }
        ],
    }
    report = render_report(
        Manifest.from_json(manifest),
        {cells[0].id: ok(cells[0], 0.5), cells[1].id: failed(cells[1])},
    )
    text = report.markdown
    assert "2 cells, 1 done, 1 failed, 0 pending, 1 skipped" in text
    assert f"(`{cells[1].id}`): E: boom" in text
    assert "- `e` x on y: no way" in text
    assert list(report.csv_files) == ["e-1.csv"]


def test_formatting() -> None:
    assert format_value("val_acc", 0.98264) == "98.26%"
    assert format_value("val_acc", 0.0023, signed=True) == "+0.23%"
    assert format_value("val_loss", 0.123456) == "0.1235"
    assert format_values("val_loss", [1.0, 3.0]) == "2.0000 ± 1.4142"
    assert human_count(11_800_000) == "11.8M"
    assert human_count(700_460) == "700.46K"
    assert format_value("parameters", 512) == "512"


def test_leaderboard_has_a_row_per_configuration_and_a_column_per_metric() -> None:
    teacher = make_cell("big", 4)
    students = [make_cell("small", 1, seed) for seed in (0, 1)]
    records = {teacher.id: ok(teacher, 0.99, last=0.98)}
    for cell, accuracy in zip(students, (0.8, 0.9), strict=True):
        records[cell.id] = CellRecord(
            cell_id=cell.id,
            status="ok",
            cell=cell.to_json(),
            final={"val_acc@best": accuracy, "val_acc@last": accuracy, "train_seconds": 2.0},
            model_card={"parameters": 1500},
        )
    spec = TableSpec(
        "",
        "experiment",
        None,
        "val_acc",
        kind="leaderboard",
        experiments=("teacher", "students", "absent"),
        metrics=("val_acc@best", "val_acc@last", "parameters", "train_seconds"),
    )
    experiments = {
        "teacher": ExperimentEntry("teacher", "Teacher", "", True, (teacher,)),
        "students": ExperimentEntry("students", "Student", "", True, tuple(students)),
    }
    table = build_table(spec, [], view(records), experiments)
    assert table.headers == [
        "Experiment",
        "Val accuracy (best)",
        "Val accuracy (last)",
        "Parameters",
        "Train time (s)",
    ]
    assert table.rows == [
        ["Teacher", "99.00%", "98.00%", "—", "—"],
        ["Student", "85.00 ± 7.07%", "85.00 ± 7.07%", "1.50K", "2.0 ± 0.0"],
    ]
    assert "mean ± standard deviation over seeds" in table.caption


def test_model_card_lists_each_model_once() -> None:
    cells = [make_cell("mlp", d, seed) for d in (2, 4) for seed in (0, 1)]
    records = {
        c.id: CellRecord(
            cell_id=c.id,
            status="ok",
            cell=c.to_json(),
            model_card={
                "parameters": 1000 * c.model.params["depth"],
                "conv_layers": 0,
                "blocks": c.model.params["depth"] - 2,
            },
        )
        for c in cells
    }
    spec = TableSpec("", "model.depth", None, "parameters", kind="model_card")
    table = build_table(spec, cells, view(records))
    assert table.headers == ["Depth", "Blocks", "Parameters", "Conv layers"]
    assert table.rows == [["2", "0", "2.00K", "0"], ["4", "2", "4.00K", "0"]]


def test_improvement_is_paired_by_seed_with_a_confidence_interval() -> None:
    cells = [make_cell(m, 6, seed) for m in ("mlp", "residual_mlp") for seed in (0, 1, 2)]
    # Seeds differ a lot; the residual model is better by 2 points on each seed.
    base = {0: 0.90, 1: 0.80, 2: 0.85}
    records = {
        c.id: ok(c, base[c.seed] + (0.02 if c.model.name == "residual_mlp" else 0.0)) for c in cells
    }
    table = build_table(RESIDUAL_TABLE, cells, view(records))
    (row,) = table.rows
    assert row[0] == "6"
    assert row[1] == "85.00 ± 5.00%"
    assert row[3] == "+2.00 [+2.00, +2.00]% *"
    assert "paired by seed" in table.caption and "n = 3 seeds" in table.caption


def test_confidence_interval_on_request() -> None:
    cells = [make_cell("mlp", 2, seed) for seed in (0, 1, 2)]
    records = {c.id: ok(c, a) for c, a in zip(cells, (0.90, 0.92, 0.94), strict=True)}
    spec = TableSpec("", "model.depth", None, "val_acc", interval="ci95")
    table = build_table(spec, cells, view(records))
    # t(0.975, 2) = 4.303; std 2 points; n = 3: half-width 4.97 points.
    assert table.rows == [["2", "92.00 ± 4.97%"]]
    assert "95% confidence interval over n = 3 seeds" in table.caption


def test_the_environment_shows_every_threads_and_jobs_the_cells_ran_with() -> None:
    # jobs auto runs the first cells here and the rest in two workers: the report says both,
    # not the first record's "1 / 1" alone.
    from dataclasses import replace

    from dlbench.reports.html import environment_rows
    from dlbench.reports.summary import gathered_environment

    cells = [make_cell("mlp", 2, seed) for seed in range(3)]
    records = [
        replace(ok(cell, 0.9), environment={"threads": 1, "jobs": 1 if cell.seed == 0 else 2})
        for cell in cells
    ]
    environment = gathered_environment(records)
    assert environment["concurrency"] == ["1 / 1 (1 cell(s))", "1 / 2 (2 cell(s))"]
    rows = dict(environment_rows(environment))
    assert rows["threads / jobs"] == "1 / 1 (1 cell(s)), 1 / 2 (2 cell(s))"


TAGGED = """\
import math

from torch import nn

import dlbench


def build(input_shape, num_classes, *, tag):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


def run(cell, context):
    if "fail" in cell.model.params["tag"]:
        raise RuntimeError("first line\\n<img src=x onerror=alert(1)>| second | line")
    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()))


@dlbench.hookimpl
def dlbench_register_models(register):
    register(dlbench.ModelSpec(name="tagged", build=build, description="a tagged linear model",
                               params={"tag": dlbench.Param("t", str, "any text")}))


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(name="tagged_run", run=run, description="fails on 'fail'",
                                  params=dlbench.TRAINING_PARAMS))
"""


def _table_rows(markdown: str) -> list[list[str]]:
    """The rows of the first pipe table in ``markdown``, split on unescaped pipes."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    rows = []
    for line in lines:
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


HOSTILE_MATRIX = """\
name: hostile
description: "<script>alert('description')</script>\\n# not a heading"
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: tagged_run, epochs: 1}
experiments:
  e:
    title: "Title <img src=x onerror=alert(1)> | $\\\\frac{1}{$"
    model: {name: tagged, tag: TAGS}
    tables:
      - {rows: model.tag, metric: val_acc}
      - kind: leaderboard
        experiments: [e]
        metrics: [val_acc@best]
        curves: [val_acc]
"""


HOSTILE_TAGS = [
    "<script>alert(1)</script>",
    "a | b | c",
    "two\nlines",
    "[link](javascript:alert(1))",
    "*bold* _it_ `code`",
    "fail <b>here</b>",
]


def test_report_md_renders_every_user_value_as_text(bench, install, write_matrix, tmp_path):
    install("tagged_plugin", TAGGED)
    text = HOSTILE_MATRIX.replace("TAGS", json.dumps(HOSTILE_TAGS))
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(text), "--out", out)
    assert result.code == 1, result.err  # the "fail" cell failed, the rest ran
    assert "Traceback" not in result.err
    report = (out / "report.md").read_text()
    for raw in ("<script", "<img", "<b>"):
        assert raw not in report
    assert not re.search(r"(?<!\\)\]\(javascript", report)  # no link, only its text
    assert "\n# not a heading" not in report
    table = report.split("## Title")[1].split("\n\n", 2)[1]
    rows = _table_rows(table)
    assert len(rows) == 2 + len(HOSTILE_TAGS)  # header, rule, one row per configuration
    assert all(len(row) == 2 for row in rows), rows
    assert all(row[1] for row in rows[2:])  # every row holds a number or says why not
    failed = report.split("## Failed cells")[1].split("\n## ")[0].strip().splitlines()
    assert len(failed) == 1 and "first line &lt;img" in failed[0]
    # The plots were drawn although the title is not valid mathtext.
    assert list((out / "plots").glob("*.png"))
    assert "Plots that could not be drawn" not in report
    # report.html escapes the same values (and is written too).
    page = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page


def test_a_plot_that_cannot_be_drawn_is_listed_and_the_rest_is_written(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    def broken(*args, **kwargs):
        raise ValueError("cannot draw this")

    monkeypatch.setattr("dlbench.reports.document.curves_plot", broken)
    leaderboard = (
        "{kind: leaderboard, experiments: [e], metrics: [val_acc@best], curves: [val_acc]}"
    )
    text = SMALL.replace("metric: val_acc}\n", f"metric: val_acc}}\n      - {leaderboard}\n")
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(text), "--out", out)
    assert result.code == 0, result.err
    report = (out / "report.md").read_text()
    assert "## Plots that could not be drawn" in report
    assert "ValueError: cannot draw this" in report
    assert "| Depth" in report or "Depth" in report.split("## Plots")[0]


def test_a_zero_spread_is_shown_so_n_is_never_hidden() -> None:
    from dlbench.reports.formatting import format_values

    assert format_values("val_acc", [0.9545, 0.9545, 0.9545]) == "95.45 ± 0.00%"
    assert format_values("val_acc", [0.9545]) == "95.45%"
    assert format_values("parameters", [1500, 1500]) == "1.50K"
