"""Matrix files: axes, zip, exclude, defaults, overrides, and one-line errors for bad input."""

from __future__ import annotations

import re

import inline_plugins
import pytest
from helpers import list_records
from matrix_cases import BAD_MATRICES, BASE

from dlbench import DlbenchError
from dlbench.bench.matrix import load_matrix
from dlbench.bench.matrix.overrides import parse_override


def cells_of(matrix, experiment: str = "e") -> list[dict]:
    found = next(e for e in matrix.experiments if e.name == experiment)
    return [
        {"model": c.model.name, **c.model.params, "lr": c.strategy.params["lr"], "seed": c.seed}
        for c in found.cells
    ]


def test_list_values_are_axes_and_are_crossed(catalog, write_matrix) -> None:
    matrix = load_matrix(
        write_matrix(BASE.replace("depth: [2, 3]}", "depth: [2, 3]}\n    seeds: [0, 1]")), catalog
    )
    assert [(c["depth"], c["seed"]) for c in cells_of(matrix)] == [(2, 0), (2, 1), (3, 0), (3, 1)]


def test_zip_varies_axes_together(catalog, write_matrix) -> None:
    text = BASE.replace(
        "model: {name: mlp, depth: [2, 3]}",
        "model: {name: mlp, depth: [2, 3]}\n    strategy: {name: plain, lr: [0.1, 0.01]}\n"
        "    zip: [[model.depth, strategy.lr]]",
    )
    matrix = load_matrix(write_matrix(text), catalog)
    assert [(c["depth"], c["lr"]) for c in cells_of(matrix)] == [(2, 0.1), (3, 0.01)]


def test_exclude_drops_matching_combinations(catalog, write_matrix) -> None:
    text = BASE.replace(
        "model: {name: mlp, depth: [2, 3]}",
        "model: {name: [mlp, residual_mlp], depth: [2, 3]}\n"
        "    exclude: [{model.name: residual_mlp, model.depth: 2}]",
    )
    matrix = load_matrix(write_matrix(text), catalog)
    assert [(c["model"], c["depth"]) for c in cells_of(matrix)] == [
        ("mlp", 2),
        ("mlp", 3),
        ("residual_mlp", 3),
    ]


def test_experiment_values_override_defaults_and_defaults_are_resolved(
    catalog, write_matrix
) -> None:
    text = BASE.replace("model: {name: mlp, depth: [2, 3]}", "model: mlp\n    strategy: {lr: 0.5}")
    cell = load_matrix(write_matrix(text), catalog).experiments[0].cells[0]
    assert cell.strategy.name == "plain"
    assert cell.strategy.params["lr"] == 0.5
    assert cell.strategy.params["epochs"] == 1
    assert cell.model.params == {"depth": 2, "hidden": 512, "activation": "relu"}


def test_explicit_default_and_omitted_default_are_the_same_cell(catalog, write_matrix) -> None:
    implicit = load_matrix(write_matrix(BASE), catalog)
    explicit = load_matrix(
        write_matrix(BASE.replace("depth: [2, 3]}", "depth: [2, 3], hidden: 512}")), catalog
    )
    assert [c.id for c in implicit.unique_cells()] == [c.id for c in explicit.unique_cells()]


def test_identity_depends_on_plugin_version(catalog, write_matrix) -> None:
    from dataclasses import replace

    cell = load_matrix(write_matrix(BASE), catalog).experiments[0].cells[0]
    bumped = replace(cell, model=replace(cell.model, version="99.0"))
    assert bumped.id != cell.id
    assert replace(cell, seed=1).id != cell.id


def test_yaml_float_spelling_is_accepted(catalog, write_matrix) -> None:
    # YAML 1.1 reads 1e-3 as a string; a float parameter takes it as the number meant.
    text = BASE.replace("{name: plain, epochs: 1}", "{name: plain, epochs: 1, lr: 1e-3}")
    cell = load_matrix(write_matrix(text), catalog).experiments[0].cells[0]
    assert cell.strategy.params["lr"] == 0.001


