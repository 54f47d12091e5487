"""Checks of a registered record that need no data: its functions take what it declares, and its
parameters' defaults are values those parameters accept. Run at registration, so a plugin's
mistake is reported when it loads, not when a cell reaches it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from dlbench.registry.params import Param
from dlbench.registry.specs import (
    DIRECTIONS,
    DatasetSpec,
    ExecutorSpec,
    ModelSpec,
    ProbeSpec,
    StrategySpec,
)

SUPPORTED_TYPES = (bool, int, float, str)


def spec_problem(spec: object) -> str | None:
    """Why ``spec`` is not usable, in one line naming the record and parameter, or ``None``."""
    if isinstance(spec, ModelSpec):
        what = f"model {spec.name!r}"
        return _params_problem(what, spec.params) or _call_problem(
            what, "build", spec.build, 2, spec.params
        )
    if isinstance(spec, ProbeSpec):
        what = f"probe {spec.name!r}"
        return _params_problem(what, spec.params) or _call_problem(
            what, "create", spec.create, 0, spec.params
        )
    if isinstance(spec, ExecutorSpec):
        what = f"executor {spec.name!r}"
        return _params_problem(what, spec.params) or _call_problem(
            what, "create", spec.create, 0, spec.params
        )
    if isinstance(spec, DatasetSpec):
        what = f"dataset {spec.name!r}"
        return _params_problem(what, spec.params) or _call_problem(what, "load", spec.load, 1, {})
    if isinstance(spec, StrategySpec):
        what = f"strategy {spec.name!r}"
        return (
            _params_problem(what, spec.params)
            or _directions_problem(what, spec)
            or _call_problem(what, "run", spec.run, 2, {})
        )
    return None


def _directions_problem(what: str, spec: StrategySpec) -> str | None:
    if not isinstance(spec.directions, Mapping):
        return f"{what} directions: expected a mapping of metric name to 'higher' or 'lower'"
    for metric, direction in spec.directions.items():
        if metric not in spec.metrics:
            return f"{what} directions: {metric!r} is not one of its metrics"
        if direction not in DIRECTIONS:
            return f"{what} directions: {metric!r}: {direction!r}, expected 'higher' or 'lower'"
    return None


def _params_problem(what: str, params: Mapping[str, Param]) -> str | None:
    for key, param in params.items():
        if not isinstance(param, Param):
            return f"{what} parameter {key!r}: expected a dlbench.Param, got {type(param).__name__}"
        if param.type not in SUPPORTED_TYPES:
            return (
                f"{what} parameter {key!r}: type {param.type!r} is not one of "
                f"{', '.join(t.__name__ for t in SUPPORTED_TYPES)}"
            )
        try:
            param.convert(param.default)
        except ValueError as exc:
            return f"{what} parameter {key!r}: its default {param.default!r} is invalid ({exc})"
    return None


def _call_problem(
    what: str, role: str, function: Callable[..., Any], positional: int, params: Mapping[str, Any]
) -> str | None:
    """Whether ``function`` takes ``positional`` positional arguments and every declared
    parameter as a keyword, and requires nothing else."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None  # a builtin or C function: nothing to read
    kinds = inspect.Parameter
    parameters = list(signature.parameters.values())
    takes_kwargs = any(p.kind is kinds.VAR_KEYWORD for p in parameters)
    takes_args = any(p.kind is kinds.VAR_POSITIONAL for p in parameters)
    leading = [
        p for p in parameters if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    if len(leading) < positional and not takes_args:
        taken = len(leading)
        return f"{what}: {role}() takes {taken} positional argument(s), dlbench passes {positional}"
    keywords = {p.name for p in parameters[positional:] if p.kind is not kinds.VAR_POSITIONAL}
    for key in params:
        if key not in keywords and not takes_kwargs:
            return (
                f"{what} parameter {key!r} is declared but {role}() does not take it; "
                f"{role}() takes: {', '.join(sorted(keywords)) or 'nothing more'}"
            )
    for parameter in parameters[positional:]:
        required = parameter.default is kinds.empty and parameter.kind in (
            kinds.KEYWORD_ONLY,
            kinds.POSITIONAL_OR_KEYWORD,
        )
        if required and parameter.name not in params:
            return (
                f"{what}: {role}() needs {parameter.name!r}, which is not declared in its params "
                "(declare it as a dlbench.Param so matrices can set it)"
            )
    return None
