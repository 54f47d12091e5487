"""Declared parameters: conversion, bounds, and what errors say."""

from __future__ import annotations

import pytest

from dlbench.registry.params import Param, ParamError, resolve_params

DECLARED = {
    "depth": Param(2, int, minimum=2),
    "lr": Param(0.1, float, minimum=0, exclusive_minimum=True),
    "act": Param("relu", str, choices=("relu", "gelu")),
    "flag": Param(False, bool),
    "channels": Param((8, 16), int, sequence=True, minimum=1),
    "teacher": Param(None, str, nullable=True),
}


def test_defaults_fill_and_values_convert() -> None:
    resolved = resolve_params(DECLARED, {"lr": "1e-3", "depth": 4.0, "channels": [4, 8, 16]}, "x")
    assert resolved == {
        "depth": 4,
        "lr": 0.001,
        "act": "relu",
        "flag": False,
        "channels": (4, 8, 16),
        "teacher": None,
    }


@pytest.mark.parametrize(
    ("given", "pattern"),
    [
        ({"depth": 1}, r"'depth': expected an integer >= 2, got 1"),
        ({"depth": 2.5}, r"expected an integer"),
        ({"depth": True}, r"expected an integer"),
        ({"lr": 0}, r"expected a number > 0"),
        ({"lr": "fast"}, r"expected a number"),
        ({"act": "tanh"}, r"expected one of 'relu', 'gelu'"),
        ({"flag": "yes"}, r"expected a boolean"),
        ({"channels": []}, r"expected a list of integer >= 1"),
        ({"channels": [0]}, r"expected a list of integer >= 1"),
        ({"depth": None}, r"got null"),
        ({"widht": 3}, r"unknown parameter 'widht' for x; accepted: act, channels, depth"),
        ({"dpeth": 3}, r"unknown parameter 'dpeth' for x; did you mean 'depth'\? accepted"),
    ],
    ids=[
        "below-min",
        "fraction",
        "bool",
        "zero-lr",
        "text",
        "choice",
        "bool-text",
        "empty-list",
        "list-item",
        "null",
        "unknown",
        "unknown-close",
    ],
)
def test_bad_values_name_what_is_accepted(given, pattern) -> None:
    with pytest.raises(ParamError, match=pattern):
        resolve_params(DECLARED, given, "x")
