"""The Conflicts page when nothing conflicts, or the filters hide every conflict: it says so."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.ingest import read_works
from ims_geo.store import open_store

#: Two organisations' works 100 m apart whose periods share January 2030.
PLANS = (
    b"work_id,org,start_date,end_date,geometry\n"
    b'G1,Gas,2030-01-01,2030-02-01,"POINT (155000 463000)"\n'
    b'W1,Water,2030-01-15,2030-03-01,"POINT (155100 463000)"\n'
)


@pytest.fixture
def apart(tmp_path: Path) -> Path:
    path = tmp_path / "apart.gpkg"
    result = read_works(PLANS, name="plans.csv", crs="EPSG:28992")
    open_store(path).import_plans(result.works, result.rejected, cycle=2030, source="plans.csv")
    return path


def infos(at) -> list[str]:
    return [i.value for i in at.info]


def table(at):
    (frame,) = [d for d in at.dataframe if d.key == "conflicts_table"]
    return frame.value


def test_no_conflict_under_the_rules_is_explained_with_the_rules(open_app, apart):
    works = open_store(apart).works()
    x, y = works.sort_values("work_id").geometry
    assert shapely.distance(x, y) == 100.0  # the rules below are on either side of it
    assert find_conflicts(works, Rules()).empty

    at = open_app("conflicts", store=apart)
    assert not at.exception
    assert infos(at) == [
        "No conflicts under these rules: no two works of different organisations within 20 m "
        "of each other are planned at most 365 days apart, and none digs within 3 years of "
        "the other's new surface. Widen the **Rules** in the sidebar to look further."
    ]
    at.number_input(key="rule_moratorium").set_value(1)
    at.run()
    assert infos(at)[0].endswith(
        "none digs within 1 year of the other's new surface. Widen the **Rules** in the "
        "sidebar to look further."
    )

    # a moratorium of 0 years searches for none: the sentence says nothing of one
    at.number_input(key="rule_moratorium").set_value(0).run()
    assert find_conflicts(works, Rules(moratorium_years=0)).empty
    assert infos(at) == [
        "No conflicts under these rules: no two works of different organisations within 20 m "
        "of each other are planned at most 365 days apart. Widen the **Rules** in the sidebar "
        "to look further."
    ]

    at.number_input(key="rule_distance").set_value(100.0).run()
    (kind,) = find_conflicts(works, Rules(distance=100.0))["kind"]
    assert kind == "clash" and len(table(at)) == 1
    assert infos(at) == []


def test_filters_that_hide_every_conflict_say_so(open_app, apart):
    at = open_app("conflicts", store=apart)
    at.number_input(key="rule_distance").set_value(100.0).run()
    at.multiselect(key="conflict_kinds").set_value(["synergy"]).run()
    assert not at.exception
    assert len(table(at)) == 0
    assert infos(at) == ["The 1 conflict does not match the filters in the sidebar."]
