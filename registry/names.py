"""Name lookup for one kind of registered record (models, datasets, ...)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from registry.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin comes from.

    :param name: the plugin's name in the plugin manager (an entry-point name for external ones).
    :param distribution: the installed distribution that ships it.
    :param version: that distribution's version.
    :param builtin: whether it ships with dlbench.
    """

    name: str
    distribution: str
    version: str
    builtin: bool

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

    def add(self, name: str, spec: T, plugin: PluginInfo) -> None:
        """Add ``spec`` under ``name``; a name taken by any plugin is an error naming both."""
        if name in self._entries:
            first = self._entries[name].plugin
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered twice: by plugin {first.name!r} "
                f"({first.provenance}) and by plugin {plugin.name!r} ({plugin.provenance})"
            )
        self._entries[name] = Registered(spec, plugin)

    def get(self, name: str) -> T:
        """The record named ``name``; raises :class:`UnknownNameError` with close matches."""
        return self.entry(name).spec

    def entry(self, name: str) -> Registered[T]:
        """The record named ``name`` with its plugin."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def names(
        self, include: str | Iterable[str] = "*", exclude: str | Iterable[str] = ()
    ) -> list[str]:
        """Sorted names matching any ``include`` glob and no ``exclude`` glob."""
        includes = [include] if isinstance(include, str) else list(include)
        excludes = [exclude] if isinstance(exclude, str) else list(exclude)
        return sorted(
            name
            for name in self._entries
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in includes)
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in excludes)
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registered[T]]:
        return iter(self._entries[name] for name in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
