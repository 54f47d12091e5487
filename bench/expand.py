"""Cross an experiment's axes into cells: list values are axes, ``zip`` ties axes together,
``exclude`` drops combinations, and every cell is resolved against the plugin catalog."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.overrides import SECTIONS
from bench.yamlfile import KeyPath, MatrixError, YamlDocument
from registry.catalog import Catalog
from registry.cell import Cell, Component
from registry.errors import UnknownNameError
from registry.params import ParamError, resolve_params

#: Where a value came from: a key path in the matrix file, or the text of a ``--set``.
Origin = KeyPath | str


@dataclass
class ExperimentSource:
    """An experiment after defaults and overrides are merged, before expansion.

    :param sections: ``model``/``dataset``/``strategy`` -> key -> value (lists are axes).
    :param seeds: an int or a list of ints.
    :param origins: where each ``(section, key)``, ``("seeds", "")`` and ``("probes", name)``
        value came from.
    :param probes: probe name -> its parameters.
    """

    name: str
    keypath: KeyPath
    sections: dict[str, dict[str, Any]]
    seeds: Any
    origins: dict[tuple[str, str], Origin]
    probes: dict[str, Any]


@dataclass(frozen=True)
class Axis:
    """Keys that vary together (one key, or several tied by ``zip``) and their value tuples."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class SkippedCell:
    """A combination reached by crossing axes that cannot run, and why."""

    experiment: str
    description: str
    reason: str


def fail(doc: YamlDocument, origin: Origin, message: str) -> MatrixError:
    """A located error for a value from the file or from ``--set``."""
    if isinstance(origin, str):
        return MatrixError(f"--set {origin}: {message}")
    return doc.error(origin, message)


def find_axes(doc: YamlDocument, source: ExperimentSource, catalog: Catalog) -> list[Axis]:
    """The experiment's axes, in file order, with ``seed`` last."""
    axes: list[Axis] = []
    for section in SECTIONS:
        values = source.sections[section]
        names = values.get("name")
        for key, value in values.items():
            if not isinstance(value, list):
                continue
            origin = source.origins[(section, key)]
            if not value:
                raise fail(doc, origin, "empty axis: a list needs at least one value")
            list_param = key != "name" and _is_sequence_param(catalog, section, names, key)
            if list_param and not all(isinstance(v, list) for v in value):
                continue  # one list-valued parameter, not an axis
            axes.append(Axis((f"{section}.{key}",), tuple((v,) for v in value)))
    if isinstance(source.seeds, list):
        if not source.seeds:
            raise fail(doc, source.origins[("seeds", "")], "empty axis: give at least one seed")
        axes.append(Axis(("seed",), tuple((s,) for s in source.seeds)))
    return axes


def _is_sequence_param(catalog: Catalog, section: str, names: Any, key: str) -> bool:
    registry = catalog.of_kind(_PLURAL[section])
    for name in names if isinstance(names, list) else [names]:
        if isinstance(name, str) and name in registry:
            param = registry.get(name).params.get(key)
            if param is not None:
                return bool(param.sequence)
    return False


_PLURAL = {"model": "models", "dataset": "datasets", "strategy": "strategies"}


def apply_zip(doc: YamlDocument, keypath: KeyPath, raw: Any, axes: list[Axis]) -> list[Axis]:
    """Merge the axes named in each ``zip`` group into one axis that varies them together."""
    if raw is None:
        return axes
    if not isinstance(raw, list) or not all(isinstance(g, list) for g in raw):
        raise doc.error(keypath, "expected a list of groups, e.g. [[model.depth, strategy.lr]]")
    by_key = {axis.keys[0]: axis for axis in axes}
    tied: list[Axis] = []
    used: set[str] = set()
    for index, group in enumerate(raw):
        where = (*keypath, index)
        if len(group) < 2:
            raise doc.error(where, "a zip group needs at least two axes")
        for key in group:
            if key not in by_key or key in used:
                problem = "is zipped twice" if key in used else "is not an axis"
                raise doc.error(where, f"{key!r} {problem}; axes: {', '.join(by_key)}")
            used.add(key)
        lengths = {len(by_key[key].values) for key in group}
        if len(lengths) > 1:
            sizes = ", ".join(f"{key} has {len(by_key[key].values)}" for key in group)
            raise doc.error(where, f"zipped axes must have the same length ({sizes})")
        columns = [by_key[key].values for key in group]
        tied.append(
            Axis(
                tuple(group),
                tuple(tuple(col[i][0] for col in columns) for i in range(len(columns[0]))),
            )
        )
    # A zipped group takes the place of its first axis, keeping the file's order.
    result: list[Axis] = []
    for axis in axes:
        key = axis.keys[0]
        if key not in used:
            result.append(axis)
        else:
            result.extend(t for t in tied if t.keys[0] == key)
    return result


