"""Build one experiment table from stored records: a pure function, no training, no plugins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dlbench.registry.cell import Cell
from dlbench.reports.leaderboard import build_leaderboard, leaderboard_rows
from dlbench.reports.manifest import ExperimentEntry, TableSpec
from dlbench.reports.metric_table import build_metric_table
from dlbench.reports.model_card import build_model_card, model_rows
from dlbench.reports.table import RecordView, Table


def build_table(
    spec: TableSpec,
    cells: Sequence[Cell],
    view: RecordView,
    experiments: Mapping[str, ExperimentEntry] | None = None,
) -> Table:
    """The table ``spec`` describes over ``cells`` (an experiment's), from ``view``'s records.

    A ``metric`` table lays a metric out by rows and columns, a ``model_card`` lists each
    model's blocks, parameters and conv layers, and a ``leaderboard`` has a row per
    configuration of ``spec.experiments`` (looked up in ``experiments``) and a column per metric.
    """
    if spec.kind == "model_card":
        if spec.experiments:
            models = leaderboard_rows(spec, experiments or {}, by_model=True)
            return build_model_card(spec, models, view)
        return build_model_card(spec, model_rows(spec, cells), view)
    if spec.kind == "leaderboard":
        return build_leaderboard(spec, experiments or {}, view)
    return build_metric_table(spec, cells, view)
