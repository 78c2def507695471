"""A plan exported, saved again as a shapefile and re-uploaded after the adoption.

Organisation A's planner downloads the plan (GeoJSON: longitude/latitude,
rounded), their GIS saves it as a zipped shapefile, and they upload it again
once the cycle's programme is adopted. The coordinates came back a fraction of
a millimetre off the stored ones: the upload's preview and the comparison of
versions must flag nothing for the identical plan, and exactly the one work
that was moved 50 m in a second file. Real files, the real store (GeoPackage;
PostGIS signed in, where the works come back through the database).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from access_data import PASSWORD, RD, X0, Y0
from click.testing import CliRunner

from ims_geo.cli import main
from ims_geo.ingest import read_works
from ims_geo.ingest.preview import plan_changes
from ims_geo.schema import validate
from ims_geo.store import Store, open_store

CLEAN = {"IMS_GEO_USER": "", "IMS_GEO_PASSWORD": "", "IMS_GEO_TOKEN": "", "IMS_GEO_STORE": ""}
MOVED = "a3"
SHIFT_M = 50.0


def plan(org: str, prefix: str, discipline: str, start: str, end: str, dy: float) -> Any:
    """Four works of ``org`` 300 m apart, with odd coordinates (no round numbers)."""
    rows = [
        {"work_id": f"{prefix}{i}", "title": f"{org} work {i}", "discipline": discipline,
         "start_date": start, "end_date": end, "earliest": "2027-01-04", "latest": "2027-12-17",
         "visibility": "public",
         "geometry": shapely.LineString([(X0 + 300 * i + 0.123456789, Y0 + dy + 0.987654321),
                                         (X0 + 300 * i + 80.31415926, Y0 + dy + 13.2718281)])}
        for i in range(1, 5)
    ]  # fmt: skip
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=RD)
    return validate(frame, org=org, source=f"{org}.gpkg").valid


def zipped_shapefile(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """``frame`` as the zipped shapefile a planner's GIS writes (dates as DBF dates)."""
    folder = path.with_suffix("")
    folder.mkdir()
    frame.to_file(folder / "plan.shp", use_arrow=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, member.name)
    return path


