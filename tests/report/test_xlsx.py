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
        "cycle", "kpis", "conflicts", "projects", "programme", "financing", "deviations",
        "progress", "moratoria", "changes",
    ]  # fmt: skip
    assert _rows(book["kpis"]) == [
        ("kpi", "target", "value", "state"),
        ("combined_share", 0.5, 0.6, "green"),
        ("moratorium_violations", 0, 1, "red"),
        ("<b>custom</b> trees", 3, 2, "amber"),
    ]
    assert _rows(book["deviations"]) == [
        ("org", "work_id", "project", "deviation", "days"),
        (FIBRE, "C1", "P1", "not_combined", 40),
        (FIBRE, "C9", None, "unplanned", None),
        (WATER, "B1", "P1", "late", 10),
    ]
    assert _rows(book["programme"]) == [
        (
            "project",
            "org",
            "work_id",
            "start",
            "end",
            "order",
            "cost_eur",
            "cost_share_eur",
            "funding_year",
        ),  # fmt: skip
        ("P1", WATER, "B1", _day("2027-05-01"), _day("2027-08-31"), 1, 120000, 110000, 2027),
        ("P1", FIBRE, "C1", _day("2027-05-01"), _day("2027-06-30"), 2, 40000, 30000, 2027),
        ("P1", HOSTILE_ORG, "A1", _day("2027-09-01"), _day("2027-10-31"), 3, 200000, 220000, 2027),
        ("P2", WATER, "B2", _day("2028-03-01"), _day("2028-05-31"), 1, 60000, 45000, 2028),
        ("P2", FIBRE, "C2", _day("2028-03-01"), _day("2028-04-15"), 2, None, 15000, 2028),
        (None, HOSTILE_ORG, "A7", _day("2027-11-01"), _day("2027-11-30"), None, 10000, 10000, 2027),
    ]
    assert _rows(book["moratoria"]) == [
        ("source_org", "source_work_id", "valid_from", "valid_until"),
        (HOSTILE_ORG, "A0", _day("2025-06-30"), _day("2028-06-29")),
    ]
    assert _rows(book["changes"]) == [
        ("org", "work_id", "change", "days_moved"),
        (WATER, "B2", "added", None),
        (HOSTILE_ORG, "A7", "dropped", None),
        (FIBRE, "C1", "moved", 30),
        (FIBRE, "C9", "added", None),
    ]
    assert _rows(book["projects"])[0] == (
        "project", "lead_org", "joint_start", "joint_end", "rag", "reason",
    )  # fmt: skip
    assert _rows(book["progress"])[1] == (WATER, "B1", "in_progress", _day("2027-05-11"), None)
    cycle = dict(_rows(book["cycle"])[1:])
    assert cycle["cycle"] == 2027 and cycle["programme revision"] == 2
    assert cycle["decision date"] == _day("2027-03-15")
    # dates are real Excel dates shown as days; header frozen; a filter over the table
    sheet = book["programme"]
    assert sheet["D2"].is_date and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I7"


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    data = build_data()
    kpis = data.kpis.assign(kpi=["=1+1", '=HYPERLINK("http://x")', HOSTILE_TITLE])
    path = write_report(build_data(kpis=kpis), tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(path)["kpis"]
    cells = [sheet.cell(row=r, column=1) for r in (2, 3, 4)]
    assert [c.value for c in cells] == ["=1+1", '=HYPERLINK("http://x")', HOSTILE_TITLE]
    assert [c.data_type for c in cells] == ["s", "s", "s"]


def test_status_workbook(data, tmp_path: Path) -> None:
    path = write_report(data, tmp_path / "status.xlsx", kind="status")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["cycle", "projects", "progress", "deviations", "programme"]
    assert _rows(book["projects"])[1:] == [
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
    assert _rows(book["cycle"])[1] == ("report", "status report")


def test_empty_tables_still_have_their_columns(tmp_path: Path) -> None:
    data = build_data()
    path = write_report(
        build_data(changes=data.changes.iloc[:0], moratoria=data.moratoria.iloc[:0]),
        tmp_path / "r.xlsx",
    )
    book = openpyxl.load_workbook(path)
    assert _rows(book["changes"]) == [("org", "work_id", "change", "days_moved")]
    assert _rows(book["moratoria"]) == [
        ("source_org", "source_work_id", "valid_from", "valid_until")
    ]
    assert pd.read_excel(path, sheet_name="kpis").shape == (3, 4)
