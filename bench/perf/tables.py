"""What ``bench perf`` prints, one function per table: engine against reference, where an MLP
step goes, distillation cached against online, and accuracy on real MNIST."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tabulate import tabulate

from dlbench.bench.perf import measure
from dlbench.bench.perf.cases import Case, cases, synthetic
from dlbench.bench.perf.distill import distillation_epochs, distillation_flop_bound
from dlbench.bench.perf.reference import reference_speed
from dlbench.engine.loop import TrainingDiverged
from dlbench.registry.catalog import Catalog
from dlbench.registry.errors import DlbenchError

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
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)


@dataclass
class CaseTiming:
    """One case's medians: the reference and each engine variant (images/s per round)."""

    case: Case
    references: list[float] = field(default_factory=list)
    engine: dict[tuple[str, bool], list[float]] = field(default_factory=dict)
    one_off_ms: float = 0.0


def time_case(case: Case, rounds: int) -> CaseTiming:
    """Time ``case``'s reference and engine variants ``rounds`` times, sides alternating."""
    images, labels = synthetic(case, case.images)
    started = time.perf_counter()
    splits = measure.as_splits(case, images, labels)
    timing = CaseTiming(case, one_off_ms=1e3 * (time.perf_counter() - started))
    variants = [("fp32", False), ("bf16", False)]
    if case.kind == "cnn":
        variants.append(("bf16", True))
    timing.engine = {variant: [] for variant in variants}
    for _ in range(rounds):
        timing.references.append(reference_speed(case, images, labels))
        for precision, channels_last in variants:
            timing.engine[precision, channels_last].append(
                measure.engine_speed(case, splits, precision, channels_last)
            )
    return timing


def speed_rows(timing: CaseTiming, peaks: dict[str, float]) -> list[list[str]]:
    """The speed table's rows for one case: images/s, ratio, GFLOP/s, share of the GEMM peak."""
    flops = measure.step_flops(timing.case)
    reference = statistics.median(timing.references)
    rows = []
    for (precision, channels_last), measured in timing.engine.items():
        engine = statistics.median(measured)
        ratio = statistics.median(s / r for s, r in zip(measured, timing.references, strict=True))
        rows.append(
            [
                timing.case.name,
                precision + (", channels_last" if channels_last else ""),
                f"{reference:,.0f}",
                f"{engine:,.0f}",
                f"{ratio:.2f}x",
                f"{engine * flops / 1e9:.0f}",
                f"{100 * engine * flops / 1e9 / peaks[precision]:.0f}%",
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


def distillation_lines(catalog: Catalog, scale: float) -> list[str]:
    """Student epoch with cached against online teacher outputs, and the bound caching has."""
    student_images = max(256, int(512 * scale))
    seconds = distillation_epochs(catalog, student_images)
    cached, online = seconds["student epoch, cached"], seconds["student epoch, online"]
    lines = [f"Distillation, 0.69M student, ResNet-18-like teacher, {student_images} images:"]
    lines += [f"  {name}: {value:.2f} s" for name, value in seconds.items()]
    lines.append(f"  cached / online speed-up: {online / cached:.2f}x")
    lines.append(
        "  most caching can give (1 + teacher forward FLOPs / student step FLOPs): "
        f"{distillation_flop_bound(catalog):.2f}x"
    )
    return lines


def speed(catalog: Catalog, scale: float, rounds: int, cnn: bool, threads: int) -> None:
    """Time every case side by side and print images/s, ratios, GFLOP/s and where steps go."""
    peaks = {"fp32": measure.gemm_peak(), "bf16": measure.gemm_peak(torch.bfloat16)}
    print(
        f"threads {threads}; GEMM peak measured now: fp32 {peaks['fp32']:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16']:.0f} GFLOP/s; medians of {rounds} round(s), sides alternating\n",
        flush=True,
    )
    rows, breakdowns, one_off = [], [], []
    for case in cases(catalog, scale):
        if not cnn and case.kind == "cnn":
            continue
        timing = time_case(case, rounds)
        one_off.append(f"{case.name}: {timing.one_off_ms:.0f} ms")
        for row in speed_rows(timing, peaks):
            rows.append(row)
            print("  ".join(row), flush=True)
        if case.kind == "mlp":
            breakdowns.append(breakdown_row(timing))
    print("\n" + markdown(rows, SPEED_HEADERS))
    print(
        "\nOne-off, not in the figures above: the images as one resident uint8 tensor with their "
        "channel statistics (" + "; ".join(one_off) + "); one warm-up step per side."
    )
    if breakdowns:
        print(
            "\nWhere an fp32 MLP step goes "
            "(ms per batch; matrix products and optimizer each timed alone):\n"
        )
        print(markdown(breakdowns, BREAKDOWN_HEADERS))
    if cnn:
        print("\n" + "\n".join(distillation_lines(catalog, scale)))


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
