"""Facts about this machine that the matrix language and the runner both read."""

from __future__ import annotations

import os


def machine_memory() -> int | None:
    """Physical memory in bytes, or ``None`` where it cannot be read."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None
