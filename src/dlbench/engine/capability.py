"""What a training device does fast: its instruction set or compute capability, and whether
bfloat16 runs natively there. Recorded with every result and in ``bench perf``'s header; a
precision the device cannot run fast is refused unless the user asks for it."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

#: x86 feature flags (``/proc/cpuinfo``) that make bfloat16 matrix products native.
X86_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: The CUDA compute capability from which bfloat16 and TF32 run on tensor cores (Ampere).
CUDA_BF16_MAJOR = 8
#: oneDNN's instruction-set cap (``ONEDNN_MAX_CPU_ISA``): these values keep it below
#: AVX-512-BF16, so bfloat16 products are emulated even where the CPU has native ones.
ONEDNN_ISA_ENV = "ONEDNN_MAX_CPU_ISA"
ONEDNN_BELOW_BF16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


@dataclass(frozen=True)
class Capability:
    """A device's speed-relevant traits.

    :param device: ``cpu`` or ``cuda``.
    :param name: the CPU model or the GPU's name.
    :param isa: the CPU instruction set torch's kernels use (``AVX512``, ``AVX2``, ...) or, on a
        GPU, its compute capability (``9.0``).
    :param bf16_fast: bfloat16 runs natively (AVX-512-BF16 or AMX; tensor cores on a GPU).
    :param tf32: TF32 tensor cores (GPU), ``None`` on the CPU.
    :param features: the flags the verdict rests on (``avx512_bf16``, ...).
    """

    device: str
    name: str
    isa: str
    bf16_fast: bool
    tf32: bool | None = None
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for records."""
        return asdict(self)

    def describe(self) -> str:
        """One line: ``CPU AMD EPYC, AVX512 with avx512_bf16 (bf16 native)``."""
        kind = "GPU" if self.device == "cuda" else "CPU"
        flags = f" with {', '.join(self.features)}" if self.features else ""
        verdict = "bf16 native" if self.bf16_fast else "no native bf16"
        return f"{kind} {self.name}, {self.isa}{flags} ({verdict})"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``); empty where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_name() -> str:
    """The CPU's model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect(device: torch.device) -> Capability:
    """The capability of ``device`` as this process sees it."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        fast = major >= CUDA_BF16_MAJOR
        return Capability(
            "cuda", torch.cuda.get_device_name(device), f"{major}.{minor}", fast, tf32=fast
        )
    flags = cpu_flags()
    native = tuple(flag for flag in X86_BF16_FLAGS if flag in flags)
    if platform.machine().lower() in ("aarch64", "arm64") and "bf16" in flags:
        native = ("bf16",)
    if not flags:  # no flags to read: trust oneDNN's own check
        fast = bool(torch.backends.mkldnn.is_available()) and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    else:
        fast = bool(native)
    capped = os.environ.get(ONEDNN_ISA_ENV, "").strip().upper()
    if fast and capped in ONEDNN_BELOW_BF16:
        fast, native = False, (*native, f"{ONEDNN_ISA_ENV}={capped}")
    return Capability(
        "cpu", cpu_name(), torch.backends.cpu.get_cpu_capability(), fast, None, native
    )


@cache
def bf16_slowdown(size: int = 256, repeats: int = 3) -> float:
    """How many times slower a bfloat16 matrix product of ``size`` squared is than an fp32 one
    on this CPU, measured once per process (a fraction of a second even where bf16 is emulated).
    A figure for messages: decisions rest on ``detect``, which does not vary run to run."""
    import time

    timings = {}
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(size, size, dtype=dtype)
        b = torch.randn(size, size, dtype=dtype)
        torch.mm(a, b)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        timings[dtype] = (time.perf_counter() - started) / repeats
    return timings[torch.bfloat16] / timings[torch.float32]
