"""The catalog: every registered model, dataset, strategy and executor, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.registry.cell import COMPONENT_KINDS
from dlbench.registry.errors import DuplicateNameError, PluginLoadError
from dlbench.registry.manager import PluginHost
from dlbench.registry.names import NameRegistry
from dlbench.registry.params import Param
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
    """One :class:`NameRegistry` per kind of plugin record, and the host they came from."""

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

    Each plugin's hook implementation is called on its own so that every record is attributed to
    the plugin (and version) that registered it; that attribution is part of each cell's identity.
    """
    registries: dict[str, NameRegistry[Any]] = {}
    for kind, (hook_name, spec_type) in KINDS.items():
        registry: NameRegistry[Any] = NameRegistry(SINGULAR[kind])
        registries[kind] = registry
        for impl in getattr(host.hook, hook_name).get_hookimpls():
            info = host.plugins[impl.plugin_name]
            register = _register_into(registry, spec_type, info, hook_name)
            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except DuplicateNameError:
                raise
            except Exception as exc:
                if info.builtin:
                    raise
                host.report_external_failure(
                    f"plugin {info.name!r} failed in {hook_name}: {type(exc).__name__}: {exc}", exc
                )
    return Catalog(host=host, **registries)


def _register_into(
    registry: NameRegistry[Any], spec_type: type, info: Any, hook_name: str
) -> Callable[[Any], None]:
    def register(spec: Spec | ModelFamily) -> None:
        if not isinstance(spec, spec_type) and not (
            spec_type is ModelSpec and isinstance(spec, ModelFamily)
        ):
            raise PluginLoadError(
                f"plugin {info.name!r} passed {type(spec).__name__} to {hook_name}'s register; "
                f"expected {spec_type.__name__}"
            )
        if isinstance(spec, ModelFamily):
            registry.add_family(spec, info)
            return
        registry.add(spec.name, spec, info)

    return register
