"""The package's shape: one installed name, three floors with no import back up, plugins and
examples on the public API only, small modules and functions."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
import tomllib
from helpers import REPO

import dlbench

#: Repository folder -> the floor it stands on. A module imports only from floors below its
#: own, and from its own folder; ``dlbench/`` (the public API) stands above everything.
FLOORS = {"registry": 1, "engine": 2, "reports": 2, "plugins": 3, "bench": 3}
ROOMS = (*FLOORS, "dlbench")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80
#: The marker that lets a module or function be longer, with its reason on the same line.
LONG_MARK = "# long:"


def package_files(*folders: str) -> list[Path]:
    """The Python files of ``folders``, each once: not again through ``dlbench/``'s links."""
    return sorted(
        p
        for folder in folders
        for p in (REPO / folder).rglob("*.py")
        if p.resolve().is_relative_to((REPO / folder).resolve())
    )


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement in ``path`` names, lazy ones included, as absolute
    names (``dlbench.registry.cell``); a ``from X import name`` also yields ``X.name``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def room_of(module: str) -> str | None:
    """``dlbench.engine.loop`` -> ``engine``; ``dlbench`` -> ``dlbench``; other -> None."""
    parts = module.split(".")
    if parts[0] != "dlbench":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else "dlbench"


def allowed(source: str, target: str, module: str) -> bool:
    if source == "dlbench":
        # The public API re-exports the contract and the toolkit (the kit is loaded lazily);
        # ``python -m dlbench`` starts the command line.
        return target in ("dlbench", "registry", "engine") or module.startswith(
            (
                "dlbench.bench.testing",
                "dlbench.bench.console",
                "dlbench.bench.results.export",
                "dlbench.bench.api",
            )
        )
    if source == "plugins":
        return target in ("dlbench", "registry", "engine")
    if target == "dlbench":
        return source == "bench"
    return target == source or FLOORS[target] < FLOORS[source]


def own_package(path: Path) -> str:
    """``plugins/executors/local.py`` -> ``dlbench.plugins.executors.`` (modules beside it)."""
    return ".".join(["dlbench", *path.relative_to(REPO).parent.parts, ""])


def test_no_import_runs_from_a_lower_floor_to_a_higher_one() -> None:
    wrong = []
    for folder in ROOMS:
        for path in package_files(folder):
            for line, module in imported_modules(path):
                target = room_of(module)
                if module.split(".")[0] in FLOORS:
                    wrong.append(f"{path.relative_to(REPO)}:{line}: {module} (not under dlbench)")
                elif target is not None and not allowed(folder, target, module):
                    if module.startswith(own_package(path)):
                        continue  # a plugin's helper module beside it, as in any plugin package
                    wrong.append(f"{path.relative_to(REPO)}:{line}: {folder} imports {module}")
    assert wrong == []


