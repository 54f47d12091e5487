"""The catalog: every registered model, dataset, strategy and executor, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.registry.cell import COMPONENT_KINDS
from dlbench.registry.errors import ConformanceError, PluginLoadError
from dlbench.registry.manager import PluginHost
from dlbench.registry.names import NameRegistry
from dlbench.registry.params import Param
from dlbench.registry.spec_checks import spec_problem
from dlbench.registry.specs import (
    DatasetSpec,
    ExecutorSpec,
    ModelFamily,
    ModelSpec,
    ProbeSpec,
    Spec,
    StrategySpec,
)

KINDS: dict[str, tuple[str, type]] = {
    "models": ("dlbench_register_models", ModelSpec),
    "datasets": ("dlbench_register_datasets", DatasetSpec),
    "strategies": ("dlbench_register_strategies", StrategySpec),
    "executors": ("dlbench_register_executors", ExecutorSpec),
    "probes": ("dlbench_register_probes", ProbeSpec),
}
SINGULAR = {
    "models": "model",
    "datasets": "dataset",
    "strategies": "strategy",
    "executors": "executor",
    "probes": "probe",
}
PLURAL = {singular: plural for plural, singular in SINGULAR.items()}


@dataclass(frozen=True)
class Catalog:
    """One ``NameRegistry`` per kind of plugin record, and the host they came from."""

    host: PluginHost
    models: NameRegistry[ModelSpec]
    datasets: NameRegistry[DatasetSpec]
    strategies: NameRegistry[StrategySpec]
    executors: NameRegistry[ExecutorSpec]
    probes: NameRegistry[ProbeSpec]

    def of_kind(self, kind: str) -> NameRegistry[Any]:
        """The registry for ``models``, ``datasets``, ``strategies``, ``executors`` or
        ``probes``."""
        registry: NameRegistry[Any] = getattr(self, kind)
        return registry

    def component(self, kind: str) -> NameRegistry[Any]:
        """The registry of a cell's component kind: ``model``, ``dataset`` or ``strategy``."""
        if kind not in COMPONENT_KINDS:
            raise KeyError(kind)
        return self.of_kind(PLURAL[kind])

    def declarations(self, kind: str, names: Any) -> list[tuple[str, Mapping[str, Param] | None]]:
        """For a component kind and a name or a list of names (an axis), each name with the
        parameters its plugin declares, or ``None`` for a name that is not registered (or not
        a string), which callers report where the name itself is checked."""
        registry = self.component(kind)
        found: list[tuple[str, Mapping[str, Param] | None]] = []
        for name in names if isinstance(names, list) else [names]:
            known = isinstance(name, str) and name in registry
            found.append((str(name), registry.get(name).params if known else None))
        return found


def build_catalog(host: PluginHost) -> Catalog:
    """Call every registration hook and collect the records by name.

    Plugin by plugin, in the order they were loaded, every record is attributed to the plugin
    (and version) that registered it; that attribution is part of each cell's identity. Each
    record is checked (``spec_problem``). An external plugin
    whose hook raises, or that registers a record that fails its checks, is withdrawn whole:
    nothing it registered is used and its lifecycle hooks do not run. A broken built-in raises.

    :raises DuplicateNameError: when two plugins register one name, naming both and the way out.
    """
    registries: dict[str, NameRegistry[Any]] = {
        kind: NameRegistry(SINGULAR[kind]) for kind in KINDS
    }
    for registry in registries.values():
        registry.failed = host.load_errors  # the same list: failures found below show too
    impls = {
        kind: {impl.plugin_name: impl for impl in getattr(host.hook, hook).get_hookimpls()}
        for kind, (hook, _) in KINDS.items()
    }
    for name, info in list(host.plugins.items()):
        staged: list[tuple[str, Any]] = []
        try:
            for kind, (hook_name, spec_type) in KINDS.items():
                impl = impls[kind].get(name)
                if impl is None:
                    continue
                register = _stager(staged, kind, spec_type, info, hook_name)
                impl.function(**{arg: register for arg in impl.argnames})
        except Exception as exc:
            if info.builtin:
                raise
            _withdraw(host, name)
            host.report_external_failure(
                f"plugin {name!r} failed while registering: {type(exc).__name__}: {exc}; "
                "nothing it registered is used",
                exc,
            )
            continue
        for kind, spec in staged:
            if isinstance(spec, ModelFamily):
                registries[kind].add_family(spec, info)
            else:
                registries[kind].add(spec.name, spec, info)
    return Catalog(host=host, **registries)


def _withdraw(host: PluginHost, name: str) -> None:
    plugin = host.manager.get_plugin(name)
    if plugin is not None:
        host.manager.unregister(plugin)
    host.plugins.pop(name, None)


def _stager(
    staged: list[tuple[str, Any]], kind: str, spec_type: type, info: Any, hook_name: str
) -> Callable[[Any], None]:
    """A ``register`` callback that checks each record and keeps it until the plugin is done."""

    def register(spec: Spec | ModelFamily) -> None:
        if not isinstance(spec, spec_type) and not (
            spec_type is ModelSpec and isinstance(spec, ModelFamily)
        ):
            raise PluginLoadError(
                f"plugin {info.name!r} passed {type(spec).__name__} to {hook_name}'s register; "
                f"expected {spec_type.__name__}"
            )
        problem = spec_problem(spec)
        if problem is not None:
            raise ConformanceError(problem)
        staged.append((kind, spec))

    return register
