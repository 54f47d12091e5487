"""What ``bench perf`` prints, one function per table: engine against reference, where an MLP
step goes, distillation cached against online, and accuracy on real MNIST."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dlbench.bench.perf import measure
from dlbench.bench.perf.budget import FIXED_SECONDS, plan_case, share
from dlbench.bench.perf.cases import Case, cases, synthetic
from dlbench.bench.perf.distill import distillation_epochs, distillation_flop_bound
from dlbench.bench.perf.machine import PEAK_DRIFT, Peaks, busy_reason, measure_peaks, share_of_peak
from dlbench.bench.perf.reference import reference_speed
from dlbench.engine.capability import detect
from dlbench.engine.loop import TrainingDiverged
from dlbench.registry.catalog import Catalog
from dlbench.registry.errors import DlbenchError
from dlbench.reports.markdown import render_rows

SPEED_HEADERS = [
    "case",
    "dlbench",
    "reference img/s",
    "dlbench img/s",
    "ratio",
    "step GFLOP/s",
    "of GEMM peak",
]
BREAKDOWN_HEADERS = [
    "case",
    "dlbench step",
    "matrix products",
    "optimizer",
    "rest",
    "reference step",
    "ratio if only products + optimizer",
]
ACCURACY_HEADERS = [
    "case",
    "side",
    "val acc % per seed",
    "mean ± std",
    "vs reference, points [95% interval]",
    "img/s",
]


def markdown(rows: list[list[str]], headers: list[str]) -> str:
    """Rows as a GitHub markdown table, numbers kept as formatted."""
    return render_rows(rows, headers)


@dataclass
class CaseTiming:
    """One case's medians: the reference and each engine variant (images/s per round)."""

    case: Case
    references: list[float] = field(default_factory=list)
    engine: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    one_off_ms: float = 0.0

    def noisy(self) -> bool:
        """Whether the rounds' reference speeds spread by more than 30% (the machine moved)."""
        return len(self.references) > 1 and max(self.references) > 1.3 * min(self.references)


def variants(case: Case, bf16: bool) -> list[tuple[str, bool]]:
    """The engine variants timed for ``case``: fp32, bf16 where it is native, channels_last."""
    found = [("fp32", False)]
    if bf16:
        found.append(("bf16", False))
        if case.kind == "cnn":
            found.append(("bf16", True))
    return found


def time_case(case: Case, rounds: int, bf16: bool = True) -> CaseTiming:
    """Time ``case``'s reference and engine variants ``rounds`` times, sides alternating."""
    images, labels = synthetic(case, case.images)
    started = time.perf_counter()
    splits = measure.as_splits(case, images, labels)
    timing = CaseTiming(case, one_off_ms=1e3 * (time.perf_counter() - started))
    timing.engine = {variant: [] for variant in variants(case, bf16)}
    for _ in range(rounds):
        timing.references.append(reference_speed(case, images, labels))
        for precision, channels_last in timing.engine:
            timing.engine[precision, channels_last].append(
                measure.engine_speed(case, splits, precision, channels_last)
            )
    return timing


def speed_rows(timing: CaseTiming, peaks: Peaks) -> list[list[str]]:
    """The speed table's rows for one case: images/s, ratio, GFLOP/s, share of the GEMM peak."""
    flops = measure.step_flops(timing.case)
    reference = statistics.median(timing.references)
    rows = []
    for (precision, channels_last), measured in timing.engine.items():
        engine = statistics.median(measured)
        ratio = statistics.median(s / r for s, r in zip(measured, timing.references, strict=True))
        gflops = engine * flops / 1e9
        rows.append(
            [
                timing.case.name,
                precision + (", channels_last" if channels_last else ""),
                f"{reference:,.0f}",
                f"{engine:,.0f}",
                f"{ratio:.2f}x" + (" (noisy)" if timing.noisy() else ""),
                f"{gflops:.0f}",
                share_of_peak(gflops, peaks.best(precision)),
            ]
        )
    return rows


