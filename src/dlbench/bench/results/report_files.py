"""Write a results directory's report files (``report.md``, ``tables/*.csv``, ``plots/*``) from
its manifest and records."""

from __future__ import annotations

import warnings
from typing import Any

from dlbench.bench.results.designs import read_designs
from dlbench.bench.results.files import write_atomic
from dlbench.bench.results.store import ResultStore
from dlbench.registry.errors import DlbenchError
from dlbench.reports.document import Document, build_document
from dlbench.reports.manifest import Manifest, ManifestError
from dlbench.reports.markdown import Report, render_report

REPORT = "report.md"
HTML_REPORT = "report.html"


def read_manifest(store: ResultStore) -> Manifest:
    """The results directory's manifest, checked; a damaged one is a one-line error."""
    data = store.read_manifest()
    try:
        return Manifest.from_json(data)
    except ManifestError as exc:
        raise DlbenchError(
            f"{store.root / 'manifest.json'}: damaged manifest: {exc}; "
            "run `bench run` with the matrix again to rewrite it"
        ) from None


def stored_document(store: ResultStore) -> Document:
    """The content of ``store``'s report (its tables, figures and notes), from its records."""
    manifest = read_manifest(store)
    ids = manifest.cell_ids()
    return build_document(
        manifest,
        store.records(ids),
        store.failed_attempts(ids),
        first_verdicts=first_verdicts(store),
    )


def render_stored_report(
    store: ResultStore, manifest: Manifest | None = None, formats: tuple[str, ...] | None = None
) -> Report:
    """The report of ``store``'s records, drawn with ``manifest`` or the stored one."""
    manifest = manifest or read_manifest(store)
    ids = manifest.cell_ids()
    kwargs: dict[str, Any] = {"formats": formats} if formats else {}
    return render_report(
        manifest,
        store.records(ids),
        store.failed_attempts(ids),
        first_verdicts=first_verdicts(store),
        **kwargs,
    )


def first_verdicts(store: ResultStore) -> dict[str, dict[str, Any]]:
    """Decided comparison key -> the verdict it first reached, from the stored designs (none,
    with a warning, where they cannot be read: the report is drawn without the marks)."""
    try:
        designs = read_designs(store)
    except DlbenchError as exc:
        warnings.warn(f"{exc}; verdicts are not checked for revisions", stacklevel=2)
        return {}
    return {
        key: entry["verdict"]
        for key, entry in designs.items()
        if isinstance(entry.get("verdict"), dict)
    }


def write_report(
    store: ResultStore, formats: tuple[str, ...] | None = None, manifest: Manifest | None = None
) -> str:
    """Redraw ``report.md``, its CSV tables and plots from the store's records.

    :param formats: image formats of the plots (default PNG and SVG).
    :param manifest: the run's manifest; it is written again first, so a ``manifest.json``
        deleted or damaged while the run went on is restored rather than refused.
    :returns: the markdown.
    """
    if manifest is not None:
        store.write_manifest(manifest.to_json())
    report = render_stored_report(store, manifest, formats)
    write_atomic(store.target(REPORT), report.markdown)
    write_atomic(store.target(HTML_REPORT), report.html)
    for name, text in report.csv_files.items():
        write_atomic(store.target(f"tables/{name}"), text)
    for name, image in report.images.items():
        write_atomic(store.target(name), image)
    return report.markdown
