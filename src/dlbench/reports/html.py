"""The report as one self-contained HTML page: sortable tables, inline SVG plots, the cells that
failed or were skipped with their reasons, and the environment. No CDN: it opens offline from
``file://``. Rendered with jinja2 from ``templates/report.html.j2``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup

from dlbench.reports.document import Document, Figure
from dlbench.reports.table import FAILED, MISSING, SKIPPED, Table

_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def inline_svg(figure: Figure) -> Markup:
    """The figure's SVG markup, without its XML prologue, to sit inside the page."""
    text = figure.images["svg"].decode("utf-8")
    return Markup(_PROLOGUE.sub("", text, count=1))


def sort_value(table: Table, row: int, column: int) -> Any:
    """The number behind one table cell for sorting, or ``None`` (then its text sorts)."""
    if row >= len(table.values) or column >= len(table.values[row]):
        return None
    value = table.values[row][column]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return repr(float(value))


def environment_rows(environment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The environment of the first record, flattened into name and value lines."""
    machine = environment.get("machine", {})
    capability = environment.get("capability", {})
    versions = environment.get("versions", {})
    rows = [
        ("command", environment.get("command", "")),
        ("device", f"{environment.get('device', '')} ({environment.get('device_name', '')})"),
        ("capability", ", ".join(f"{k}={v}" for k, v in capability.items() if v not in ("", ()))),
        ("CPU", f"{machine.get('cpu', '')}, {machine.get('cores', '?')} core(s)"),
        ("memory", f"{(machine.get('memory_bytes') or 0) / 2**30:.1f} GiB"),
        ("GPUs", ", ".join(machine.get("gpus", [])) or "none"),
        ("CUDA / cuDNN", f"{machine.get('cuda')} / {machine.get('cudnn')}"),
        (
            "threads / jobs",
            ", ".join(environment.get("concurrency") or ())
            or f"{environment.get('threads', '?')} / {environment.get('jobs', 1)}",
        ),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
        ("platform", environment.get("platform", "")),
        ("git revision", environment.get("git_revision") or "unknown"),
    ]
    rows += [("plugin left out", line) for line in _lines(environment, "plugin_problems")]
    rows += [("observer failed", line) for line in _lines(environment, "observer_failures")]
    return [(name, str(value)) for name, value in rows if value]


def _lines(environment: Mapping[str, Any], key: str) -> list[str]:
    value = environment.get(key)
    return [str(line) for line in value] if isinstance(value, list) else []


_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("dlbench.reports", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(document: Document, source: str) -> str:
    """``document`` as one self-contained HTML page."""
    template = _ENVIRONMENT.get_template("report.html.j2")
    return template.render(
        document=document,
        source=source,
        environment=environment_rows(document.environment) if document.environment else [],
        missing=(MISSING, FAILED, SKIPPED),
        inline_svg=inline_svg,
        sort_value=sort_value,
    )
