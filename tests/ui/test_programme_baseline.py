"""The Programme page's baseline next to the Conflicts page: where they differ, it says why."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ims_geo.conflicts import find_conflicts
from ims_geo.schema import validate
from ims_geo.store import open_store

YEAR = dt.date.today().year + 2
WHY = (
    "An excavation that starts while a new surface nearby is being laid digs it up: counted "
    "here as a moratorium violation, it is a clash on the Conflicts page, the Overview and the "
    "planning cycle's baseline."
)


@pytest.fixture
def resurfaced(tmp_path: Path) -> Path:
    """A street resurfaced in March, and a water main dug into it from 10 March."""
    street = shapely.LineString([(25_496_000, 6_672_800), (25_496_200, 6_672_800)])
    plan = gpd.GeoDataFrame(
        pd.DataFrame(
            [
                ("City", "R1", "road", "surface", f"{YEAR}-03-01", f"{YEAR}-03-31"),
                ("Water", "W1", "water", "subsurface", f"{YEAR}-03-10", f"{YEAR}-04-10"),
            ],
            columns=["org", "work_id", "discipline", "layer", "start_date", "end_date"],
        ),
        geometry=[street, street],
        crs="EPSG:3879",
    )
    path = tmp_path / "resurfaced.gpkg"
    store = open_store(path)
    for org, part in plan.groupby("org"):
        store.import_plan(validate(part.reset_index(drop=True)).valid, org=org, cycle=YEAR)
    return path


def test_a_clash_counted_as_dig_after_pave_is_explained_in_both_figures(open_app, resurfaced):
    (kind,) = find_conflicts(open_store(resurfaced).works())["kind"]
    assert kind == "clash"  # what the Conflicts page and the Overview count

    at = open_app("programme", store=resurfaced)
    at.slider(key="programme_time").set_value(4)
    at.button(key="programme_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    helps = {m.label: m.help for m in at.metric}
    assert helps["Clashes"] == "Baseline (everyone keeps their dates): 0\n\n" + WHY
    assert helps["Moratorium violations"] == "Baseline (everyone keeps their dates): 1\n\n" + WHY
    assert helps["Combined works"].startswith("Baseline") and WHY not in helps["Combined works"]
