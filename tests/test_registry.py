"""Plugin registration: hook mistakes, name clashes and bad specs named when the plugin loads."""

from __future__ import annotations

import pytest
from inline_plugins import EDITED_MATRIX

import dlbench
from dlbench import ConformanceError

CLASH = """\
import dlbench

@dlbench.hookimpl
def dlbench_register_models(register):
    register(dlbench.ModelSpec(
        name="mlp", build=lambda shape, classes: None, description="a second mlp"
    ))
"""


def test_hook_functions_without_the_hookimpl_mark_are_named(bench, install) -> None:
    install(
        "unmarked",
        """\
        import dlbench

        def dlbench_register_models(register):
            register(dlbench.ModelSpec(
                name="never", build=lambda shape, classes: None, description="x"
            ))
        """,
    )
    result = bench("list", "models")
    assert result.code == 0 and "never" not in result.out
    assert "plugin 'unmarked': dlbench_register_models looks like a hook but is not marked" in (
        result.err
    )


def test_a_misspelt_hook_suggests_the_right_name(bench, install) -> None:
    install(
        "misspelt",
        """\
        import dlbench

        @dlbench.hookimpl
        def dlbench_register_modles(register):
            pass
        """,
    )
    result = bench("list", "plugins")
    assert "did you mean 'dlbench_register_models'?" in result.err
    # Not loaded, and listed as failed with the reason.
    assert not any(line.startswith("misspelt") for line in result.out.splitlines())
    assert "FAILED: " in result.out and "'misspelt'" in result.out


def test_a_plugin_whose_hook_raises_is_withdrawn_whole(bench, install) -> None:
    install(
        "half",
        """\
        import dlbench

        @dlbench.hookimpl
        def dlbench_register_models(register):
            register(dlbench.ModelSpec(
                name="half_model", build=lambda shape, classes: None, description="x"
            ))

        @dlbench.hookimpl
        def dlbench_register_datasets(register):
            raise RuntimeError("no data today")
        """,
    )
    models = bench("list", "models")
    assert models.code == 0 and "half_model" not in models.out
    assert "plugin 'half' failed while registering: RuntimeError: no data today" in models.err
    listing = bench("list", "plugins").out
    assert "half" not in listing.split() and "FAILED: plugin 'half' failed while registering" in (
        " ".join(listing.split())
    )


def test_a_name_clash_names_the_way_out_and_the_plugin_listing_still_works(
    bench, install, write_matrix, tmp_path
) -> None:
    install("clashing", CLASH)
    result = bench("run", "--matrix", write_matrix(EDITED_MATRIX), "--out", tmp_path / "o")
    assert result.code == 2
    assert "model 'mlp' is registered twice" in result.err
    assert "DLBENCH_DISABLE_PLUGINS=clashing" in result.err
    listing = bench("list", "plugins")
    assert listing.code == 0 and "clashing" in listing.out
    assert "DLBENCH_DISABLE_PLUGINS=clashing" in listing.err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            'ModelSpec(name="m", build=lambda shape, classes, *, depth: None, description="x")',
            "model 'm': build() needs 'depth', which is not declared in its params",
        ),
        (
            'ModelSpec(name="m", build=lambda shape, classes: None, description="x", '
            'params={"depth": Param(2, int)})',
            "model 'm' parameter 'depth' is declared but build() does not take it",
        ),
        (
            'ModelSpec(name="m", build=lambda shape, classes, *, depth: 0, description="x", '
            'params={"depth": Param(0.5, int)})',
            "model 'm' parameter 'depth': its default 0.5 is invalid (expected an integer",
        ),
        (
            'StrategySpec(name="s", run=lambda cell: None, description="x")',
            "strategy 's': run() takes 1 positional argument(s), dlbench passes 2",
        ),
    ],
    ids=["undeclared-argument", "unused-parameter", "default-of-wrong-type", "run-signature"],
)
def test_specs_are_checked_when_the_plugin_registers(spec: str, message: str) -> None:
    namespace: dict = {}
    exec(  # a plugin object built from the spec's text
        "from dlbench import *\n"
        "class Plugin:\n"
        "    @hookimpl\n"
        f"    def dlbench_register_{'models' if 'Model' in spec else 'strategies'}"
        "(self, register):\n"
        f"        register({spec})\n",
        namespace,
    )
    with pytest.raises(ConformanceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dlbench.load_plugin(namespace["Plugin"]())


@pytest.mark.parametrize(("value", "strict"), [("1", True), ("Off", False), ("yes", True)])
def test_strict_switch_spellings(monkeypatch, value, strict) -> None:
    from dlbench.registry.manager import strict_from_environment

    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", value)
    assert strict_from_environment() is strict


def test_strict_switch_refuses_other_words(bench, monkeypatch) -> None:
    monkeypatch.setenv("DLBENCH_STRICT_PLUGINS", "maybe")
    result = bench("list", "models")
    assert result.code == 2
    assert result.err.startswith("bench: error: DLBENCH_STRICT_PLUGINS='maybe': expected one of")
    assert result.err.count("\n") == 1


def test_install_hints_name_what_pyproject_declares_for_each_extra() -> None:
    # dlbench installs from its checkout: a hint saying `pip install 'dlbench[tune]'` would
    # send a user to a package index that does not have it.
    import tomllib
    from helpers import REPO

    from dlbench import install_hint

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for extra, requirements in project["optional-dependencies"].items():
        hint = install_hint(extra)
        assert f"pip install '.[{extra}]'" in hint and "dlbench[" not in hint, hint
        assert all(f"'{requirement}'" in hint for requirement in requirements), hint
