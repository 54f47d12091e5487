"""The host's plugin catalog (dlbench's built-in plugins, then the installed ones) and its data
root."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_cache_path

from dlbench.registry.catalog import Catalog, build_catalog
from dlbench.registry.manager import PluginHost, build_plugin_manager

DATA_ENV = "DLBENCH_DATA"

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
    "dlbench.plugins.observers.tensorboard_live",
    "dlbench.plugins.observers.mlflow_live",
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


def load_catalog_reporting(plugins: Mapping[str, object] | None = None) -> Catalog:
    """The installed catalog (with ``plugins``, name -> plugin object, handed to this process),
    each plugin that failed to load reported on stderr as a warning."""
    host = plugin_host(plugins=plugins)
    try:
        return build_catalog(host)
    finally:
        report_plugin_problems(host)


def report_plugin_problems(host: PluginHost) -> None:
    """Print each skipped plugin and each warning about a plugin, one line each."""
    for message in host.load_errors:
        print(f"bench: warning: {message}; skipped", file=sys.stderr)
    for message in host.warnings:
        print(f"bench: warning: {message}", file=sys.stderr)


def default_data_root() -> Path:
    """``$DLBENCH_DATA``, else the user's cache folder for dlbench."""
    configured = os.environ.get(DATA_ENV)
    return Path(configured) if configured else user_cache_path("dlbench") / "data"