def combinations(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of axis values, as ``dotted key -> value``."""
    combos = []
    for choice in itertools.product(*(axis.values for axis in axes)):
        combo: dict[str, Any] = {}
        for axis, values in zip(axes, choice, strict=True):
            combo.update(zip(axis.keys, values, strict=True))
        combos.append(combo)
    return combos


def apply_exclude(
    doc: YamlDocument,
    keypath: KeyPath,
    raw: Any,
    axes: Sequence[Axis],
    combos: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Drop combinations matching any ``exclude`` rule (a mapping of axis key to value(s))."""
    if raw is None:
        return combos
    if not isinstance(raw, list):
        raise doc.error(keypath, "expected a list of {AXIS: VALUE, ...} rules")
    axis_keys = [key for axis in axes for key in axis.keys]
    rules = []
    for index, rule in enumerate(raw):
        if not isinstance(rule, dict) or not rule:
            raise doc.error((*keypath, index), "expected a mapping of axis key to value")
        for key in rule:
            if key not in axis_keys:
                raise doc.error(
                    (*keypath, index, key),
                    f"not an axis of this experiment; axes: {', '.join(axis_keys) or 'none'}",
                )
        rules.append(rule)
    kept = [c for c in combos if not any(_matches(rule, c) for rule in rules)]
    if not kept:
        raise doc.error(keypath, "excludes every combination; nothing would run")
    return kept


def _matches(rule: Mapping[str, Any], combo: Mapping[str, Any]) -> bool:
    for key, wanted in rule.items():
        value = combo[key]
        if isinstance(wanted, list) and not isinstance(value, list):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def build_cell(
    doc: YamlDocument, source: ExperimentSource, combo: Mapping[str, Any], catalog: Catalog
) -> Cell:
    """Resolve one combination into a :class:`Cell`, validating names and parameters."""
    components = {}
    for section in SECTIONS:
        values = {
            key: combo.get(f"{section}.{key}", value)
            for key, value in source.sections[section].items()
        }
        name = values.pop("name", None)
        name_origin = source.origins.get((section, "name"), source.keypath)
        if not isinstance(name, str):
            raise fail(doc, name_origin, f"expected the name of a {section}, got {name!r}")
        registry = catalog.of_kind(_PLURAL[section])
        try:
            entry = registry.entry(name)
        except UnknownNameError as exc:
            raise fail(doc, name_origin, str(exc)) from None
        try:
            params = resolve(entry.spec.params, values, f"{section} {name!r}")
            for key, param in entry.spec.params.items():
                if param.path and isinstance(params[key], str):
                    # Relative to the matrix, so a matrix means the same wherever it runs from.
                    params[key] = str((doc.path.parent / params[key]).expanduser().resolve())
        except ParamError as exc:
            origin = source.origins.get((section, exc.key), source.keypath)
            raise fail(doc, origin, str(exc)) from None
        components[section] = Component(
            name=name, params=params, plugin=entry.plugin.name, version=entry.plugin.version
        )
    seed = combo.get("seed", source.seeds)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise fail(
            doc, source.origins[("seeds", "")], f"expected a seed >= 0 (an integer), got {seed!r}"
        )
    return Cell(**components, seed=seed)


def resolve(declared: Mapping[str, Any], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """:func:`registry.params.resolve_params` with tuples kept JSON-friendly as lists."""
    resolved = resolve_params(declared, given, owner)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}


def refusal(cell: Cell, catalog: Catalog) -> str | None:
    """Why this cell cannot run (model vs dataset shape, strategy needs), or ``None``."""
    model = catalog.models.get(cell.model.name)
    dataset = catalog.datasets.get(cell.dataset.name)
    strategy = catalog.strategies.get(cell.strategy.name)
    return model.refuses(dataset.input_shape) or strategy.refuses(cell.strategy.params)
