"""``--set`` overrides: every key a matrix file accepts, and did-you-mean for misspelt keys."""

from __future__ import annotations

import pytest


def _load(write_matrix, catalog, text, *overrides):
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.matrix.overrides import parse_override

    return load_matrix(write_matrix(text), catalog, [parse_override(o) for o in overrides])


CROSSED = """\
name: crossed
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: plain, epochs: 1}
experiments:
  e:
    model: {name: [mlp, residual_mlp], hidden: 8}
    tables:
      - {rows: model.name, metric: val_acc}
"""


def test_set_reaches_a_per_name_block(write_matrix, catalog) -> None:
    matrix = _load(write_matrix, catalog, CROSSED, "model.residual_mlp.depth=3")
    depths = {c.model.name: c.model.params["depth"] for c in matrix.unique_cells()}
    assert depths == {"mlp": 2, "residual_mlp": 3}
    one = _load(write_matrix, catalog, CROSSED, "experiments.e.model.mlp.depth=4")
    assert {c.model.name: c.model.params["depth"] for c in one.unique_cells()}["mlp"] == 4


def test_set_reaches_repeats_titles_and_probes(write_matrix, catalog) -> None:
    matrix = _load(
        write_matrix,
        catalog,
        CROSSED,
        "repeats=2",
        "experiments.e.title=Crossed names",
        "probes.grad_norms.steps=[1, 2]",
    )
    assert sorted({c.seed for c in matrix.unique_cells()}) == [0, 1]
    (experiment,) = matrix.experiments
    assert experiment.title == "Crossed names"
    (probe,) = experiment.probes
    assert probe.name == "grad_norms" and probe.params["steps"] == [1, 2]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "strategy.epoch=1",
            "'epoch' is not a parameter of any experiment's strategy; did you mean 'epochs'?",
        ),
        ("modle.hidden=8", "unknown key 'modle.hidden'; did you mean 'model.hidden'?"),
        ("experiments.ex1.1.model.hidden=8", "experiment names have no dots"),
        ("model.cnn.channels=[8]", "'cnn' is not a name on any experiment's model axis"),
        (
            "experiments.e.strategy.lrr=0.1",
            "unknown parameter 'lrr' for strategy 'plain'; did you mean 'lr'?",
        ),
        ("repeats=0", "expected a number of runs between 1 and 1000"),
    ],
)
def test_a_misspelt_set_key_gets_a_did_you_mean(bench, write_matrix, override, expected) -> None:
    result = bench("run", "--matrix", write_matrix(CROSSED), "--set", override, "--dry-run")
    assert result.code == 2
    assert expected in result.err, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("wrong", "right"), [("seed: 1", "seeds"), ("modle: mlp", "model"), ("table: []", "tables")]
)
def test_a_misspelt_structural_key_gets_a_did_you_mean(bench, write_matrix, wrong, right) -> None:
    text = CROSSED.replace("    tables:\n", f"    {wrong}\n    tables:\n")
    result = bench("run", "--matrix", write_matrix(text), "--dry-run")
    assert result.code == 2
    assert f"did you mean {right!r}?" in result.err, result.err
