"""The ``bench`` command as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import EntryPoint

import pytest
from helpers import BENCH, REPO, SMALL as TWO_CELLS

from dlbench.registry.manager import dlbench_version


def squeeze(text: str) -> str:
    """Markdown tables with their padding collapsed, to compare cell contents."""
    return re.sub(r" {2,}", " ", text)


SMALL = """
name: small
defaults:
  dataset: digits
  strategy: {name: plain, epochs: 1, batch_size: 128}
experiments:
  depth:
    model: {name: mlp, hidden: 32, depth: [2, 3]}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


def test_quick_example_end_to_end_then_rerun_trains_nothing(bench, tmp_path) -> None:
    # Every experiment, table and plot of the README's main command, at one epoch a cell (12 s
    # rather than 52): its figures are checked by `tox -e regression` against the baselines and
    # by `tox -e readme` against the README.
    out = tmp_path / "q"
    quick = ("run", "--matrix", REPO / "examples" / "quick.yaml", "--set", "strategy.epochs=1")
    first = bench(*quick, "--out", out)
    assert first.code == 0, first.err
    assert "## Exercise 1.1: MLP depth" in first.out
    assert "## Exercise 1.2: residual connections in MLPs" in first.out
    assert "| Depth | Acc MLP | Acc MLP Residual | Improvement |" in squeeze(first.out)
    assert "## Exercise 1.3: plain vs residual CNNs" in first.out
    assert "### Exercise 2.2: teacher vs students" in first.out
    assert "26 cells, 26 done, 0 failed" in first.out
    assert (out / "report.md").read_text() == first.out.rstrip("\n") + "\n"
    assert {
        "ex1_1_mlp_depth-test-accuracy.csv",
        "ex1_1_mlp_depth-validation-accuracy.csv",
        "ex1_2_residual_mlp-1.csv",
        "ex1_3_cnn-models.csv",
        "ex2_2_distillation-exercise-2.2-teacher-vs-students.csv",
        "transfer_finetune-transfer-digits-0-4-to-digits-5-9.csv",
    } <= {p.name for p in (out / "tables").iterdir()}
    assert {p.name for p in (out / "plots").iterdir()} == {
        f"{stem}.{fmt}"
        for stem in (
            "ex1_2_residual_mlp-grad-norms",
            "ex1_3_cnn-grad-norms",
            "ex2_2_distillation-exercise-2.2-teacher-vs-students-curves",
        )
        for fmt in ("png", "svg")
    }
    assert len(list((out / "cells").glob("*.json"))) == 26
    second = bench(*quick, "--out", out)
    assert second.code == 0
    assert "0 cell(s) to run, 26 already stored" in second.err
    assert second.out == first.out


def test_unknown_model_exits_2_with_one_line_suggestion(bench, write_matrix, tmp_path) -> None:
    path = write_matrix(SMALL.replace("name: mlp", "name: residual_mpl"))
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "did you mean 'residual_mlp'" in result.err
    assert f"{path}:7:" in result.err
    assert not (tmp_path / "out").exists()


