"""Hostile inputs III: what the output side meets. Values that look like markup, stored files
whose inner shapes are wrong, output paths inside what a command reads, links out of a results
directory, interrupted merges and exports run twice. Each ends in one line or a listed failure,
never a traceback, and nothing stored is lost."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import REPO, SMALL
from test_hostile import one_line_error, snapshot

import dlbench

# -- report.md renders every user value as text ---------------------------------------------------

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

HOSTILE_TAGS = [
    "<script>alert(1)</script>",
    "a | b | c",
    "two\nlines",
    "[link](javascript:alert(1))",
    "*bold* _it_ `code`",
    "fail <b>here</b>",
]

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


def _table_rows(markdown: str) -> list[list[str]]:
    """The rows of the first pipe table in ``markdown``, split on unescaped pipes."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    rows = []
    for line in lines:
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip() for cell in cells])
    return rows


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
    text = """\
    name: curves
    defaults:
      dataset: {name: digits, train_subset: 64}
      strategy: {name: plain, epochs: 1}
    experiments:
      e:
        model: {name: mlp, hidden: 8, depth: [2, 3]}
        tables:
          - {rows: model.depth, metric: val_acc}
          - {kind: leaderboard, experiments: [e], metrics: [val_acc@best], curves: [val_acc]}
    """
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(textwrap.dedent(text)), "--out", out)
    assert result.code == 0, result.err
    report = (out / "report.md").read_text()
    assert "## Plots that could not be drawn" in report
    assert "ValueError: cannot draw this" in report
    assert "| Depth" in report or "Depth" in report.split("## Plots")[0]


# -- stored files whose inner shapes are wrong ---------------------------------------------------


@pytest.fixture
def small_run(bench, write_matrix, tmp_path) -> tuple[Path, Path]:
    path, out = write_matrix(SMALL), tmp_path / "o"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    return path, out


def _damage_one(out: Path, change) -> Path:
    record = sorted((out / "cells").glob("*.json"))[0]
    data = json.loads(record.read_text())
    change(data)
    record.write_text(json.dumps(data))
    return record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["cell"].__setitem__("model", "mlp"), "cell.model: expected a JSON object"),
        (lambda d: d["final"].__setitem__("val_acc@best", 10**400), "too large for a float"),
        (lambda d: d["epochs"].append("epoch"), "record.epochs[1]"),
        (lambda d: d["cell"]["model"].__setitem__("params", [1]), "cell.model.params"),
    ],
    ids=["cell-model-a-string", "a-400-digit-accuracy", "an-epoch-not-a-mapping", "params-a-list"],
)
def test_a_record_with_a_damaged_inside_is_left_out_with_a_warning(
    bench, small_run, tmp_path, change, message
) -> None:
    path, out = small_run
    damaged = _damage_one(out, change)
    for args in (
        ("export", out),
        ("export", out, "--epochs", "--format", "jsonl"),
        ("export", out, "--to", "tensorboard", "--out", tmp_path / "tb"),
        ("report", out),
    ):
        result = bench(*args)
        assert result.code == 0, (args, result.err)
        assert "Traceback" not in result.err
        assert f"{damaged}: unreadable record" in result.err and message in result.err, result.err
    with pytest.warns(UserWarning, match="unreadable record"):
        frame = dlbench.load_results(out)
    assert len(frame) == 1
    rerun = bench("run", "--matrix", path, "--out", out)
    assert rerun.code == 0 and "1 cell(s) to run, 1 already stored" in rerun.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["experiments"][0].__setitem__("tables", ["rows"]), "tables[0]"),
        (lambda m: m["experiments"][0]["tables"][0].__setitem__("labels", "x"), "labels"),
        (lambda m: m["experiments"][0]["cells"][0].__setitem__("id", "0" * 16), "stored id"),
        (lambda m: m.__setitem__("code", {"x": 1}), "manifest.code.x"),
    ],
    ids=["table-a-string", "labels-a-string", "cell-id-not-its-content", "code-not-a-mapping"],
)
def test_a_manifest_with_a_damaged_inside_is_one_line(bench, small_run, change, message) -> None:
    path, out = small_run
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    line = one_line_error(bench("report", out))
    assert "damaged manifest" in line and message in line
    assert bench("run", "--matrix", path, "--out", out).code == 0  # rewritten from the matrix