def test_examples_and_plugins_use_only_the_public_api() -> None:
    public = set(dlbench.__all__)
    wrong = []
    for path in [*package_files("examples"), *package_files("plugins")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "dlbench":
                wrong += [
                    f"{path.relative_to(REPO)}:{node.lineno}: {alias.name}"
                    for alias in node.names
                    if alias.name not in public
                ]
            elif (
                isinstance(node, ast.Attribute)
                and getattr(node.value, "id", None) == "dlbench"
                and node.attr not in public
            ):
                wrong.append(f"{path.relative_to(REPO)}:{node.lineno}: dlbench.{node.attr}")
        if path.is_relative_to(REPO / "examples"):
            for line, module in imported_modules(path):
                if module.startswith("dlbench.") and room_of(module) != "dlbench":
                    wrong.append(f"{path.relative_to(REPO)}:{line}: {module}")
    assert wrong == []


def test_the_public_api_is_declared_documented_and_importable() -> None:
    assert sorted(dlbench.__all__) == sorted(set(dlbench.__all__))
    for name in dlbench.__all__:
        value = getattr(dlbench, name)
        if callable(value) and not isinstance(value, type(dlbench.Register)):
            assert getattr(value, "__doc__", None), f"dlbench.{name} has no docstring"


def _too_long(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    found = []
    if len(lines) > MAX_MODULE_LINES and LONG_MARK not in "\n".join(lines[:3]):
        found.append(f"{path.relative_to(REPO)}: {len(lines)} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            head = "\n".join(lines[node.lineno - 1 : node.body[0].lineno + 1])
            if length > MAX_FUNCTION_LINES and LONG_MARK not in head:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.name}, {length}")
    return found


def test_modules_and_functions_are_small_or_say_why_not() -> None:
    found = [
        problem for folder in ROOMS for path in package_files(folder) for problem in _too_long(path)
    ]
    assert found == []


def test_dlbench_links_every_top_level_folder_as_its_subpackage() -> None:
    for name in FLOORS:
        link = REPO / "dlbench" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", name
    # The build finds the subpackages itself: no hand-kept list, no folder mapping.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"] == {"find": {"include": ["dlbench", "dlbench.*"]}}
    assert "package-dir" not in config


def test_the_installed_package_holds_every_subpackage() -> None:
    dist = distribution("dlbench")
    if dist.read_text("direct_url.json") and '"editable": true' in (
        dist.read_text("direct_url.json") or ""
    ):
        pytest.skip("an editable install lists no files; tox installs the wheel")
    installed = {str(f) for f in dist.files or ()}
    missing = [
        f"dlbench/{init.relative_to(REPO)}"
        for name in FLOORS
        for init in (REPO / name).rglob("__init__.py")
        if f"dlbench/{init.relative_to(REPO)}" not in installed
    ]
    assert missing == []
    assert "dlbench/reports/templates/report.html.j2" in installed


def test_bench_is_in_wings_and_results_never_import_run() -> None:
    top = sorted(p.name for p in (REPO / "bench").glob("*.py"))
    assert len(top) <= 8, top
    wrong = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in package_files("bench/results")
        for line, module in imported_modules(path)
        if module.startswith("dlbench.bench.run")
    ]
    assert wrong == []


def test_the_only_installed_top_level_name_is_dlbench() -> None:
    assert distribution("dlbench").read_text("top_level.txt").split() == ["dlbench"]


SHADOWS = ("registry", "reports", "plugins", "bench", "engine")
SMALL = """\
name: shadowed
defaults: {dataset: {name: digits, train_subset: 64}, strategy: {name: plain, epochs: 1}}
experiments:
  e:
    model: {name: mlp, hidden: 8}
"""


def test_a_users_own_registry_reports_plugins_and_bench_modules_change_nothing(
    tmp_path: Path,
) -> None:
    # `python -m` puts the working folder first on the path: a user's own modules of these
    # names would be imported instead of dlbench's if dlbench imported them by these names.
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(f"raise RuntimeError('the user\\'s {name}.py')\n")
    (tmp_path / "matrix.yaml").write_text(SMALL)
    environment = {**os.environ, "PYTHONPATH": str(REPO / "examples" / "plugin-example")}
    run = subprocess.run(
        [sys.executable, "-m", "dlbench", "run", "--matrix", "matrix.yaml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert run.returncode == 0, run.stderr
    example_tests = REPO / "examples" / "plugin-example" / "tests"
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example_tests)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr


@pytest.mark.parametrize("name", SHADOWS)
def test_shadow_modules_really_break_an_import_of_that_name(tmp_path: Path, name: str) -> None:
    # The test above only means something if a bare import of these names picks the user's file.
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('shadow')\n")
    run = subprocess.run(
        [sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True
    )
    assert "shadow" in run.stderr


def test_a_process_started_in_the_checkout_imports_the_whole_package_from_it() -> None:
    # Its working directory comes first on sys.path, so the checkout's dlbench/ folder is
    # imported: a whole package through its links, with no import machinery of its own.
    code = (
        "import sys, dlbench.bench.cli, dlbench; "
        "print(dlbench.bench.__file__, dlbench.Param); "
        "print([type(f).__module__ for f in sys.meta_path])"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    first, finders = run.stdout.splitlines()
    assert Path(first.split()[0]).resolve() == REPO / "bench" / "__init__.py"
    assert "dlbench" not in finders
    listed = subprocess.run(
        [sys.executable, "-m", "dlbench", "list", "executors"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr
    assert "slurm" in listed.stdout


def test_each_public_name_is_declared_once() -> None:
    # The stub is the one list: dlbench/__init__.py derives __all__ and its lazy loading from it,
    # and the subpackages' __init__ files re-export nothing.
    stub = ast.parse((REPO / "dlbench" / "__init__.pyi").read_text())
    imports = [node for node in stub.body if isinstance(node, ast.ImportFrom)]
    declared = [alias.asname or alias.name for node in imports for alias in node.names]
    assert sorted(declared) == sorted(set(declared)) == sorted(dlbench.__all__)
    init = ast.parse((REPO / "dlbench" / "__init__.py").read_text())
    assigned = [
        t.id
        for n in ast.walk(init)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    assert "__all__" not in assigned
    for folder in ("registry", "engine", "reports", "plugins", "bench"):
        tree = ast.parse((REPO / folder / "__init__.py").read_text())
        assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], folder
