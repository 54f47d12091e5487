"""What a record says about where it ran: versions, device, threads, git revision."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from dlbench.bench.machine import machine_memory
from dlbench.engine.capability import cpu_name, detect
from dlbench.engine.device import available_cores
from dlbench.registry.manager import dlbench_version

PACKAGES = ("torch", "torchvision", "timm", "numpy", "scikit-learn", "pluggy")


def git_revision(directory: Path) -> str | None:
    """The commit checked out at ``directory`` (``+dirty`` when modified), or ``None``."""
    try:
        revision = _git(directory, "rev-parse", "HEAD")
        dirty = _git(directory, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{revision}+dirty" if dirty else revision


def _git(directory: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, text=True, timeout=5, check=True
    )
    return completed.stdout.strip()


def capture_environment(
    device: torch.device, threads: int, source_dir: Path, command: str = ""
) -> dict[str, Any]:
    """The environment of this run, stored with every record it produces: versions, the machine
    (CPU model, cores, memory, GPU, CUDA and cuDNN), what the device does fast, the command."""
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "dlbench": dlbench_version(),
    }
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    capability = detect(device)
    cuda = torch.cuda.is_available()
    return {
        "versions": versions,
        "device": str(device),
        "device_name": capability.name,
        "capability": capability.to_json(),
        "threads": threads,
        "machine": {
            "cpu": cpu_name(),
            "cores": available_cores(),
            "memory_bytes": machine_memory(),
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if cuda
            else [],
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None,
        },
        "platform": platform.platform(),
        "executable": sys.executable,
        "command": command or " ".join(shlex.quote(arg) for arg in sys.argv),
        "git_revision": git_revision(source_dir),
    }