def test_a_record_that_is_a_link_out_of_the_results_directory_is_not_read(
    bench, small_run, tmp_path
) -> None:
    _, out = small_run
    record = sorted((out / "cells").glob("*.json"))[0]
    outside = tmp_path / "outside.json"
    outside.write_bytes(record.read_bytes())
    record.unlink()
    record.symlink_to(outside)
    result = bench("export", out)
    assert result.code == 0 and "outside the results directory" in result.err
    assert result.out.count("\n") == 2  # the header and the other cell


# -- output commands never write inside what they read ---------------------------------------------


@pytest.mark.parametrize("target", ["cells/RECORD", "manifest.json", "report.md", "new.csv"])
def test_export_never_writes_inside_the_run_it_reads(bench, small_run, target) -> None:
    _, out = small_run
    record = sorted((out / "cells").glob("*.json"))[0].name
    before = snapshot(out)
    manifest = (out / "manifest.json").read_bytes()
    destination = out / target.replace("RECORD", record)
    for args in (
        ("export", out, "--out", destination),
        ("export", out, "--format", "parquet", "--out", destination),
        ("baseline", "export", out, destination),
        ("export", out, "--to", "tensorboard", "--out", destination),
        ("report", out, out, "--out", destination),
        ("export", out, "--to", "tensorboard", "--out", out.parent),  # holds the run
        ("report", out, out, "--out", out / "cells"),
    ):
        line = one_line_error(bench(*args))
        assert "which this command reads" in line, (args, line)
    assert snapshot(out) == before
    assert (out / "manifest.json").read_bytes() == manifest


def test_a_folder_given_as_an_output_file_is_named_not_a_temporary_file(bench, tmp_path) -> None:
    line = one_line_error(bench("schema", "--out", tmp_path))
    assert f"--out {tmp_path}: is a folder" in line
    assert ".tmp" not in line