def test_same_cell_in_two_experiments_is_one_unique_cell(catalog, write_matrix) -> None:
    text = BASE + "  f:\n    model: {name: mlp, depth: 3}\n"
    matrix = load_matrix(write_matrix(text), catalog)
    assert len(matrix.unique_cells()) == 2
    assert matrix.experiments[1].cells[0].id == matrix.experiments[0].cells[1].id


def test_overrides_apply_to_every_experiment_or_one(catalog, write_matrix) -> None:
    text = BASE + "  f:\n    model: {name: mlp, depth: 4}\n"
    matrix = load_matrix(
        write_matrix(text),
        catalog,
        [parse_override("strategy.lr=0.25"), parse_override("experiments.f.model.depth=[5, 6]")],
    )
    assert {c["lr"] for c in cells_of(matrix)} == {0.25}
    assert [c["depth"] for c in cells_of(matrix, "f")] == [5, 6]


def test_only_selects_experiments_by_glob(catalog, write_matrix) -> None:
    text = BASE + "  other:\n    model: mlp\n"
    matrix = load_matrix(write_matrix(text), catalog, only=["oth*"])
    assert [e.name for e in matrix.experiments] == ["other"]


def test_impossible_cell_reached_by_crossing_names_is_skipped(make_catalog, write_matrix) -> None:
    catalog = make_catalog(models=inline_plugins.VectorOnlyModelPlugin())
    text = BASE.replace("{name: mlp, depth: [2, 3]}", "{name: [mlp, vector_linear]}")
    experiment = load_matrix(write_matrix(text), catalog).experiments[0]
    assert [c.model.name for c in experiment.cells] == ["mlp"]
    assert "needs inputs with 1 dimensions" in experiment.skipped[0].reason


def test_impossible_cell_asked_for_by_name_is_an_error(make_catalog, write_matrix) -> None:
    catalog = make_catalog(models=inline_plugins.VectorOnlyModelPlugin())
    text = BASE.replace("{name: mlp, depth: [2, 3]}", "vector_linear")
    with pytest.raises(DlbenchError, match=r"impossible cell: model 'vector_linear' needs inputs"):
        load_matrix(write_matrix(text), catalog)


# Each case: (matrix text or a replacement applied to BASE, line expected, message pattern).


@pytest.mark.parametrize("case", list(BAD_MATRICES), ids=list(BAD_MATRICES))
def test_bad_matrix_is_a_one_line_located_error(case: str, catalog, write_matrix) -> None:
    text, line, pattern = BAD_MATRICES[case]
    path = write_matrix(text)
    with pytest.raises(DlbenchError) as info:
        load_matrix(path, catalog)
    message = str(info.value)
    assert "\n" not in message
    assert re.search(pattern, message), message
    assert message.startswith(f"{path}:{line}:" if line else str(path)), message


BAD_OVERRIDES = {
    "no-equals": ("strategy.epochs", r"expected KEY=VALUE"),
    "unknown-section": ("optimizer.lr=1", r"unknown key 'optimizer\.lr'"),
    "bad-yaml": ("strategy.lr=[1", r"not valid YAML"),
}


@pytest.mark.parametrize("case", list(BAD_OVERRIDES), ids=list(BAD_OVERRIDES))
def test_bad_override_is_a_one_line_error(case: str) -> None:
    text, pattern = BAD_OVERRIDES[case]
    with pytest.raises(DlbenchError, match=pattern):
        parse_override(text)


def test_override_with_a_bad_value_names_the_option(catalog, write_matrix) -> None:
    with pytest.raises(
        DlbenchError, match=r"^--set strategy\.epochs=0: .*expected an integer >= 1"
    ):
        load_matrix(write_matrix(BASE), catalog, [parse_override("strategy.epochs=0")])


def test_override_of_unknown_experiment(catalog, write_matrix) -> None:
    with pytest.raises(DlbenchError, match=r"no experiment 'x'; experiments: e"):
        load_matrix(write_matrix(BASE), catalog, [parse_override("experiments.x.model.depth=2")])


