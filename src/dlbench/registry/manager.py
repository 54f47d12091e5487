"""Build the plugin manager: built-in plugins, then external ones from entry points.

Built-in plugins are registered through the same hooks as external ones. An external plugin that
fails to import or register is reported and skipped (``DLBENCH_STRICT_PLUGINS=1`` makes it an
error); a broken built-in fails loudly. ``DLBENCH_DISABLE_PLUGINS=a,b`` blocks plugins by name.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any

import pluggy

from dlbench.registry import hookspecs
from dlbench.registry.errors import PluginLoadError, did_you_mean
from dlbench.registry.names import PluginInfo

ENTRY_POINT_GROUP = "dlbench"
STRICT_ENV = "DLBENCH_STRICT_PLUGINS"
DISABLE_ENV = "DLBENCH_DISABLE_PLUGINS"
DISTRIBUTION = "dlbench"


def dlbench_version() -> str:
    """The installed dlbench version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class PluginHost:
    """A plugin manager with the provenance of each plugin and the load errors it skipped."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    load_errors: list[str] = field(default_factory=list)
    strict: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def hook(self) -> Any:
        """The hook relay, as ``pluggy.PluginManager.hook``."""
        return self.manager.hook

    def report_external_failure(self, message: str, cause: BaseException | None = None) -> None:
        """Skip a broken external plugin with ``message``, or raise when strict."""
        if self.strict:
            raise PluginLoadError(f"{message} (unset {STRICT_ENV} to skip it)") from cause
        self.load_errors.append(message)


def build_plugin_manager(
    *,
    builtins: Iterable[str] = (),
    plugins: Mapping[str, object] | None = None,
    load_entry_points: bool = True,
    strict: bool | None = None,
    disabled: Iterable[str] | None = None,
) -> PluginHost:
    """Create a plugin manager with dlbench's hooks and register every plugin.

    :param builtins: modules of built-in plugins (the host passes
        ``dlbench.plugins.BUILTIN_PLUGINS``); a broken one fails loudly.
    :param plugins: extra plugin objects by name, registered as external plugins (for tests and
        embedding).
    :param load_entry_points: load the ``dlbench`` entry-point group.
    :param strict: fail on a broken external plugin; defaults to ``DLBENCH_STRICT_PLUGINS``.
    :param disabled: plugin names to block; defaults to ``DLBENCH_DISABLE_PLUGINS``.
    """
    if strict is None:
        strict = strict_from_environment()
    if disabled is None:
        disabled = [n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()]

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    host = PluginHost(manager=manager, strict=strict)
    for name in disabled:
        manager.set_blocked(name)

    own_version = dlbench_version()
    for module_name in builtins:
        name = builtin_plugin_name(module_name)
        if manager.is_blocked(name):
            continue
        module = importlib.import_module(module_name)
        manager.register(module, name=name)
        host.plugins[name] = PluginInfo(name, DISTRIBUTION, own_version, builtin=True)
    manager.check_pending()

    if load_entry_points:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            if not manager.is_blocked(entry_point.name):
                _register_entry_point(host, entry_point)
    for name, plugin in (plugins or {}).items():
        if not manager.is_blocked(name):
            info = PluginInfo(name, name, "0", builtin=False, in_process=True)
            _register_external(host, name, plugin, info)
    return host


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def strict_from_environment() -> bool:
    """``DLBENCH_STRICT_PLUGINS`` as a boolean: 1/true/yes/on or 0/false/no/off (any case).

    :raises PluginLoadError: for any other value, saying which are accepted.
    """
    value = os.environ.get(STRICT_ENV, "")
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise PluginLoadError(
        f"{STRICT_ENV}={value!r}: expected one of {', '.join(TRUE_WORDS)} (strict) or "
        f"{', '.join(w for w in FALSE_WORDS if w)} (not strict)"
    )


def builtin_plugin_name(module_name: str) -> str:
    """The plugin name of a built-in module: ``dlbench.plugins.models.mlp`` ->
    ``dlbench.models.mlp``."""
    return f"{DISTRIBUTION}.{module_name.removeprefix('dlbench.plugins.')}"


def _register_entry_point(host: PluginHost, entry_point: EntryPoint) -> None:
    try:
        plugin = entry_point.load()
    except Exception as exc:
        host.report_external_failure(
            f"plugin {entry_point.name!r} ({entry_point.value}) failed to import: "
            f"{type(exc).__name__}: {exc}",
            exc,
        )
        return
    dist = entry_point.dist
    info = PluginInfo(
        entry_point.name,
        dist.name if dist is not None else entry_point.value.partition(":")[0],
        dist.version if dist is not None else "unknown",
        builtin=False,
    )
    _register_external(host, entry_point.name, plugin, info)


def _register_external(host: PluginHost, name: str, plugin: object, info: PluginInfo) -> None:
    for function in unmarked_hooks(plugin):
        host.warnings.append(
            f"plugin {name!r}: {function} looks like a hook but is not marked @hookimpl, so "
            "dlbench never calls it; add @dlbench.hookimpl above it"
        )
    try:
        host.manager.register(plugin, name=name)
        # Checked per plugin so that a misspelt hook names its plugin and skips only that one.
        host.manager.check_pending()
    except Exception as exc:
        if host.manager.is_registered(plugin):
            host.manager.unregister(plugin)
        host.report_external_failure(
            f"plugin {name!r} could not be registered: {type(exc).__name__}: {exc}"
            + _hook_suggestion(str(exc)),
            exc,
        )
        return
    host.plugins[name] = info


HOOK_NAMES = tuple(name for name in dir(hookspecs) if name.startswith("dlbench_"))


def unmarked_hooks(plugin: object) -> list[str]:
    """Functions of ``plugin`` named like hooks (``dlbench_*``) that lack the ``@hookimpl`` mark."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    found = []
    for attribute in dir(plugin):
        if not attribute.startswith("dlbench_") or attribute == "dlbench_required":
            continue
        value = getattr(plugin, attribute, None)
        if callable(value) and not hasattr(value, marker):
            found.append(attribute)
    return found


def _hook_suggestion(message: str) -> str:
    """``; did you mean 'dlbench_register_models'?`` for the unknown hook a pluggy error names."""
    match = re.search(r"unknown hook '?([A-Za-z0-9_]+)'?", message)
    if match is None:
        return ""
    hint = did_you_mean(match.group(1), HOOK_NAMES)
    return f"; {hint}" if hint else f"; hooks: {', '.join(HOOK_NAMES)}"
