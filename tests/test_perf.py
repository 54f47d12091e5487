"""``bench perf``: speed side by side, the step breakdown, and the accuracy check."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import write_mnist

from dlbench.bench.perf.accuracy import VariantResult, difference
from dlbench.bench.perf.cases import cases
from dlbench.bench.perf.distill import distillation_flop_bound
from dlbench.bench.perf.measure import step_breakdown, step_flops
from dlbench.engine import capability


def table_rows(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_perf_prints_reference_and_engine_side_by_side(bench) -> None:
    result = bench(
        "perf", "--no-cnn", "--scale", "0.02", "--threads", "1", "--rounds", "2", "--force"
    )
    assert result.code == 0, result.err
    assert "GEMM peak measured now" in result.out
    assert "medians of up to 2 round(s)" in result.out
    speed, breakdown = result.out.split("Where an fp32 MLP step goes")
    rows = table_rows(speed, "| MLP depth")
    # bf16 rows only where bf16 is native; elsewhere bench perf says it skipped them.
    native = capability.detect(torch.device("cpu")).bf16_fast
    assert len(rows) == (4 if native else 2)
    assert native or "bf16 cases skipped: this CPU has no native bf16" in result.out
    assert all(re.search(r"\| \d+\.\d\dx( \(noisy\))? +\|", line) for line in rows)
    parts = table_rows(breakdown, "| MLP depth")
    assert len(parts) == 2
    assert all(re.search(r"\d+ GFLOP/s\) +\|.*\| \d+\.\d\dx +\|$", line) for line in parts)


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("--scale", "0", "a finite number between 0 and 100 (not 0)"),
        ("--scale", "nan", "a finite number between 0 and 100 (not 0)"),
        ("--scale", "1e+09", "a finite number between 0 and 100 (not 0)"),
        ("--rounds", "0", "a whole number between 1 and 100"),
        ("--seeds", "1", "a whole number between 2 and 100"),
        ("--epochs", "0", "a whole number between 1 and 1000"),
        ("--threads", "0", "a whole number between 1 and 1024"),
    ],
)
def test_perf_refuses_bad_numbers(bench, option, value, accepted) -> None:
    result = bench("perf", option, value)
    assert result.code == 2
    assert result.err.strip() == f"bench: error: {option} {value}: expected {accepted}"


def test_step_breakdown_times_exactly_the_products_of_a_training_step(catalog) -> None:
    # The products the breakdown times by hand must be the ones autograd runs: their FLOPs
    # (rate x time) equal what torch's FLOP counter counts for a real forward and backward.
    case = cases(catalog, 0.01)[1]
    parts = step_breakdown(case, images_per_second=1000.0)
    timed_flops = parts.gemm_gflops * 1e9 * parts.gemm_ms / 1e3
    assert timed_flops == pytest.approx(step_flops(case) * case.batch_size, rel=1e-6)
    assert parts.optimizer_ms > 0


def test_distillation_flop_bound_is_one_plus_teacher_over_student(catalog) -> None:
    # ResNet-18-like teacher forward: about 1.11 GFLOP per image; the student's step: 0.66.
    assert distillation_flop_bound(catalog) == pytest.approx(2.69, abs=0.01)


def variant(*accuracies: float) -> VariantResult:
    return VariantResult("v", accuracies, ())


def test_accuracy_difference_within_noise_and_not() -> None:
    reference = variant(0.95, 0.96, 0.97)
    assert difference(variant(0.955, 0.965, 0.96), reference).within_noise
    shifted = difference(variant(0.90, 0.905, 0.91), reference)
    assert not shifted.within_noise
    assert shifted.mean == pytest.approx(-0.055)
    assert shifted.low < shifted.mean < shifted.high < 0


def test_perf_accuracy_on_written_mnist(bench, tmp_path) -> None:
    root = write_mnist(tmp_path / "data", train=60, test=20)
    result = bench(
        "perf", "--accuracy", "--data-root", root, "--epochs", "1", "--seeds", "2", "--threads", "1"
    )
    assert result.code == 0, result.err
    assert "48 training, 12 validation images" in result.out
    rows = table_rows(result.out, "| MLP depth")
    assert [row.split("|")[2].strip() for row in rows] == [
        "reference fp32",
        "dlbench fp32",
        "dlbench bf16",
    ] * 2
    verdicts = [row for row in rows if "dlbench" in row]
    assert all(re.search(r"same within seed noise|DIFFERS", row) for row in verdicts)


def test_perf_accuracy_without_mnist_is_a_one_line_error(bench, tmp_path) -> None:
    result = bench("perf", "--accuracy", "--data-root", tmp_path, "--no-download")
    assert result.code == 2
    assert result.err.startswith(f"bench: error: MNIST not found in {tmp_path}/MNIST/raw")
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.slow
def test_perf_matrix_section_prints_its_comparisons(bench, monkeypatch) -> None:
    from dlbench.bench.perf import lab_data, matrix_section

    monkeypatch.setattr(lab_data, "grid_images", lambda catalog, budget, device: 300)
    monkeypatch.setattr(matrix_section, "GRID_EPOCHS", 1)
    monkeypatch.setattr(
        matrix_section,
        "DIGITS_GRID",
        matrix_section.DIGITS_GRID.replace("epochs: 10", "epochs: 1").replace(
            "depth: [2, 4, 6, 8, 10]", "depth: [2, 4]"
        ),
    )
    monkeypatch.setattr(
        matrix_section, "DECIDED", lab_data.DECIDED.replace("hidden: 512", "hidden: 32")
    )
    result = bench(
        "perf",
        "--no-cnn",
        "--scale",
        "0.02",
        "--rounds",
        "1",
        "--force",
        "--matrix-section",
        "--threads",
        "1",
    )
    assert result.code == 0, result.err
    table = [line for line in result.out.splitlines() if line.startswith("| digits")]
    assert len(table) == 1
    cells = [cell.strip() for cell in table[0].strip("|").split("|")]
    # --jobs 1, --jobs 2, default: seconds; the default's results equal --jobs 1's.
    assert all(float(value) > 0 for value in cells[1:4]) and cells[5] == "yes"
    assert "worker(s) of" in cells[6]
    decided = [line for line in result.out.splitlines() if line.startswith("| decided")]
    assert len(decided) == 1, decided
    decided_cells = [cell.strip() for cell in decided[0].strip("|").split("|")]
    assert all(float(v) > 0 for v in decided_cells[1:4]) and decided_cells[5] == "yes", decided
    assert "300 MNIST-shaped random images standing in for MNIST" in result.out
    assert "give --data-root for the real size" in result.out
    for seeds in (3, 5):
        assert re.search(
            rf"bench run, {seeds} seeds \(jobs auto\): +[0-9.]+ s \([0-9.]+x\)", result.out
        )
    assert re.search(r"lab-style loop, 1 seed: +[0-9.]+ s", result.out)


def test_perf_matrix_option_needs_the_matrix_section(bench, tmp_path) -> None:
    result = bench("perf", "--matrix", tmp_path / "m.yaml")
    assert result.code == 2 and "--matrix: times a matrix only with --matrix-section" in result.err
    result = bench("perf", "--matrix-section", "--matrix", tmp_path / "missing.yaml")
    assert result.code == 2 and "no such file" in result.err


def test_the_matrix_section_uses_real_mnist_at_its_real_size_where_it_is(
    catalog, tmp_path, monkeypatch
) -> None:
    from dlbench.bench.perf import lab_data

    monkeypatch.setattr(lab_data, "grid_images", lambda catalog, budget, device: 300)
    real = tmp_path / "real"
    (real / lab_data.REAL_MNIST).parent.mkdir(parents=True)
    (real / lab_data.REAL_MNIST).write_bytes(b"")
    root, images, said = lab_data.mnist_data(catalog, 150, "cpu", tmp_path, real)
    assert (root, images) == (real, 60_000) and said.startswith("real MNIST from")
    root, images, said = lab_data.mnist_data(catalog, 150, "cpu", tmp_path, tmp_path)
    assert images == 300 and root == tmp_path / "data"
    assert f"real MNIST not found under {tmp_path}" in said
