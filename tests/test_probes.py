"""Probes: diagnostics that observe training without changing a cell's identity."""

from __future__ import annotations

import io
import json

import pytest
import torch
from helpers import toy_splits
from torch import nn

from dlbench import DlbenchError, Param, ProbeSpec, hookimpl
from dlbench.bench.matrix import load_matrix
from dlbench.bench.results.report_files import write_report
from dlbench.bench.results.store import ResultStore
from dlbench.bench.run.progress import LineProgress
from dlbench.bench.run.runner import run_matrix
from dlbench.bench.run.services import RunSettings
from dlbench.engine.loop import FitConfig, fit
from dlbench.plugins.probes.grad_norms import GradientNorms


class CountingProbe:
    """Counts the steps it observed."""

    def __init__(self, every: int) -> None:
        self.steps = frozenset(range(every, 1000, every))
        self.seen: list[int] = []

    def observe(self, model, step, epoch) -> None:
        self.seen.append(step)

    def result(self) -> dict:
        return {"seen": self.seen}


class CountingProbePlugin:
    @hookimpl
    def dlbench_register_probes(self, register):
        register(
            ProbeSpec(
                name="counter",
                create=CountingProbe,
                description="counts steps",
                params={"every": Param(2, int, minimum=1)},
            )
        )


def test_grad_norms_records_each_layer_at_the_chosen_steps() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    probe = GradientNorms((1, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, toy_splits(), optimizer, FitConfig(2, 32, 64, 0), probes=[probe])
    steps = probe.result()["panels"]
    assert list(steps) == ["1", "3"]
    assert [name for name, _ in steps["1"]] == ["0", "2", "4"]
    assert all(norm > 0 for _, norm in steps["1"])


MATRIX = """\
name: probed
defaults:
  dataset: {name: digits, train_subset: 128}
  strategy: {name: plain, epochs: 1, batch_size: 32}
experiments:
  plain_only:
    model: {name: mlp, hidden: 16}
  probed:
    model: {name: [mlp, residual_mlp], hidden: 16, depth: 4}
    probes: {grad_norms: {steps: [1, 2]}, counter: {every: 2}}
"""


def run(catalog, path, out):
    matrix = load_matrix(path, catalog)
    store = ResultStore.open(out, matrix.name)
    settings = RunSettings(torch.device("cpu"), out, download=False, threads=1)
    return run_matrix(matrix, store, catalog, settings, LineProgress(io.StringIO())), store


def test_probe_results_are_stored_and_plotted(make_catalog, write_matrix, tmp_path) -> None:
    catalog = make_catalog(counter=CountingProbePlugin())
    summary, store = run(catalog, write_matrix(MATRIX), tmp_path / "out")
    assert summary.ran == 3 and not summary.failed
    probed = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    with_probes = [r for r in probed if r["probes"]]
    assert len(with_probes) == 2
    for record in with_probes:
        assert record["probes"]["counter"]["seen"] == [2, 4]  # 128 * 0.8 / 32 = 4 steps
        assert set(record["probes"]["grad_norms"]["panels"]) == {"1", "2"}
    markdown = write_report(store)
    assert "![Gradient norm by layer depth](plots/probed-grad-norms.png)" in markdown
    assert "plots/plain_only" not in markdown
    assert (tmp_path / "out" / "plots" / "probed-grad-norms.png").read_bytes()[:4] == b"\x89PNG"


def test_probes_do_not_change_identity_but_a_new_probe_reruns(
    make_catalog, write_matrix, tmp_path
) -> None:
    catalog = make_catalog(counter=CountingProbePlugin())
    without = MATRIX.replace("    probes: {grad_norms: {steps: [1, 2]}, counter: {every: 2}}\n", "")
    first = load_matrix(write_matrix(without), catalog).unique_cells()
    second = load_matrix(write_matrix(MATRIX), catalog).unique_cells()
    assert [c.id for c in first] == [c.id for c in second]
    run(catalog, write_matrix(without), tmp_path / "out")
    summary, _ = run(catalog, write_matrix(MATRIX), tmp_path / "out")
    assert (summary.ran, summary.reused) == (2, 1)


@pytest.mark.parametrize(
    ("probes", "pattern"),
    [
        ("{grad_nroms: {}}", r"unknown probe 'grad_nroms'; did you mean 'grad_norms'"),
        ("{grad_norms: {steps: [0]}}", r"probe 'grad_norms' parameter 'steps'"),
        ("{grad_norms: {stride: 2}}", r"unknown parameter 'stride' for probe 'grad_norms'"),
        ("[grad_norms]", r"expected a mapping of probe name to parameters"),
    ],
    ids=["unknown", "bad-value", "unknown-param", "not-a-mapping"],
)
def test_bad_probes_are_located_errors(catalog, write_matrix, probes, pattern) -> None:
    path = write_matrix(
        MATRIX.replace("{grad_norms: {steps: [1, 2]}, counter: {every: 2}}", probes)
    )
    with pytest.raises(DlbenchError, match=pattern) as info:
        load_matrix(path, catalog)
    assert str(info.value).startswith(f"{path}:")
