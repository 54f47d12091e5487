"""The catalog: every registered model, dataset, strategy and executor, by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.errors import DuplicateNameError, PluginLoadError
from registry.manager import PluginHost
from registry.names import NameRegistry
from registry.specs import (
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
        """The registry for ``models``, ``datasets``, ``strategies`` or ``executors``."""
        registry: NameRegistry[Any] = getattr(self, kind)
        return registry


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
