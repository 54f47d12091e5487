"""Cells that need other cells: references, the dependency graph, artifacts and checkpoints."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
import torch
from matrix_cases import BAD_REFERENCES, REFERENCE_MATRIX as MATRIX

from dlbench import DlbenchError
from dlbench.bench.matrix import load_matrix
from dlbench.bench.matrix.overrides import parse_override
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import RunSummary, run_matrix
from dlbench.bench.run.services import RunSettings

# The consumer comes first in the file: order of execution follows references, not the file.


def run(catalog, path: Path, out: Path, *overrides: str, only=()) -> tuple[RunSummary, str]:
    matrix = load_matrix(path, catalog, [parse_override(o) for o in overrides], only)
    store = ResultStore.open(out, matrix.name)
    stream = io.StringIO()
    settings = RunSettings(torch.device("cpu"), out / "data", download=False, threads=1)
    summary = run_matrix(matrix, store, catalog, settings, LineProgress(stream))
    return summary, stream.getvalue()


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]


def strategy_of(record: dict) -> str:
    return record["cell"]["strategy"]["name"]


def test_producers_run_first_and_consumer_identity_follows_them(catalog, write_matrix) -> None:
    matrix = load_matrix(write_matrix(MATRIX), catalog)
    teacher, student = matrix.unique_cells()
    assert teacher.strategy.name == "plain" and student.strategy.name == "distill"
    assert student.producers() == [teacher.id]
    assert student.strategy.params["teacher"] == f"cell:{teacher.id}"
    assert matrix.artifacts == {teacher.id: frozenset({"checkpoint"})}
    changed = load_matrix(write_matrix(MATRIX.replace("hidden: 32", "hidden: 33")), catalog)
    assert changed.unique_cells()[1].id != student.id


def test_teacher_trains_once_and_is_reused(catalog, write_matrix, tmp_path) -> None:
    out = tmp_path / "out"
    first, _ = run(catalog, write_matrix(MATRIX), out)
    assert (first.ran, first.failed, first.skipped) == (2, [], [])
    teacher = next(r for r in records(out) if strategy_of(r) == "plain")
    checkpoint = out / teacher["artifacts"]["checkpoint"]
    assert checkpoint.is_file()
    # A second consumer of the same teacher: only it runs.
    grown = MATRIX.replace("alpha: 0.5", "alpha: [0.5, 0.9]")
    second, log = run(catalog, write_matrix(grown), out)
    assert (second.ran, second.reused) == (1, 2)
    assert "on digits by plain" not in log
    assert len(list((out / "artifacts").glob("*.pt"))) == 1


def test_only_the_consumer_still_brings_its_producer(catalog, write_matrix, tmp_path) -> None:
    summary, log = run(catalog, write_matrix(MATRIX), tmp_path / "out", only=["student"])
    assert summary.ran == 2
    assert log.index("by plain") < log.index("by distill")


def test_producer_stored_without_checkpoint_runs_again(catalog, write_matrix, tmp_path) -> None:
    out = tmp_path / "out"
    run(catalog, write_matrix(MATRIX), out, only=["teacher"])
    # Run alone, the teacher had no consumer, so it stored no checkpoint...
    (teacher,) = records(out)
    assert teacher["artifacts"] == {}
    # ...and a consumer appearing later makes it run again to store one.
    summary, _ = run(catalog, write_matrix(MATRIX), out)
    assert summary.ran == 2
    assert "checkpoint" in next(r for r in records(out) if strategy_of(r) == "plain")["artifacts"]


def test_failed_producer_skips_its_consumers(catalog, write_matrix, tmp_path) -> None:
    broken = MATRIX.replace(
        "model: {name: mlp, hidden: 32}",
        "model: {name: mlp, hidden: 32}\n"
        "    strategy: {name: plain, optimizer: sgd, nesterov: true}",
    )
    summary, log = run(catalog, write_matrix(broken), tmp_path / "out")
    assert len(summary.failed) == 1 and len(summary.skipped) == 1
    assert "'nesterov' needs 'momentum' > 0" in summary.failed[0].error
    assert summary.skipped[0].error.startswith(
        f"needs cell {summary.failed[0].cell_id}, which failed"
    )
    assert "SKIPPED" in log


def test_reference_matching_several_cells_is_an_axis(catalog, write_matrix) -> None:
    text = MATRIX.replace("hidden: 32}", "hidden: [32, 64]}")
    matrix = load_matrix(write_matrix(text), catalog)
    students = [c for c in matrix.unique_cells() if c.strategy.name == "distill"]
    assert len(students) == 2
    where = text.replace("{from: teacher}", "{from: teacher, where: {model.hidden: 64}}")
    (student,) = [
        c
        for c in load_matrix(write_matrix(where), catalog).unique_cells()
        if c.strategy.name == "distill"
    ]
    teacher = next(
        c
        for c in load_matrix(write_matrix(where), catalog).unique_cells()
        if c.model.params["hidden"] == 64
    )
    assert student.producers() == [teacher.id]


@pytest.mark.parametrize("case", list(BAD_REFERENCES), ids=list(BAD_REFERENCES))
def test_bad_references_are_located_matrix_errors(case, catalog, write_matrix) -> None:
    text, pattern = BAD_REFERENCES[case]
    path = write_matrix(text)
    with pytest.raises(DlbenchError, match=pattern) as info:
        load_matrix(path, catalog)
    assert str(info.value).startswith(f"{path}:")


class Exploit:
    """Unpickling this would run code; ``weights_only=True`` must refuse it."""

    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("content", ["pickle", "foreign", "truncated"])
def test_bad_checkpoint_fails_the_consumer_clearly(
    catalog, write_matrix, tmp_path, content
) -> None:
    out = tmp_path / "out"
    run(catalog, write_matrix(MATRIX), out, only=["teacher"])
    run(catalog, write_matrix(MATRIX), out)  # stores the checkpoint
    teacher = next(r for r in records(out) if strategy_of(r) == "plain")
    checkpoint = out / teacher["artifacts"]["checkpoint"]
    if content == "pickle":
        checkpoint.write_bytes(pickle.dumps(Exploit()))
    elif content == "foreign":
        torch.save({"weights": torch.zeros(2)}, checkpoint)
    else:
        checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    # The student must run again to read it: make it new.
    summary, _ = run(catalog, write_matrix(MATRIX.replace("alpha: 0.5", "alpha: 0.6")), out)
    (failed,) = summary.failed
    assert "checkpoint" in failed.error
    assert "pwned" not in failed.error
