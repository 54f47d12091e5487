"""The host's plugin catalog: dlbench's built-in plugins, then the installed ones."""

from __future__ import annotations

from collections.abc import Mapping

from dlbench.registry.catalog import Catalog, build_catalog
from dlbench.registry.manager import PluginHost, build_plugin_manager

#: Registered in this order, before any external plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "dlbench.plugins.models.mlp",
    "dlbench.plugins.models.cnn",
    "dlbench.plugins.models.timm_models",
    "dlbench.plugins.datasets.digits",
    "dlbench.plugins.datasets.torchvision",
    "dlbench.plugins.strategies.plain",
    "dlbench.plugins.strategies.distill",
    "dlbench.plugins.strategies.finetune",
    "dlbench.plugins.executors.local",
    "dlbench.plugins.executors.ray",
    "dlbench.plugins.executors.slurm",
    "dlbench.plugins.probes.grad_norms",
)


def plugin_host(
    *,
    plugins: Mapping[str, object] | None = None,
    load_entry_points: bool = True,
    strict: bool | None = None,
) -> PluginHost:
    """A plugin manager holding the built-in plugins, the ``dlbench`` entry points (unless
    ``load_entry_points`` is false) and ``plugins`` (name -> plugin object)."""
    return build_plugin_manager(
        builtins=BUILTIN_PLUGINS,
        plugins=plugins,
        load_entry_points=load_entry_points,
        strict=strict,
    )


def load_catalog(
    *,
    plugins: Mapping[str, object] | None = None,
    load_entry_points: bool = True,
    strict: bool | None = None,
) -> Catalog:
    """Every registered model, dataset, strategy, executor and probe, by name."""
    return build_catalog(
        plugin_host(plugins=plugins, load_entry_points=load_entry_points, strict=strict)
    )
