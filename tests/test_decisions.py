"""Comparisons that decide, through ``bench run``: the planner adds runs in waves, resumes from
the store, stores each comparison's design at its first look and refuses a changed one, and a
decision does not depend on how the cells were run. (The rules' error rates are simulated in
test_stats.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inline_plugins import failing_strategy

from dlbench.bench.results.report_files import read_manifest
from dlbench.bench.results.store import ResultStore
from dlbench.stats.records import VERDICTS

# -- the planner, through bench run ------------------------------------------------------------

DECIDE = """\
name: decided
defaults:
  dataset: {name: digits, train_subset: 200}
  strategy: {name: plain, epochs: 2, batch_size: 32}
  vary: [init, order, split]
experiments:
  e:
    model: {name: [mlp, residual_mlp], hidden: 16, depth: [2, 6]}
    tables:
      - rows: model.depth
        columns: model.name
        metric: val_acc
        derived:
          - title: Residual - plain
            diff: [residual_mlp, mlp]
            decide: {margin: 0.02, min_runs: 3, max_runs: 7, wave: 2}
            p_better: true
"""


def stored(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}


def decided_column(out: Path) -> list[str]:
    report = (out / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("|") and "n=" in line]
    return [line.split("|")[4].strip() for line in rows]


@pytest.fixture(scope="module")
def decided_run(tmp_path_factory) -> Path:
    from dlbench.bench.cli import main

    folder = tmp_path_factory.mktemp("decided")
    (folder / "m.yaml").write_text(DECIDE)
    out = folder / "one"
    assert (
        main(["run", "--matrix", str(folder / "m.yaml"), "--out", str(out), "--threads", "1"]) == 0
    )
    return out


def test_a_decided_table_says_better_equivalent_or_undecided_with_n(decided_run) -> None:
    column = decided_column(decided_run)
    assert len(column) == 2
    assert all(
        any(word in text for word in ("better", "equivalent", "undecided")) for text in column
    )
    records = stored(decided_run)
    assert {r["cell"]["vary"] == ["init", "order", "split"] for r in records.values()} == {True}
    per_configuration: dict[str, set[int]] = {}
    for record in records.values():
        key = json.dumps({**record["cell"], "seed": None}, sort_keys=True)
        per_configuration.setdefault(key, set()).add(record["cell"]["seed"])
    # Seeds 0..n-1 of each configuration, n one of the planned looks.
    assert all(seeds == set(range(len(seeds))) for seeds in per_configuration.values())
    assert {len(s) for s in per_configuration.values()} <= {3, 5, 7}
    caption = (decided_run / "report.md").read_text()
    assert "each seed varies the initial weights, batch order and train/validation split" in caption


def test_a_rerun_of_a_finished_decision_trains_nothing(bench, decided_run, tmp_path) -> None:
    before = {k: r["finished_at"] for k, r in stored(decided_run).items()}
    result = bench("run", "--matrix", decided_run.parent / "m.yaml", "--out", decided_run)
    assert result.code == 0 and "0 cell(s) ran" in result.err
    assert {k: r["finished_at"] for k, r in stored(decided_run).items()} == before


def test_a_half_finished_decision_continues_where_it_stopped(decided_run, tmp_path) -> None:
    from dlbench.bench.cli import main
    from dlbench.bench.run import progress

    out = tmp_path / "interrupted"
    waves = []
    original = progress.LineProgress.matrix_started

    def stop_at_second_wave(self, total, reused, **labels):
        waves.append(total)
        if len(waves) == 2:
            raise KeyboardInterrupt
        original(self, total, reused, **labels)

    matrix = str(decided_run.parent / "m.yaml")
    progress.LineProgress.matrix_started = stop_at_second_wave
    try:
        code = main(["run", "--matrix", matrix, "--out", str(out), "--threads", "1"])
    finally:
        progress.LineProgress.matrix_started = original
    assert code == 130 and len(waves) == 2
    first_wave = {k: r["finished_at"] for k, r in stored(out).items()}
    assert len(first_wave) == 12  # 3 seeds of 4 configurations
    # The manifest a report is drawn from already lists the second wave's runs.
    assert len(read_manifest(ResultStore(out)).cell_ids()) > 12
    assert main(["run", "--matrix", matrix, "--out", str(out), "--threads", "1"]) == 0
    after = stored(out)
    assert all(after[k]["finished_at"] == t for k, t in first_wave.items())
    assert set(after) == set(stored(decided_run))
    assert decided_column(out) == decided_column(decided_run)


@pytest.mark.slow
def test_a_decision_with_two_jobs_equals_the_one_with_one(decided_run, tmp_path) -> None:
    from dlbench.bench.cli import main

    out = tmp_path / "two"
    matrix = str(decided_run.parent / "m.yaml")
    assert (
        main(["run", "--matrix", matrix, "--out", str(out), "--jobs", "2", "--threads", "1"]) == 0
    )
    assert set(stored(out)) == set(stored(decided_run))
    assert decided_column(out) == decided_column(decided_run)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("decide: {margin: 0.02, min_runs: 3, max_runs: 7, wave: 2}", None),
        ("decide: {mragin: 0.02}", "unknown parameter 'mragin' for decide; did you mean 'margin'?"),
        ("decide: {min_runs: 9, max_runs: 7}", "min_runs 9 is above max_runs 7"),
        ("decide: {confidence: 1.5}", "expected a number between 0.5 and 0.999"),
        ("decide: {max_runs: 500}", "expected an integer between 2 and 200"),
        ("decide: 3", "expected a mapping of confidence, margin, min_runs"),
    ],
)
def test_decide_blocks_are_validated_in_one_line(bench, write_matrix, change, message) -> None:
    text = DECIDE.replace("decide: {margin: 0.02, min_runs: 3, max_runs: 7, wave: 2}", change)
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    if message is None:
        assert result.code == 0, result.err
        assert "plan e: Residual - plain at depth=2" in result.out
        return
    assert result.code == 2 and result.err.count("\n") == 1
    assert message in result.err, result.err


def test_a_decided_experiment_takes_no_seeds_of_its_own(bench, write_matrix) -> None:
    text = DECIDE.replace("  e:\n", "  e:\n    seeds: [0, 1]\n")
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 2 and "plans its runs" in result.err


def test_vary_split_needs_a_dataset_that_takes_a_split_seed(bench, write_matrix) -> None:
    text = DECIDE.replace(
        "  vary: [init, order, split]\n", "  vary: [init, order, split]\n"
    ).replace(
        "dataset: {name: digits, train_subset: 200}",
        "dataset: {name: digits, train_subset: 200, split_seed: 3}",
    )
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 2 and "split_seed comes from the seed" in result.err
    bad = DECIDE.replace("vary: [init, order, split]", "vary: [init, weather]")
    assert (
        "expected a list of distinct sources among init, order, split"
        in bench("run", "--matrix", write_matrix(bad), "--dry-run").err
    )


def test_decisions_export_one_row_per_comparison(bench, decided_run) -> None:
    import csv
    import io

    result = bench("export", decided_run, "--decisions")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [row["row"] for row in rows] == ["2", "6"]
    for row in rows:
        assert row["verdict"] in VERDICTS
        assert int(row["pairs"]) >= 3 and float(row["low"] or "-inf") <= float(
            row["estimate"]
        ) <= float(row["high"] or "inf")
        assert row["rule"] == "sign" and row["estimand"] == "the median of A - B"
        assert row["margin"] == "0.02" and row["a"] == "residual_mlp" and row["b"] == "mlp"


def test_a_design_is_stored_at_the_first_look_and_a_changed_one_refused(
    bench, decided_run, tmp_path
) -> None:
    import shutil

    designs = json.loads((decided_run / "designs.json").read_text())
    assert len(designs) == 2
    stored_design = next(iter(designs.values()))["design"]
    assert stored_design == {
        "rule": "sign", "confidence": 0.95, "margin": 0.02, "min_runs": 3, "max_runs": 7,
        "wave": 2, "higher_is_better": True, "family": "comparison",
    }  # fmt: skip
    out = tmp_path / "edited"
    shutil.copytree(decided_run, out)
    before = sorted(p.name for p in (out / "cells").iterdir())
    matrix = tmp_path / "m.yaml"
    for change in ("max_runs: 9", "rule: mean, max_runs: 7"):
        matrix.write_text(DECIDE.replace("max_runs: 7", change))
        for extra in ([], ["--dry-run"]):
            result = bench("run", "--matrix", matrix, "--out", out, *extra)
            assert result.code == 2 and result.err.count("\n") == 1, result.err
            assert "its design was stored at its first look" in result.err
            assert "max_runs 7" in result.err and "designs.json" in result.err
    assert sorted(p.name for p in (out / "cells").iterdir()) == before
    matrix.write_text(DECIDE.replace("margin: 0.02", "margin: 0.03"))
    assert "margin 0.02 -> 0.03" in bench("run", "--matrix", matrix, "--out", out).err
    # A new results directory decides anew.
    assert bench("run", "--matrix", matrix, "--out", tmp_path / "new", "--dry-run").code == 0


def test_each_look_says_where_each_comparison_stands(bench, write_matrix, tmp_path) -> None:
    result = bench(
        "run", "--matrix", write_matrix(DECIDE), "--out", tmp_path / "o", "--threads", "1"
    )
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if "Residual - plain at depth=" in line]
    first = [line for line in lines if "3 pair(s)" in line]
    assert first, result.err
    if "undecided so far" in first[0]:
        assert "estimate" in first[0] and "more look(s)" in first[0] and "pace" in first[0]
    # The last word on each comparison is its verdict.
    finals = {line.split(": ")[2]: line for line in lines}
    assert len(finals) == 2
    words = ("better", "equivalent", "undecided at")
    assert all(any(word in line for word in words) for line in finals.values()), finals


def test_an_anytime_valid_rule_may_extend_its_design_and_no_other_may() -> None:
    from types import SimpleNamespace

    from dlbench.bench.run.designs import _check
    from dlbench.registry.errors import DlbenchError
    from dlbench.stats.records import DecideSpec

    comparison = SimpleNamespace(describe=lambda: "Residual - plain at depth=2")
    for rule in ("sign-anytime", "sign"):
        before = DecideSpec(rule=rule).design()
        raised = DecideSpec(rule=rule, max_runs=40, wave=4).design()
        if rule == "sign-anytime":
            _check("e", comparison, before, raised)  # its rate holds at any looks
        else:
            with pytest.raises(DlbenchError, match="max_runs 20 -> 40"):
                _check("e", comparison, before, raised)
        with pytest.raises(DlbenchError, match=r"confidence 0\.95 -> 0\.9"):
            _check("e", comparison, before, DecideSpec(rule=rule, confidence=0.9).design())


BROKEN_SIDE = failing_strategy(
    "broken_side",
    """
    if cell.model.name == "residual_mlp" and Path(cell.strategy.params["switch"]).exists():
        raise RuntimeError("the residual side is broken")
    """,
    "fails on one side while a file exists",
    params='{**dlbench.TRAINING_PARAMS, "switch": dlbench.Param("", str, "fail if it exists")}',
)


def test_a_side_that_always_fails_stops_the_decision_and_retries_are_asked_for(
    bench, install, write_matrix, tmp_path
) -> None:
    install("broken_side", BROKEN_SIDE)
    switch = tmp_path / "broken"
    switch.touch()
    text = DECIDE.replace("depth: [2, 6]", "depth: 2").replace(
        "{name: plain, epochs: 2, batch_size: 32}",
        f"{{name: broken_side, epochs: 1, batch_size: 32, switch: {switch}}}",
    )
    path, out = write_matrix(text), tmp_path / "o"
    first = bench("run", "--matrix", path, "--out", out, "--jobs", "1")
    assert first.code == 1, first.err
    assert len(stored(out)) == 6  # the first look only: 3 runs a side, no second wave
    assert "no pair can complete: every run of A failed" in first.err
    assert "no pair can complete: every run of A failed" in decided_column(out)[0]
    switch.unlink()
    again = bench("run", "--matrix", path, "--out", out, "--jobs", "1")
    assert "0 cell(s) to run, 6 already stored" in again.err, again.err  # failures kept
    assert "revised" not in decided_column(out)[0]
    retried = bench("run", "--matrix", path, "--out", out, "--jobs", "1", "--retry-failed")
    assert retried.code == 0, retried.err
    assert all(r["status"] == "ok" for r in stored(out).values())
    column = decided_column(out)[0]
    assert "(revised: first undecided at n=3; failed runs were retried since)" in column, column


@pytest.mark.parametrize(
    ("margin", "message"),
    [("5", "an accuracy stored as a fraction"), ("1.0e+300", "between 0 and 1e+06")],
)
def test_a_margin_that_makes_everything_equivalent_is_refused(
    bench, write_matrix, margin, message
) -> None:
    text = DECIDE.replace("margin: 0.02", f"margin: {margin}")
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 2 and "Traceback" not in result.err
    line = result.err.strip().splitlines()[-1]
    assert "decide.margin" in line and message in line, line
