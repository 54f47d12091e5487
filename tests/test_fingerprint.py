"""Code fingerprints: edited plugin code reruns its cells, comments and docstrings do not, and
every module a plugin's distribution ships counts."""

from __future__ import annotations

import importlib
import json
import sys
from importlib.metadata import EntryPoint

import pytest
from helpers import list_records
from inline_plugins import EDITED_MATRIX, HELPED_MATRIX, MODEL_PLUGIN

from dlbench.bench.run.fingerprint import fingerprint, plugin_files
from dlbench.registry.names import PluginInfo


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


def test_edited_plugin_code_reruns_its_cells_and_comments_do_not(
    bench, install, write_matrix, tmp_path
) -> None:
    source = install("edited_plugin", MODEL_PLUGIN)
    path, out = write_matrix(EDITED_MATRIX), tmp_path / "out"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    (first,) = list_records(out)
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
    assert list_records(out) == [first]
    rerun = bench("run", "--matrix", path, "--out", out)
    assert rerun.code == 0 and "1 cell(s) to run, 0 already stored" in rerun.err
    (second,) = list_records(out)
    assert second["cell_id"] == first["cell_id"]  # identity is unchanged; the code is beside it
    assert second["code"]["edited_plugin"] != first["code"]["edited_plugin"]
    assert "(stale)" not in (out / "report.md").read_text()


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


def test_editing_a_helper_module_of_a_plugin_package_makes_its_cells_stale(
    bench, package, write_matrix, tmp_path, monkeypatch
) -> None:
    # `bench` empties the entry points; put the package's back.
    point = EntryPoint("helped", "helped_pkg.strategies", "dlbench")
    path, out = write_matrix(HELPED_MATRIX), tmp_path / "out"
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


def test_an_editable_install_counts_every_package_of_its_distribution(
    tmp_path, monkeypatch
) -> None:
    """``pip install -e`` records only the hooks that point at the source tree: every package
    the distribution provides is read there, so editing its other package reruns cells."""
    src = tmp_path / "project" / "src"
    (src / "editplug").mkdir(parents=True)
    (src / "editplug" / "__init__.py").write_text("import editplug_math\n")
    (src / "editplug_math").mkdir()
    helper = src / "editplug_math" / "scale.py"
    helper.write_text("SCALE = 1\n")
    (src / "editplug_math" / "__init__.py").write_text("")
    site = tmp_path / "site"
    info = site / "editplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: editplug\nVersion: 1.0\n")
    (info / "RECORD").write_text("__editable__.editplug-1.0.pth,,\n")
    (info / "top_level.txt").write_text("editplug\neditplug_math\n")
    url = (tmp_path / "project").as_uri()
    (info / "direct_url.json").write_text(json.dumps({"url": url, "dir_info": {"editable": True}}))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(src))
    for name in ("editplug", "editplug_math"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("editplug")
    files = plugin_files(module, PluginInfo("edit", "editplug", "1.0", builtin=False))
    assert helper.resolve() in files
    before = fingerprint(files)
    helper.write_text("SCALE = 2\n")
    assert fingerprint(files) != before
