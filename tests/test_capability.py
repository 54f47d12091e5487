"""What the device does fast: detection, the refusal of slow options and its override, and a
``bench perf`` that adapts (skips what is slow, fits a budget, never claims more than a peak,
and says when the machine is busy)."""

from __future__ import annotations

import pytest
import torch

from dlbench.bench.perf import budget, machine, tables
from dlbench.bench.perf.cases import cases
from dlbench.engine import capability

SLOW_CPU = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})
FAST_CPU = frozenset({"avx2", "avx512f", "avx512_bf16"})


@pytest.mark.parametrize(("flags", "fast"), [(SLOW_CPU, False), (FAST_CPU, True)])
def test_cpu_bf16_is_native_only_with_avx512_bf16_or_amx(monkeypatch, flags, fast) -> None:
    monkeypatch.setattr(capability, "cpu_flags", lambda: flags)
    found = capability.detect(torch.device("cpu"))
    assert found.bf16_fast is fast
    assert found.features == (("avx512_bf16",) if fast else ())
    assert ("bf16 native" if fast else "no native bf16") in found.describe()


@pytest.mark.parametrize(("compute", "fast"), [((8, 0), True), ((9, 0), True), ((7, 5), False)])
def test_gpu_bf16_and_tf32_from_the_compute_capability(monkeypatch, compute, fast) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: compute)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some GPU")
    found = capability.detect(torch.device("cuda"))
    assert (found.bf16_fast, found.tf32, found.isa) == (fast, fast, f"{compute[0]}.{compute[1]}")


BF16 = """\
name: half
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: plain, epochs: 1, precision: bf16}
experiments:
  e:
    model: {name: mlp, hidden: 8}
"""


@pytest.fixture
def slow_bf16(monkeypatch):
    monkeypatch.setattr(capability, "cpu_flags", lambda: SLOW_CPU)
    monkeypatch.setattr("dlbench.bench.run.slow_options.bf16_slowdown", lambda: 140.0)


def test_bf16_where_it_is_slow_is_refused_before_training(
    bench, write_matrix, tmp_path, slow_bf16
) -> None:
    path, out = write_matrix(BF16), tmp_path / "o"
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "slow (needs --allow-slow)" in dry.out and "140x slower than fp32" in dry.out
    refused = bench("run", "--matrix", path, "--out", out)
    assert refused.code == 2 and refused.err.count("bench: error") == 1
    assert "1 cell(s) to run ask for options this device runs slowly" in refused.err
    assert "140x slower" in refused.err and "--allow-slow" in refused.err
    assert not list((out / "cells").glob("*.json"))
    allowed = bench("run", "--matrix", path, "--out", out, "--allow-slow")
    assert allowed.code == 0, allowed.err


def test_bf16_where_it_is_native_runs_without_asking(bench, write_matrix, tmp_path, monkeypatch):
    monkeypatch.setattr(capability, "cpu_flags", lambda: FAST_CPU)
    assert bench("run", "--matrix", write_matrix(BF16), "--out", tmp_path / "o").code == 0


def test_records_carry_the_capability_and_the_machine(bench, write_matrix, tmp_path) -> None:
    import json

    assert bench("run", "--matrix", write_matrix(BF16), "--out", tmp_path / "o").code in (0, 2)
    bench("run", "--matrix", write_matrix(BF16), "--out", tmp_path / "o", "--allow-slow")
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "o" / "cells").glob("*.json")]
    environment = record["environment"]
    assert environment["capability"]["device"] == "cpu"
    assert environment["capability"]["isa"] == torch.backends.cpu.get_cpu_capability()
    assert environment["machine"]["cores"] >= 1 and environment["machine"]["memory_bytes"] > 0
    assert environment["versions"]["timm"] and "run" in environment["command"]


@pytest.mark.slow
def test_perf_skips_bf16_with_a_reason_where_it_is_slow(bench, slow_bf16) -> None:
    result = bench("perf", "--no-cnn", "--scale", "0.02", "--rounds", "1", "--force")
    assert result.code == 0, result.err
    assert "bf16 cases skipped: this CPU has no native bf16" in result.out
    rows = [line for line in result.out.splitlines() if line.startswith("| MLP depth")]
    speed_rows = [row for row in rows if "fp32" in row or "bf16" in row]
    assert speed_rows and all("bf16" not in row for row in speed_rows)


