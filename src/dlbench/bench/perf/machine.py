"""Is the machine quiet enough to time on? Other runnable processes at the start, and the GEMM
peak measured before and after, say whether figures can be trusted."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dlbench.bench.perf.measure import gemm_peak
from dlbench.engine.device import available_cores

#: Peaks measured before and after that differ by more than this make the figures unreliable.
PEAK_DRIFT = 0.25


def runnable_others(samples: int = 10, interval: float = 0.05) -> float:
    """The median number of other processes ready to run (Linux ``/proc/loadavg``), or the
    one-minute load average where that cannot be read."""
    counts = []
    for _ in range(samples):
        try:
            running = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
        except (OSError, IndexError):
            return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        counts.append(max(0, int(running) - 1))  # this process is one of them
        time.sleep(interval)
    return float(statistics.median(counts))


def busy_reason(others: float | None = None) -> str:
    """Why the machine is too busy to time on, or ``""``: other work wanting half its cores."""
    cores = available_cores()
    others = runnable_others() if others is None else others
    if others >= max(1.0, cores / 2):
        return f"{others:g} other process(es) ready to run on {cores} core(s)"
    return ""


@dataclass(frozen=True)
class Peaks:
    """GEMM peaks (GFLOP/s) measured at the start and the end of a run; the higher counts."""

    fp32: tuple[float, ...]
    bf16: tuple[float, ...]

    def best(self, precision: str) -> float:
        """The highest peak measured for ``precision``."""
        return max(self.fp32 if precision == "fp32" else self.bf16)

    def drift(self) -> float:
        """How far the fp32 peaks measured apart differ, as a fraction of the highest."""
        return (max(self.fp32) - min(self.fp32)) / max(self.fp32) if self.fp32 else 0.0


def measure_peaks(earlier: Peaks | None = None, bf16: bool = True, device: str = "cpu") -> Peaks:
    """The GEMM peaks now, added to ``earlier``'s."""
    fp32 = gemm_peak(device=device)
    half = gemm_peak(torch.bfloat16, device=device) if bf16 else 0.0
    if earlier is None:
        return Peaks((fp32,), (half,))
    return Peaks((*earlier.fp32, fp32), (*earlier.bf16, half))


def share_of_peak(gflops: float, peak: float) -> str:
    """``gflops`` as a share of ``peak``; never above 100%: a rate above the measured peak means
    the peak was measured while something else ran, so the share is unknown."""
    if peak <= 0:
        return "n/a"
    if gflops > peak:
        return "above peak (unreliable)"
    return f"{100 * gflops / peak:.0f}%"
