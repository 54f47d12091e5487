"""Declared parameters of a plugin and their validation.

Every spec declares the parameters it accepts as ``Param`` records, so a matrix can be
checked before anything runs: unknown keys, wrong types and out-of-range values become one-line
errors that name the accepted values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlbench.registry.errors import did_you_mean

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Param:
    """One parameter a plugin accepts.

    :param default: value used when the matrix does not set it.
    :param type: ``bool``, ``int``, ``float`` or ``str`` (of each item when ``sequence``).
    :param help: one line shown by ``bench list``.
    :param choices: the only accepted values, if any.
    :param minimum: smallest accepted value for numbers (inclusive unless ``exclusive_minimum``).
    :param maximum: largest accepted value for numbers (inclusive).
    :param exclusive_minimum: reject a value equal to ``minimum`` (e.g. a learning rate of 0).
    :param exclusive_maximum: reject a value equal to ``maximum`` (e.g. a held-out share of 1).
    :param nullable: ``null`` is accepted.
    :param sequence: the value is a list of ``type``; a list of lists in a matrix is then an axis.
    :param path: the value is a file path; a relative one is resolved against the matrix file's
        folder.
    :param artifact: the parameter takes another cell's artifact of this kind (e.g.
        ``"checkpoint"``): in a matrix ``{from: EXPERIMENT}`` (optionally with ``where:``), which
        resolves to ``"cell:<id>"`` of the producing cell. Such parameters are nullable strings.
    :param keywords: words accepted as they are besides values of ``type`` (``("auto",)`` for
        a number the plugin may choose itself).
    """

    default: Any
    type: type = str
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False
    sequence: bool = False
    path: bool = False
    artifact: str | None = None
    keywords: tuple[str, ...] = ()

    def describe(self) -> str:
        """What this parameter accepts, in words, for error messages."""
        if self.artifact is not None:
            return f"a reference {{from: EXPERIMENT}} to a cell that produces a {self.artifact}"
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            text = _TYPE_NAMES[self.type]
            low, high = self.minimum, self.maximum
            if low is not None and high is not None:
                excluded = [
                    f"{bound:g}"
                    for bound, flag in (
                        (low, self.exclusive_minimum),
                        (high, self.exclusive_maximum),
                    )
                    if flag
                ]
                exclusive = f" (not {' or '.join(excluded)})" if excluded else ""
                text += f" between {low:g} and {high:g}{exclusive}"
            elif low is not None:
                text += f" {'>' if self.exclusive_minimum else '>='} {low:g}"
            elif high is not None:
                text += f" {'<' if self.exclusive_maximum else '<='} {high:g}"
        if self.sequence:
            text = f"a list of {text.removeprefix('a ').removeprefix('an ')}"
        if self.keywords:
            text += ", or " + " or ".join(repr(word) for word in self.keywords)
        if self.nullable:
            text += " or null"
        return text

    def convert(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ``ValueError``."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"expected {self.describe()}, got null")
        if isinstance(value, str) and value in self.keywords:
            return value
        if self.artifact is not None:
            if isinstance(value, str) and value.startswith(CELL_REFERENCE):
                return value
            raise ValueError(f"expected {self.describe()}, got {value!r}")
        if self.sequence:
            if not isinstance(value, (list, tuple)) or not value:
                raise ValueError(f"expected {self.describe()}, got {value!r}")
            return tuple(self._convert_one(v) for v in value)
        return self._convert_one(value)

    def _convert_one(self, value: Any) -> Any:
        converted = _coerce(value, self.type)
        if converted is _INVALID:
            raise ValueError(f"expected {self.describe()}, got {value!r}")
        if self.choices is not None and converted not in self.choices:
            raise ValueError(f"expected {self.describe()}, got {value!r}")
        if self.minimum is not None and (
            converted < self.minimum or (self.exclusive_minimum and converted == self.minimum)
        ):
            raise ValueError(f"expected {self.describe()}, got {value!r}")
        if self.maximum is not None and (
            converted > self.maximum or (self.exclusive_maximum and converted == self.maximum)
        ):
            raise ValueError(f"expected {self.describe()}, got {value!r}")
        return converted


_INVALID = object()

#: Prefix of a resolved reference to another cell: ``cell:<id>``.
CELL_REFERENCE = "cell:"


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        return value if isinstance(value, bool) else _INVALID
    if isinstance(value, bool):
        return _INVALID
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _INVALID
    if kind is float:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-3" as a string; accept what a user obviously meant.
            try:
                value = float(value)
            except ValueError:
                return _INVALID
        if isinstance(value, (int, float)):
            # NaN and infinities are never a learning rate, a fraction or a weight.
            try:
                number = float(value)
            except OverflowError:
                return _INVALID
            return number if math.isfinite(number) else _INVALID
        return _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID
    raise TypeError(f"unsupported parameter type {kind!r}")


def resolve_params(
    declared: Mapping[str, Param], given: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Fill defaults and validate ``given`` against ``declared``.

    :param declared: the parameters a plugin accepts.
    :param given: the values a matrix sets.
    :param owner: how to name the plugin in errors, e.g. ``"model 'mlp'"``.
    :raises ParamError: naming the first bad key and what it accepts.
    """
    resolved: dict[str, Any] = {}
    for key in given:
        if key not in declared:
            accepted = ", ".join(sorted(declared)) or "none"
            hint = did_you_mean(key, declared)
            hint = f"{hint} " if hint else ""
            raise ParamError(
                key, f"unknown parameter {key!r} for {owner}; {hint}accepted: {accepted}"
            )
    for key, param in declared.items():
        if key not in given:
            resolved[key] = param.default
            continue
        try:
            resolved[key] = param.convert(given[key])
        except ValueError as exc:
            raise ParamError(key, f"{owner} parameter {key!r}: {exc}") from None
    return resolved


class ParamError(ValueError):
    """A parameter value or key that the plugin does not accept."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
