"""What a plugin author meets beyond the API itself: every module of a plugin counts towards its
code fingerprint, non-image data is standardised per feature, a failing hook is named with its
plugin, stage and line, and ``--set`` reaches every key a matrix file accepts."""

from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint

import pytest

from dlbench.bench.run.fingerprint import fingerprint, plugin_files
from dlbench.registry.manager import dlbench_version
from dlbench.registry.names import PluginInfo

STRATEGY = """\
import dlbench

from {package}._helpers import learning_rate


def run(cell, context):
    splits = context.load_dataset()
    model = context.build_model(splits)
    params = {{**cell.strategy.params, "lr": learning_rate()}}
    optimizer = context.optimizer(model.parameters(), params)
    return context.fit(model, splits, optimizer)


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(
        name="helped", run=run, description="uses a helper module", params=dlbench.TRAINING_PARAMS
    ))
"""

MATRIX = """\
name: helped
defaults:
  dataset: {name: digits, train_subset: 64}
  model: {name: mlp, hidden: 8, depth: 2}
experiments:
  e:
    strategy: {name: helped, epochs: 1}
    tables:
      - {rows: model.depth, metric: val_acc}
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A plugin package ``helped_pkg`` whose entry point names ``helped_pkg.strategies``, which
    imports ``helped_pkg._helpers``."""
    site = tmp_path / "site"
    folder = site / "helped_pkg"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "strategies.py").write_text(STRATEGY.format(package="helped_pkg"))
    (folder / "_helpers.py").write_text("def learning_rate():\n    return 1e-3\n")
    monkeypatch.syspath_prepend(str(site))
    point = EntryPoint("helped", "helped_pkg.strategies", "dlbench")
    monkeypatch.setattr("dlbench.registry.manager.entry_points", lambda group: [point])
    yield folder
    for name in [n for n in sys.modules if n.startswith("helped_pkg")]:
        del sys.modules[name]


def test_editing_a_helper_module_of_a_plugin_package_makes_its_cells_stale(
    bench, package, write_matrix, tmp_path, monkeypatch
) -> None:
    # `bench` empties the entry points; put the package's back.
    point = EntryPoint("helped", "helped_pkg.strategies", "dlbench")
    path, out = write_matrix(MATRIX), tmp_path / "out"
    monkeypatch.setattr("dlbench.registry.manager.entry_points", lambda group: [point])
    first = bench("run", "--matrix", path, "--out", out)
    assert first.code == 0, first.err
    helper = package / "_helpers.py"
    helper.write_text("def learning_rate():\n    return 3e-3\n")
    for name in [n for n in sys.modules if n.startswith("helped_pkg")]:
        del sys.modules[name]
    dry = bench("run", "--matrix", path, "--out", out, "--dry-run")
    assert "stale (code of plugin helped changed)" in dry.out, dry.out


def test_a_distribution_counts_every_python_file_it_ships(tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "flatplug.py").write_text("import flatplug_helpers\n")
    helpers = site / "flatplug_helpers.py"
    helpers.write_text("SCALE = 1\n")
    info = site / "flatplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flatplug\nVersion: 1.0\n")
    (info / "RECORD").write_text("flatplug.py,,\nflatplug_helpers.py,,\n")
    monkeypatch.syspath_prepend(str(site))
    module = type(sys)("flatplug")
    module.__file__ = str(site / "flatplug.py")
    monkeypatch.setitem(sys.modules, "flatplug", module)
    files = plugin_files(module, PluginInfo("flat", "flatplug", "1.0", builtin=False))
    assert helpers.resolve() in files
    before = fingerprint(files)
    helpers.write_text("SCALE = 2\n")
    assert fingerprint(files) != before
    # A built-in plugin is its module alone (dlbench's shared code has its own fingerprint).
    assert plugin_files(module, PluginInfo("flat", "flatplug", "1.0", builtin=True)) == [
        (site / "flatplug.py").resolve()
    ]


def test_a_plugin_named_like_an_unrelated_distribution_reads_only_its_own_files(
    tmp_path, monkeypatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "lonely.py").write_text("X = 1\n")
    module = type(sys)("lonely")
    module.__file__ = str(site / "lonely.py")
    monkeypatch.setitem(sys.modules, "lonely", module)
    # "pluggy" is installed, but does not ship lonely.py.
    files = plugin_files(module, PluginInfo("pluggy", "pluggy", "0", builtin=False))
    assert files == [(site / "lonely.py").resolve()]


