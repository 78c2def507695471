"""Comparing another organisation's plan versions when some of its works went private.

B's second version makes two works private and moves its public one. A
reader who may not see B's private works is told what changed for the
public work only and how many works are left out (none on a shared store,
whose database hides them in every version); the private works never
show as "dropped", nor by id. A reader who sees everything is told nothing
changed for them (making a work private changes neither its dates nor its
geometry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access_data import PASSWORD

from ims_geo.store import Store, open_store
from tests.report.test_council_pack_privacy import b_plan


def _assert_left_out(store: Store, old: int, new: int, not_shown: int = 2) -> None:
    changes = store.compare_versions("B", old, new)
    assert changes[["work_id", "change"]].values.tolist() == [["W2027-002", "moved"]]
    assert changes["shift_days"].tolist() == [7]
    assert changes.attrs["not_shown"] == not_shown


def test_a_geopackage_reader_sees_works_made_private_left_out(tmp_path: Path) -> None:
    path = tmp_path / "works.gpkg"
    with open_store(path) as store:
        store.import_plan(b_plan(private=False), org="B", cycle=2027, source="b1.gpkg")
        store.import_plan(
            b_plan(private=True, public_start="2027-03-08"), org="B", cycle=2027, source="b2.gpkg"
        )
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
        first = b.import_plan(b_plan(private=False), org="B", cycle=2027, source="b1.gpkg")
        second = b.import_plan(
            b_plan(private=True, public_start="2027-03-08"), org="B", cycle=2027, source="b2.gpkg"
        )
    with open_store(installation.app_url, user="a_plan", password=PASSWORD) as a:
        # the database hides the works made private in the first version too: not counted
        _assert_left_out(a, first.version, second.version, not_shown=0)
