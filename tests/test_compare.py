"""``bench compare`` by configuration: runs of one grid with other seeds compare per
configuration, a change within seed noise is not a regression, ``--changed`` shows only what
changed, and ``--time`` compares timings only from the same machine."""

from __future__ import annotations

import json

import pytest
from helpers import SMALL, one_line_error

from dlbench.reports.compare import Tolerance, compare

GRID = """\
name: grid
defaults:
  dataset: {name: digits, train_subset: 128}
  strategy: {name: plain, epochs: 2, batch_size: 32}
experiments:
  e:
    model: {name: mlp, hidden: 16, depth: [2, 3]}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


def cells(group: str, values: list[float], machine: str = "cpu X AVX2") -> dict[str, dict]:
    return {
        f"{group}{i}": {
            "cell": f"m, seed {i} ({group})",
            "configuration": f"m ({group})",
            "group": group,
            "metrics": {"val_acc@best": value, "train_seconds": 10.0},
            "concurrency": "jobs=1 threads=2",
            "machine": machine,
        }
        for i, value in enumerate(values)
    }


def test_runs_with_other_seeds_compare_per_configuration() -> None:
    baseline = {"cells": cells("g", [0.90, 0.92, 0.88])}
    noisy = cells("g", [0.86, 0.93, 0.85])  # 2 points lower on average, well within noise
    rows, regressions = compare(noisy, baseline, Tolerance())
    (row,) = rows
    assert row[0] == "m (g)" and row[2] == "90.00% (n=3)" and row[3] == "88.00% (n=3)"
    # Its interval holds zero but also a drop far beyond the 1-point tolerance: too wide to
    # tell, which fails the gate unless told otherwise.
    assert row[-1] == "UNDECIDED (interval too wide)" and regressions == 1
    assert "[" in row[4]  # the change's interval
    assert compare(noisy, baseline, Tolerance(allow_undecided=True))[1] == 0
    close = cells("g", [0.899, 0.901, 0.900])
    rows, regressions = compare(close, {"cells": cells("g", [0.900, 0.902, 0.899])}, Tolerance())
    assert rows[0][-1] == "ok" and regressions == 0
    real = cells("g", [0.80, 0.81, 0.79])
    rows, regressions = compare(real, baseline, Tolerance())
    assert rows[0][-1] == "REGRESSION" and regressions == 1


def test_time_compares_only_on_the_same_machine() -> None:

    from dlbench.registry.errors import DlbenchError

    baseline = {"cells": cells("g", [0.9, 0.9], machine="cpu X AVX2")}
    with pytest.raises(DlbenchError, match="only on the same machine"):
        compare(cells("g", [0.9, 0.9], machine="cuda H200 9.0"), baseline, Tolerance(), True)
    rows, _ = compare(cells("g", [0.9, 0.9]), baseline, Tolerance(), with_time=True)
    assert any(row[1] == "train_seconds" for row in rows)


def test_bench_compare_two_runs_of_a_grid_with_other_seeds(bench, write_matrix, tmp_path) -> None:
    path = write_matrix(GRID)
    first, second = tmp_path / "first", tmp_path / "second"
    assert bench("run", "--matrix", path, "--out", first, "--set", "seeds=[0,1,2]").code == 0
    assert bench("run", "--matrix", path, "--out", second, "--set", "seeds=[3,4,5]").code == 0
    result = bench("compare", second, first, "--allow-undecided")
    assert result.code == 0, result.out
    lines = [line for line in result.out.splitlines() if "(n=3)" in line]
    assert len(lines) == 2 * 4  # two configurations, four metrics each
    changed = bench("compare", second, first, "--changed")
    shown = [line for line in changed.out.splitlines() if "(n=3)" in line]
    assert all("| ok" not in line.replace("  ", " ") for line in shown)
    assert len(shown) <= len(lines)
    timed = bench("compare", second, first, "--time", "10")
    assert "timings compared: both sides ran on the same machine" in timed.out


def test_more_seeds_never_weaken_the_gate() -> None:
    # A 12.5-point drop with 2 seeds a side: the interval is too wide to clear it, so the gate
    # fails (it once read "within noise" and passed, while 1 seed a side failed at 6 points).
    baseline = {"cells": cells("g", [0.90, 0.80])}
    rows, failures = compare(cells("g", [0.80, 0.65]), baseline, Tolerance())
    assert rows[0][-1] in ("REGRESSION", "UNDECIDED (interval too wide)") and failures == 1


def test_nan_and_non_numbers_fail_the_comparison_on_either_side() -> None:
    for old, new in (([0.9, float("nan")], [0.9, 0.9]), ([0.9, 0.9], [float("nan"), 0.9])):
        rows, failures = compare(cells("g", new), {"cells": cells("g", old)}, Tolerance())
        assert failures == 1 and rows[0][-1].startswith("INVALID: val_acc@best of m, seed")
    text = cells("g", ["0.9"])
    rows, failures = compare(text, {"cells": cells("g", [0.9])}, Tolerance())
    assert failures == 1 and "'0.9', not a finite number" in rows[0][-1]


def test_missing_and_new_configurations_are_listed_apart() -> None:
    baseline = {"cells": {**cells("g", [0.9]), **cells("h", [0.9])}}
    rows, failures = compare({**cells("g", [0.9]), **cells("k", [0.9])}, baseline, Tolerance())
    verdicts = {row[0]: row[-1] for row in rows if not row[1]}
    assert verdicts == {"m (h)": "MISSING (not in this run)", "m (k)": "NEW (not in the baseline)"}
    assert failures == 1


def test_baseline_export_to_a_directory_and_a_baseline_of_the_wrong_shape(
    bench, write_matrix, tmp_path
) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    assert "is a folder" in one_line_error(bench("baseline", "export", out, tmp_path))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "dlbench-baseline/1", "cells": {"x": {"cell": 3}}}))
    assert "damaged baseline" in one_line_error(bench("compare", out, wrong))


def test_runs_that_differ_only_in_what_the_seed_varies_compare_apart() -> None:
    from dlbench.registry.records import CellRecord
    from dlbench.reports.compare import baseline_cells

    cell = {
        "dataset": {"name": "digits", "params": {}, "plugin": "p", "version": "1"},
        "model": {"name": "mlp", "params": {"depth": 2}, "plugin": "p", "version": "1"},
        "strategy": {"name": "plain", "params": {"epochs": 1}, "plugin": "p", "version": "1"},
        "seed": 0,
    }
    split = {**cell, "vary": ["init", "order", "split"]}
    found = baseline_cells(
        [
            CellRecord(cell_id=str(i), status="ok", cell=c, final={"val_acc@best": 0.9})
            for i, c in enumerate([cell, split])
        ]
    )
    groups = {entry["group"] for entry in found.values()}
    assert len(found) == 2 and len(groups) == 2
    described = sorted(entry["configuration"] for entry in found.values())
    assert "varying init/order/split" in described[1] and "varying" not in described[0]