def exported_then_saved_as_shapefile(store_arg: str, env: dict[str, str], tmp: Path) -> Any:
    """A's plan through ``ims-geo export`` (GeoJSON) and back out as a shapefile, and the same
    plan with work :data:`MOVED` moved 50 m east (in the file's own CRS, as a GIS moves it)."""
    exported = tmp / "a_export.geojson"
    result = CliRunner().invoke(
        main, ["export", "--out", str(exported), "--org", "A", "--store", store_arg],
        env={**CLEAN, **env},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = gpd.read_file(exported)
    assert frame.crs.to_epsg() == 4326
    same = zipped_shapefile(frame, tmp / "a_same.zip")
    moved = frame.copy()
    at = (moved["work_id"] == MOVED).to_numpy()
    in_rd = moved.geometry[at].to_crs(RD).translate(xoff=SHIFT_M)
    moved.loc[at, "geometry"] = in_rd.to_crs(frame.crs).to_numpy()
    return same, zipped_shapefile(moved, tmp / "a_moved.zip")


def brute_force_moved(store: Store, path: Path) -> list[str]:
    """Work ids whose vertices moved more than a metre, vertex by vertex in the store's CRS."""
    now = store.works(orgs=["A"]).set_index("work_id").geometry
    new = read_works(str(path)).works.to_crs(store.crs).set_index("work_id").geometry
    return sorted(
        w for w in now.index
        if np.abs(shapely.get_coordinates(now[w]) - shapely.get_coordinates(new[w])).max() > 1.0
    )  # fmt: skip


def assert_flags(store: Store, same: Path, moved: Path) -> None:
    """The preview flags nothing for ``same`` and only :data:`MOVED` for ``moved``; once stored,
    so does the comparison of versions."""
    assert brute_force_moved(store, same) == []
    assert brute_force_moved(store, moved) == [MOVED]
    preview = plan_changes(store, read_works(str(same)).works, orgs=["A"])
    assert preview.drop(columns="org").iloc[0].tolist() == [4, 4, 0, 0, 0, 0, False]
    preview = plan_changes(store, read_works(str(moved)).works, orgs=["A"])
    assert preview.drop(columns="org").iloc[0].tolist() == [4, 4, 0, 0, 0, 1, False]
    first = int(store.plan_versions("A")["version"].max())
    for path in (same, moved):
        read = read_works(str(path), target_crs=store.crs)
        store.import_plans(read.works, read.rejected, cycle=2027, source=path.name, org="A")
    unchanged = store.compare_versions("A", first, first + 1)
    assert unchanged.empty
    changes = store.compare_versions("A", first + 1, first + 2)
    assert changes[["work_id", "change"]].values.tolist() == [[MOVED, "geometry changed"]]
    again = store.compare_versions("A", first, first + 2)
    assert again[["work_id", "change"]].values.tolist() == [[MOVED, "geometry changed"]]


def adopted_store(path: Path) -> Path:
    """A GeoPackage store with A's and B's plans and the cycle 2027 programme adopted."""
    from ims_geo.cycle.adopt import adopt
    from ims_geo.programme import propose

    with open_store(path) as store:
        store.import_plan(plan("A", "a", "water", "2027-03-01", "2027-04-01", 0), org="A",
                          cycle=2027, source="a.gpkg")  # fmt: skip
        store.import_plan(plan("B", "b", "gas", "2027-09-01", "2027-10-01", 4), org="B",
                          cycle=2027, source="b.gpkg")  # fmt: skip
        adopt(store, 2027, propose(store.works(), not_before="2027-01-04"), decision="Council 1")
    return path


def test_geopackage_store_after_adoption(tmp_path: Path) -> None:
    from ims_geo.cycle.adopt import programme

    path = adopted_store(tmp_path / "ims.gpkg")
    with open_store(path) as store:
        adopted = programme(store, 2027)
        assert sorted(adopted.loc[adopted["org"] == "A", "work_id"]) == ["a1", "a2", "a3", "a4"]
        same, moved = exported_then_saved_as_shapefile(str(path), {}, tmp_path)
        assert_flags(store, same, moved)


@pytest.mark.postgis
def test_shared_store_signed_in(populated_installation: Any, tmp_path: Path) -> None:
    installation, _ = populated_installation
    with open_store(installation.app_url, user="a_plan", password=PASSWORD) as store:
        store.import_plan(plan("A", "a", "water", "2027-03-01", "2027-04-01", 0), org="A",
                          cycle=2027, source="a.gpkg")  # fmt: skip
        env = {"IMS_GEO_USER": "a_plan", "IMS_GEO_PASSWORD": PASSWORD}
        same, moved = exported_then_saved_as_shapefile(installation.app_url, env, tmp_path)
        assert_flags(store, same, moved)


@pytest.mark.parametrize(
    ("crs", "unit_m"), [(RD, 1.0), ("EPSG:2272", 0.3048006096012192), ("EPSG:4326", 111_320.0)]
)
def test_what_counts_as_redrawn(crs: str, unit_m: float) -> None:
    """Changes of 9 cm are the same work in any CRS; a new hole, the same vertices in
    another order, 11 cm or a part more are a re-drawn one."""
    from ims_geo.store.base import redrawn

    step = 1 / unit_m  # a metre in the CRS's units
    box = shapely.box(0, 0, 10 * step, 10 * step)
    line = shapely.LineString([(0, 0), (10 * step, 0), (5 * step, 5 * step)])
    cases = [  # (old, new, really changed)
        (box, shapely.box(0.09 * step, 0, 10 * step, 10 * step), False),
        (box, shapely.box(0.11 * step, 0, 10 * step, 10 * step), True),
        (box, box.difference(shapely.box(4 * step, 4 * step, 6 * step, 6 * step)), True),
        (line, shapely.LineString([(0, 0), (5 * step, 5 * step), (10 * step, 0)]), True),
        (line, line.reverse(), False),
        (shapely.Point(0, 0), shapely.Point(0, 0.09 * step), False),
        (shapely.Point(0, 0), shapely.MultiPoint([(0, 0), (0, 3 * step)]), True),
        (box, shapely.MultiPolygon([box]), False),
    ]
    old = np.array([c[0] for c in cases], dtype=object)
    new = np.array([c[1] for c in cases], dtype=object)
    assert redrawn(old, new, crs).tolist() == [c[2] for c in cases]
