"""Plugin API v1, as a plugin author meets it: mistakes caught before training, stale results
rerun when plugin code changes, strategies that change batches and gradients, and registration
mistakes named when the plugin loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import REPO, toy_splits
from torch import nn

import dlbench
from dlbench import ConformanceError
from dlbench.engine.loop import FitConfig, fit

MODEL_PLUGIN = """\
from torch import nn

import dlbench


def build(input_shape, num_classes, *, width, logits):
    # the model under test
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, logits or num_classes)
    )


@dlbench.hookimpl
def dlbench_register_models(register):
    register(
        dlbench.ModelSpec(
            name="edited",
            build=build,
            description="a model whose code a test edits",
            params={
                "width": dlbench.Param(8, int, "hidden width", minimum=1),
                "logits": dlbench.Param(None, int, "wrong on purpose", nullable=True),
            },
        )
    )
"""

MATRIX = """\
name: api
defaults:
  dataset: {name: digits, train_subset: 64}
  strategy: {name: plain, epochs: 1}
experiments:
  e:
    model: {name: edited}
    tables:
      - {rows: model.width, metric: val_acc}
"""


def stored(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))]


# -- silent wrong results ------------------------------------------------------------------------


@pytest.mark.parametrize("logits", [16, 5])
def test_a_model_with_the_wrong_output_shape_fails_its_cell_in_one_line(
    bench, install, write_matrix, tmp_path, logits
) -> None:
    install("edited_plugin", MODEL_PLUGIN)
    path = write_matrix(MATRIX.replace("name: edited}", f"name: edited, logits: {logits}}}"))
    out = tmp_path / "out"
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "will fail" in dry.out and f"({logits}" not in dry.out
    assert f"output has shape (2, {logits}), expected (batch, classes) = (2, 10)" in dry.out
    result = bench("run", "--matrix", path, "--out", out)
    assert result.code == 1
    (record,) = stored(out)
    assert record["status"] == "failed"
    assert record["error"] == (
        f"DlbenchError: model 'edited' on dataset 'digits': the model's output has shape "
        f"(2, {logits}), expected (batch, classes) = (2, 10)"
    )
    assert "failed" in (out / "report.md").read_text().split("## Failed cells")[0]


def test_edited_plugin_code_reruns_its_cells_and_comments_do_not(
    bench, install, write_matrix, tmp_path
) -> None:
    source = install("edited_plugin", MODEL_PLUGIN)
    path, out = write_matrix(MATRIX), tmp_path / "out"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    (first,) = stored(out)
    assert set(first["code"]) == {
        "edited_plugin",
        "dlbench.datasets.digits",
        "dlbench.strategies.plain",
        "dlbench.engine",
    }
    install("edited_plugin", source.read_text().replace("# the model under test", "# edited"))
    assert "0 cell(s) to run, 1 already stored" in bench("run", "--matrix", path, "--out", out).err
    install("edited_plugin", source.read_text().replace("nn.ReLU()", "nn.Tanh()"))
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "stale (code of plugin edited_plugin changed)" in dry.out
    kept = bench("run", "--matrix", path, "--out", out, "--keep-stale")
    assert kept.code == 0 and "0 cell(s) to run" in kept.err
    report = (out / "report.md").read_text()
    assert "(stale)" in report and "code of plugin edited_plugin changed since it ran" in report
    assert stored(out) == [first]
    rerun = bench("run", "--matrix", path, "--out", out)
    assert rerun.code == 0 and "1 cell(s) to run, 0 already stored" in rerun.err
    (second,) = stored(out)
    assert second["cell_id"] == first["cell_id"]  # identity is unchanged; the code is beside it
    assert second["code"]["edited_plugin"] != first["code"]["edited_plugin"]
    assert "(stale)" not in (out / "report.md").read_text()


# -- strategies that change more than the loss ----------------------------------------------------


def test_batch_transform_soft_targets_and_after_backward_hook_run_every_step() -> None:
    seen_steps: list[int] = []
    torch.manual_seed(0)
    model = nn.Linear(2, 2)

    def soften(batch: dlbench.Batch, generator: torch.Generator) -> dlbench.Batch:
        onehot = nn.functional.one_hot(batch.labels, 2).float()
        return dlbench.Batch(batch.inputs, 0.9 * onehot + 0.05, batch.indices, batch.labels)

    hooks = dlbench.TrainingHooks(
        batch_transform=soften, after_backward=lambda model, step: seen_steps.append(step)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    result = fit(model, toy_splits(), optimizer, FitConfig(5, 32, 64, 0), hooks=hooks)
    steps_per_epoch = -(-len(toy_splits().train) // 32)
    assert seen_steps == list(range(1, 5 * steps_per_epoch + 1))
    assert result.final["train_acc@last"] > 0.8  # accuracy is measured on the true labels


def test_accumulating_two_half_batches_equals_one_full_batch() -> None:
    splits = toy_splits()

    def trained(batch_size: int, accumulate: int) -> torch.Tensor:
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        config = FitConfig(1, batch_size, 64, 0)
        # One epoch over a batch order both runs share: the full split in one batch.
        fit(model, splits, optimizer, config, hooks=dlbench.TrainingHooks(accumulate=accumulate))
        return model.weight.detach().clone()

    n = len(splits.train)
    assert torch.allclose(trained(n, 1), trained(n // 2, 2), atol=1e-6)


def test_training_hooks_refuse_a_bad_accumulation() -> None:
    with pytest.raises(ValueError, match="accumulate"):
        dlbench.TrainingHooks(accumulate=0)


# -- registration mistakes -------------------------------------------------------------------------


def test_hook_functions_without_the_hookimpl_mark_are_named(bench, install) -> None:
    install(
        "unmarked",
        """\
        import dlbench

        def dlbench_register_models(register):
            register(dlbench.ModelSpec(
                name="never", build=lambda shape, classes: None, description="x"
            ))
        """,
    )
    result = bench("list", "models")
    assert result.code == 0 and "never" not in result.out
    assert "plugin 'unmarked': dlbench_register_models looks like a hook but is not marked" in (
        result.err
    )


def test_a_misspelt_hook_suggests_the_right_name(bench, install) -> None:
    install(
        "misspelt",
        """\
        import dlbench

        @dlbench.hookimpl
        def dlbench_register_modles(register):
            pass
        """,
    )
    result = bench("list", "plugins")
    assert "did you mean 'dlbench_register_models'?" in result.err
    # Not loaded, and listed as failed with the reason.
    assert not any(line.startswith("misspelt") for line in result.out.splitlines())
    assert "FAILED: " in result.out and "'misspelt'" in result.out


def test_a_plugin_whose_hook_raises_is_withdrawn_whole(bench, install) -> None:
    install(
        "half",
        """\
        import dlbench

        @dlbench.hookimpl
        def dlbench_register_models(register):
            register(dlbench.ModelSpec(
                name="half_model", build=lambda shape, classes: None, description="x"
            ))

        @dlbench.hookimpl
        def dlbench_register_datasets(register):
            raise RuntimeError("no data today")
        """,
    )
    models = bench("list", "models")
    assert models.code == 0 and "half_model" not in models.out
    assert "plugin 'half' failed while registering: RuntimeError: no data today" in models.err
    listing = bench("list", "plugins").out
    assert "half" not in listing.split() and "FAILED: plugin 'half' failed while registering" in (
        " ".join(listing.split())
    )


CLASH = """\
import dlbench