def breakdown_row(timing: CaseTiming) -> list[str]:
    """Where an fp32 MLP step goes: products, optimizer, the rest, against the reference."""
    parts = measure.step_breakdown(timing.case, statistics.median(timing.engine["fp32", False]))
    reference_ms = 1e3 * timing.case.batch_size / statistics.median(timing.references)
    return [
        timing.case.name,
        f"{parts.step_ms:.2f}",
        f"{parts.gemm_ms:.2f} ({parts.gemm_gflops:.0f} GFLOP/s)",
        f"{parts.optimizer_ms:.2f}",
        f"{parts.other_ms:.2f}",
        f"{reference_ms:.2f}",
        f"{parts.best_ratio(reference_ms):.2f}x",
    ]


def distillation_lines(catalog: Catalog, images: int, device: str = "cpu") -> list[str]:
    """Student epoch with cached against online teacher outputs, and the bound caching has."""
    seconds = distillation_epochs(catalog, images, device)
    cached, online = seconds["student epoch, cached"], seconds["student epoch, online"]
    lines = [f"Distillation, 0.69M student, ResNet-18-like teacher, {images} images:"]
    lines += [f"  {name}: {value:.2f} s" for name, value in seconds.items()]
    lines.append(f"  cached / online speed-up: {online / cached:.2f}x")
    lines.append(
        "  most caching can give (1 + teacher forward FLOPs / student step FLOPs): "
        f"{distillation_flop_bound(catalog):.2f}x"
    )
    return lines


@dataclass(frozen=True)
class SpeedOptions:
    """What ``bench perf`` (speed) was asked for.

    :param scale: fixed work: each case's default images times this; ``None`` to fit the
        ``budget`` instead.
    :param budget: seconds the whole run should take, when ``scale`` is not given.
    :param force: time even on a busy machine.
    :param allow_slow: time bf16 where it is not native.
    """

    scale: float | None = None
    rounds: int = 3
    cnn: bool = True
    threads: int = 1
    budget: float = 150.0
    force: bool = False
    allow_slow: bool = False
    device: str = "cpu"


def speed(catalog: Catalog, options: SpeedOptions) -> None:
    """Time every case side by side and print images/s, ratios, GFLOP/s and where steps go."""
    busy = busy_reason()
    if busy and not options.force:
        raise DlbenchError(
            f"the machine is busy ({busy}): figures would mean little; wait, or pass --force "
            "to time anyway (the figures are then marked unreliable)"
        )
    started = time.perf_counter()
    capability = detect(torch.device(options.device))
    bf16 = capability.bf16_fast or options.allow_slow
    peaks = measure_peaks(bf16=bf16, device=options.device)
    print(_header(capability.describe(), peaks, bf16, options, busy), flush=True)
    rows, breakdowns, notes = _time_cases(catalog, options, peaks, bf16)
    peaks = measure_peaks(peaks, bf16=bf16, device=options.device)
    print(f"\n{markdown(rows, SPEED_HEADERS)}" if rows else "\nno case timed")
    if peaks.drift() > PEAK_DRIFT:
        measured = ", ".join(f"{p:.0f}" for p in peaks.fp32)
        print(
            f"\nUNRELIABLE: the fp32 GEMM peak moved {100 * peaks.drift():.0f}% between the start "
            f"and the end ({measured} GFLOP/s): the machine's load changed while timing"
        )
    print("\n" + "\n".join(notes))
    if breakdowns:
        print(
            "\nWhere an fp32 MLP step goes "
            "(ms per batch; matrix products and optimizer each timed alone):\n"
        )
        print(markdown(breakdowns, BREAKDOWN_HEADERS))
    if options.cnn:
        images = 256 if options.scale is None else max(256, int(512 * options.scale))
        print("\n" + "\n".join(distillation_lines(catalog, images, options.device)))
    print(f"\ntook {time.perf_counter() - started:.0f} s")


