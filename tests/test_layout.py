"""The package's shape: one real tree under src/ that is the import tree, one installed name,
floors and wings with no import back up, plugins and examples on the public API only, small
modules and functions."""

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

PACKAGE = REPO / "src" / "dlbench"
#: Room of the package -> the floor it stands on. A module imports only from floors below its
#: own, and from its own room; ``dlbench/`` (the public API) stands above everything.
FLOORS = {"registry": 1, "stats": 1.5, "engine": 2, "reports": 2, "plugins": 3, "bench": 3}
ROOMS = (*FLOORS, "dlbench")
#: Wing (folder, or top-level module) of ``bench/`` -> its rank, bottom up: a wing imports only
#: wings of a lower rank. The store and the matrix language stand on the host's catalog; the
#: runner on them; ``bench perf`` and the conformance kit on the runner; the command line and
#: the Python API on all of those, side by side; the console script starts the command line.
WINGS = {
    "signals": 0,
    "machine": 0,
    "host": 0,
    "results": 1,
    "matrix": 1,
    "run": 2,
    "perf": 3,
    "testing": 3,
    "cli": 4,
    "api": 4,
    "console": 5,
}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 80
#: The marker that lets a module or function be longer, with its reason on the same line.
LONG_MARK = "# long:"


def package_files(*rooms: str) -> list[Path]:
    """The Python files of the package's ``rooms`` (``dlbench``: the files at its top)."""
    found: list[Path] = []
    for room in rooms:
        found += PACKAGE.glob("*.py") if room == "dlbench" else (PACKAGE / room).rglob("*.py")
    return sorted(found)


def example_files() -> list[Path]:
    """The Python files of ``examples/``."""
    return sorted((REPO / "examples").rglob("*.py"))


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
        return target in ("dlbench", "registry", "engine", "stats") or module.startswith(
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
    """``src/dlbench/plugins/executors/local.py`` -> ``dlbench.plugins.executors.`` (the modules
    beside it)."""
    if not path.is_relative_to(PACKAGE):
        return "dlbench."  # outside the package (examples/): nothing but the public API
    return ".".join(["dlbench", *path.relative_to(PACKAGE).parent.parts, ""])


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
    for path in [*example_files(), *package_files("plugins")]:
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
        for line, module in imported_modules(path):
            # A built-in plugin may import a helper module beside it, as any plugin package may.
            own = own_package(path)
            inside = module.startswith("dlbench.") and module.split(".")[1] not in public
            if inside and (own == "dlbench." or not module.startswith(own)):
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


def test_the_file_tree_is_the_import_tree() -> None:
    # No links anywhere in the repository, and no folder mapping: setuptools finds the package
    # under src/ by itself.
    listed = subprocess.run(
        ["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0:
        assert [line for line in listed.stdout.splitlines() if line.startswith("120000")] == []
    # Outside git (an unpacked sdist), the project's own folders hold no link either.
    folders = ("src", "tests", "docs", "examples", "baselines", ".ci")
    assert [p for f in folders for p in (REPO / f).rglob("*") if p.is_symlink()] == []
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"] == {"find": {"where": ["src"]}}
    assert "package-dir" not in config
    assert not [name for name in FLOORS if (REPO / name).exists()]


def test_the_installed_package_holds_every_subpackage() -> None:
    dist = distribution("dlbench")
    if dist.read_text("direct_url.json") and '"editable": true' in (
        dist.read_text("direct_url.json") or ""
    ):
        pytest.skip("an editable install lists no files; tox installs the wheel")
    installed = {str(f) for f in dist.files or ()}
    missing = [
        f"dlbench/{init.relative_to(PACKAGE)}"
        for init in PACKAGE.rglob("__init__.py")
        if f"dlbench/{init.relative_to(PACKAGE)}" not in installed
    ]
    assert missing == []
    assert "dlbench/reports/templates/report.html.j2" in installed


def wing_of(module: str) -> str | None:
    """``dlbench.bench.run.runner`` -> ``run``; ``dlbench.bench.api`` -> ``api``."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["dlbench", "bench"] and len(parts) > 2 else None


def test_every_module_of_bench_is_in_a_ranked_wing() -> None:
    wings = {p.stem for p in (PACKAGE / "bench").glob("*.py")} - {"__init__"}
    wings |= {p.name for p in (PACKAGE / "bench").iterdir() if (p / "__init__.py").exists()}
    assert wings == set(WINGS)


def test_no_wing_of_bench_imports_a_wing_at_or_above_its_rank() -> None:
    wrong = []
    for path in package_files("bench"):
        source = wing_of(".".join(["dlbench", *path.relative_to(PACKAGE).with_suffix("").parts]))
        for line, module in imported_modules(path):
            target = wing_of(module)
            ranked = source in WINGS and target in WINGS and target != source
            if ranked and WINGS[target] >= WINGS[source]:
                wrong.append(f"{path.relative_to(REPO)}:{line}: {source} imports {module}")
    assert wrong == []


def test_the_wing_order_check_can_fail() -> None:
    # The check above means something only if it reads the imports it is meant to refuse.
    assert wing_of("dlbench.bench.run.runner") == "run"
    assert WINGS["matrix"] <= WINGS["run"] and WINGS["api"] > WINGS["run"]


def test_the_only_installed_top_level_name_is_dlbench() -> None:
    assert distribution("dlbench").read_text("top_level.txt").split() == ["dlbench"]


SHADOWS = ("registry", "reports", "plugins", "bench", "engine", "stats")
SMALL = """\
name: shadowed
defaults: {dataset: {name: digits, train_subset: 64}, strategy: {name: plain, epochs: 1}}
experiments:
  e:
    model: {name: mlp, hidden: 8}
"""


@pytest.mark.slow
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


def test_the_source_tree_imports_as_the_whole_package() -> None:
    # src/ on the path is the whole package: no links, no import machinery of its own; and the
    # checkout's top holds no dlbench/ folder that could shadow an installed package.
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    code = (
        "import sys, dlbench.bench.cli, dlbench; "
        "print(dlbench.bench.__file__, dlbench.Param); "
        "print([type(f).__module__ for f in sys.meta_path])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=environment
    )
    assert run.returncode == 0, run.stderr
    first, finders = run.stdout.splitlines()
    assert Path(first.split()[0]).resolve() == PACKAGE / "bench" / "__init__.py"
    assert "dlbench" not in finders
    listed = subprocess.run(
        [sys.executable, "-m", "dlbench", "list", "executors"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert listed.returncode == 0, listed.stderr
    assert "slurm" in listed.stdout


def test_each_public_name_is_declared_once() -> None:
    # The stub is the one list: dlbench/__init__.py derives __all__ and its lazy loading from it,
    # and the subpackages' __init__ files re-export nothing.
    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    imports = [node for node in stub.body if isinstance(node, ast.ImportFrom)]
    declared = [alias.asname or alias.name for node in imports for alias in node.names]
    assert sorted(declared) == sorted(set(declared)) == sorted(dlbench.__all__)
    init = ast.parse((PACKAGE / "__init__.py").read_text())
    assigned = [
        t.id
        for n in ast.walk(init)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    assert "__all__" not in assigned
    for folder in FLOORS:
        tree = ast.parse((PACKAGE / folder / "__init__.py").read_text())
        assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], folder
