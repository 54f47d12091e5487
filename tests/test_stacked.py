"""Seeds of one configuration trained together as one stacked model: each seed's first step is
its solo step, accuracies are the solo ones within seed noise, the records say so, and what
cannot stack trains one seed at a time with the reason shown."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import toy_splits
from torch import nn

from dlbench.bench.perf.accuracy import VariantResult, difference
from dlbench.engine.loop import FitConfig, fit
from dlbench.engine.stacked import fit_stacked, stack_problem
from dlbench.registry.data import DatasetSplits, Split

SEEDS = (0, 1, 2)


def model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)
    )


def one_batch() -> DatasetSplits:
    splits = toy_splits()
    train = Split(splits.train.inputs[:32], splits.train.targets[:32])
    return DatasetSplits(train, splits.val, splits.test, 2, splits.normalization)


def sgd(parameters):
    return torch.optim.SGD(parameters, lr=0.1)


def test_each_stacked_seeds_first_step_is_its_solo_step() -> None:
    splits = one_batch()
    configs = [FitConfig(1, 32, 64, seed) for seed in SEEDS]
    stacked_models = [model(seed) for seed in SEEDS]
    stacked = fit_stacked(stacked_models, splits, sgd, configs)
    for seed, trained, result in zip(SEEDS, stacked_models, stacked, strict=True):
        solo_model = model(seed)
        solo = fit(solo_model, splits, sgd(solo_model.parameters()), FitConfig(1, 32, 64, seed))
        # One SGD step: equal weights after it are equal gradients.
        for (name, a), b in zip(
            trained.state_dict().items(), solo_model.state_dict().values(), strict=True
        ):
            assert torch.allclose(a, b, atol=1e-6), name
        assert result.final["train_loss@last"] == pytest.approx(
            solo.final["train_loss@last"], rel=1e-5
        )
        assert result.final["val_acc@best"] == pytest.approx(solo.final["val_acc@best"])


def test_stacked_and_solo_accuracies_agree_within_seed_noise() -> None:
    splits = toy_splits(n=512)
    seeds = range(6)
    configs = [FitConfig(4, 32, 256, seed) for seed in seeds]
    adam = lambda parameters: torch.optim.Adam(parameters, lr=1e-2)  # noqa: E731
    stacked = fit_stacked([model(s) for s in seeds], splits, adam, configs)
    solo = []
    for seed in seeds:
        single = model(seed)
        solo.append(fit(single, splits, adam(single.parameters()), configs[seed]))
    accuracies = [tuple(r.final["val_acc@last"] for r in runs) for runs in (stacked, solo)]
    change = difference(
        VariantResult("stacked", accuracies[0], ()), VariantResult("solo", accuracies[1], ())
    )
    assert change.within_noise
    assert abs(change.mean) < 0.01


def test_what_cannot_stack_is_named() -> None:
    assert stack_problem(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))) is not None
    assert "dropout" in stack_problem(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)))
    assert stack_problem(model(0)) is None


MATRIX = """\
name: stacks
defaults:
  dataset: {name: digits, train_subset: 256}
  strategy: {name: plain, epochs: 2}
  seeds: [0, 1, 2]
experiments:
  mlps:
    model: {name: mlp, hidden: 16}
  cnns:
    model: {name: cnn, channels: [4, 8]}
  probed:
    model: {name: residual_mlp, hidden: 16}
    probes: {grad_norms: {steps: [1]}}
"""


def test_records_say_they_trained_stacked_and_dry_run_says_what_cannot(
    bench, write_matrix, tmp_path
) -> None:
    path, out = write_matrix(MATRIX), tmp_path / "o"
    dry = bench("run", "--matrix", path, "--out", out, "--stack", "on", "--dry-run")
    assert dry.out.count("stacked (seeds 0, 1, 2)") == 3
    assert "its batch norm keeps running statistics" in dry.out
    assert "probes observe one model at a time" in dry.out
    assert "stacking is off" in bench("run", "--matrix", path, "--out", out, "--dry-run").out
    result = bench("run", "--matrix", path, "--out", out, "--stack", "on")
    assert result.code == 0, result.err
    records = [json.loads(p.read_text()) for p in (out / "cells").glob("*.json")]
    assert len(records) == 9
    stacked = [r for r in records if "stacked_with" in r["environment"]]
    assert {r["cell"]["model"]["name"] for r in stacked} == {"mlp"}
    assert all(r["environment"]["stacked_with"] == [0, 1, 2] for r in stacked)
    again = bench("run", "--matrix", path, "--out", out, "--stack", "on")
    assert "0 cell(s) to run, 9 already stored" in again.err
