"""What the documentation shows is what dlbench does: every matrix it holds passes a dry run, its
Python snippets run, its links lead somewhere, and the README stays a front door."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
MATRICES = sorted(
    [*DOCS.rglob("*.yaml"), *(REPO / "examples").glob("*.yaml"), REPO / "exercises.yaml"]
)
#: Most lines the README may have: a front door, not a manual.
README_LINES = 250


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL)


@pytest.mark.parametrize("matrix", MATRICES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_documented_matrix_passes_a_dry_run(bench, matrix: Path, tmp_path) -> None:
    pytest.importorskip("optuna", reason="examples/tuned.yaml needs Optuna (the tune extra)")
    result = bench("run", "--matrix", matrix, "--out", tmp_path / "o", "--dry-run")
    assert result.code == 0, result.err
    assert "planned" in result.out


#: Pages with Python, each run as one script: a page's snippets build on each other, in order.
#: The README's run in tests/test_readme.py (tox -e readme), after its commands, in a fresh
#: environment, as a reader runs them.
SNIPPET_PAGES = [page for page in PAGES if python_blocks(page)]


@pytest.mark.parametrize("page", SNIPPET_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_python_snippet_runs(page: Path, tmp_path) -> None:
    # Run where a reader would: a fresh folder with the repository's examples beside it.
    (tmp_path / "examples").symlink_to(REPO / "examples")
    script = tmp_path / "snippets.py"
    script.write_text("\n\n".join(textwrap.dedent(code) for code in python_blocks(page)))
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, f"{page.name}:\n{run.stderr[-3000:]}"


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchors(path: Path) -> set[str]:
    from dlbench.reports.markdown import github_slug

    headings = re.findall(r"(?m)^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S))
    return {github_slug(re.sub(r"[`*]", "", heading)) for heading in headings}


@pytest.mark.parametrize("page", [REPO / "README.md", *PAGES], ids=lambda p: p.name)
def test_no_internal_link_is_broken(page: Path) -> None:
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # a web address: not ours to check offline
        target, _, anchor = link.partition("#")
        destination = (page.parent / target).resolve() if target else page
        missing_anchor = anchor and destination.suffix == ".md"
        if not destination.exists() or (missing_anchor and anchor not in _anchors(destination)):
            broken.append(link)
    assert broken == []


def test_the_readme_is_a_front_door() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    assert "pip install .\nbench run --matrix examples/quick.yaml" in readme
    assert "docs/images/report-html.png" in readme


def test_notebooks_are_stored_without_outputs() -> None:

    for notebook in (REPO / "examples" / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        code = [cell for cell in cells if cell["cell_type"] == "code"]
        assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_the_cpu_only_torch_wheels_satisfy_the_dependency_ranges() -> None:
    # torch's CPU-only index names its wheels with a local version (2.14.1+cpu); the documented
    # CPU-only set-up works only if the project's ranges admit them.
    import tomllib
    from packaging.requirements import Requirement

    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ranges = {Requirement(d).name: Requirement(d).specifier for d in dependencies}
    assert ranges["torch"].contains("2.14.1+cpu") and ranges["torchvision"].contains("0.29.1+cpu")
    assert "--index-url https://download.pytorch.org/whl/cpu" in (DOCS / "index.md").read_text()


def test_docstrings_hold_no_raw_sphinx_roles_that_the_api_page_would_show() -> None:
    # mkdocstrings renders the docstrings as Markdown: `:class:`X`` would reach the page as text.
    import re

    role = re.compile(r":(class|func|meth|data|mod|attr|exc|obj):`")
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if role.search(line)
    ]
    assert found == []


def _readme_block(language: str, after: str) -> str:
    readme = (REPO / "docs" / "plugins.md").read_text()
    section = readme.split(after, 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_documented_plugin_recipe_builds_after_a_matrix_ran_in_its_folder(tmp_path) -> None:
    pytest.importorskip("setuptools", reason="building the recipe's wheel needs setuptools")
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "tiny_model.py").write_text(_readme_block("python", "# Writing plugins"))
    (folder / "pyproject.toml").write_text(_readme_block("toml", "# Writing plugins"))
    (folder / "runs" / "tiny" / "cells").mkdir(parents=True)  # what `bench run` leaves there
    (folder / "runs" / "tiny" / "cells" / "x.json").write_text("{}")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(folder)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    import zipfile

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tiny_model.py" in names
    assert not any(name.startswith("runs/") for name in names)
    points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tiny = tiny_model" in zipfile.ZipFile(wheel).read(points).decode()


def test_the_plugin_guide_imports_only_the_public_api() -> None:
    section = (REPO / "docs" / "plugins.md").read_text()
    assert "from registry" not in section and "bench.engine" not in section
    assert "import dlbench" in section
