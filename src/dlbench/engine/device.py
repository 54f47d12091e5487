"""Device choice, thread count and seeding for a cell."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from dlbench.registry.errors import DlbenchError

DEVICE_POLICIES = ("auto", "cpu", "cuda")


def resolve_device(policy: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cuda`` without a GPU is an error."""
    if policy not in DEVICE_POLICIES:
        raise DlbenchError(f"unknown device {policy!r}; choices: {', '.join(DEVICE_POLICIES)}")
    if policy == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if policy == "cuda" and not torch.cuda.is_available():
        raise DlbenchError("--device cuda was asked for but no CUDA device is available")
    return torch.device(policy)


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (default: the available cores) and return the value in use."""
    torch.set_num_threads(threads or available_cores())
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) for one cell."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
