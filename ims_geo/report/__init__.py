"""The council pack and the status report of a planning cycle.

:class:`ReportData` holds what a report shows; :func:`write_report` writes
it as one self-contained HTML file, an Excel workbook (one sheet per
table) or a PDF (the HTML printed by headless Chromium), by the suffix of
the path. No Streamlit here: the CLI (``ims-geo report``) and the app's
Planning cycle page both call these functions.
"""

from __future__ import annotations

from pathlib import Path

from ims_geo.errors import InputError
from ims_geo.report.data import (
    CHANGE_COLUMNS,
    CONFLICT_COLUMNS,
    DEVIATION_COLUMNS,
    FINANCING_COLUMNS,
    KINDS,
    KPI_COLUMNS,
    MORATORIUM_COLUMNS,
    PROGRAMME_COLUMNS,
    PROGRESS_COLUMNS,
    PROJECT_COLUMNS,
    CycleInfo,
    ReportData,
)
from ims_geo.report.html import render_html
from ims_geo.report.pdf import find_chromium, html_to_pdf
from ims_geo.report.xlsx import xlsx_bytes

__all__ = [
    "CHANGE_COLUMNS",
    "CONFLICT_COLUMNS",
    "DEVIATION_COLUMNS",
    "FINANCING_COLUMNS",
    "FORMATS",
    "KINDS",
    "KPI_COLUMNS",
    "MORATORIUM_COLUMNS",
    "PROGRAMME_COLUMNS",
    "PROGRESS_COLUMNS",
    "PROJECT_COLUMNS",
    "CycleInfo",
    "ReportData",
    "find_chromium",
    "html_to_pdf",
    "render_html",
    "report_bytes",
    "report_format",
    "write_report",
    "xlsx_bytes",
]

#: Report formats by file suffix.
FORMATS: dict[str, str] = {".html": "html", ".htm": "html", ".xlsx": "xlsx", ".pdf": "pdf"}


def report_format(path: str | Path) -> str:
    """The report format for ``path``, from its suffix (html, xlsx or pdf)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot write the report '{path}': unknown file type '{suffix or '(none)'}'; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    return FORMATS[suffix]


def report_bytes(
    data: ReportData, fmt: str, *, kind: str = "council", lang: str | None = None
) -> bytes:
    """The report of ``data`` as the bytes of a file (for downloads), in a language.

    Parameters
    ----------
    data
        What the report shows.
    fmt
        ``html``, ``xlsx`` or ``pdf`` (see :data:`FORMATS`).
    kind
        ``council`` (the yearly council pack) or ``status`` (the six-monthly
        status report: the monitoring part only).
    lang
        The report's language (``en``, ``nl``, ``de``...): its words, numbers and
        dates; default the language in use (:func:`ims_geo.i18n.language`).

    Raises
    ------
    InputError
        Unknown format, kind or language.
    ReportError
        A PDF was asked for and no Chromium can print it.
    """
    if kind not in KINDS:
        raise InputError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    if fmt == "html":
        return render_html(data, kind, lang=lang).encode("utf-8")
    if fmt == "xlsx":
        return xlsx_bytes(data, kind, lang=lang)
    if fmt == "pdf":
        return html_to_pdf(render_html(data, kind, lang=lang))
    raise InputError(f"unknown report format {fmt!r}; use one of html, xlsx, pdf")


def write_report(
    data: ReportData, path: str | Path, *, kind: str = "council", lang: str | None = None
) -> Path:
    """Write the report of ``data`` to ``path`` in a language; the suffix picks the format.

    Parameters
    ----------
    data
        What the report shows.
    path
        ``.html`` (one self-contained file), ``.xlsx`` (one sheet per
        table, see :data:`ims_geo.report.xlsx.SHEETS`) or ``.pdf`` (the HTML
        printed by headless Chromium, see :mod:`ims_geo.report.pdf`).
    kind
        ``council`` (the yearly council pack) or ``status`` (the six-monthly
        status report: the monitoring part only).
    lang
        The report's language; default the language in use (see :func:`report_bytes`).

    Returns
    -------
    pathlib.Path
        The file written. It appears complete or not at all.

    Raises
    ------
    InputError
        Unknown suffix, kind or language, or the file cannot be written.
    ReportError
        A PDF was asked for and no Chromium can print it.
    """
    target = Path(path)
    _replace(target, report_bytes(data, report_format(target), kind=kind, lang=lang))
    return target


def _replace(target: Path, content: bytes) -> None:
    """Write ``content`` to ``target`` through a temporary file, so a failure leaves no half file."""
    tmp = target.with_name(f".{target.name}.part")
    try:
        tmp.write_bytes(content)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write the report '{target}': {exc.strerror or exc}") from exc
