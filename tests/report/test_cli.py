"""``ims-geo report`` through click's CliRunner on a real GeoPackage store."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pypdf
from click.testing import CliRunner

from ims_geo.cli import EXIT_INPUT, main
from ims_geo.report.pdf import CHROMIUM_ENV

from .htmltree import parse
from .test_html import external_references
from conftest import chromium


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_report_html_xlsx_pdf(cycle_store, tmp_path: Path) -> None:
    store = str(cycle_store.location)
    html = tmp_path / "council.html"
    result = _run("report", "--cycle", "2026", "--out", str(html), "--store", store,
                  "--as-of", "2026-08-15", "--area", "Kallio")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Council pack of cycle 2026 (programme revision 1) written to {html}" in result.output
    text = html.read_text("utf-8")
    assert external_references(text) == []
    root, _ = parse(text)
    assert root.find_all("h1")[0].text == "Council pack: planning cycle 2026 — Kallio"

    xlsx = tmp_path / "council.xlsx"
    assert _run("report", "--cycle", "2026", "--out", str(xlsx), "--store", store).exit_code == 0
    book = openpyxl.load_workbook(xlsx)
    assert {"KPIs", "Deviations", "Programme", "Moratoria", "Changes"} <= set(book.sheetnames)
    header = [c.value for c in next(book["Programme"].iter_rows())]
    assert header == ["Combined project", "Organisation", "Work", "Start", "End",
                      "Order of execution", "Estimated cost (EUR)", "Cost share (EUR)",
                      "Funding year"]  # fmt: skip
    rows = sorted((r[1], r[2]) for r in book["Programme"].iter_rows(min_row=2, values_only=True))
    assert rows == [("Road", "R1"), ("Water", "W1")]

    status = tmp_path / "status.xlsx"
    result = _run("report", "--cycle", "2026", "--out", str(status), "--kind", "status",
                  "--store", store)  # fmt: skip
    assert result.exit_code == 0 and "Status report of cycle 2026" in result.output
    assert openpyxl.load_workbook(status).sheetnames[:2] == ["Cycle", "Combined projects"]

    chromium()
    pdf = tmp_path / "council.pdf"
    assert _run("report", "--cycle", "2026", "--out", str(pdf), "--store", store).exit_code == 0
    pages = pypdf.PdfReader(pdf).pages
    assert len(pages) >= 2
    assert "Measure sheet: project P1" in " ".join(p.extract_text() for p in pages)


def test_report_errors_are_clear(cycle_store, tmp_path: Path) -> None:
    store = str(cycle_store.location)
    result = _run("report", "--cycle", "2026", "--out", str(tmp_path / "r.docx"), "--store", store)
    assert result.exit_code == EXIT_INPUT
    assert "unknown file type '.docx'; use one of .htm, .html, .pdf, .xlsx" in result.output
    missing = tmp_path / "nowhere.gpkg"
    result = _run("report", "--cycle", "2026", "--out", str(tmp_path / "r.html"),
                  "--store", str(missing))  # fmt: skip
    assert result.exit_code == EXIT_INPUT and "no works store at" in result.output
    assert not missing.exists()
    result = _run("report", "--cycle", "2026", "--out", str(tmp_path / "r.html"),
                  "--store", store, "--as-of", "15.08.2026")  # fmt: skip
    assert result.exit_code == 2 and "'15.08.2026' is not a day" in result.output
    result = _run("report", "--cycle", "2026", "--out", str(tmp_path / "r.pdf"), "--store", store,
                  env={"PATH": str(tmp_path / "empty"), CHROMIUM_ENV: ""})  # fmt: skip
    assert result.exit_code == 1
    assert "no PDF printer available" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("r.*"))
