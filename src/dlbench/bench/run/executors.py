"""The executor a run uses: its name and options, from the matrix's ``executor:`` and the command
line, each checked against what the executor declares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlbench.bench.matrix.yamlfile import shown
from dlbench.registry.catalog import Catalog
from dlbench.registry.errors import DlbenchError, did_you_mean
from dlbench.registry.params import ParamError, resolve_params

if TYPE_CHECKING:
    from dlbench.bench.matrix import Matrix
    from dlbench.bench.run.services import RunOptions


@dataclass(frozen=True)
class ExecutorChoice:
    """The executor a run uses and its options, resolved against what it declares."""

    name: str
    options: Mapping[str, Any]

    def describe(self) -> str:
        """``local (jobs=2)``."""
        inner = ", ".join(f"{k}={v!r}" for k, v in self.options.items() if v is not None)
        return f"{self.name} ({inner})" if inner else self.name


def choose_executor(matrix: Matrix, catalog: Catalog, options: RunOptions) -> ExecutorChoice:
    """The executor ``options`` name (else the matrix's), with the matrix's options for it
    overlaid by those given on the command line, every one checked against its declaration.

    :raises DlbenchError: one line naming the option, where it was given, and what is accepted.
    """
    name = options.executor or matrix.executor
    spec = catalog.executors.get(name)
    given = dict(matrix.executor_options) if name == matrix.executor else {}
    sources = dict.fromkeys(given, "the matrix's executor:")
    for key, (value, source) in options.executor_options.items():
        given[key], sources[key] = value, source
    for key in given:
        if key not in spec.params:
            hint = did_you_mean(key, spec.params)
            hint = f"{hint} " if hint else ""
            accepted = ", ".join(sorted(spec.params)) or "none"
            raise DlbenchError(
                f"{sources[key]}: executor {name!r} takes no option {shown(key)}; {hint}its "
                "options: "
                f"{accepted} (bench list executors --include {name})"
            )
    try:
        resolved = resolve_params(spec.params, given, f"executor {name!r}")
    except ParamError as exc:
        raise DlbenchError(f"{sources.get(exc.key, 'executor')}: {exc}") from None
    return ExecutorChoice(name, resolved)