@pytest.mark.parametrize(
    ("gflops", "peak", "text"),
    [(100.0, 200.0, "50%"), (200.0, 200.0, "100%"), (1151.0, 100.0, "above peak (unreliable)")],
)
def test_a_share_of_the_peak_never_reads_above_100_percent(gflops, peak, text) -> None:
    assert machine.share_of_peak(gflops, peak) == text


def test_peaks_measured_apart_show_drift() -> None:
    peaks = machine.Peaks((200.0, 120.0), (400.0, 390.0))
    assert peaks.best("fp32") == 200.0 and peaks.drift() == pytest.approx(0.4)


@pytest.mark.slow
def test_a_busy_machine_is_named_and_perf_refuses_unless_forced(bench, monkeypatch) -> None:
    assert machine.busy_reason(others=3) != ""
    assert machine.busy_reason(others=0) == ""
    monkeypatch.setattr(tables, "busy_reason", lambda: "3 other process(es) ready to run")
    refused = bench("perf", "--no-cnn", "--scale", "0.02", "--rounds", "1")
    assert refused.code == 2 and "the machine is busy" in refused.err
    assert refused.err.count("\n") == 1
    forced = bench("perf", "--no-cnn", "--scale", "0.02", "--rounds", "1", "--force")
    assert forced.code == 0 and "UNRELIABLE: timed on a busy machine" in forced.out


def test_the_budget_gives_each_case_what_fits_or_skips_it(catalog, monkeypatch) -> None:
    mlp = cases(catalog, 1.0)[0]
    monkeypatch.setattr(budget, "calibrate", lambda case: (1e-3, 1e-4))  # 1 ms / 0.1 ms an image
    planned = budget.plan_case(mlp, seconds=20.0, rounds=3, variants=2)
    # 20 s over 3 rounds of 1.2 ms an image: 5,555 images, whole batches of 64.
    assert (planned.rounds, planned.case.images) == (3, 5504)
    assert planned.seconds <= 20.0
    tight = budget.plan_case(mlp, seconds=1.0, rounds=3, variants=2)
    assert tight.rounds == 1 or tight.skipped
    monkeypatch.setattr(budget, "calibrate", lambda case: (10.0, 1.0))
    assert "more than the" in budget.plan_case(mlp, 100.0, 3, 2).skipped
    cnn = cases(catalog, 1.0)[2]
    assert budget.share(cnn, 90.0, [mlp, cnn]) == pytest.approx(60.0)  # twice an MLP's weight


def test_the_dry_run_and_the_run_decide_slow_bf16_alike_whatever_a_timing_says(
    bench, write_matrix, tmp_path, monkeypatch
) -> None:
    # A timing that would have said "fast" in one process and "slow" in the next decides nothing:
    # the detected capability does.
    timings = iter([1.1, 140.0, 1.1, 140.0])
    monkeypatch.setattr(capability, "cpu_flags", lambda: SLOW_CPU)
    monkeypatch.setattr("dlbench.bench.run.slow_options.bf16_slowdown", lambda: next(timings))
    path, out = write_matrix(BF16), tmp_path / "o"
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "slow (needs --allow-slow)" in dry.out
    refused = bench("run", "--matrix", path, "--out", out)
    assert refused.code == 2 and "--allow-slow" in refused.err


@pytest.mark.parametrize(("cap", "fast"), [("AVX2", False), ("avx512_core", False), ("ALL", True)])
def test_onednn_capped_below_bf16_is_not_native(monkeypatch, cap, fast) -> None:
    monkeypatch.setattr(capability, "cpu_flags", lambda: FAST_CPU)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    found = capability.detect(torch.device("cpu"))
    assert found.bf16_fast is fast
    if not fast:
        assert f"ONEDNN_MAX_CPU_ISA={cap.upper()}" in found.describe()
