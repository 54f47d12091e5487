"""dlbench imported from a source checkout rather than an installed copy.

The installed package holds its subpackages in one folder; a checkout keeps them as the
repository's top-level folders (``bench/``, ``engine/``, ...), which the build maps to
``dlbench.bench``, ``dlbench.engine``, ... A process started in the checkout with its working
directory first on ``sys.path`` (``python -m dlbench``, a notebook, a Ray worker) imports the
checkout's ``dlbench/`` folder, which holds only the top of the package; the finder here makes
its subpackages resolve to the repository's folders, as the build maps them, so that such a
process sees one whole package: the checkout's.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: The subpackages kept as top-level folders of the repository (pyproject's ``package-dir``).
SUBPACKAGES = ("bench", "engine", "plugins", "registry", "reports")


class CheckoutFinder(importlib.abc.MetaPathFinder):
    """Finds ``dlbench.<subpackage>`` in the repository folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec of a subpackage named in :data:`SUBPACKAGES`; ``None`` for anything else."""
        top, _, name = fullname.partition(".")
        if top != "dlbench" or name not in SUBPACKAGES:
            return None
        folder = self.root / name
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


def install_if_in_checkout(package_file: str) -> None:
    """Add a :class:`CheckoutFinder` when ``dlbench/__init__.py`` (``package_file``) is the
    checkout's: its subpackages are not beside it but in the folder above."""
    here = Path(package_file).resolve().parent
    root = here.parent
    if (here / "registry").is_dir() or not (root / "registry" / "__init__.py").is_file():
        return  # an installed copy
    if not any(isinstance(f, CheckoutFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CheckoutFinder(root))