BROKEN = """\
import dlbench


def run(cell, context):
    splits = context.load_dataset()
    model = context.build_model(splits)
    state = {}

    def transform(batch, generator):
        scale = state["grad_scale"]  # never set: the bug under test
        return batch

    hooks = dlbench.TrainingHooks(batch_transform=transform)
    return context.fit(model, splits, context.optimizer(model.parameters()), hooks=hooks)


@dlbench.hookimpl
def dlbench_register_strategies(register):
    register(dlbench.StrategySpec(
        name="broken", run=run, description="fails in a hook", params=dlbench.TRAINING_PARAMS
    ))
"""


def test_a_failing_hook_is_named_with_its_plugin_stage_and_line(
    bench, install, write_matrix, tmp_path
) -> None:
    source = install("broken_plugin", BROKEN)
    line = next(i for i, text in enumerate(BROKEN.splitlines(), 1) if "grad_scale" in text)
    path = write_matrix(MATRIX.replace("name: helped", "name: broken"))
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 1
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert record["error"].startswith("KeyError: 'grad_scale' (plugin 'broken_plugin', ")
    assert f", batch transform, {source.resolve()}:{line})" in record["error"], record["error"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"broken_plugin.py:{line}" in report.split("## Failed cells")[1]
    assert "Traceback" not in result.err
    debug = bench("--debug", "run", "--matrix", path, "--out", tmp_path / "out2")
    assert "Traceback (most recent call last)" in debug.err
    assert f"line {line}, in transform" in debug.err


@pytest.mark.parametrize(
    ("body", "stage"),
    [("raise RuntimeError('no')", "model build"), ("return Exploding()", "forward")],
)
def test_a_failing_model_is_named_by_stage(
    bench, install, write_matrix, tmp_path, body, stage
) -> None:
    install(
        "bad_model",
        "import torch\nimport dlbench\n\n"
        "class Exploding(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        raise ValueError('boom')\n\n"
        f"def build(input_shape, num_classes, *, width):\n    {body}\n\n"
        "@dlbench.hookimpl\n"
        "def dlbench_register_models(register):\n"
        "    register(dlbench.ModelSpec(name='bad', build=build, description='fails',\n"
        "             params={'width': dlbench.Param(4, int, 'width', minimum=1)}))\n",
    )
    matrix = MATRIX.replace("model: {name: mlp, hidden: 8, depth: 2}", "model: {name: bad}")
    matrix = matrix.replace("rows: model.depth", "rows: model.width")
    path = write_matrix(matrix.replace("name: helped, epochs: 1", "name: plain, epochs: 1"))
    result = bench("run", "--matrix", path, "--out", tmp_path / "out")
    assert result.code == 1, result.err
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "cells").glob("*.json")]
    assert f"(plugin 'bad_model', {stage}, " in record["error"], record["error"]


# -- --set reaches every key a matrix file sets ------------------------------------------------

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


def _load(write_matrix, catalog, text, *overrides):
    from dlbench.bench.matrix import load_matrix
    from dlbench.bench.matrix.overrides import parse_override

    return load_matrix(write_matrix(text), catalog, [parse_override(o) for o in overrides])


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


# -- small truths: listings, spreads, versions ------------- ------------------------------------


def test_boolean_defaults_are_listed_as_they_are(bench) -> None:
    listing = bench("list", "strategies", "--include", "plain", "--params").out
    rows = {w[0]: w[1] for w in map(str.split, listing.splitlines()) if len(w) > 1}
    assert rows["nesterov"] == "False" and rows["channels_last"] == "False"


def test_a_zero_spread_is_shown_so_n_is_never_hidden() -> None:
    from dlbench.reports.formatting import format_values

    assert format_values("val_acc", [0.9545, 0.9545, 0.9545]) == "95.45 ± 0.00%"
    assert format_values("val_acc", [0.9545]) == "95.45%"
    assert format_values("parameters", [1500, 1500]) == "1.50K"


def test_bench_version(bench) -> None:
    result = bench("--version")
    assert result.code == 0 and result.out.strip() == f"bench (dlbench) {dlbench_version()}"
