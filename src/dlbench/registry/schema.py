"""Reading back what dlbench wrote: a stored JSON value checked against the type hints of the
frozen record that wrote it, so that readers trust nothing they did not verify and a damaged file
is named in one line instead of failing somewhere inside a report.

The records' own annotations are the schema (``str``, ``int``, ``float``, ``bool``, ``None``,
unions, ``list[T]``, ``tuple[T, ...]``, ``dict[str, T]``, ``Mapping[str, T]``, ``Literal``,
``Any``), so the writer and the readers never disagree about the shape.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, Union

#: Stored JSON nests a few levels; deeper is damage (or an attack on the reader).
MAX_DEPTH = 64


class ShapeError(ValueError):
    """A stored value whose shape differs from the record's declared types."""


@cache
def field_types(record: type) -> dict[str, Any]:
    """The resolved type hints of a record's fields."""
    return typing.get_type_hints(record)


def check_fields(record: type, data: Any, where: str, required: tuple[str, ...] = ()) -> None:
    """Check that ``data`` is a JSON object whose keys are fields of ``record`` (a dataclass)
    holding values of the declared types, and that ``required`` keys are present.

    :raises ShapeError: naming the first key that is unknown, missing or of the wrong shape.
    """
    if not isinstance(data, Mapping):
        raise ShapeError(f"{where}: expected a JSON object, found {_kind(data)}")
    hints = field_types(record)
    for key in data:
        if key not in hints:
            raise ShapeError(f"{where}: unknown key {str(key)[:40]!r}")
    for key in required:
        if key not in data:
            raise ShapeError(f"{where}: missing key {key!r}")
    for key, value in data.items():
        check_value(value, hints[key], f"{where}.{key}")


def check_value(value: Any, expected: Any, where: str, depth: int = 0) -> None:
    """Check one JSON value against a type hint; numbers must fit a float (a stored NaN is
    kept: it is what a run measured, and tables show it as such).

    :raises ShapeError: saying where and what was expected.
    """
    if depth > MAX_DEPTH:
        raise ShapeError(f"{where}: nested more than {MAX_DEPTH} levels")
    origin = typing.get_origin(expected)
    if expected is Any:
        _check_any(value, where, depth)
    elif origin is Union or origin is types.UnionType:
        _check_union(value, typing.get_args(expected), where, depth)
    elif origin is Literal:
        if value not in typing.get_args(expected):
            raise ShapeError(f"{where}: expected one of {typing.get_args(expected)}")
    elif expected is type(None):
        if value is not None:
            raise ShapeError(f"{where}: expected null, found {_kind(value)}")
    elif expected in (int, float):
        _check_number(value, where, whole=expected is int)
    elif expected is bool or expected is str:
        if not isinstance(value, expected):
            raise ShapeError(f"{where}: expected {expected.__name__}, found {_kind(value)}")
    elif origin in (list, tuple, typing.get_origin(typing.Sequence[int])):
        _check_items(value, expected, where, depth)
    elif origin in (dict, typing.get_origin(Mapping[str, int])):
        _check_mapping(value, typing.get_args(expected)[1], where, depth)
    elif isinstance(expected, type) and hasattr(expected, "__dataclass_fields__"):
        check_fields(expected, value, where)
    else:
        raise ShapeError(f"{where}: no reader for {expected!r}")  # a record this cannot check


def _check_union(value: Any, options: tuple[Any, ...], where: str, depth: int) -> None:
    problems = []
    for option in options:
        try:
            check_value(value, option, where, depth)
            return
        except ShapeError as exc:
            problems.append(str(exc))
    raise ShapeError(problems[-1] if problems else f"{where}: no type to check against")


def _check_items(value: Any, expected: Any, where: str, depth: int) -> None:
    # A tuple is what a record holds before it is written as a JSON list.
    if not isinstance(value, (list, tuple)):
        raise ShapeError(f"{where}: expected a list, found {_kind(value)}")
    arguments = [a for a in typing.get_args(expected) if a is not Ellipsis] or [Any]
    for index, item in enumerate(value):
        check_value(item, arguments[0], f"{where}[{index}]", depth + 1)


def _check_mapping(value: Any, expected: Any, where: str, depth: int) -> None:
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected a JSON object, found {_kind(value)}")
    for key, item in value.items():
        check_value(item, expected, f"{where}.{str(key)[:40]}", depth + 1)


def _check_any(value: Any, where: str, depth: int) -> None:
    """Free-form JSON: only its numbers (finite, within a float) and its depth are checked."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        _check_number(value, where, whole=False)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_value(item, Any, f"{where}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_value(item, Any, f"{where}.{str(key)[:40]}", depth + 1)


def _check_number(value: Any, where: str, whole: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShapeError(f"{where}: expected a number, found {_kind(value)}")
    if whole and not isinstance(value, int):
        raise ShapeError(f"{where}: expected a whole number, found {value!r}")
    try:
        float(value)
    except OverflowError:
        raise ShapeError(f"{where}: a number too large for a float") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )
