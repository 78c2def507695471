"""``mapping suggest`` on tables of points: their x and y columns, and their CRS when it shows.

Each table is written as a real file, the suggested mapping written as TOML
and read back, and the file imported with it; the points expected are the
file's own coordinates.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from ims_geo.ingest import read_works
from ims_geo.ingest.suggest import suggest_mapping

from conftest import shared_data

HEADER = "work_id,org,start_date,end_date"
#: Two points in Great Britain that no other national grid's area of use holds both of.
BNG = [(462913.0, 264647.0), (530000.0, 180000.0)]
LONLAT = [(5.1214, 52.0907), (4.8952, 52.3702)]


def _table(tmp_path, x_name: str, y_name: str, points) -> object:  # type: ignore[no-untyped-def]
    lines = [f"{HEADER},{x_name},{y_name}"] + [
        f"{i},W,2030-01-01,2030-02-01,{x},{y}" for i, (x, y) in enumerate(points, 1)
    ]
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _read_with_suggestion(tmp_path, path, **kwargs):  # type: ignore[no-untyped-def]
    suggestion = suggest_mapping(path)
    toml = tmp_path / "plan.toml"
    toml.write_text(suggestion.to_toml())
    return suggestion, read_works(path, mapping=toml, **kwargs)


@pytest.mark.parametrize(
    ("x_name", "y_name"),
    [("centreEasting", "centreNorthing"), ("Easting", "Northing"), ("x_coord", "y_coord"),
     ("X Coord", "Y Coord"), ("site_east", "site_north"), ("xcoord", "ycoord")],
)  # fmt: skip
def test_grid_coordinate_columns_are_proposed_and_their_national_grid_guessed(
    tmp_path, x_name, y_name
):
    path = _table(tmp_path, x_name, y_name, BNG)
    suggestion, result = _read_with_suggestion(tmp_path, path, target_crs=27700)
    assert suggestion.coordinates == [x_name, y_name]
    assert suggestion.crs == "EPSG:27700"
    assert "[extras]  # no WKT column" in suggestion.to_toml()
    assert result.works["work_id"].tolist() == ["1", "2"] and result.rejected.empty
    assert shapely.get_coordinates(result.works.geometry.to_numpy()).tolist() == [
        list(p) for p in BNG
    ]


@pytest.mark.parametrize(
    ("x_name", "y_name"),
    [("lon", "lat"), ("Longitude", "Latitude"), ("lng", "lat"), ("lon_wgs84", "lat_wgs84")],
)
def test_longitude_latitude_columns_are_proposed_and_read_as_lon_lat(tmp_path, x_name, y_name):
    path = _table(tmp_path, x_name, y_name, LONLAT)
    suggestion, result = _read_with_suggestion(tmp_path, path, target_crs=28992)
    assert suggestion.coordinates == [x_name, y_name] and suggestion.crs is None
    expected = np.column_stack(
        Transformer.from_crs(4326, 28992, always_xy=True).transform(*np.array(LONLAT).T)
    )
    got = shapely.get_coordinates(result.works.geometry.to_numpy())
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_columns_that_do_not_hold_numbers_or_do_not_pair_are_not_proposed(tmp_path):
    lines = [f"{HEADER},x_coord,y_coord,easting,north_side"] + [
        f"{i},W,2030-01-01,2030-02-01,{x},near the church,{x},{y}"
        for i, (x, y) in enumerate(BNG, 1)
    ]
    path = tmp_path / "plan.csv"
    path.write_text("\n".join(lines) + "\n")
    suggestion = suggest_mapping(path)
    assert suggestion.coordinates == [] and suggestion.crs is None
    assert "[extras]" not in suggestion.to_toml()


def test_the_national_highways_feed_imports_every_work_at_its_point_with_the_suggestion(
    tmp_path,
):
    path = shared_data("uk_national_highways_roadworks_2020", "roadworks.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    expected = np.array([(r["centreEasting"], r["centreNorthing"]) for r in raw], dtype=float)
    suggestion, result = _read_with_suggestion(
        tmp_path, path, org="National Highways", target_crs=27700
    )
    assert suggestion.coordinates == ["centreEasting", "centreNorthing"]
    assert suggestion.crs == "EPSG:27700"
    assert len(expected) == 1369 and len(result.works) == 1369 and result.rejected.empty
    got = shapely.get_coordinates(result.works.geometry.to_numpy())
    order = np.lexsort(expected.T)
    np.testing.assert_array_equal(got[np.lexsort(got.T)], expected[order])
