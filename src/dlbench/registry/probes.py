"""Probes: diagnostics that observe training at chosen steps, and how their results are drawn."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import nn


class Probe(Protocol):
    """Observes a model during training; see ``dlbench.ProbeSpec``."""

    #: Global training steps (counting from 1) after whose backward pass ``observe`` runs.
    steps: frozenset[int]

    def observe(self, model: nn.Module, step: int, epoch: int) -> None:
        """Look at the model after the backward pass of ``step``, before the optimizer step."""
        ...

    def result(self) -> dict[str, Any]:
        """What was observed, JSON-serialisable; stored in the record under the probe's name.

        A probe with a ``ProbePlot`` returns ``{"panels": {PANEL: [[X, Y], ...]}}``: one
        panel per key (a step, say), one line per cell with points ``(x, y)``; ``x`` may be a
        label (a layer name), drawn at its position.
        """
        ...


@dataclass(frozen=True, kw_only=True)
class ProbePlot:
    """How reports draw a probe's results: one line per cell, one panel per result panel.

    Reports draw it from stored records alone, so a results directory redraws its plots without
    the plugin installed.

    :param title: the figure's title (the experiment's title is put before it).
    :param x_label: the horizontal axis.
    :param y_label: the vertical axis.
    :param log_y: a logarithmic vertical axis.
    :param panel_label: text before each panel's key, e.g. ``step``.
    """

    title: str
    x_label: str
    y_label: str
    log_y: bool = False
    panel_label: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dictionary for the manifest."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbePlot:
        """Rebuild from ``to_json`` output."""
        return cls(**data)
