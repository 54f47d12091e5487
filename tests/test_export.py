"""Results out of dlbench: flat export and the DataFrame loader give the same rows, TensorBoard
event files read back with TensorBoard's own reader, runs split over two directories merge into
the tables of one run (conflicts reported), and a JSON Schema checks matrix files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from helpers import REPO, one_line_error, snapshot

import dlbench

MATRIX = """\
name: split
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 3, batch_size: 32}
experiments:
  depth:
    model: {name: [mlp, residual_mlp], hidden: 16, depth: [2, 4]}
    seeds: [0, 1, 2, 3]
    tables:
      - rows: model.depth
        columns: model.name
        metric: val_acc
        derived:
          - {title: Improvement, diff: [residual_mlp, mlp]}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The matrix run whole, and split over two results directories by seed."""
    from dlbench.bench.cli import main

    folder = tmp_path_factory.mktemp("runs")
    matrix = folder / "matrix.yaml"
    matrix.write_text(MATRIX)
    found = {}
    for name, seeds in (("whole", "[0,1,2,3]"), ("first", "[0,1]"), ("second", "[2,3]")):
        found[name] = folder / name
        code = main(
            ["run", "--matrix", str(matrix), "--out", str(found[name]), "--set", f"seeds={seeds}"]
        )
        assert code == 0
    return found


def test_export_and_load_results_give_the_same_rows(bench, runs) -> None:
    result = bench("export", runs["whole"])
    assert result.code == 0
    exported = list(csv.DictReader(io.StringIO(result.out)))
    frame = dlbench.load_results(runs["whole"])
    assert len(exported) == len(frame) == 16
    assert list(frame.columns) == list(exported[0])
    for column in ("status", "seed", "model.name", "model.depth", "val_acc@best", "cell_id"):
        assert column in frame.columns
    by_id = {row["cell_id"]: row for row in exported}
    for _, row in frame.iterrows():
        assert float(by_id[row["cell_id"]]["val_acc@best"]) == pytest.approx(row["val_acc@best"])
        assert by_id[row["cell_id"]]["model.depth"] == str(row["model.depth"])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats_and_epoch_rows(bench, runs, tmp_path, fmt) -> None:
    out = tmp_path / f"rows.{fmt}"
    assert bench("export", runs["whole"], "--format", fmt, "--epochs", "--out", out).code == 0
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        import pandas

        rows = pandas.read_parquet(out).to_dict("records")
    assert len(rows) == 16 * 3
    assert {row["epoch"] for row in rows} == {1, 2, 3}
    frame = dlbench.load_results([runs["first"], runs["second"]], epochs=True)
    assert len(frame) == 16 * 3 and set(frame["results"]) == {
        str(runs["first"]),
        str(runs["second"]),
    }


def test_parquet_needs_an_out_file(bench, runs) -> None:
    result = bench("export", runs["whole"], "--format", "parquet")
    assert result.code == 2 and "--format parquet needs --out FILE" in result.err


def test_tensorboard_event_files_read_back(bench, runs, tmp_path) -> None:
    pytest.importorskip("tensorboard", reason="needs tensorboard (the tensorboard extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    result = bench("export", runs["whole"], "--to", "tensorboard", "--out", out)
    assert result.code == 0 and "16 run(s) written" in result.out
    record = json.loads(next((runs["whole"] / "cells").glob("*.json")).read_text())
    (run,) = out.glob(f"*-{record['cell_id'][:8]}")
    assert run.name.startswith("mlp_activation=relu_depth=")  # named by the cell, readably
    accumulator = EventAccumulator(str(run))
    accumulator.Reload()
    losses = [event.value for event in accumulator.Scalars("train_loss")]
    assert losses == pytest.approx([epoch["train_loss"] for epoch in record["epochs"]])


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_a_run_split_over_two_directories_merges_into_the_tables_of_one(
    bench, runs, tmp_path
) -> None:
    result = bench("report", runs["first"], runs["second"], "--out", tmp_path / "merged")
    assert result.code == 0, result.err
    whole = (runs["whole"] / "report.md").read_text()
    assert table_rows(result.out) == table_rows(whole)
    assert "n = 4 seeds" in result.out
    # The merged report names its source runs, each with its environment.
    sources = result.out.split("**Merged from:**")[1].split("\n\n")[1].splitlines()
    assert [line.split("`")[1] for line in sources] == sorted(
        [str(runs["first"]), str(runs["second"])]
    )
    assert all("command bench run" in line or "command " in line for line in sources)
    page = (tmp_path / "merged" / "report.html").read_text()
    assert "Merged from" in page and str(runs["first"]) in page


def test_conflicting_records_are_reported_never_picked(bench, runs, tmp_path) -> None:
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(runs["first"], copy)
    path = next((copy / "cells").glob("*.json"))
    record = json.loads(path.read_text())
    record["final"]["val_acc@best"] = 0.123
    path.write_text(json.dumps(record))
    result = bench("report", runs["first"], copy, "--out", tmp_path / "merged")
    assert result.code == 1
    assert "bench: conflict: cell" in result.err and "conflicting results" in result.err
    assert "12.30%" not in result.out and "conflicting results for this cell" in result.out


def test_merging_different_matrices_or_into_a_used_folder_is_refused(bench, runs, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("")
    assert bench("report", runs["first"], runs["second"], "--out", used).code == 2
    other = tmp_path / "other"
    shutil_copy(runs["first"], other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["name"] = "another"
    (other / "manifest.json").write_text(json.dumps(manifest))
    result = bench("report", runs["first"], other, "--out", tmp_path / "m")
    assert result.code == 2 and "do not merge" in result.err


def shutil_copy(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target)


def test_the_schema_accepts_the_shipped_matrices_and_catches_mistakes(bench) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="needs jsonschema (test extra)")
    result = bench("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in (REPO / "exercises.yaml", REPO / "examples" / "quick.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    bad = yaml.safe_load((REPO / "examples" / "quick.yaml").read_text())
    bad["colour"] = "red"
    assert list(validator.iter_errors(bad))
    bad = yaml.safe_load((REPO / "examples" / "quick.yaml").read_text())
    first = next(iter(bad["experiments"].values()))
    first["model"] = {"name": "mpl"}
    assert list(validator.iter_errors(bad))


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


def test_a_results_directory_given_twice_is_read_once(small_run) -> None:
    _, out = small_run
    with pytest.warns(UserWarning, match="given more than once"):
        frame = dlbench.load_results([out, str(out)])
    assert len(frame) == 2
    with pytest.raises(dlbench.DlbenchError, match="expected a results directory or a list"):
        dlbench.load_results(3)  # type: ignore[arg-type]
