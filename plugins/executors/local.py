"""The default executor: cells run in this process, one after another."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from registry import Cell, CellRecord, ExecutorSpec, hookimpl
from registry.run import CellJob


class LocalExecutor:
    """Runs each cell in order in the calling process."""

    def __init__(self, **options: Any) -> None:
        del options  # nothing to configure

    def run(
        self, cells: Sequence[Cell], execute: Callable[[Cell], CellRecord], job: CellJob
    ) -> Iterator[CellRecord]:
        """Yield each cell's record as soon as it finishes."""
        for cell in cells:
            yield execute(cell)


@hookimpl
def dlbench_register_executors(register):  # type: ignore[no-untyped-def]
    """Register ``local``."""
    register(ExecutorSpec("local", LocalExecutor, "run cells in this process, one at a time"))