def test_console_script_reports_errors_without_traceback(write_matrix, tmp_path) -> None:
    path = write_matrix(SMALL.replace("name: mlp", "name: mlpp"))
    result = subprocess.run(
        [BENCH, "run", "--matrix", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("bench: error: ")


def test_list_models_shows_plugin_and_version(bench) -> None:
    result = bench("list", "models")
    assert result.code == 0
    lines = {line.split()[0]: line for line in result.out.splitlines()[2:] if line.strip()}
    assert "dlbench.models.mlp" in lines["mlp"]
    assert "dlbench.models.mlp" in lines["residual_mlp"]


def test_list_every_kind(bench) -> None:
    for kind, expected in (
        ("datasets", "mnist"),
        ("strategies", "plain"),
        ("executors", "local"),
        ("plugins", "dlbench.datasets.digits"),
    ):
        result = bench("list", kind)
        assert result.code == 0 and expected in result.out, kind
    assert bench("list", "models", "--include", "res*").out.count("residual_mlp") == 1
    assert bench("list", "widgets").code == 2


def test_broken_external_plugin_is_reported_on_the_command_line(bench, monkeypatch) -> None:
    broken = EntryPoint("broken", "dlbench_no_such_module_xyz", "dlbench")
    monkeypatch.setattr("dlbench.registry.manager.entry_points", lambda group: [broken])
    result = bench("list", "plugins")
    assert result.code == 0
    assert "bench: warning: plugin 'broken'" in result.err
    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", "1")
    strict = bench("list", "plugins")
    assert strict.code == 2
    assert strict.err.startswith("bench: error: plugin 'broken'")


def test_dry_run_lists_cells_and_trains_nothing(bench, write_matrix, tmp_path) -> None:
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", tmp_path / "o", "--dry-run")
    assert result.code == 0
    assert result.out.count("to run") == 3  # two cells and the summary line
    assert not (tmp_path / "o").exists()


def test_report_redraws_without_training(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    (out / "report.md").unlink()
    result = bench("report", out)
    assert result.code == 0
    assert "| Depth | Val accuracy (best-val epoch) |" in squeeze(result.out)
    assert (out / "report.md").exists()
    assert bench("report", tmp_path / "nowhere").code == 2


def test_set_and_only(bench, write_matrix, tmp_path) -> None:
    text = SMALL + "  other:\n    model: {name: mlp, hidden: 16}\n"
    result = bench(
        "run",
        "--matrix",
        write_matrix(text),
        "--out",
        tmp_path / "o",
        "--only",
        "oth*",
        "--set",
        "model.hidden=8",
        "--dry-run",
    )
    assert result.code == 0
    assert "hidden=8" in result.out
    assert "depth " not in result.out


def test_failing_cells_exit_1_and_are_listed(bench, write_matrix, tmp_path) -> None:
    text = SMALL.replace("dataset: digits", "dataset: mnist")
    result = bench(
        "run",
        "--matrix",
        write_matrix(text),
        "--out",
        tmp_path / "o",
        "--data-root",
        tmp_path / "empty",
        "--no-download",
    )
    assert result.code == 1
    assert "## Failed cells" in result.out
    assert "DataUnavailableError: MNIST not found in" in result.out
    assert "| 2 | failed |" in squeeze(result.out)


BAD_USAGE = {
    "bad-set": ["--set", "strategy.epochs"],
    "bad-set-value": ["--set", "strategy.epochs=0"],
    "bad-device": ["--device", "tpu"],
    "bad-threads": ["--threads", "0"],
    "missing-matrix": ["--matrix", "/nonexistent/m.yaml"],
}


def test_bad_usage_exits_2_with_one_line(bench, write_matrix, tmp_path) -> None:
    path = write_matrix(SMALL)
    for case, extra in BAD_USAGE.items():
        args = ["run", "--out", tmp_path / "o", *extra]
        if "--matrix" not in extra:
            args += ["--matrix", path]
        result = bench(*args)
        assert result.code == 2, case
        assert result.err.count("\n") == 1, (case, result.err)
        assert result.err.startswith("bench"), case


def test_out_that_is_a_file_or_another_matrix_is_refused(bench, write_matrix, tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", tmp_path / "file")
    assert result.code == 2 and "is not a directory" in result.err
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", tmp_path / "o").code == 0
    other = write_matrix(SMALL.replace("name: small", "name: other"), name="other.yaml")
    refused = bench("run", "--matrix", other, "--out", tmp_path / "o")
    assert refused.code == 2
    assert "holds results of matrix 'small'" in refused.err
    assert len(list((tmp_path / "o" / "cells").glob("*.json"))) == 2


def test_ctrl_c_exits_130_and_says_how_to_resume(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    calls = []

    def interrupted_fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    import dlbench.bench.run.context as context

    real_fit = context.fit
    monkeypatch.setattr(context, "fit", interrupted_fit)
    out = tmp_path / "o"
    result = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert result.code == 130
    assert "interrupted" in result.err and "Run the same command again to resume" in result.err
    assert len(list((out / "cells").glob("*.json"))) == 1
    assert "1 done, 0 failed, 1 pending" in (out / "report.md").read_text()
    monkeypatch.setattr(context, "fit", real_fit)
    resumed = bench("run", "--matrix", write_matrix(SMALL), "--out", out)
    assert resumed.code == 0
    assert "1 cell(s) to run, 1 already stored" in resumed.err


def test_a_second_run_on_the_same_directory_is_refused(bench, write_matrix, tmp_path) -> None:
    from filelock import FileLock

    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    with FileLock(out / ".lock"):
        result = bench("run", "--matrix", write_matrix(SMALL), "--out", out, "--force")
    assert result.code == 2
    assert "another bench run is writing here" in result.err
    assert len(list((out / "cells").glob("*.json"))) == 2


def test_compare_and_baseline_catch_a_planted_regression(bench, write_matrix, tmp_path) -> None:
    out = tmp_path / "o"
    assert bench("run", "--matrix", write_matrix(SMALL), "--out", out).code == 0
    baseline = tmp_path / "baseline.json"
    exported = bench("baseline", "export", out, baseline)
    assert exported.code == 0 and "2 cell(s) written" in exported.out
    same = bench("compare", out, baseline)
    assert same.code == 0
    assert "0 regression(s)" in same.out
    assert "| verdict" in squeeze(same.out)
    # Plant a regression: one cell's best validation accuracy drops by five points.
    record_path = sorted((out / "cells").glob("*.json"))[0]
    record = json.loads(record_path.read_text())
    record["final"]["val_acc@best"] -= 0.05
    record_path.write_text(json.dumps(record))
    worse = bench("compare", out, baseline)
    assert worse.code == 1
    assert "REGRESSION" in worse.out and "1 regression(s)" in worse.out
    # A tolerance wider than the drop lets it pass; a results directory works as baseline too.
    assert bench("compare", out, baseline, "--accuracy-tolerance", "0.06").code == 0
    assert bench("compare", out, out).code == 0
    assert bench("compare", out, tmp_path / "nothing.json").code == 2


def test_compare_tolerance_widens_with_the_seed_spread(bench, write_matrix, tmp_path) -> None:
    from dlbench.reports.compare import Tolerance, _verdict, seed_spread

    cells = {
        "a": {"group": "g", "metrics": {"val_acc@best": 0.80}},
        "b": {"group": "g", "metrics": {"val_acc@best": 0.90}},
    }
    spread = seed_spread(cells)[("g", "val_acc@best")]
    assert round(spread, 4) == 0.0707
    # A 5-point drop is a regression at the explicit 1 point, not within twice the seed spread.
    assert _verdict("val_acc@best", -0.05, None, Tolerance()) == "REGRESSION"
    assert _verdict("val_acc@best", -0.05, None, Tolerance(), 2 * spread) == "ok"
    assert _verdict("val_loss@best", -0.2, None, Tolerance()) == "better"
    # With runs on both sides, a drop whose interval holds zero but also drops beyond the
    # tolerance is too wide to decide; one whose worst end is within tolerance is ok.
    assert _verdict("val_acc@best", -0.05, (-0.09, 0.01), Tolerance()) == (
        "UNDECIDED (interval too wide)"
    )
    assert _verdict("val_acc@best", -0.005, (-0.009, 0.001), Tolerance()) == "ok"
    assert _verdict("val_acc@best", -0.05, (-0.08, -0.02), Tolerance()) == "REGRESSION"


BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", BOMB], "--jobs"),
        (["--set", f"seeds={BOMB}"], "--set 'seeds='"),
        (["--executor-opt", f"jobs={BOMB}"], "--executor-opt 'jobs='"),
        (["--executor-opt", "k" * 100_000 + "=1"], "longer than 100 characters"),
        (["--set", "seeds=" + "1," * 40_000], "longer than 64 KiB"),
        (["--jobs", "0x10"], "expected auto or a whole number"),
        (["--jobs", "1e3"], "expected auto or a whole number"),
    ],
    ids=["jobs-bomb", "set-bomb", "opt-bomb", "long-key", "long-value", "hex", "float"],
)
def test_command_line_values_are_bounded_like_the_matrix_file(bench, args, message) -> None:
    result = bench("run", "--matrix", REPO / "examples" / "quick.yaml", *args, "--dry-run")
    assert result.code == 2 and result.err.count("\n") == 1, result.err[:300]
    assert message in result.err and len(result.err) < 400


def test_list_shows_each_parameter_with_what_it_accepts(bench) -> None:
    result = bench("list", "datasets", "--include", "digits")
    assert result.code == 0
    assert "val_fraction" in result.out and "a number between 0 and 1 (not 0 or 1)" in result.out
    assert "share of the training set held out for validation" in result.out


def test_boolean_defaults_are_listed_as_they_are(bench) -> None:
    listing = bench("list", "strategies", "--include", "plain", "--params").out
    rows = {w[0]: w[1] for w in map(str.split, listing.splitlines()) if len(w) > 1}
    assert rows["nesterov"] == "False" and rows["channels_last"] == "False"


def test_bench_version(bench) -> None:
    result = bench("--version")
    assert result.code == 0 and result.out.strip() == f"bench (dlbench) {dlbench_version()}"


def test_cells_that_differ_only_in_a_strategy_parameter_read_apart(
    bench, write_matrix, tmp_path
) -> None:
    text = TWO_CELLS.replace("epochs: 1}", "epochs: 1, lr: [0.001, 0.01]}")
    text = text.replace("depth: [2, 3]", "depth: 2").replace("model.depth", "strategy.lr")
    path = write_matrix(text)
    dry = bench("run", "--matrix", path, "--out", tmp_path / "o", "--dry-run")
    assert dry.code == 0, dry.err
    for lr in ("0.001", "0.01"):
        assert sum(f"(strategy.lr={lr})" in line for line in dry.out.splitlines()) == 1
    ran = bench("run", "--matrix", path, "--out", tmp_path / "o", "--jobs", "1")
    started = [line for line in ran.err.splitlines() if line.startswith("[")]
    assert len(started) == 2 and len({line.split(" (")[1] for line in started}) == 2, started
