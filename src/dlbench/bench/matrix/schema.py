"""A JSON Schema of the matrix format, with the names and parameters of the plugins installed
now, so that editors can complete and check matrix files (``bench schema``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlbench.bench.matrix import DEFAULT_KEYS, TOP_KEYS
from dlbench.bench.matrix.experiment import EXPERIMENT_KEYS, MAX_NAME_LENGTH
from dlbench.bench.matrix.tables import LEADERBOARD_KEYS, MODEL_CARD_KEYS, TABLE_KEYS, TABLE_KINDS
from dlbench.bench.matrix.tuning import TUNE_PARAMS
from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, VARY_SOURCES
from dlbench.registry.params import Param
from dlbench.stats.tuning import DISTRIBUTIONS

JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
REFERENCE = {
    "type": "object",
    "required": ["from"],
    "properties": {"from": {"type": "string"}, "where": {"type": "object"}},
    "additionalProperties": False,
    "description": "another experiment's cells whose artifact this parameter takes",
}


def _value(param: Param) -> dict[str, Any]:
    """What a matrix may give a parameter: a value, an axis (a list) of values, a reference."""
    base: dict[str, Any] = {"type": JSON_TYPES.get(param.type, "string")}
    if param.type in (int, float):
        # The same bounds the run checks, so that an editor flags `lr: 0` as the run would.
        for bound, exclusive, word in (
            (param.minimum, param.exclusive_minimum, "inimum"),
            (param.maximum, param.exclusive_maximum, "aximum"),
        ):
            if bound is not None:
                key = f"exclusiveM{word}" if exclusive else f"m{word}"
                base[key] = bound
    if param.choices is not None:
        base = {"enum": list(param.choices)}
    if param.sequence:
        base = {"type": "array", "items": base}
    if param.keywords:
        base = {"anyOf": [base, {"enum": list(param.keywords)}]}
    if param.nullable:
        base = {"anyOf": [base, {"type": "null"}]}
    options = [base, {"type": "array", "items": base, "minItems": 1}]
    if param.artifact:
        options.append(REFERENCE)
    return {"anyOf": options, "description": f"{param.help} ({param.describe()})".strip()}


def _component(catalog: Catalog, kind: str) -> dict[str, Any]:
    registry = catalog.component(kind)
    names = registry.names()
    prefixes = [family.prefix for family, _ in registry.families()]
    name: dict[str, Any] = {"enum": names}
    if prefixes:
        name = {"anyOf": [name, *({"type": "string", "pattern": f"^{p}"} for p in prefixes)]}
    declared: dict[str, list[dict[str, Any]]] = {}
    for entry in registry:
        for key, param in entry.spec.params.items():
            value = _value(param)
            if value not in declared.setdefault(key, []):
                declared[key].append(value)
    # A key several plugins declare differently accepts what any of them accepts.
    params = {
        key: values[0] if len(values) == 1 else {"anyOf": values}
        for key, values in declared.items()
    }
    properties = {
        "name": {"anyOf": [name, {"type": "array", "items": name, "minItems": 1}]},
        **params,
    }
    return {
        "anyOf": [
            name,
            {
                "type": "object",
                "required": ["name"],
                "properties": properties,
                # Per-name blocks: {name: [a, b], a: {...}} for parameters only `a` takes.
                "additionalProperties": {"type": "object"},
            },
        ],
        "description": f"the {kind}: a name, or a mapping of name and parameters",
    }


def _executor(catalog: Catalog) -> dict[str, Any]:
    """``executor: NAME`` or ``{name: NAME, OPTION: VALUE}`` with any executor's options."""
    name = {"enum": catalog.executors.names()}
    options: dict[str, Any] = {}
    for entry in catalog.executors:
        for key, param in entry.spec.params.items():
            options.setdefault(key, _value(param))
    return {
        "anyOf": [
            name,
            {
                "type": "object",
                "required": ["name"],
                "properties": {"name": name, **options},
                "additionalProperties": False,
            },
        ],
        "description": "how cells run: an executor's name, or its name and options",
    }


def _layer(keys: tuple[str, ...], extra: Mapping[str, Any] = {}) -> dict[str, Any]:
    properties: dict[str, Any] = {kind: {"$ref": f"#/$defs/{kind}"} for kind in COMPONENT_KINDS}
    properties["seeds"] = {
        "anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        ]
    }
    properties["repeats"] = {"type": "integer", "minimum": 1, "maximum": 1000}
    properties["vary"] = {
        "type": "array",
        "items": {"enum": list(VARY_SOURCES)},
        "minItems": 1,
        "uniqueItems": True,
        "description": "the sources of randomness a run's seed varies (default: init, order)",
    }
    properties["probes"] = {"type": "object"}
    properties.update(extra)
    return {
        "type": "object",
        "properties": {key: value for key, value in properties.items() if key in keys},
        "additionalProperties": False,
    }


def matrix_schema(catalog: Catalog) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a matrix file for the plugins in ``catalog``."""
    table_keys = sorted(set(TABLE_KEYS) | set(MODEL_CARD_KEYS) | set(LEADERBOARD_KEYS))
    table = {
        "type": "object",
        "properties": {key: {} for key in table_keys} | {"kind": {"enum": list(TABLE_KINDS)}},
        "additionalProperties": False,
    }
    experiment_extra = {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "zip": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "exclude": {"type": "array", "items": {"type": "object"}},
        "tables": {"type": "array", "items": table},
        "tune": {
            "type": "object",
            "required": ["space"],
            "properties": {
                "space": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": 1,
                        "propertyNames": {"enum": list(DISTRIBUTIONS)},
                    },
                },
                **{key: _value(param) for key, param in TUNE_PARAMS.items()},
            },
            "additionalProperties": False,
            "description": "tune every arm with the same budget of trials before its final runs",
        },
    }
    experiment_name = f"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME_LENGTH - 1}}}$"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dlbench matrix",
        "type": "object",
        "required": ["name", "experiments"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"},
            "description": {"type": "string"},
            "executor": _executor(catalog),
            "defaults": {"$ref": "#/$defs/defaults"},
            "experiments": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": experiment_name},
                "additionalProperties": {"$ref": "#/$defs/experiment"},
            },
        },
        "$defs": {
            **{kind: _component(catalog, kind) for kind in COMPONENT_KINDS},
            "defaults": _layer(DEFAULT_KEYS),
            "experiment": _layer(EXPERIMENT_KEYS, experiment_extra),
        },
        "x-top-level-keys": list(TOP_KEYS),
    }
