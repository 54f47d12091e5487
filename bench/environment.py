"""What a record says about where it ran: versions, device, threads, git revision."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from dlbench.registry.manager import dlbench_version

PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "pluggy")


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


def capture_environment(device: torch.device, threads: int, source_dir: Path) -> dict[str, Any]:
    """The environment of this run, stored with every record it produces."""
    versions: dict[str, str | None] = {
        "python": platform.python_version(),
        "dlbench": dlbench_version(),
    }
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    device_name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    return {
        "versions": versions,
        "device": str(device),
        "device_name": device_name,
        "threads": threads,
        "platform": platform.platform(),
        "executable": sys.executable,
        "git_revision": git_revision(source_dir),
    }
