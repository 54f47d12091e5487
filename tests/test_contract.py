"""The plugin contract: hooks, registration, entry points, names."""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from dlbench import ModelSpec, Param, StrategySpec, hookimpl
from dlbench.bench.host import BUILTIN_PLUGINS
from dlbench.registry import hookspecs
from dlbench.registry.catalog import build_catalog
from dlbench.registry.errors import DuplicateNameError, PluginLoadError, UnknownNameError
from dlbench.registry.manager import build_plugin_manager
from dlbench.registry.names import NameRegistry, PluginInfo

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("dlbench_"))


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_parameters(hook: str) -> None:
    function = getattr(hookspecs, hook)
    doc = inspect.getdoc(function) or ""
    assert doc, f"{hook} has no docstring"
    for parameter in inspect.signature(function).parameters:
        assert f":param {parameter}:" in doc


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    tests = Path(__file__).parent
    # This module names no hook literally outside plugins defined in tests, so it may count too.
    texts = [p.read_text() for p in tests.glob("test_*.py")]
    assert any(f"def {hook}(" in text for text in texts), f"no test implements {hook}"


def test_builtins_register_through_the_public_hooks(catalog) -> None:
    assert catalog.models.names() == ["cnn", "mlp", "residual_cnn", "residual_mlp"]
    assert catalog.datasets.names() == ["cifar10", "cifar100", "digits", "mnist"]
    assert "plain" in catalog.strategies.names()
    assert catalog.executors.names() == ["local", "ray", "slurm"]
    entry = catalog.models.entry("mlp")
    assert entry.plugin.name == "dlbench.models.mlp"
    assert entry.plugin.builtin


def test_inline_plugin_registers_a_model(make_catalog) -> None:
    class Plugin:
        @hookimpl
        def dlbench_register_models(self, register):
            register(ModelSpec(name="tiny", build=lambda shape, classes: None, description="tiny"))

    catalog = make_catalog(tiny_plugin=Plugin())
    assert "tiny" in catalog.models.names()
    assert catalog.models.entry("tiny").plugin.name == "tiny_plugin"
    assert not catalog.models.entry("tiny").plugin.builtin


def test_duplicate_name_names_both_plugins(make_catalog) -> None:
    class Clash:
        @hookimpl
        def dlbench_register_models(self, register):
            register(
                ModelSpec(name="mlp", build=lambda shape, classes: None, description="another mlp")
            )

    with pytest.raises(DuplicateNameError, match=r"'mlp'.*dlbench\.models\.mlp.*'clash'"):
        make_catalog(clash=Clash())


def test_unknown_name_suggests_close_matches_and_lists_choices(catalog) -> None:
    with pytest.raises(UnknownNameError) as info:
        catalog.models.get("residual_mpl")
    message = str(info.value)
    assert "did you mean 'residual_mlp'" in message
    assert "choices: cnn, mlp, residual_cnn, residual_mlp" in message
    assert isinstance(info.value, KeyError)


def test_unknown_name_without_close_match_lists_choices(catalog) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"unknown model 'zzz'; choices: cnn, mlp, residual_cnn, residual_mlp, timm:\*$",
    ):
        catalog.models.get("zzz")


def test_names_filter_with_globs() -> None:
    registry: NameRegistry[str] = NameRegistry("model")
    info = PluginInfo("p", "d", "1", builtin=False)
    for name in ("resnet18", "resnet50", "vit_b", "mlp"):
        registry.add(name, name, info)
    assert registry.names("resnet*") == ["resnet18", "resnet50"]
    assert registry.names(["resnet*", "vit*"], exclude="*50") == ["resnet18", "vit_b"]
    assert registry.names() == ["mlp", "resnet18", "resnet50", "vit_b"]


def _fake_entry_points(*entries: EntryPoint):
    def entry_points(group: str):
        assert group == "dlbench"
        return list(entries)

    return entry_points


BROKEN = EntryPoint("broken", "dlbench_no_such_module_xyz", "dlbench")
WORKING = EntryPoint("fake", "inline_plugins:FakeStrategyPlugin", "dlbench")


