"""The public view (the citizen's view) under AppTest, on a GeoPackage store: public works only."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely

from ims_geo.schema import validate
from ims_geo.store import open_store

from .conftest import FOLIUM, PAGES


def _store(path: Path) -> Path:
    x0, y0 = 25_496_000, 6_672_800
    plan = gpd.GeoDataFrame(
        {
            "work_id": ["p1", "p2", "p3"],
            "org": ["Water Co"] * 3,
            "title": ["Open main renewal", "Partners only valve", "Secret cable"],
            "discipline": ["water", "water", "power"],
            "start_date": ["2027-04-01", "2027-05-01", "2027-06-15"],
            "end_date": ["2027-05-31", "2027-05-20", "2027-07-20"],
            "cost_eur": [1000.0, 2000.0, 777_777.0],
            "visibility": ["public", "partners", "private"],
        },
        geometry=[
            shapely.LineString([(x0 + 100 * i, y0), (x0 + 100 * i + 80, y0)]) for i in range(3)
        ],
        crs="EPSG:3879",
    )
    store = open_store(path)
    store.import_plan(validate(plan).valid, org="Water Co", cycle=2027, source="plan.gpkg")
    return path


def test_the_public_view_shows_public_works_only(open_app, tmp_path: Path) -> None:
    at = open_app("public", store=_store(tmp_path / "store.gpkg"))
    assert at.title[0].value == "Planned street works"
    (table,) = [d.value for d in at.dataframe]
    assert table["work_id"].tolist() == ["p1"]
    assert "cost_eur" not in table.columns
    (fmap,) = [c for c in at.get("component_instance") if c.proto.component_name == FOLIUM]
    script = json.loads(fmap.proto.json_args)["script"]
    assert "Open main renewal" in script
    for hidden in ("Partners only valve", "Secret cable", "777777", "p2", "p3"):
        assert hidden not in script and hidden not in table.to_csv()


def test_the_geopackage_app_has_no_sign_in_page(open_app, tmp_path: Path) -> None:
    at = open_app(store=_store(tmp_path / "store.gpkg"))
    assert at.title[0].value == "Integral programming of the public space"
    # the sign-in page is out of the menu; an old link to it says why (test_empty_store_pages)
    at.switch_page(f"{PAGES}/upload.py").run()  # every page, no roles
    assert at.get("file_uploader")
