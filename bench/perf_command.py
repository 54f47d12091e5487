"""What ``bench perf`` prints: the speed table, the step breakdown, distillation, accuracy."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from tabulate import tabulate

from bench import perf
from bench.engine.loop import TrainingDiverged
from registry.errors import DlbenchError

EXIT_OK = 0


def _table(rows: list[list[str]], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)


def speed(scale: float, rounds: int, cnn: bool, threads: int) -> int:
    """Time every case side by side and print images/s, ratios, GFLOP/s and where steps go."""
    peak = perf.gemm_peak()
    peak_bf16 = perf.gemm_peak(torch.bfloat16)
    print(
        f"threads {threads}; GEMM peak measured now: fp32 {peak:.0f} GFLOP/s, "
        f"bf16 {peak_bf16:.0f} GFLOP/s; medians of {rounds} round(s), sides alternating\n",
        flush=True,
    )
    rows, breakdowns, one_off = [], [], []
    for case in perf.cases(scale):
        if not cnn and case.kind == "cnn":
            continue
        images, labels = perf.synthetic(case, case.images)
        started = time.perf_counter()
        splits = perf.as_splits(case, images, labels)
        one_off.append(f"{case.name}: {1e3 * (time.perf_counter() - started):.0f} ms")
        flops = perf.step_flops(case)
        variants = [("fp32", False), ("bf16", False)]
        if case.kind == "cnn":
            variants.append(("bf16", True))
        references: list[float] = []
        speeds: dict[tuple[str, bool], list[float]] = {variant: [] for variant in variants}
        for _ in range(rounds):
            references.append(perf.reference_speed(case, images, labels))
            for precision, channels_last in variants:
                speeds[precision, channels_last].append(
                    perf.engine_speed(case, splits, precision, channels_last)
                )
        reference = statistics.median(references)
        for (precision, channels_last), measured in speeds.items():
            engine = statistics.median(measured)
            ratio = statistics.median(s / r for s, r in zip(measured, references, strict=True))
            gemm = peak if precision == "fp32" else peak_bf16
            rows.append(
                [
                    case.name,
                    precision + (", channels_last" if channels_last else ""),
                    f"{reference:,.0f}",
                    f"{engine:,.0f}",
                    f"{ratio:.2f}x",
                    f"{engine * flops / 1e9:.0f}",
                    f"{100 * engine * flops / 1e9 / gemm:.0f}%",
                ]
            )
            print("  ".join(rows[-1]), flush=True)
        if case.kind == "mlp":
            parts = perf.step_breakdown(case, statistics.median(speeds["fp32", False]))
            reference_ms = 1e3 * case.batch_size / reference
            breakdowns.append(
                [
                    case.name,
                    f"{parts.step_ms:.2f}",
                    f"{parts.gemm_ms:.2f} ({parts.gemm_gflops:.0f} GFLOP/s)",
                    f"{parts.optimizer_ms:.2f}",
                    f"{parts.other_ms:.2f}",
                    f"{reference_ms:.2f}",
                    f"{parts.best_ratio(reference_ms):.2f}x",
                ]
            )
    print()
    print(
        _table(
            rows,
            [
                "case",
                "dlbench",
                "reference img/s",
                "dlbench img/s",
                "ratio",
                "step GFLOP/s",
                "of GEMM peak",
            ],
        )
    )
    print(
        "\nOne-off, not in the figures above: the images as one resident uint8 tensor with their "
        "channel statistics (" + "; ".join(one_off) + "); one warm-up step per side."
    )
    if breakdowns:
        print(
            "\nWhere an fp32 MLP step goes "
            "(ms per batch; matrix products and optimizer each timed alone):\n"
        )
        print(
            _table(
                breakdowns,
                [
                    "case",
                    "dlbench step",
                    "matrix products",
                    "optimizer",
                    "rest",
                    "reference step",
                    "ratio if only products + optimizer",
                ],
            )
        )
    if cnn:
        student_images = max(256, int(512 * scale))
        seconds = perf.distillation_epochs(student_images)
        cached, online = seconds["student epoch, cached"], seconds["student epoch, online"]
        print(f"\nDistillation, 0.69M student, ResNet-18-like teacher, {student_images} images:")
        for name, value in seconds.items():
            print(f"  {name}: {value:.2f} s")
        print(f"  cached / online speed-up: {online / cached:.2f}x")
        print(
            "  most caching can give (1 + teacher forward FLOPs / student step FLOPs): "
            f"{perf.distillation_flop_bound():.2f}x"
        )
    return EXIT_OK


def accuracy(data_root: Path, download: bool, epochs: int, seeds: int, threads: int) -> int:
    """Train the reference and the engine (fp32, bf16) on real MNIST; print accuracy and speed."""
    from bench.perf_accuracy import compare_accuracy, difference, load_mnist
    from reports.formatting import format_values

    splits = load_mnist(data_root, download)
    print(
        f"threads {threads}; real MNIST from {data_root}: {len(splits.train):,} training, "
        f"{len(splits.val):,} validation images; {epochs} epoch(s), seeds 0-{seeds - 1}; "
        "batch 64, Adam lr 1e-3\n",
        flush=True,
    )
    rows = []
    for case in perf.cases(1.0):
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
    print()
    print(
        _table(
            rows,
            [
                "case",
                "side",
                "val acc % per seed",
                "mean ± std",
                "vs reference, points [95% interval]",
                "img/s",
            ],
        )
    )
    return EXIT_OK