def test_entry_point_plugins_are_loaded(monkeypatch) -> None:
    class Loaded:
        @hookimpl
        def dlbench_register_models(self, register):
            register(
                ModelSpec(
                    name="from_entry_point", build=lambda shape, classes: None, description="x"
                )
            )

    entry = EntryPoint("ep_plugin", "inline_plugins:FakeStrategyPlugin", "dlbench")
    monkeypatch.setattr(EntryPoint, "load", lambda self: Loaded())
    monkeypatch.setattr("dlbench.registry.manager.entry_points", _fake_entry_points(entry))
    catalog = build_catalog(
        build_plugin_manager(builtins=BUILTIN_PLUGINS, strict=False, disabled=[])
    )
    assert catalog.models.entry("from_entry_point").plugin.name == "ep_plugin"


def test_broken_entry_point_is_reported_and_skipped(monkeypatch) -> None:
    monkeypatch.setattr("dlbench.registry.manager.entry_points", _fake_entry_points(BROKEN))
    host = build_plugin_manager(builtins=BUILTIN_PLUGINS, strict=False, disabled=[])
    assert len(host.load_errors) == 1
    assert "'broken'" in host.load_errors[0]
    assert "ModuleNotFoundError" in host.load_errors[0]
    catalog = build_catalog(host)
    assert "mlp" in catalog.models.names()
    # A name the broken plugin may have provided points at its failure, not at a near miss.
    with pytest.raises(UnknownNameError) as unknown:
        catalog.models.get("tab_mlp")
    message = str(unknown.value)
    assert "'broken'" in message and "may provide it" in message
    assert message.index("may provide it") < message.index("choices")


def test_strict_switch_makes_a_broken_plugin_an_error(monkeypatch) -> None:
    monkeypatch.setattr("dlbench.registry.manager.entry_points", _fake_entry_points(BROKEN))
    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match=r"'broken'.*failed to import"):
        build_plugin_manager(builtins=BUILTIN_PLUGINS, disabled=[])


def test_disable_env_blocks_plugins_by_name(monkeypatch) -> None:
    monkeypatch.setattr("dlbench.registry.manager.entry_points", _fake_entry_points(BROKEN))
    monkeypatch.setenv("DLBENCH_DISABLE_PLUGINS", "broken, dlbench.models.mlp")
    host = build_plugin_manager(builtins=BUILTIN_PLUGINS, strict=True)
    assert host.load_errors == []
    assert "dlbench.models.mlp" not in host.plugins
    assert build_catalog(host).models.names() == ["cnn", "residual_cnn"]


def test_misspelt_hook_in_an_external_plugin_is_reported(make_catalog) -> None:
    class Misspelt:
        @hookimpl
        def dlbench_register_modles(self, register):
            pass

    host = build_plugin_manager(
        builtins=BUILTIN_PLUGINS, plugins={"misspelt": Misspelt()}, load_entry_points=False
    )
    assert "misspelt" not in host.plugins
    assert "dlbench_register_modles" in host.load_errors[0]
    with pytest.raises(PluginLoadError, match="dlbench_register_modles"):
        make_catalog(misspelt=Misspelt())


def test_strategy_needs_refuse_a_cell_without_them(make_catalog) -> None:
    class NeedsTeacher:
        @hookimpl
        def dlbench_register_strategies(self, register):
            register(
                StrategySpec(
                    name="needy",
                    run=lambda cell, context: None,
                    description="needs a teacher",
                    params={"teacher": Param(None, str, nullable=True)},
                    needs=frozenset({"teacher"}),
                )
            )

    spec = make_catalog(needy=NeedsTeacher()).strategies.get("needy")
    assert spec.refuses({"teacher": None}) == "strategy 'needy' needs teacher"
    assert spec.refuses({"teacher": "teacher-cell"}) is None


def test_register_rejects_the_wrong_record_type(make_catalog) -> None:
    class Wrong:
        @hookimpl
        def dlbench_register_datasets(self, register):
            register(
                ModelSpec(name="not_a_dataset", build=lambda shape, classes: None, description="x")
            )

    with pytest.raises(PluginLoadError, match=r"passed ModelSpec.*expected DatasetSpec"):
        make_catalog(wrong=Wrong())


def test_a_broken_builtin_fails_loudly() -> None:
    with pytest.raises(ModuleNotFoundError):
        build_plugin_manager(
            builtins=["dlbench.plugins.models.no_such_module"], load_entry_points=False
        )


def test_plugin_manager_is_not_built_at_import_time() -> None:
    import dlbench.registry.manager as manager

    assert not any(type(value).__name__ == "PluginManager" for value in vars(manager).values())
