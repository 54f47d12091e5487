"""Shared fixtures: fresh plugin managers, matrix files, the command line in-process."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from helpers import SHARED_DATA, SMALL

from dlbench.bench.cli import main
from dlbench.bench.host import load_catalog
from dlbench.registry.catalog import Catalog


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` first, each file's order kept otherwise: pytest-xdist hands
    tests out in this order, so the long ones start early and no worker is left running one
    alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def make_catalog() -> Callable[..., Catalog]:
    """Build a fresh catalog: the built-ins plus inline plugins, never installed entry points."""

    def make(**plugins: object) -> Catalog:
        return load_catalog(plugins=plugins, load_entry_points=False, strict=True)

    return make


@pytest.fixture
def catalog(make_catalog: Callable[..., Catalog]) -> Catalog:
    """A fresh catalog of the built-in plugins only."""
    return make_catalog()


@pytest.fixture
def write_matrix(tmp_path: Path) -> Callable[[str], Path]:
    """Write a matrix file from (dedented) YAML text and return its path."""

    def write(text: str, name: str = "matrix.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


class CliResult:
    """Exit code and output of one in-process ``bench`` call."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def bench(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run ``bench ARGS`` in this process (no external plugins) and capture its output."""
    monkeypatch.setattr("dlbench.registry.manager.entry_points", lambda group: [])

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def shared_mnist() -> Path:
    """The real MNIST copy beside the checkout; skips the test when it is absent."""
    if not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.skip(f"real MNIST not found at {SHARED_DATA}/MNIST/raw (only beside the checkout)")
    return SHARED_DATA


@pytest.fixture
def install(monkeypatch, tmp_path):
    """Write plugin modules into a folder on the path and expose them as entry points."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    points: dict[str, EntryPoint] = {}
    monkeypatch.setattr(
        "dlbench.registry.manager.entry_points", lambda group: list(points.values())
    )

    def write(name: str, source: str) -> Path:
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)  # the next load reads the file again
        points[name] = EntryPoint(name, name, "dlbench")
        return path

    yield write
    for name in points:
        sys.modules.pop(name, None)


@pytest.fixture
def small_run(bench, write_matrix, tmp_path: Path) -> tuple[Path, Path]:
    """The SMALL matrix run into ``tmp_path/o``: (matrix file, results directory)."""
    path, out = write_matrix(SMALL), tmp_path / "o"
    assert bench("run", "--matrix", path, "--out", out).code == 0
    return path, out
