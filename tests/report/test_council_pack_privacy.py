"""The council pack never names another organisation's private works.

Organisation B plans three works next to A's road; a programme is adopted
while all three are public; then B makes two of them private. A's planner's
council pack (every sheet of the workbook, every cell) must then show
neither the ids nor the titles of those two works, never B beside an
anonymous work, and no anonymous work in a conflict with itself. Run on the
GeoPackage store (acting as A) and on PostGIS (signed in as A's planner).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from access_data import PASSWORD, line, plan

from ims_geo import cycle as cyc
from ims_geo.report import xlsx_bytes
from ims_geo.report.assemble import report_data
from ims_geo.store import Store, open_store

SECRET_IDS = ("W2026-011", "W2027-004")
SECRET_TITLES = ("Water secret main eleven", "Water secret branch four")


def b_plan(private: bool, public_start: str = "2027-03-01") -> Any:
    """B's plan: one public work, and two that are private when ``private``."""
    hidden = "private" if private else "public"
    return plan("B", [
        {"work_id": "W2027-002", "title": "Water open main", "discipline": "water",
         "layer": "subsurface", "start_date": public_start, "end_date": "2027-04-30",
         "visibility": "public", "geometry": line(0, 2)},
        {"work_id": SECRET_IDS[0], "title": SECRET_TITLES[0], "discipline": "water",
         "layer": "subsurface", "start_date": "2027-03-15", "end_date": "2027-05-15",
         "visibility": hidden, "geometry": line(5, -2)},
        {"work_id": SECRET_IDS[1], "title": SECRET_TITLES[1], "discipline": "sewer",
         "layer": "subsurface", "start_date": "2027-04-01", "end_date": "2027-05-31",
         "visibility": hidden, "geometry": line(10, 4)},
    ])  # fmt: skip


def _a_plan() -> Any:
    return plan("A", [
        {"work_id": "S-1", "title": "Street renewal", "discipline": "road", "layer": "surface",
         "start_date": "2027-03-10", "end_date": "2027-05-20", "visibility": "public",
         "geometry": line(0)},
    ])  # fmt: skip


def _cells(content: bytes) -> list[tuple[str, list[str]]]:
    """Every row of every sheet: (sheet name, the row's cells as text)."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [
        (sheet.title, ["" if v is None else str(v) for v in row])
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    ]


def _assert_private_works_hidden(store: Store) -> None:
    data = report_data(store, 2027, as_of=dt.date(2027, 6, 1))
    rows = _cells(xlsx_bytes(data, "council", lang="en"))
    text = [cell for _, row in rows for cell in row]
    for secret in (*SECRET_IDS, *SECRET_TITLES):
        assert not [cell for cell in text if secret in cell], secret
    # every anonymous id stands beside "private", never beside its owner
    beside = [row[i - 1] for _, row in rows for i, c in enumerate(row) if c.startswith("anon-")]
    assert beside and set(beside) == {"private"}
    # the two private works as they are now: A sees them as anonymous signals
    now = store.works()
    signals = sorted(now.loc[now["org"] == "private", "work_id"])
    assert len(signals) == 2 and all(s.startswith("anon-") for s in signals)
    # all four works overlap in place and time: each pair of different organisations
    # (as A sees them) clashed when the programme was adopted and still does, so every
    # conflict is open and none pairs a work with itself
    conflicts = data.conflicts
    got = {
        (frozenset({(a, x), (b, y)}), state)
        for a, x, b, y, state in conflicts[
            ["org_a", "work_id_a", "org_b", "work_id_b", "status"]
        ].itertuples(index=False)
    }
    works = [("A", "S-1"), ("B", "W2027-002"), *(("private", s) for s in signals)]
    expected = {
        (frozenset({one, two}), "open")
        for i, one in enumerate(works)
        for two in works[i + 1 :]
        if one[0] != two[0]
    }
    assert got == expected


def test_a_geopackage_council_pack_hides_works_made_private(tmp_path: Path) -> None:
    path = tmp_path / "works.gpkg"
    with open_store(path) as store:
        store.import_plan(b_plan(private=False), org="B", cycle=2027, source="b.gpkg")
        store.import_plan(_a_plan(), org="A", cycle=2027, source="a.gpkg")
        cyc.adopt(store, 2027, decision="council 1/2027", decision_date="2027-01-20")
        store.import_plan(b_plan(private=True), org="B", cycle=2027, source="b2.gpkg")
    with open_store(path, acting_org="A") as store:
        _assert_private_works_hidden(store)


@pytest.mark.postgis
def test_a_shared_council_pack_hides_works_made_private(
    populated_installation: tuple[Any, dict[str, int]],
) -> None:
    installation, _ = populated_installation
    with open_store(installation.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(b_plan(private=False), org="B", cycle=2027, source="b.gpkg")
    with open_store(installation.app_url, user="a_plan", password=PASSWORD) as a:
        a.import_plan(_a_plan(), org="A", cycle=2027, source="a.gpkg")
    with open_store(installation.app_url, user="a_coord", password=PASSWORD) as coordinator:
        cyc.adopt(coordinator, 2027, decision="council 1/2027", decision_date="2027-01-20")
    with open_store(installation.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(b_plan(private=True), org="B", cycle=2027, source="b2.gpkg")
    with open_store(installation.app_url, user="a_plan", password=PASSWORD) as a:
        _assert_private_works_hidden(a)
