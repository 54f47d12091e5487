"""An experiment's axes: list values are axes, ``zip`` ties axes together, ``exclude`` drops
combinations; the number of combinations is counted before any cell is built."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlbench.bench.matrix.expand import ExperimentSource, named_blocks
from dlbench.bench.matrix.yamlfile import KeyPath, MatrixError
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS

#: The most cells one experiment may expand to; a matrix this size already takes days.
MAX_CELLS = 10_000


@dataclass(frozen=True)
class Axis:
    """Keys that vary together (one key, or several tied by ``zip``) and their value tuples."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]


def find_axes(source: ExperimentSource, catalog: Catalog) -> list[Axis]:
    """The experiment's axes, in file order, with ``seed`` last."""
    axes: list[Axis] = []
    for section in COMPONENT_KINDS:
        values = source.sections[section]
        names = values.get("name")
        blocks = named_blocks(source, section)
        entries = [(key, key, value, names) for key, value in values.items() if key not in blocks]
        for name, block in blocks.items():
            entries += [(f"{name}.{key}", key, value, name) for key, value in block.items()]
        for path, key, value, owners in entries:
            if not isinstance(value, list):
                continue
            origin = source.origins.get((section, path), source.keypath)
            if not value:
                raise MatrixError(origin, "empty axis: a list needs at least one value")
            list_param = key != "name" and _is_sequence_param(catalog, section, owners, key)
            if list_param and not all(isinstance(v, list) for v in value):
                continue  # one list-valued parameter, not an axis
            axes.append(Axis((f"{section}.{path}",), tuple((v,) for v in value)))
    if isinstance(source.seeds, list):
        if not source.seeds:
            raise MatrixError(source.origins[("seeds", "")], "empty axis: give at least one seed")
        axes.append(Axis(("seed",), tuple((s,) for s in source.seeds)))
    return axes


def _is_sequence_param(catalog: Catalog, section: str, names: Any, key: str) -> bool:
    for _, declared in catalog.declarations(section, names):
        if declared is not None and key in declared:
            return bool(declared[key].sequence)
    return False


def apply_zip(keypath: KeyPath, raw: Any, axes: list[Axis]) -> list[Axis]:
    """Merge the axes named in each ``zip`` group into one axis that varies them together."""
    if raw is None:
        return axes
    if not isinstance(raw, list) or not all(isinstance(g, list) for g in raw):
        raise MatrixError(keypath, "expected a list of groups, e.g. [[model.depth, strategy.lr]]")
    by_key = {axis.keys[0]: axis for axis in axes}
    tied: list[Axis] = []
    used: set[str] = set()
    for index, group in enumerate(raw):
        where = (*keypath, index)
        if len(group) < 2:
            raise MatrixError(where, "a zip group needs at least two axes")
        for key in group:
            if key not in by_key or key in used:
                problem = "is zipped twice" if key in used else "is not an axis"
                raise MatrixError(where, f"{key!r} {problem}; axes: {', '.join(by_key)}")
            used.add(key)
        lengths = {len(by_key[key].values) for key in group}
        if len(lengths) > 1:
            sizes = ", ".join(f"{key} has {len(by_key[key].values)}" for key in group)
            raise MatrixError(where, f"zipped axes must have the same length ({sizes})")
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


def check_size(keypath: KeyPath, axes: Sequence[Axis]) -> None:
    """Refuse, before building any, an experiment whose axes cross into too many cells."""
    count = 1
    for axis in axes:
        count *= len(axis.values)
    if count > MAX_CELLS:
        sizes = " x ".join(f"{len(a.values)} {'+'.join(a.keys)}" for a in axes)
        raise MatrixError(
            keypath, f"{count:,} combinations ({sizes}); at most {MAX_CELLS:,} per experiment"
        )


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
    keypath: KeyPath,
    raw: Any,
    axes: Sequence[Axis],
    combos: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Drop combinations matching any ``exclude`` rule (a mapping of axis key to value(s))."""
    if raw is None:
        return combos
    if not isinstance(raw, list):
        raise MatrixError(keypath, "expected a list of {AXIS: VALUE, ...} rules")
    axis_keys = [key for axis in axes for key in axis.keys]
    rules = []
    for index, rule in enumerate(raw):
        if not isinstance(rule, dict) or not rule:
            raise MatrixError((*keypath, index), "expected a mapping of axis key to value")
        for key in rule:
            if key not in axis_keys:
                raise MatrixError(
                    (*keypath, index, key),
                    f"not an axis of this experiment; axes: {', '.join(axis_keys) or 'none'}",
                )
        rules.append(rule)
    kept = [c for c in combos if not any(_matches(rule, c) for rule in rules)]
    if not kept:
        raise MatrixError(keypath, "excludes every combination; nothing would run")
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