def test_only_matching_nothing_lists_experiments(catalog, write_matrix) -> None:
    with pytest.raises(DlbenchError, match=r"--only zz\* matches no experiment; experiments: e"):
        load_matrix(write_matrix(BASE), catalog, only=["zz*"])


def test_missing_matrix_file(catalog, tmp_path) -> None:
    with pytest.raises(DlbenchError, match="no such file"):
        load_matrix(tmp_path / "nope.yaml", catalog)


def test_table_rows_survive_an_override_that_narrows_the_axis(catalog, write_matrix) -> None:
    text = BASE + "    tables: [{rows: model.depth, metric: val_acc}]\n"
    matrix = load_matrix(write_matrix(text), catalog, [parse_override("model.depth=3")])
    assert [c.model.params["depth"] for c in matrix.experiments[0].cells] == [3]
    assert matrix.experiments[0].tables[0].rows == "model.depth"


def test_repeats_derive_seeds(catalog, write_matrix) -> None:
    matrix = load_matrix(write_matrix(BASE + "    repeats: 3\n"), catalog)
    assert [(c["depth"], c["seed"]) for c in cells_of(matrix)] == [
        (2, 0),
        (2, 1),
        (2, 2),
        (3, 0),
        (3, 1),
        (3, 2),
    ]
    for text, pattern in (
        ("    repeats: 0\n", "expected a number of runs between 1 and 1000"),
        ("    repeats: 2\n    seeds: [1]\n", "seeds or repeats, not both"),
    ):
        with pytest.raises(DlbenchError, match=pattern):
            load_matrix(write_matrix(BASE + text), catalog)


SMOOTH_PLUGIN = """\
import torch.nn.functional as F

import dlbench


def run(cell, context):
    smoothing = cell.strategy.params["smoothing"]

    def loss(logits, batch):
        return F.cross_entropy(logits, batch.targets, label_smoothing=smoothing), {}

    splits = context.load_dataset()
    model = context.build_model(splits)
    return context.fit(model, splits, context.optimizer(model.parameters()), loss_fn=loss)


@dlbench.hookimpl
def dlbench_register_strategies(register):
    smoothing = dlbench.Param(0.1, float, minimum=0, maximum=1)
    params = {**dlbench.TRAINING_PARAMS, "smoothing": smoothing}
    register(dlbench.StrategySpec(
        name="label_smooth", run=run, description="label smoothing", params=params
    ))
"""


CROSSED = """\
name: crossed
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 16}
experiments:
  e:
    strategy: {name: [plain, label_smooth], epochs: 1, label_smooth: {smoothing: 0.1}}
    tables:
      - {rows: model.name, columns: strategy.name, metric: val_acc}
"""


def test_a_plugin_only_parameter_sits_in_a_block_on_a_crossed_name_axis(
    bench, install, write_matrix, tmp_path
) -> None:
    install("smooth", SMOOTH_PLUGIN)
    result = bench("run", "--matrix", write_matrix(CROSSED), "--out", tmp_path / "o")
    assert result.code == 0, result.err
    header = next(line for line in result.out.splitlines() if "plain" in line)
    assert "label_smooth" in header
    strategies = {r["cell"]["strategy"]["name"]: r for r in list_records(tmp_path / "o")}
    assert strategies["label_smooth"]["cell"]["strategy"]["params"]["smoothing"] == 0.1
    assert "smoothing" not in strategies["plain"]["cell"]["strategy"]["params"]
    bad = write_matrix(CROSSED.replace("smoothing: 0.1", "smoothing: 2"), name="bad.yaml")
    refused = bench("run", "--matrix", bad, "--out", tmp_path / "o2")
    assert refused.code == 2
    assert "bad.yaml:7: experiments.e.strategy.label_smooth.smoothing:" in refused.err
    assert "between 0 and 1, got 2" in refused.err
