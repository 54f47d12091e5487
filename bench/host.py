"""The host's plugin catalog: dlbench's built-in plugins, then the installed ones."""

from __future__ import annotations

from collections.abc import Mapping

from dlbench.plugins import BUILTIN_PLUGINS
from dlbench.registry.catalog import Catalog, build_catalog
from dlbench.registry.manager import PluginHost, build_plugin_manager


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
