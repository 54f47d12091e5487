"""Name lookup for one kind of registered record (models, datasets, ...)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from dlbench.registry.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Family(Protocol[T_co]):
    """Names under a prefix, resolved on demand (see ``registry.specs.ModelFamily``)."""

    prefix: str
    description: str

    def names(self) -> list[str]:
        """Every name in the family."""
        ...

    def resolve(self, name: str) -> T_co | None:
        """The record for ``name``, or ``None``."""
        ...


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin comes from.

    :param name: the plugin's name in the plugin manager (an entry-point name for external ones).
    :param distribution: the installed distribution that ships it.
    :param version: that distribution's version.
    :param builtin: whether it ships with dlbench.
    :param in_process: whether it was handed to this process as an object rather than installed:
        another process (a worker, a cluster node) cannot load it.
    """

    name: str
    distribution: str
    version: str
    builtin: bool
    in_process: bool = False

    @property
    def provenance(self) -> str:
        """``distribution version``, for listings and cell identities."""
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A record and the plugin that registered it."""

    spec: T
    plugin: PluginInfo


class NameRegistry(Generic[T]):
    """The records of one kind, by name. Names are unique; lookups of unknown names suggest."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}
        self._families: dict[str, tuple[Family[T], PluginInfo]] = {}
        self._resolved: dict[str, Registered[T]] = {}
        #: Why plugins that could have registered names failed to load (said with unknown names).
        self.failed: list[str] = []

    def add_family(self, family: Family[T], plugin: PluginInfo) -> None:
        """Add names resolved on demand under ``family.prefix``."""
        if family.prefix in self._families:
            first = self._families[family.prefix][1]
            raise DuplicateNameError(
                f"{self.kind} prefix {family.prefix!r} is registered twice: by plugin "
                f"{first.name!r} and by plugin {plugin.name!r}; leave one out with "
                f"DLBENCH_DISABLE_PLUGINS={plugin.name}"
            )
        self._families[family.prefix] = (family, plugin)

    def add(self, name: str, spec: T, plugin: PluginInfo) -> None:
        """Add ``spec`` under ``name``; a name taken by any plugin is an error naming both."""
        if name in self._entries:
            first = self._entries[name].plugin
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {first.name!r} "
                f"({first.provenance}) and by plugin {plugin.name!r} ({plugin.provenance}); "
                f"leave one out with DLBENCH_DISABLE_PLUGINS={plugin.name}"
            )
        self._entries[name] = Registered(spec, plugin)

    def get(self, name: str) -> T:
        """The record named ``name``; raises ``UnknownNameError`` with close matches."""
        return self.entry(name).spec

    def entry(self, name: str) -> Registered[T]:
        """The record named ``name`` with its plugin."""
        if name in self._entries:
            return self._entries[name]
        if name in self._resolved:
            return self._resolved[name]
        for prefix, (family, plugin) in self._families.items():
            if name.startswith(prefix):
                spec = family.resolve(name)
                if spec is not None:
                    self._resolved[name] = Registered(spec, plugin)
                    return self._resolved[name]
                raise UnknownNameError(self.kind, name, family.names(), self.failed)
        raise UnknownNameError(self.kind, name, [*self._entries, *self._prefixes()], self.failed)

    def _prefixes(self) -> list[str]:
        return [f"{prefix}*" for prefix in self._families]

    def names(
        self, include: str | Iterable[str] = "*", exclude: str | Iterable[str] = ()
    ) -> list[str]:
        """Sorted names matching any ``include`` glob and no ``exclude`` glob.

        A family's names are listed only when an ``include`` glob starts with its prefix
        (``timm:resnet*``), so that listing everything does not load every library.
        """
        includes = [include] if isinstance(include, str) else list(include)
        excludes = [exclude] if isinstance(exclude, str) else list(exclude)
        candidates = set(self._entries)
        for prefix, (family, _) in self._families.items():
            if any(pattern.startswith(prefix) for pattern in includes):
                candidates.update(family.names())
        return sorted(
            name
            for name in candidates
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in includes)
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in excludes)
        )

    def families(self) -> list[tuple[Family[T], PluginInfo]]:
        """The registered families with their plugins."""
        return list(self._families.values())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.entry(name)
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(self._entries[name] for name in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
