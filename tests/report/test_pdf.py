"""The report printed to PDF by headless Chromium: a page per measure sheet, the KPI table in it."""

from __future__ import annotations

import re
from pathlib import Path

import pypdf
import pytest

from ims_geo.errors import ReportError
from ims_geo.report import write_report
from ims_geo.report.pdf import CHROMIUM_ENV

from .conftest import HOSTILE_ORG
from conftest import chromium


def _pages(path: Path) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


def test_council_pack_pdf(data, tmp_path: Path) -> None:
    chromium()
    path = write_report(data, tmp_path / "council.pdf")
    assert path.read_bytes().startswith(b"%PDF")
    pages = _pages(path)
    # the front part, then each measure sheet starting a page of its own
    starts = [
        i for i, text in enumerate(pages) for p in ("P1", "P2")
        if f"Measure sheet: project {p}" in text
    ]  # fmt: skip
    assert len(starts) == 2 and len(set(starts)) == 2
    assert len(pages) >= 1 + 2
    assert all(pages[i].startswith("Measure sheet: project") for i in starts)
    # the KPI table, row by row, as printed
    text = " ".join(pages)
    assert "Indicator Target Value State" in text
    assert "Share of excavating works combined 0.50 0.60 green" in text
    assert "Moratorium violations 0.00 1.00 red" in text
    assert "<b>custom</b> trees 3.00 2.00 amber" in text
    assert HOSTILE_ORG in text


def test_status_report_pdf(data, tmp_path: Path) -> None:
    chromium()
    text = " ".join(_pages(write_report(data, tmp_path / "status.pdf", kind="status")))
    assert "Status report: planning cycle 2027" in text
    assert "Measure sheet" not in text and "KPIs against targets" not in text
    assert re.search(r"late 1 not combined 1 unplanned 1", text)


def test_no_printer_is_a_clear_error(data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ReportError, match="no PDF printer available.*apt-get install chromium"):
        write_report(data, tmp_path / "r.pdf")
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-such-chrome"))
    with pytest.raises(ReportError, match=f"{CHROMIUM_ENV}=.*names no executable"):
        write_report(data, tmp_path / "r.pdf")
    # nothing half-written
    assert not list(tmp_path.glob("*.pdf*"))
    # the other formats need no printer
    assert write_report(data, tmp_path / "r.html").exists()


def test_a_failing_printer_is_reported(
    data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 7\n")
    fake.chmod(0o755)
    monkeypatch.setenv(CHROMIUM_ENV, str(fake))
    with pytest.raises(ReportError, match="could not print the report to PDF: cannot open display"):
        write_report(data, tmp_path / "r.pdf")
    assert not list(tmp_path.glob("r.pdf*"))