def test_export_writes_atomically(bench, small_run, tmp_path, monkeypatch) -> None:
    _, out = small_run
    target = tmp_path / "rows.csv"
    target.write_text("the previous export\n")

    def crash(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dlbench.bench.results.files.os.fsync", lambda fd: crash(None))
    line = one_line_error(bench("export", out, "--out", target))
    assert "No space left on device" in line
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# -- merges ----------------------------------------------------------------------------------------

PRODUCER = """\
name: produced
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 8}
experiments:
  teacher:
    strategy: {name: plain, epochs: 1}
  student:
    strategy: {name: distill, teacher: {from: teacher}, epochs: 1}
    tables:
      - {rows: model.name, metric: val_acc}
"""


@pytest.fixture
def produced(bench, write_matrix, tmp_path) -> Path:
    out = tmp_path / "produced"
    assert bench("run", "--matrix", write_matrix(PRODUCER), "--out", out).code == 0
    return out


def test_a_merge_copies_no_artifact_that_links_out_or_changed(bench, produced, tmp_path) -> None:
    (artifact,) = (produced / "artifacts").glob("*.pt")
    secret = tmp_path / "secret.pt"
    secret.write_bytes(b"not the checkpoint: a file outside the results directory")
    artifact.unlink()
    artifact.symlink_to(secret)
    merged = tmp_path / "merged"
    result = bench("report", produced, produced, "--out", merged)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"artifact artifacts/{artifact.name} not merged" in result.err
    assert not (merged / "artifacts" / artifact.name).exists()
    assert secret.read_bytes() not in b"".join(p.read_bytes() for p in merged.rglob("*.pt"))


def test_a_merge_refuses_a_damaged_artifact(bench, produced, tmp_path) -> None:
    (artifact,) = (produced / "artifacts").glob("*.pt")
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 1
    artifact.write_bytes(bytes(data))
    result = bench("report", produced, produced, "--out", tmp_path / "merged")
    assert result.code == 1 and "damaged" in result.err and "not merged" in result.err


def test_merging_runs_whose_experiments_differ_is_refused(
    bench, write_matrix, small_run, tmp_path
) -> None:
    _, out = small_run
    other = tmp_path / "other"
    text = SMALL.replace("metric: val_acc", "metric: test_acc")
    assert bench("run", "--matrix", write_matrix(text, "other.yaml"), "--out", other).code == 0
    line = one_line_error(bench("report", out, other, "--out", tmp_path / "merged"))
    assert "experiment 'e': its tables differ" in line
    assert not (tmp_path / "merged").exists()


def test_an_interrupted_merge_leaves_no_half_merged_out(bench, small_run, tmp_path, monkeypatch):
    _, out = small_run
    merged = tmp_path / "merged"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dlbench.bench.results.merge._write", interrupted)
    assert bench("report", out, out, "--out", merged).code == 130
    assert not merged.exists()
    assert not list(tmp_path.glob(".merged.merging-*"))
    # A merge killed outright (no chance to clean up) leaves its folder, which the next removes.
    leftover = tmp_path / ".merged.merging-abc123"
    leftover.mkdir()
    (leftover / ".dlbench-merge").write_text("")
    monkeypatch.undo()
    result = bench("report", out, out, "--out", merged)
    assert result.code == 0, result.err
    assert f"removed {leftover}, left by an interrupted merge" in result.err
    assert not leftover.exists() and (merged / "report.md").is_file()


def test_tensorboard_export_twice_replaces_each_run(bench, small_run, tmp_path) -> None:
    _, out = small_run
    target = tmp_path / "tb"
    counts = []
    for _ in range(2):
        assert bench("export", out, "--to", "tensorboard", "--out", target).code == 0
        counts.append(len(list(target.rglob("events.out.tfevents.*"))))
    assert counts[0] == counts[1] > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = sorted(p.parent for p in target.rglob("events.out.tfevents.*"))[0]
    accumulator = EventAccumulator(str(run))
    accumulator.Reload()
    assert len(accumulator.Scalars("val_acc")) == 1  # one epoch, written once


# -- temporary files left by dead runs ----------------------------------------------------------


def test_a_run_removes_the_temporary_files_dead_runs_left(bench, small_run) -> None:
    path, out = small_run
    dead = out / "cells" / ".abc.json.x1y2.tmp"
    fresh = out / "cells" / ".def.json.z3w4.tmp"
    dead.write_text("half a record")
    fresh.write_text("a write in progress")
    an_hour_ago = time.time() - 3600
    os.utime(dead, (an_hour_ago, an_hour_ago))
    result = bench("run", "--matrix", path, "--out", out)
    assert result.code == 0
    assert "removed 1 temporary file(s) left by an interrupted run" in result.err
    assert not dead.exists() and fresh.exists()


# -- the editor's schema carries ranges; the documented plugin recipe installs -----------------


def test_the_schema_carries_each_parameters_range(bench) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (test extra)")
    schema = json.loads(bench("schema").out)
    validator = jsonschema.Draft202012Validator(schema)
    matrix = {
        "name": "m",
        "experiments": {"e": {"model": "mlp", "dataset": "digits", "strategy": {"name": "plain"}}},
    }
    assert not list(validator.iter_errors(matrix))
    for key, value in (("lr", 0), ("val_fraction", 1.0), ("epochs", 0)):
        section = "dataset" if key == "val_fraction" else "strategy"
        bad = json.loads(json.dumps(matrix))
        bad["experiments"]["e"][section] = {"name": "digits" if section == "dataset" else "plain"}
        bad["experiments"]["e"][section][key] = value
        assert list(validator.iter_errors(bad)), key


def _readme_block(language: str, after: str) -> str:
    readme = (REPO / "docs" / "plugins.md").read_text()
    section = readme.split(after, 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_documented_plugin_recipe_builds_after_a_matrix_ran_in_its_folder(tmp_path) -> None:
    pytest.importorskip("setuptools", reason="building the recipe's wheel needs setuptools")
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny_model.py").write_text(_readme_block("python", "# Writing plugins"))
    (folder / "pyproject.toml").write_text(_readme_block("toml", "# Writing plugins"))
    (folder / "runs" / "tiny" / "cells").mkdir(parents=True)  # what `bench run` leaves there
    (folder / "runs" / "tiny" / "cells" / "x.json").write_text("{}")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(folder)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    import zipfile

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tiny_model.py" in names
    assert not any(name.startswith("runs/") for name in names)
    points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tiny = tiny_model" in zipfile.ZipFile(wheel).read(points).decode()


# -- observers and plugin problems ----------------------------------------------------------------

OBSERVER = """\
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


def test_an_observer_learns_the_results_directory_and_failures_reach_the_report(
    bench, install, write_matrix, tmp_path
) -> None:
    install("watcher", OBSERVER)
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
