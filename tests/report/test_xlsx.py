"""The report as a workbook: the sheets, their exact columns and values, text kept as text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd

from ims_geo.report import write_report

from .conftest import FIBRE, HOSTILE_ORG, HOSTILE_TITLE, WATER, build_data


def _rows(sheet) -> list[tuple]:
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def _day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_council_workbook_sheets_and_values(data, tmp_path: Path) -> None:
    path = write_report(data, tmp_path / "council.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "Cycle", "KPIs", "Conflicts", "Combined projects", "Programme", "Financing",
        "Deviations", "Progress", "Moratoria", "Changes",
    ]  # fmt: skip
    assert _rows(book["KPIs"]) == [
        ("Indicator", "Target", "Value", "State"),
        ("Share of excavating works combined", 0.5, 0.6, "green"),
        ("Moratorium violations", 0, 1, "red"),
        ("<b>custom</b> trees", 3, 2, "amber"),
    ]
    assert _rows(book["Deviations"]) == [
        ("Organisation", "Work", "Combined project", "Deviation", "Days"),
        (FIBRE, "C1", "P1", "not combined", 40),
        (FIBRE, "C9", None, "unplanned", None),
        (WATER, "B1", "P1", "late", 10),
    ]
    assert _rows(book["Programme"]) == [
        (
            "Combined project",
            "Organisation",
            "Work",
            "Start",
            "End",
            "Order of execution",
            "Estimated cost (EUR)",
            "Cost share (EUR)",
            "Funding year",
        ),  # fmt: skip
        ("P1", WATER, "B1", _day("2027-05-01"), _day("2027-08-31"), 1, 120000, 110000, 2027),
        ("P1", FIBRE, "C1", _day("2027-05-01"), _day("2027-06-30"), 2, 40000, 30000, 2027),
        ("P1", HOSTILE_ORG, "A1", _day("2027-09-01"), _day("2027-10-31"), 3, 200000, 220000, 2027),
        ("P2", WATER, "B2", _day("2028-03-01"), _day("2028-05-31"), 1, 60000, 45000, 2028),
        ("P2", FIBRE, "C2", _day("2028-03-01"), _day("2028-04-15"), 2, None, 15000, 2028),
        (None, HOSTILE_ORG, "A7", _day("2027-11-01"), _day("2027-11-30"), None, 10000, 10000, 2027),
    ]
    assert _rows(book["Moratoria"]) == [
        ("Protected by", "Work", "Protected from", "Protected until"),
        (HOSTILE_ORG, "A0", _day("2025-06-30"), _day("2028-06-29")),
    ]
    assert _rows(book["Changes"]) == [
        ("Organisation", "Work", "Change", "Moved (days)"),
        (WATER, "B2", "added", None),
        (HOSTILE_ORG, "A7", "dropped", None),
        (FIBRE, "C1", "moved", 30),
        (FIBRE, "C9", "added", None),
    ]
    assert _rows(book["Combined projects"])[0] == (
        "Combined project", "Lead organisation", "Joint start", "Joint end", "State", "Reason",
    )  # fmt: skip
    assert _rows(book["Progress"])[1] == (WATER, "B1", "in progress", _day("2027-05-11"), None)
    assert [r[-2:] for r in _rows(book["Conflicts"])[1:]] == [
        ("clash", "resolved"), ("synergy", "open"), ("synergy", "resolved"), ("synergy", "new"),
    ]  # fmt: skip
    cycle = dict(_rows(book["Cycle"])[1:])
    assert cycle["Cycle"] == 2027 and cycle["Programme revision"] == 2
    assert cycle["Decision date"] == _day("2027-03-15")
    # dates are real Excel dates shown as days; header frozen; a filter over the table
    sheet = book["Programme"]
    assert sheet["D2"].is_date and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I7"


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    data = build_data()
    kpis = data.kpis.assign(kpi=["=1+1", '=HYPERLINK("http://x")', HOSTILE_TITLE])
    path = write_report(build_data(kpis=kpis), tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(path)["KPIs"]
    cells = [sheet.cell(row=r, column=1) for r in (2, 3, 4)]
    assert [c.value for c in cells] == ["=1+1", '=HYPERLINK("http://x")', HOSTILE_TITLE]
    assert [c.data_type for c in cells] == ["s", "s", "s"]


def test_status_workbook(data, tmp_path: Path) -> None:
    path = write_report(data, tmp_path / "status.xlsx", kind="status")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [
        "Cycle", "Combined projects", "Progress", "Deviations", "Awaiting plan update", "Programme",
    ]  # fmt: skip
    assert _rows(book["Combined projects"])[1:] == [
        (
            "P1",
            WATER,
            _day("2027-05-01"),
            _day("2027-10-31"),
            "red",
            f"C1 of {FIBRE} not combined; <i>late</i>",
        ),  # fmt: skip
        ("P2", FIBRE, _day("2028-03-01"), _day("2028-05-31"), "green", "on plan"),
    ]
    assert _rows(book["Cycle"])[1] == ("Report", "Status report")


def test_empty_tables_still_have_their_columns(tmp_path: Path) -> None:
    data = build_data()
    path = write_report(
        build_data(changes=data.changes.iloc[:0], moratoria=data.moratoria.iloc[:0]),
        tmp_path / "r.xlsx",
    )
    book = openpyxl.load_workbook(path)
    assert _rows(book["Changes"]) == [("Organisation", "Work", "Change", "Moved (days)")]
    assert _rows(book["Moratoria"]) == [
        ("Protected by", "Work", "Protected from", "Protected until")
    ]
    assert pd.read_excel(path, sheet_name="KPIs").shape == (3, 4)
