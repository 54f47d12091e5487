"""The README, followed as a new user follows it: in a fresh virtual environment and a fresh copy
of the checkout, every command block and Python snippet it shows runs, in the order written, and
prints what the README says it prints.

A few minutes (it installs dlbench into the new environment and trains the README's matrices),
so ``tox -e readme`` runs it and ``tox``'s default environments leave it out. Two things are not
done as written, each said when the test runs: the README's test command (``tox``), which
``.ci/run`` runs itself and which would run this test inside itself; and a package index the
machine cannot reach (torch's CPU-only index, offline). In its place the new environment is
offered the torch this test runs with: its files and those of the packages it needs, linked (not
copied) into a directory the environment reads last, so that the block's ``pip install torch
torchvision`` finds them installed rather than downloading a CUDA build of several GB (which a CI
disk may not hold). Everything else the README installs is installed into the new environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

import pytest
from helpers import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

README = REPO / "README.md"
#: Blocks the walkthrough leaves to others, and why.
NOT_RUN_HERE = {
    "pip install tox && tox": "the README's test command: .ci/run runs it, and here it would "
    "run this test inside itself",
}
#: The instruction set the README's figures come from ("Figures from a 2-core AVX-512 CPU"):
#: float results differ between instruction sets, so elsewhere only the tables' shape is checked.
FIGURES_ISA = "AVX512"
#: The index the README installs torch's CPU-only wheels from.
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
#: The longest a block may take (the quick matrix and installing torch take about a minute each).
BLOCK_TIMEOUT_S = 1200


@dataclass(frozen=True)
class Step:
    """One block of the README to run, and the output it shows after the block."""

    language: str  # "bash" or "python"
    code: str
    expected: str  # the lines the README shows the block printing, or ""


def readme_steps(text: str) -> list[Step]:
    """The README's ``bash`` and ``python`` blocks in order, each with the output shown after
    it: the next untagged fenced block, or the next Markdown table, before the next block or
    heading."""
    parts = re.split(r"(?ms)^```(\w*)\n(.*?)^```\n", text)
    steps: list[Step] = []
    # re.split alternates prose, then a fence's language and body.
    for index in range(1, len(parts), 3):
        language, body = parts[index], parts[index + 1]
        if language not in ("bash", "python"):
            continue
        expected = ""
        for later in range(index + 3, len(parts) + 1, 3):
            prose, *heading = re.split(r"(?m)^#+ ", parts[later - 1], maxsplit=1)
            table = re.search(r"(?m)((?:^\|.*\|\n)+)", prose)
            if table:
                expected = table.group(1)
                break
            if heading:
                break  # a new section: what follows is not this block's output
            if later < len(parts) and parts[later] == "":
                expected = parts[later + 1]
                break
            if later < len(parts) and parts[later] in ("bash", "python"):
                break
        steps.append(Step(language, body, expected))
    return steps


def test_the_readme_blocks_are_found_with_their_outputs() -> None:
    steps = readme_steps(README.read_text())
    commands = [step.code for step in steps]
    assert commands[0].startswith("pip install torch") and "pip install .\n" in commands[0]
    assert any(step.language == "python" for step in steps)
    shown = [step for step in steps if step.expected]
    assert len(shown) >= 2 and all("|" in step.expected for step in shown)


def reachable(url: str) -> bool:
    """Whether ``url``'s host answers on its port (3 s)."""
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 443), timeout=3).close()
    except OSError:
        return False
    return True


def as_run_here(code: str) -> tuple[str, list[str]]:
    """``code`` with each unreachable ``--index-url URL`` dropped, and a note for each (for
    torch's, the ``fresh`` fixture offers what it would serve: :func:`offer_installed`)."""
    notes = []
    for url in re.findall(r"--index-url\s+(\S+)", code):
        if not reachable(url):
            code = re.sub(rf"\s*--index-url\s+{re.escape(url)}", "", code)
            notes.append(
                f"{url} is unreachable here: the block runs without it, with what is offered "
                "to the new environment"
            )
    return code, notes


def closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` are, and every one they need, with the extras
    they ask of each other."""
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    pending = [(name, "") for name in names]
    while pending:
        name, extra = pending.pop()
        key = canonicalize_name(name)
        if (key, extra) in done:
            continue
        done.add((key, extra))
        try:
            found[key] = distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement of this platform's that is not installed: not needed here
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending += [(requirement.name, wanted) for wanted in ["", *requirement.extras]]
    return list(found.values())


def offer_installed(names: list[str], venv: Path, directory: Path) -> list[str]:
    """Link the installed ``names`` and what they need into ``directory`` (top-level entries
    only: no file is copied) and put it last on ``venv``'s path with a ``.pth`` file, so that
    pip in ``venv`` finds them installed. The distributions offered, by name."""
    directory.mkdir()
    offered = []
    for distribution in closure(names):
        site = Path(distribution.locate_file(""))
        tops = {Path(str(file)).parts[0] for file in distribution.files or []}
        for top in sorted(tops - {".."}):
            if (site / top).exists() and not (directory / top).exists():
                (directory / top).symlink_to(site / top)
        offered.append(distribution.metadata["Name"])
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "offered-by-the-readme-test.pth").write_text(f"{directory}\n")
    return sorted(offered)


def copy_checkout(destination: Path) -> Path:
    """What a clone holds: the files git tracks or would track (not .tox, runs, builds)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout, so what a clone holds is unknown: {listed.stderr}")
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the checkout and a fresh virtual environment, and the environment
    variables of a shell in which that environment is active."""
    root = tmp_path_factory.mktemp("readme")
    checkout = copy_checkout(root / "dlbench")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not reachable(TORCH_INDEX):
        offered = offer_installed(["torch", "torchvision"], venv, root / "offered")
        print(f"\n  note: offered to the new environment as installed here: torch, torchvision "
              f"and the {len(offered) - 2} packages they need")  # fmt: skip
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DLBENCH_", "PYTHON", "VIRTUAL_ENV", "TOX_"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return checkout, env


def run_step(step: Step, checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one block in the checkout as a user's shell would."""
    code, notes = as_run_here(step.code)
    for note in notes:
        print(f"  note: {note}")
    if step.language == "bash":
        command = ["bash", "-euo", "pipefail", "-c", code]
    else:
        (checkout / "readme_snippet.py").write_text(code)
        command = ["python", "readme_snippet.py"]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=checkout, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S
    )
    first = code.strip().splitlines()[0]
    print(f"  {step.language} block {first!r}: exit {done.returncode}, "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    assert done.returncode == 0, (
        f"the README's {step.language} block starting {first!r} failed (exit "
        f"{done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done


def kernels(checkout: Path) -> str:
    """The instruction set the cells run in the checkout ran on."""
    record = next(checkout.glob("runs/*/cells/*.json"))
    return json.loads(record.read_text())["environment"]["capability"]["isa"]


def shows(expected: str, printed: str, isa: str) -> None:
    """The README's output appears in what was printed: verbatim on the instruction set its
    figures come from; elsewhere, its table's header lines."""
    if isa == FIGURES_ISA:
        assert expected.strip() in printed, f"the README shows:\n{expected}\nit printed:\n{printed}"
        return
    print(f"  note: {isa} kernels here, the README's figures are {FIGURES_ISA}'s: headers only")
    headers = [line for line in expected.splitlines() if line.startswith(("|:", "|  "))][:2]
    assert all(line.strip() in printed for line in headers), printed


def test_every_readme_block_runs_in_order_in_a_fresh_environment(fresh) -> None:
    checkout, env = fresh
    print()
    for step in readme_steps(README.read_text()):
        if step.code.strip() in NOT_RUN_HERE:
            print(f"  not run here: {step.code.strip()!r}: {NOT_RUN_HERE[step.code.strip()]}")
            continue
        done = run_step(step, checkout, env)
        if step.expected:
            shows(step.expected, done.stdout, kernels(checkout))
    # The README: "Run the same command again: every cell is already stored, so it trains
    # nothing".
    again = run_step(Step("bash", "bench run --matrix examples/quick.yaml\n", ""), checkout, env)
    assert re.search(r"\b0 cell\(s\) ran, [1-9]\d* reused, 0 failed", again.stderr), again.stderr


def test_a_figure_that_differs_from_the_readmes_fails_the_walkthrough() -> None:
    expected = "| a | b |\n|:-:|:-:|\n| 1 | 98.26% |\n"
    shows(expected, "report:\n" + expected, FIGURES_ISA)
    with pytest.raises(AssertionError, match="the README shows"):
        shows(expected, "report:\n" + expected.replace("98.26", "98.27"), FIGURES_ISA)
    shows(expected, "report:\n" + expected.replace("98.26", "98.27"), "AVX2")  # headers only


def test_an_unreachable_index_is_dropped_with_a_note(monkeypatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "reachable", lambda url: False)
    code, notes = as_run_here("pip install torch --index-url https://example.invalid/cpu  # x\n")
    assert code == "pip install torch  # x\n" and "example.invalid" in notes[0]
    assert f"--index-url {TORCH_INDEX}" in README.read_text()  # the index the fixture stands in for


def test_what_is_offered_is_found_installed_by_a_new_environment(tmp_path) -> None:
    # pytest and what it needs stand in for torch (same mechanism, a fraction of the size).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    offered = offer_installed(["pytest"], venv, tmp_path / "offered")
    assert "pytest" in offered and "pluggy" in offered and "torch" not in offered
    assert all(path.is_symlink() for path in (tmp_path / "offered").iterdir())  # nothing copied
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m, pytest; print(m.version('pluggy'), pytest.__file__)"],
        capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert str(tmp_path / "offered") in found.stdout
