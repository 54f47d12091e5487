"""Comparisons that decide: the stopping rule keeps its stated error rate under repeated looks
(and the naive rule does not), real differences are decided with the documented power, the
planner resumes from the store, and a decision does not depend on how the cells were run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dlbench.bench.results.report_files import read_manifest
from dlbench.bench.results.store import ResultStore
from dlbench.reports.decisions import DecideSpec, evaluate
from dlbench.reports.sequential import (
    BETTER_A,
    BETTER_B,
    EQUIVALENT,
    RUNNING,
    UNDECIDED,
    boundaries,
)

SIMULATIONS = 2_000
SPEC = DecideSpec(confidence=0.95, margin=0.0, min_runs=3, max_runs=20, wave=2)


def slack(rate: float, n: int = SIMULATIONS) -> float:
    """Three Monte Carlo standard errors of a rate estimated from ``n`` simulations."""
    return 3 * math.sqrt(rate * (1 - rate) / n)


def simulate(spec: DecideSpec, delta: float, seed: int, rule=None) -> dict[str, float]:
    """Run ``SIMULATIONS`` comparisons of two arms whose paired differences are N(delta, 1),
    adding runs wave by wave exactly as the planner does; the share of each final verdict."""
    rng = np.random.default_rng(seed)
    outcomes: dict[str, int] = {}
    for _ in range(SIMULATIONS):
        differences = rng.normal(delta, 1.0, spec.max_runs)
        a: dict[int, float | None] = {}
        b: dict[int, float | None] = {}
        while True:
            standing = (rule or evaluate)(spec, a, b)
            if standing.decision.verdict != RUNNING:
                break
            for seed_index in range(len(a), standing.wanted):
                a[seed_index], b[seed_index] = float(differences[seed_index]), 0.0
        outcomes[standing.decision.verdict] = outcomes.get(standing.decision.verdict, 0) + 1
    return {verdict: count / SIMULATIONS for verdict, count in outcomes.items()}


def naive(spec: DecideSpec, a, b):
    """The rule that keeps adding runs and stops once an unadjusted 95% t interval excludes zero."""
    from dlbench.reports.decisions import Standing
    from dlbench.reports.sequential import Decision

    n = len(a)
    if n >= spec.min_runs:
        values = np.array([a[s] - b[s] for s in range(n)])
        half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)
        mean = float(values.mean())
        if abs(mean) > half:
            return Standing(Decision(BETTER_A if mean > 0 else BETTER_B, n, mean, 0, 0), n)
        if n >= spec.max_runs:
            return Standing(Decision(UNDECIDED, n, mean, 0, 0), n)
    wanted = spec.min_runs if n < spec.min_runs else min(n + spec.wave, spec.max_runs)
    return Standing(Decision(RUNNING, n, 0, 0, 0), wanted)


def test_identical_arms_are_called_different_at_most_at_the_stated_rate() -> None:
    rates = simulate(SPEC, 0.0, seed=1)
    false_better = rates.get(BETTER_A, 0) + rates.get(BETTER_B, 0)
    assert false_better <= 0.05 + slack(0.05), rates


def test_the_naive_rule_of_looking_after_every_wave_fails_that_same_check() -> None:
    rates = simulate(SPEC, 0.0, seed=1, rule=naive)
    false_better = rates.get(BETTER_A, 0) + rates.get(BETTER_B, 0)
    assert false_better > 0.05 + slack(0.05), rates  # about 0.2: the check can fail


def test_a_real_difference_is_decided_with_the_documented_power() -> None:
    # Documented: a true mean difference of one standard deviation of the paired differences is
    # decided "A better" in at least 95% of comparisons (3 to 20 runs, waves of 2, 95%).
    rates = simulate(SPEC, 1.0, seed=2)
    assert rates.get(BETTER_A, 0) >= 0.95, rates
    assert rates.get(BETTER_B, 0) == 0


def test_a_difference_at_the_margin_is_called_equivalent_at_most_at_the_stated_rate() -> None:
    spec = DecideSpec(confidence=0.95, margin=0.5, min_runs=3, max_runs=20, wave=2)
    rates = simulate(spec, 0.5, seed=3)
    assert rates.get(EQUIVALENT, 0) <= 0.05 + slack(0.05), rates


def test_identical_arms_end_equivalent_when_a_margin_is_given() -> None:
    spec = DecideSpec(confidence=0.95, margin=1.0, min_runs=3, max_runs=20, wave=2)
    rates = simulate(spec, 0.0, seed=4)
    assert rates.get(EQUIVALENT, 0) >= 0.9, rates


def test_boundaries_are_deterministic_and_shrink_as_runs_come_in() -> None:
    looks = (3, 5, 7, 9, 11, 13, 15, 17, 19, 20)
    first = boundaries(looks, 20, 0.95)
    boundaries.cache_clear()
    assert boundaries(looks, 20, 0.95) == first
    finite = [b for b in first if math.isfinite(b)]
    assert finite == sorted(finite, reverse=True)
    # At the last look the bound is wider than a single t test's (2.09 at 19 df): the price of
    # the looks before it.
    assert stats.t.ppf(0.975, 19) < first[-1] < 3.0


def test_failed_runs_leave_their_pair_out_and_the_decision_goes_on() -> None:
    a = {0: 0.9, 1: 0.91, 2: None, 3: 0.92}
    b = {0: 0.8, 1: 0.81, 2: 0.8, 3: 0.82}
    standing = evaluate(DecideSpec(min_runs=4, max_runs=10), a, b)
    assert standing.decision.n == 3
    assert standing.wanted in (4, 6)


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

    def stop_at_second_wave(self, total, reused):
        waves.append(total)
        if len(waves) == 2:
            raise KeyboardInterrupt
        original(self, total, reused)

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
        assert row["verdict"] in ("A better", "B better", "equivalent", "undecided", "running")
        assert int(row["pairs"]) >= 3 and float(row["low"]) <= float(row["mean"]) <= float(
            row["high"]
        )
        assert row["margin"] == "0.02" and row["a"] == "residual_mlp" and row["b"] == "mlp"
