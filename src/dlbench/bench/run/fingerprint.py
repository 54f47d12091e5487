"""Code fingerprints: which version of the code a cell's result came from.

A cell's identity is its resolved configuration; its result also depends on the code that ran
it. Each record stores, per plugin that implements one of the cell's components, a fingerprint
of that plugin's source, and one of dlbench's training code (``engine/`` and the run context).
A stored result whose fingerprints differ from the code installed now is stale: ``bench run``
trains the cell again (unless ``--keep-stale``), and reports mark what they show of it.

What counts as a change: the syntax tree of the source files, so comments, blank lines,
formatting, docstrings and the type hints of functions do not count; any change to the code
itself does.

A built-in plugin's source is its module's file (dlbench's shared code is the training code's
fingerprint). An installed plugin's source is all of its code, whichever entry-point style its
author chose: every ``.py`` file of the top-level package its entry point lies in, and every
``.py`` file of the distribution that ships it, so that editing a helper module the entry point
only imports reruns its cells too. For an editable install (``pip install -e``), whose record
lists only the hooks that point at the source tree, the distribution's files are those of every
top-level package it provides, read in the source tree.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlparse

from dlbench.registry.catalog import Catalog
from dlbench.registry.cell import COMPONENT_KINDS, Cell
from dlbench.registry.names import PluginInfo

#: The fingerprint key of dlbench's own training code.
TRAINING_CODE = "dlbench.engine"
#: A plugin's code is read from at most this many files (a plugin inside a huge package).
MAX_FILES = 5000


def plugin_files(plugin: object, info: PluginInfo | None = None) -> list[Path]:
    """The source files of a registered plugin object (a module, a class or an instance).

    :param info: where the plugin comes from; for an installed (not built-in) plugin, its whole
        top-level package and its distribution's Python files count, not only its module.
    """
    module = plugin if inspect.ismodule(plugin) else sys.modules.get(_module_name(plugin))
    if module is None:
        return []
    if info is None or info.builtin:
        return _module_files(module)
    top = sys.modules.get(module.__name__.partition(".")[0], module)
    own = {*_module_files(module), *_module_files(top)}
    shipped = _distribution_files(info.distribution) + _editable_files(info.distribution)
    # Only the distribution that holds the plugin's module: a plugin given by name alone may
    # share its name with an unrelated installed distribution.
    if own & set(shipped):
        own.update(shipped)
    return sorted(own)[:MAX_FILES]


def _module_files(module: ModuleType) -> list[Path]:
    """A module's file, or every ``.py`` file of a package."""
    package = getattr(module, "__path__", None)
    if package:
        return sorted(p.resolve() for folder in package for p in Path(folder).rglob("*.py"))
    source = getattr(module, "__file__", None)
    return [Path(source).resolve()] if source and source.endswith(".py") else []


def _distribution_files(name: str) -> list[Path]:
    """The ``.py`` files an installed distribution ships (none for an unknown name, or for an
    editable install, whose package folder counts instead)."""
    try:
        files = metadata.distribution(name).files or []
    except (metadata.PackageNotFoundError, ValueError):
        return []
    found = []
    for file in files:
        if file.suffix == ".py":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                found.append(path)
    return found


def _editable_files(name: str) -> list[Path]:
    """For an editable install of distribution ``name``: the ``.py`` files of every top-level
    package or module it provides that lies in its source tree (none otherwise)."""
    try:
        distribution = metadata.distribution(name)
        direct = json.loads(distribution.read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return []
    info = direct.get("dir_info") if isinstance(direct, dict) else None
    if not isinstance(info, dict) or info.get("editable") is not True:
        return []
    tree = Path(unquote(urlparse(str(direct.get("url", ""))).path)).resolve()
    tops = (distribution.read_text("top_level.txt") or "").split() or [
        top for top, names in metadata.packages_distributions().items() if name in names
    ]
    found: list[Path] = []
    for top in tops[:MAX_FILES]:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        folders = [Path(f) for f in spec.submodule_search_locations or ()]
        files = [p for f in folders for p in f.rglob("*.py")] if folders else []
        if not folders and spec.origin and spec.origin.endswith(".py"):
            files = [Path(spec.origin)]
        found += [p.resolve() for p in files if p.resolve().is_relative_to(tree)]
    return found[:MAX_FILES]


def _module_name(plugin: object) -> str:
    return str(getattr(plugin, "__module__", None) or type(plugin).__module__)


def training_files() -> list[Path]:
    """dlbench's code that every cell trains with: the engine and the run context."""
    import dlbench.bench.run.context
    import dlbench.engine

    engine = Path(dlbench.engine.__file__ or "").parent
    context = Path(dlbench.bench.run.context.__file__ or "")
    return [*sorted(engine.glob("*.py")), context]


def fingerprint(files: list[Path]) -> str:
    """16 hex digits of SHA-256 over the files' syntax trees, docstrings and functions' type
    hints left out; ``""`` when there is no source to read (then nothing counts as stale)."""
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(_tree_text(path, path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


@cache
def _tree_text(path: Path, mtime: int) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return path.read_bytes().hex() if path.is_file() else ""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _drop_annotations(node)
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def _drop_annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Leave out a function's type hints: its arguments', its return's and its local variables'
    (which do not run). Class and module level ones stay: a dataclass field's is code."""
    function.returns = None
    arguments = function.args
    named = (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
    for argument in (*named, arguments.vararg, arguments.kwarg):
        if argument is not None:
            argument.annotation = None
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.AnnAssign) and node.simple:
            node.annotation = ast.Constant(None)
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(ast.iter_child_nodes(node))


class CodeFingerprints:
    """The fingerprints of the plugins in ``catalog``, computed once each."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._known: dict[str, str] = {}
        self._files: dict[str, list[Path]] = {}

    def files_of(self, name: str) -> list[Path]:
        """The source files of the plugin registered as ``name`` (none if it has no source)."""
        if name not in self._files:
            if name == TRAINING_CODE:
                self._files[name] = training_files()
            else:
                plugin = self._catalog.host.manager.get_plugin(name)
                info = self._catalog.host.plugins.get(name)
                self._files[name] = plugin_files(plugin, info) if plugin else []
        return self._files[name]

    def of_plugin(self, name: str) -> str:
        """The fingerprint of the plugin registered as ``name`` (``""`` if it has no source)."""
        if name not in self._known:
            self._known[name] = fingerprint(self.files_of(name))
        return self._known[name]

    def sources(self, cell: Cell) -> dict[str, tuple[str, frozenset[Path]]]:
        """Component kind -> the plugin behind it and its source files, to say where a cell
        failed."""
        found = {}
        for kind in COMPONENT_KINDS:
            name = getattr(cell, kind).plugin
            if name:
                found[kind] = (name, frozenset(self.files_of(name)))
        return found

    def of_cell(self, cell: Cell) -> dict[str, str]:
        """Plugin -> fingerprint for the plugins of the cell's components and the training code."""
        names = [getattr(cell, kind).plugin for kind in COMPONENT_KINDS] + [TRAINING_CODE]
        return {name: self.of_plugin(name) for name in dict.fromkeys(names) if name}