def _header(device: str, peaks: Peaks, bf16: bool, options: SpeedOptions, busy: str) -> str:
    lines = [
        f"{device}; threads {options.threads}; GEMM peak measured now: fp32 "
        f"{peaks.best('fp32'):.0f} GFLOP/s"
        + (f", bf16 {peaks.best('bf16'):.0f} GFLOP/s" if bf16 else "")
        + f"; medians of up to {options.rounds} round(s), sides alternating"
    ]
    if busy:
        lines.append(f"UNRELIABLE: timed on a busy machine ({busy})")
    if not bf16:
        lines.append(
            "bf16 cases skipped: this CPU has no native bf16 (AVX-512-BF16 or AMX) and runs it "
            "many times slower than fp32; --allow-slow times them anyway"
        )
    return "\n".join(lines)


def _time_cases(
    catalog: Catalog, options: SpeedOptions, peaks: Peaks, bf16: bool
) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Each case planned (to the budget, or scaled), timed, and turned into table rows."""
    rows, breakdowns, one_off, skipped = [], [], [], []
    every = cases(catalog, options.scale or 1.0, options.device)
    chosen = [c for c in every if options.cnn or c.kind != "cnn"]
    deadline = time.perf_counter() + options.budget - FIXED_SECONDS
    for index, case in enumerate(chosen, start=1):
        rounds = options.rounds
        if options.scale is None:
            seconds = share(case, deadline - time.perf_counter(), chosen[index - 1 :])
            planned = plan_case(case, seconds, options.rounds, len(variants(case, bf16)))
            if planned.skipped:
                skipped.append(f"skipped {case.name}: {planned.skipped}")
                print(f"[{index}/{len(chosen)}] {case.name}: skipped", flush=True)
                continue
            case, rounds = planned.case, planned.rounds
        print(
            f"[{index}/{len(chosen)}] {case.name}: {case.images} images, {rounds} round(s)",
            flush=True,
        )
        timing = time_case(case, rounds, bf16)
        one_off.append(f"{case.name}: {timing.one_off_ms:.0f} ms")
        rows += speed_rows(timing, peaks)
        if case.kind == "mlp" and case.device == "cpu":
            breakdowns.append(breakdown_row(timing))
    one_off_note = (
        "One-off, not in the figures above: the images as one resident uint8 tensor with their "
        "channel statistics (" + "; ".join(one_off) + "); one warm-up step per side."
    )
    notes = [*skipped, one_off_note]
    return rows, breakdowns, notes


def accuracy(
    catalog: Catalog, data_root: Path, download: bool, epochs: int, seeds: int, threads: int
) -> None:
    """Train the reference and the engine (fp32, bf16) on real MNIST; print accuracy and speed."""
    from dlbench.bench.perf.accuracy import compare_accuracy, difference, load_mnist
    from dlbench.reports.formatting import format_values

    splits = load_mnist(catalog, data_root, download)
    print(
        f"threads {threads}; real MNIST from {data_root}: {len(splits.train):,} training, "
        f"{len(splits.val):,} validation images; {epochs} epoch(s), seeds 0-{seeds - 1}; "
        "batch 64, Adam lr 1e-3\n",
        flush=True,
    )
    rows = []
    for case in cases(catalog, 1.0):
        if case.kind != "mlp":
            continue
        try:
            results = compare_accuracy(case, splits, epochs, seeds)
        except TrainingDiverged as exc:
            raise DlbenchError(f"{case.name}: {exc}") from exc
        reference = results[0]
        for result in results:
            change = difference(result, reference)
            verdict = ""
            if result is not reference:
                verdict = (
                    f"{100 * change.mean:+.2f} [{100 * change.low:+.2f}, {100 * change.high:+.2f}]"
                    + (" same within seed noise" if change.within_noise else " DIFFERS")
                )
            rows.append(
                [
                    case.name,
                    result.variant,
                    " ".join(f"{100 * value:.2f}" for value in result.accuracies),
                    format_values("val_acc", result.accuracies),
                    verdict,
                    f"{statistics.fmean(result.images_per_second):,.0f}",
                ]
            )
            print("  ".join(rows[-1]), flush=True)
    print("\n" + markdown(rows, ACCURACY_HEADERS))
