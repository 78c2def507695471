"""Comparing another organisation's plan versions when some of its works went private.

B's second version makes two works private and moves its public one. A
reader who may not see B's private works is told what changed for the
public work only and how many works are left out; the private works never
show as "dropped", nor by id. A reader who sees everything is told nothing
changed for them (making a work private changes neither its dates nor its
geometry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access_data import PASSWORD, line, plan

from ims_geo.store import Store, open_store

SECRET_IDS = ("W2026-011", "W2027-004")


def _b_plan(private: bool) -> Any:
    hidden = "private" if private else "public"
    start = "2027-03-08" if private else "2027-03-01"  # the public work moves by 7 days
    return plan("B", [
        {"work_id": "W2027-002", "title": "Water open main", "discipline": "water",
         "start_date": start, "end_date": "2027-04-30", "visibility": "public",
         "geometry": line(0, 2)},
        {"work_id": SECRET_IDS[0], "title": "Water secret one", "discipline": "water",
         "start_date": "2027-03-15", "end_date": "2027-05-15", "visibility": hidden,
         "geometry": line(5, -2)},
        {"work_id": SECRET_IDS[1], "title": "Water secret two", "discipline": "sewer",
         "start_date": "2027-04-01", "end_date": "2027-05-31", "visibility": hidden,
         "geometry": line(10, 4)},
    ])  # fmt: skip


def _assert_left_out(store: Store, old: int, new: int) -> None:
    changes = store.compare_versions("B", old, new)
    assert changes[["work_id", "change"]].values.tolist() == [["W2027-002", "moved"]]
    assert changes["shift_days"].tolist() == [7]
    assert changes.attrs["not_shown"] == 2


def test_a_geopackage_reader_sees_works_made_private_left_out(tmp_path: Path) -> None:
    path = tmp_path / "works.gpkg"
    with open_store(path) as store:
        store.import_plan(_b_plan(private=False), org="B", cycle=2027, source="b1.gpkg")
        store.import_plan(_b_plan(private=True), org="B", cycle=2027, source="b2.gpkg")
        everything = store.compare_versions("B", 1, 2)
        assert everything[["work_id", "change"]].values.tolist() == [["W2027-002", "moved"]]
        assert everything.attrs["not_shown"] == 0
    with open_store(path, acting_org="A") as store:
        _assert_left_out(store, 1, 2)


@pytest.mark.postgis
def test_a_shared_reader_sees_works_made_private_left_out(
    populated_installation: tuple[Any, dict[str, int]],
) -> None:
    installation, _ = populated_installation
    with open_store(installation.app_url, user="b_plan", password=PASSWORD) as b:
        first = b.import_plan(_b_plan(private=False), org="B", cycle=2027, source="b1.gpkg")
        second = b.import_plan(_b_plan(private=True), org="B", cycle=2027, source="b2.gpkg")
    with open_store(installation.app_url, user="a_plan", password=PASSWORD) as a:
        _assert_left_out(a, first.version, second.version)
