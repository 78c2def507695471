"""The report assembled from a real GeoPackage store through the planning-cycle library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ims_geo.report import CONFLICT_COLUMNS, write_report
from ims_geo.report.assemble import conflict_states, report_data
from ims_geo.store import open_store

from .conftest import fill_cycle, plan
from .htmltree import parse


def _conflicts(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["org_a", "work_id_a", "org_b", "work_id_b", "kind"])


def test_conflict_states_by_hand() -> None:
    at_adoption = _conflicts(
        [
            ("W", "1", "R", "1", "clash"),  # both in P1 now: the project itself -> resolved
            ("W", "2", "T", "2", "clash"),  # still there, listed the other way round -> open
            ("T", "5", "W", "5", "clash"),  # became a synergy: the clash resolved, a synergy new
            ("R", "9", "T", "9", "moratorium"),  # gone -> resolved
        ]
    )
    now = _conflicts(
        [
            ("R", "1", "W", "1", "synergy"),
            ("T", "2", "W", "2", "clash"),
            ("T", "5", "W", "5", "synergy"),
            ("T", "3", "R", "1", "moratorium"),
        ]
    )
    programme = pd.DataFrame(
        {
            "project": pd.array(["P1", "P1", None], dtype="string"),
            "org": ["W", "R", "T"],
            "work_id": ["1", "1", "3"],
        }
    )
    out = conflict_states(at_adoption, now, programme)
    assert list(out.columns) == list(CONFLICT_COLUMNS)
    assert out.to_dict("records") == [
        {"org_a": "T", "work_id_a": "5", "org_b": "W", "work_id_b": "5", "kind": "clash", "status": "resolved"},
        {"org_a": "W", "work_id_a": "1", "org_b": "R", "work_id_b": "1", "kind": "clash", "status": "resolved"},
        {"org_a": "R", "work_id_a": "9", "org_b": "T", "work_id_b": "9", "kind": "moratorium", "status": "resolved"},
        {"org_a": "W", "work_id_a": "2", "org_b": "T", "work_id_b": "2", "kind": "clash", "status": "open"},
        {"org_a": "T", "work_id_a": "3", "org_b": "R", "work_id_b": "1", "kind": "moratorium", "status": "new"},
        {"org_a": "T", "work_id_a": "5", "org_b": "W", "work_id_b": "5", "kind": "synergy", "status": "new"},
    ]  # fmt: skip


EXPECTED_CONFLICTS = {
    (frozenset([("Water", "W1"), ("Road", "R1")]), "clash"): "resolved",
    (frozenset([("Water", "W2"), ("Tele", "T2")]), "clash"): "open",
    (frozenset([("Tele", "T3"), ("Water", "W1")]), "synergy"): "new",
    (frozenset([("Tele", "T3"), ("Road", "R1")]), "moratorium"): "new",
}


def _states(conflicts: pd.DataFrame) -> dict:
    return {
        (frozenset([(r.org_a, r.work_id_a), (r.org_b, r.work_id_b)]), r.kind): r.status
        for r in conflicts.itertuples()
    }


def test_report_data_from_the_store(cycle_store) -> None:
    data = report_data(cycle_store, 2026, as_of=dt.date(2026, 8, 15), area="Test area")
    info = data.info
    assert (info.year, info.revision, info.decision) == (2026, 1, "Council <b>2026/7</b>")
    assert info.decision_date == dt.date(2026, 3, 10)
    assert (info.previous_year, info.full_revision, info.area) == (None, False, "Test area")
    assert info.as_of == dt.date(2026, 8, 15)
    # the programme as adopted, frozen
    prog = data.programme.sort_values(["order"])
    assert prog[["project", "org", "work_id"]].values.tolist() == [
        ["P1", "Water", "W1"],
        ["P1", "Road", "R1"],
    ]
    assert list(data.projects["project"]) == ["P1"]
    # conflicts: W1-R1 combined (resolved), W2-T2 open, T3 new against W1 (synergy, 63 days
    # after W1) and against R1 (dig one month after the new surface: moratorium)
    assert _states(data.conflicts) == EXPECTED_CONFLICTS
    assert len(data.works) == 5


@pytest.mark.postgis
def test_report_from_the_shared_postgis_store(postgis_url: str, tmp_path: Path) -> None:
    store = fill_cycle(open_store(postgis_url))
    data = report_data(store, 2026, as_of=dt.date(2026, 8, 15))
    assert (data.info.revision, data.info.decision) == (1, "Council <b>2026/7</b>")
    assert _states(data.conflicts) == EXPECTED_CONFLICTS
    book = openpyxl.load_workbook(write_report(data, tmp_path / "r.xlsx"))
    rows = sorted(r[:3] for r in book["Programme"].iter_rows(min_row=2, values_only=True))
    assert rows == [("P1", "Road", "R1"), ("P1", "Water", "W1")]
    root, _ = parse(write_report(data, tmp_path / "r.html").read_text("utf-8"))
    assert [s.attrs["id"] for s in root.find_all("section", class_="sheet")] == ["project-P1"]


def test_report_files_from_the_store(cycle_store, tmp_path: Path) -> None:
    data = report_data(cycle_store, 2026, as_of=dt.date(2026, 8, 15))
    html = write_report(data, tmp_path / "r.html").read_text("utf-8")
    root, tags = parse(html)
    assert "b" not in tags and "Council <b>2026/7</b>" in root.text
    assert [s.attrs["id"] for s in root.find_all("section", class_="sheet")] == ["project-P1"]
    status = write_report(data, tmp_path / "s.html", kind="status").read_text("utf-8")
    assert "State of the combined projects" in status


def test_report_without_an_adopted_programme(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store.gpkg")
    store.import_plan(
        plan("Water", [("W1", "water", "subsurface", "2027-05-01", "2027-06-30", 0)]),
        org="Water", cycle=2026,
    )  # fmt: skip
    store.import_plan(
        plan("Road", [("R1", "road", "surface", "2027-06-01", "2027-07-31", 0)]),
        org="Road", cycle=2027,
    )  # fmt: skip
    data = report_data(store, 2027)
    assert data.info.revision is None and data.info.previous_year == 2026
    assert data.programme.empty and data.projects.empty and data.deviations.empty
    assert data.conflicts[["kind", "status"]].values.tolist() == [["clash", "open"]]
    root, _ = parse(write_report(data, tmp_path / "r.html").read_text("utf-8"))
    assert "No programme adopted for this cycle yet." in root.text
