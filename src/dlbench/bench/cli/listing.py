"""``bench list``: what is registered, by which plugin, and which parameters each accepts."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dlbench.bench.cli.common import EXIT_OK
from dlbench.registry.errors import DlbenchError
from dlbench.reports.markdown import render_rows

LIST_KINDS = ("models", "datasets", "strategies", "executors", "probes", "plugins")


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bench list`` to the subcommands."""
    listing = commands.add_parser(
        "list", parents=parents, help="list registered plugins and what they provide"
    )
    listing.set_defaults(handler=command)
    listing.add_argument("kind", nargs="?", default="models", choices=LIST_KINDS)
    listing.add_argument("--include", default="*", metavar="GLOB", help="names to show")
    listing.add_argument(
        "--params",
        action="store_true",
        help="show each one's parameters: default, what is accepted, help "
        "(shown anyway when --include names exactly one)",
    )


def command(args: argparse.Namespace) -> int:
    """Print the listing ``args`` asks for."""
    from dlbench.bench.host import load_catalog_reporting

    if args.kind == "plugins":
        print(plugins_table())
        return EXIT_OK
    registry = load_catalog_reporting().of_kind(args.kind)
    names = registry.names(args.include)
    rows = []
    for name in names:
        entry = registry.entry(name)
        params = getattr(entry.spec, "params", {})
        defaults = ", ".join(f"{k}={v.default}" for k, v in params.items())
        rows.append(
            [name, entry.spec.description, entry.plugin.name, entry.plugin.version, defaults]
        )
    if args.include == "*":
        for family, plugin in registry.families():
            rows.append(
                [
                    f"{family.prefix}*",
                    f"{family.description} (list them with --include '{family.prefix}*')",
                    plugin.name,
                    plugin.version,
                    "",
                ]
            )
    if not rows:
        raise DlbenchError(
            f"no {args.kind} match {args.include!r}; all: {', '.join(registry.names())}"
        )
    print(
        render_rows(
            rows,
            ["name", "description", "plugin", "version", "parameters"],
            tablefmt="simple",
            maxcolwidths=[None, 40, None, None, 50],
        )
    )
    if args.params or len(names) == 1:
        for name in names:
            print(f"\n{name}:\n{params_table(registry.get(name))}")
    return EXIT_OK


def params_table(spec: Any) -> str:
    """A spec's parameters: name, default, what is accepted, help."""
    params = getattr(spec, "params", {})
    if not params:
        return "  (no parameters)"
    rows = [[key, repr(p.default), p.describe(), p.help] for key, p in params.items()]
    return render_rows(
        rows,
        ["parameter", "default", "accepts", "help"],
        tablefmt="simple",
        maxcolwidths=[None, 20, 40, 50],
    )


def plugins_table() -> str:
    """Every loaded plugin with its distribution and version. Plugins that could not be loaded
    are warned about, and a problem between plugins (a name two of them register) is printed as
    a warning too, so that this listing always works and shows how to leave a plugin out."""
    from dlbench.bench.host import plugin_host, report_plugin_problems
    from dlbench.registry.catalog import build_catalog

    host = plugin_host()
    try:
        build_catalog(host)
    except DlbenchError as exc:
        print(f"bench: warning: {exc}", file=sys.stderr)
    report_plugin_problems(host)
    rows = [
        [info.name, info.distribution, info.version, "built-in" if info.builtin else "external"]
        for info in sorted(host.plugins.values(), key=lambda i: (not i.builtin, i.name))
    ]
    # Plugins that failed stay listed, with why, so that a name they provide can be traced.
    rows += [["", "", "", f"FAILED: {message}"] for message in host.load_errors]
    return render_rows(
        rows,
        ["plugin", "distribution", "version", "kind"],
        tablefmt="simple",
        maxcolwidths=[None, None, None, 90],
    )
