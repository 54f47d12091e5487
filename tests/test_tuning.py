"""Equal tuning budgets: every arm gets the same trials, proposals are a pure function of the
study's seed and the stored trials (so a finished study reruns without training and an
interrupted one continues), failed trials count and are reported, and the tables' numbers come
only from the final runs."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from helpers import one_line_error
from inline_plugins import failing_strategy

pytest.importorskip("optuna", reason="tuning needs Optuna (the tune extra)")

from dlbench.stats.tuning import TRIAL_SEED_BASE

TUNED = """\
name: tuned
defaults:
  dataset: {name: digits, train_subset: 128}
  strategy: {name: plain, epochs: 1, batch_size: 32}
experiments:
  e:
    model: {name: [mlp, residual_mlp], hidden: 16, depth: 3}
    tune:
      space:
        strategy.lr: {log_uniform: [1.0e-4, 1.0e-1]}
      trials: 4
      wave: 2
      sampler: tpe
      final_runs: 2
      seed: 7
    tables:
      - {rows: model.depth, columns: model.name, metric: test_acc}
"""


def stored(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}


def trials_and_finals(out: Path) -> tuple[list[dict], list[dict]]:
    records = list(stored(out).values())
    trials = [r for r in records if r["cell"]["seed"] >= TRIAL_SEED_BASE]
    finals = [r for r in records if r["cell"]["seed"] < TRIAL_SEED_BASE]
    return trials, finals


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory) -> Path:
    from dlbench.bench.cli import main

    folder = tmp_path_factory.mktemp("tuned")
    (folder / "m.yaml").write_text(TUNED)
    out = folder / "one"
    assert (
        main(["run", "--matrix", str(folder / "m.yaml"), "--out", str(out), "--threads", "1"]) == 0
    )
    return out


def test_every_arm_gets_the_same_budget_and_its_final_runs(tuned_run) -> None:
    trials, finals = trials_and_finals(tuned_run)
    by_arm: dict[str, int] = {}
    for record in trials:
        by_arm[record["cell"]["model"]["name"]] = by_arm.get(record["cell"]["model"]["name"], 0) + 1
    assert by_arm == {"mlp": 4, "residual_mlp": 4}
    assert sorted(r["cell"]["seed"] for r in finals) == [0, 0, 1, 1]
    # Each arm's final runs use its best trial's learning rate.
    for arm in ("mlp", "residual_mlp"):
        arm_trials = [r for r in trials if r["cell"]["model"]["name"] == arm]
        best = max(arm_trials, key=lambda r: r["final"]["val_acc@best"])
        chosen = {
            r["cell"]["strategy"]["params"]["lr"]
            for r in finals
            if r["cell"]["model"]["name"] == arm
        }
        assert chosen == {best["cell"]["strategy"]["params"]["lr"]}


def test_final_numbers_never_come_from_trials(tuned_run) -> None:
    _, finals = trials_and_finals(tuned_run)
    (table,) = [p for p in (tuned_run / "tables").glob("*.csv") if "tuning" not in p.name]
    rows = list(csv.DictReader(table.read_text().splitlines()))
    for row in rows:
        arm = [r for r in finals if r["cell"]["model"]["name"] == row["Model"]]
        expected = statistics.fmean(r["final"]["test_acc@best"] for r in arm)
        assert float(row["mean"]) == pytest.approx(expected) and int(row["n"]) == 2
    report = (tuned_run / "report.md").read_text()
    assert "tables show the final runs only" in report and "### Tuning" in report
    assert list((tuned_run / "plots").glob("e-tuning-best.png"))
    assert list((tuned_run / "plots").glob("e-tuning-scatter.png"))


def test_the_export_marks_trials(bench, tuned_run) -> None:
    rows = list(csv.DictReader(bench("export", tuned_run).out.splitlines()))
    roles = [row["role"] for row in rows]
    assert roles.count("trial") == 8 and roles.count("run") == 4


def test_a_finished_study_reruns_without_training(bench, tuned_run) -> None:
    before = {k: r["finished_at"] for k, r in stored(tuned_run).items()}
    result = bench("run", "--matrix", tuned_run.parent / "m.yaml", "--out", tuned_run)
    assert result.code == 0 and "0 cell(s) ran" in result.err
    assert {k: r["finished_at"] for k, r in stored(tuned_run).items()} == before


def test_the_same_study_seed_proposes_the_same_trials(bench, write_matrix, tmp_path) -> None:
    def proposed(text: str, out: Path) -> list[str]:
        dry = bench("run", "--matrix", write_matrix(text), "--out", out, "--dry-run")
        return [line.split()[1] for line in dry.out.splitlines() if "trial:" in line]

    first = proposed(TUNED, tmp_path / "a")
    assert len(first) == 4  # the first wave of each arm
    assert proposed(TUNED, tmp_path / "b") == first
    assert proposed(TUNED.replace("seed: 7", "seed: 8"), tmp_path / "c") != first


def test_an_interrupted_study_continues_and_jobs_do_not_change_it(tuned_run, tmp_path) -> None:
    from dlbench.bench.cli import main
    from dlbench.bench.run import progress

    out = tmp_path / "interrupted"
    matrix = str(tuned_run.parent / "m.yaml")
    waves = []
    original = progress.LineProgress.matrix_started

    def stop_at_second_wave(self, total, reused, **labels):
        waves.append(total)
        if len(waves) == 2:
            raise KeyboardInterrupt
        original(self, total, reused, **labels)

    progress.LineProgress.matrix_started = stop_at_second_wave
    try:
        code = main(["run", "--matrix", matrix, "--out", str(out), "--threads", "1"])
    finally:
        progress.LineProgress.matrix_started = original
    assert code == 130 and len(stored(out)) == 4
    first_wave = {k: r["finished_at"] for k, r in stored(out).items()}
    argv = ["run", "--matrix", matrix, "--out", str(out), "--jobs", "2", "--threads", "1"]
    assert main(argv) == 0
    after = stored(out)
    assert all(after[k]["finished_at"] == t for k, t in first_wave.items())
    assert set(after) == set(stored(tuned_run))


FAILING = failing_strategy(
    "fragile",
    """
    if cell.strategy.params["lr"] > 0.01:
        raise RuntimeError("this rate diverges")
    """,
    "fails at high rates",
)


def test_a_failing_trial_counts_against_the_budget_and_is_reported(
    bench, install, write_matrix, tmp_path
) -> None:
    install("fragile_strategy", FAILING)
    text = TUNED.replace("name: plain, epochs: 1", "name: fragile, epochs: 1").replace(
        "sampler: tpe", "sampler: random"
    )
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(text), "--out", out, "--threads", "1")
    trials, finals = trials_and_finals(out)
    failed = [r for r in trials if r["status"] == "failed"]
    assert failed and len(trials) == 8  # failures are trials too: the budget is the same
    assert result.code == 1
    report = (out / "report.md").read_text()
    tuning = report.split("### Tuning")[1].split("\n\n")[1]
    assert any(row.split("|")[3].strip() not in ("0", "Failed") for row in tuning.splitlines()[2:])
    assert "this rate diverges" in report.split("## Failed cells")[1]
    assert all(r["cell"]["strategy"]["params"]["lr"] <= 0.01 for r in finals)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            "strategy.lrr: {log_uniform: [1.0e-4, 1.0e-2]}",
            "has no parameter 'lrr'; did you mean 'lr'?",
        ),
        ("strategy.lr: {log_uniform: [0, 1.0e-2]}", "expected a number > 0, got 0"),
        ("strategy.lr: {int: [1, 3]}", "tune it with uniform or log_uniform"),
        ("strategy.epochs: {uniform: [1, 3]}", "tune it with int"),
        ("model.depth: {int: [2, 4]}", None),
        ("model.name: {choice: [mlp]}", "an axis of the experiment is not tuned"),
        ("strategy.lr: {normal: [0, 1]}", "expected one of log_uniform, uniform, int, choice"),
    ],
)
def test_tune_blocks_are_validated_in_one_line(bench, write_matrix, space, message) -> None:
    text = TUNED.replace("strategy.lr: {log_uniform: [1.0e-4, 1.0e-1]}", space)
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    if message is None:
        assert result.code == 0, result.err
        return
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert message in result.err, result.err


def test_without_optuna_a_tune_block_is_one_line(bench, write_matrix, monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name == "optuna":
            raise ImportError("no optuna")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    result = bench("run", "--matrix", write_matrix(TUNED), "--dry-run")
    assert result.code == 2 and "pip install 'optuna>=" in result.err


def test_trials_pass_the_size_check_an_ordinary_cell_passes(bench, write_matrix) -> None:
    """A tuned depth whose top would need terabytes is refused before anything runs, as the
    same model given as an ordinary cell is."""
    tuned = """\
    name: big
    defaults:
      dataset: {name: digits}
      strategy: {name: plain, epochs: 1}
    experiments:
      e:
        model: {name: mlp, hidden: 65536}
        tune: {space: {model.depth: {int: [2, 200]}}, trials: 2}
        tables:
          - {rows: model.depth, metric: test_acc}
    """
    result = bench("run", "--matrix", write_matrix(tuned), "--dry-run")
    line = one_line_error(result)
    assert "experiments.e.tune.space.model.depth" in line
    assert "trials would include an impossible cell (mlp with depth=200)" in line
    assert "GiB" in line and "narrow the range" in line
    plain = tuned.replace("tune: {space: {model.depth: {int: [2, 200]}}, trials: 2}", "")
    plain = plain.replace("hidden: 65536}", "hidden: 65536, depth: 200}")
    assert "impossible cell" in one_line_error(bench("run", "--matrix", write_matrix(plain)))