@dlbench.hookimpl
def dlbench_register_models(register):
    register(dlbench.ModelSpec(
        name="mlp", build=lambda shape, classes: None, description="a second mlp"
    ))
"""


def test_a_name_clash_names_the_way_out_and_the_plugin_listing_still_works(
    bench, install, write_matrix, tmp_path
) -> None:
    install("clashing", CLASH)
    result = bench("run", "--matrix", write_matrix(MATRIX), "--out", tmp_path / "o")
    assert result.code == 2
    assert "model 'mlp' is registered twice" in result.err
    assert "DLBENCH_DISABLE_PLUGINS=clashing" in result.err
    listing = bench("list", "plugins")
    assert listing.code == 0 and "clashing" in listing.out
    assert "DLBENCH_DISABLE_PLUGINS=clashing" in listing.err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            'ModelSpec(name="m", build=lambda shape, classes, *, depth: None, description="x")',
            "model 'm': build() needs 'depth', which is not declared in its params",
        ),
        (
            'ModelSpec(name="m", build=lambda shape, classes: None, description="x", '
            'params={"depth": Param(2, int)})',
            "model 'm' parameter 'depth' is declared but build() does not take it",
        ),
        (
            'ModelSpec(name="m", build=lambda shape, classes, *, depth: 0, description="x", '
            'params={"depth": Param(0.5, int)})',
            "model 'm' parameter 'depth': its default 0.5 is invalid (expected an integer",
        ),
        (
            'StrategySpec(name="s", run=lambda cell: None, description="x")',
            "strategy 's': run() takes 1 positional argument(s), dlbench passes 2",
        ),
    ],
    ids=["undeclared-argument", "unused-parameter", "default-of-wrong-type", "run-signature"],
)
def test_specs_are_checked_when_the_plugin_registers(spec: str, message: str) -> None:
    namespace: dict = {}
    exec(  # a plugin object built from the spec's text
        "from dlbench import *\n"
        "class Plugin:\n"
        "    @hookimpl\n"
        f"    def dlbench_register_{'models' if 'Model' in spec else 'strategies'}"
        "(self, register):\n"
        f"        register({spec})\n",
        namespace,
    )
    with pytest.raises(ConformanceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dlbench.load_plugin(namespace["Plugin"]())


@pytest.mark.parametrize(("value", "strict"), [("1", True), ("Off", False), ("yes", True)])
def test_strict_switch_spellings(monkeypatch, value, strict) -> None:
    from dlbench.registry.manager import strict_from_environment

    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", value)
    assert strict_from_environment() is strict


def test_strict_switch_refuses_other_words(bench, monkeypatch) -> None:
    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", "maybe")
    result = bench("list", "models")
    assert result.code == 2
    assert result.err.startswith("bench: error: DLBENCH_STRICT_PLUGINS='maybe': expected one of")
    assert result.err.count("\n") == 1


# -- the smaller things ------------------------------------------------------------------------


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
    strategies = {r["cell"]["strategy"]["name"]: r for r in stored(tmp_path / "o")}
    assert strategies["label_smooth"]["cell"]["strategy"]["params"]["smoothing"] == 0.1
    assert "smoothing" not in strategies["plain"]["cell"]["strategy"]["params"]
    bad = write_matrix(CROSSED.replace("smoothing: 0.1", "smoothing: 2"), name="bad.yaml")
    refused = bench("run", "--matrix", bad, "--out", tmp_path / "o2")
    assert refused.code == 2
    assert "bad.yaml:7: experiments.e.strategy.label_smooth.smoothing:" in refused.err
    assert "between 0 and 1, got 2" in refused.err


def test_list_shows_each_parameter_with_what_it_accepts(bench) -> None:
    result = bench("list", "datasets", "--include", "digits")
    assert result.code == 0
    assert "val_fraction" in result.out and "a number between 0 and 1 (not 0 or 1)" in result.out
    assert "share of the training set held out for validation" in result.out


def test_the_run_summary_counts_the_skips_the_report_lists(bench, write_matrix, tmp_path) -> None:
    text = """\
    name: skips
    defaults: {dataset: {name: digits, train_subset: 64}, strategy: {name: plain, epochs: 1}}
    experiments:
      e:
        model: {name: [mlp, cnn], hidden: 8}
    """
    # cnn has no 'hidden': a block keeps it to mlp; cnn on 8x8 digits runs, so skip via shape.
    text = text.replace("model: {name: [mlp, cnn], hidden: 8}", "model: {name: [mlp, cnn]}")
    result = bench("run", "--matrix", write_matrix(text), "--out", tmp_path / "o")
    report = (tmp_path / "o" / "report.md").read_text()
    skipped_in_report = report.count("\n- `e`")
    assert f"{skipped_in_report} skipped" in result.err


def test_the_plugin_guide_imports_only_the_public_api() -> None:
    section = (REPO / "docs" / "plugins.md").read_text()
    assert "from registry" not in section and "bench.engine" not in section
    assert "import dlbench" in section


def test_a_fingerprint_ignores_comments_docstrings_and_function_type_hints(tmp_path) -> None:
    from dlbench.bench.run.fingerprint import fingerprint

    def of(source: str) -> str:
        path = tmp_path / "plugin.py"
        path.write_text(source)
        return fingerprint([path])

    base = of(
        "import dataclasses\n"
        "@dataclasses.dataclass\nclass Spec:\n    width: int = 4\n"
        "def scale(x: float, *rest: int, **named: str) -> float:\n"
        "    factor: float = 2.0\n    return factor * x\n"
    )
    same = of(
        '"""Docs."""\nimport dataclasses\n'
        "@dataclasses.dataclass\nclass Spec:\n    width: int = 4  # a comment\n"
        "def scale(x, *rest, **named):\n"
        '    """Twice x."""\n    factor: str = 2.0\n    return factor * x\n'
    )
    assert same == base
    hinted = of(
        "import dataclasses\n"
        "@dataclasses.dataclass\nclass Spec:\n    width: int = 4\n"
        "def scale(x: int | float, *rest: object, **named: object) -> int | float:\n"
        "    factor: int | float = 2.0\n    return factor * x\n"
    )
    assert hinted == base
    field = of(
        "import dataclasses\n"
        "@dataclasses.dataclass\nclass Spec:\n    width: float = 4\n"
        "def scale(x: float, *rest: int, **named: str) -> float:\n"
        "    factor: float = 2.0\n    return factor * x\n"
    )
    assert field != base  # a dataclass field's annotation is code
    changed = of(
        "import dataclasses\n"
        "@dataclasses.dataclass\nclass Spec:\n    width: int = 4\n"
        "def scale(x: float, *rest: int, **named: str) -> float:\n"
        "    factor: float = 3.0\n    return factor * x\n"
    )
    assert changed != base
