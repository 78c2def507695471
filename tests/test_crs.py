"""The working CRS: one local metric CRS for all inputs, never Web Mercator."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod

from ims_geo.crs import check_metric, ensure_metric, extreme_points, working_crs
from ims_geo.errors import InputError


def _at(lon: float, lat: float, crs: int = 4326) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(lon, lat)], crs=4326)
    return frame.to_crs(crs)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (4.90, 52.37, 28992),  # Amsterdam: RD New
        (4.40, 51.22, 31370),  # Antwerp: Belgian Lambert 72
        (8.54, 47.37, 2056),  # Zurich: LV95
        (0.87, 51.14, 27700),  # Ashford, Kent: British National Grid
        (24.94, 60.17, 3067),  # Helsinki: ETRS-TM35FIN
        (10.75, 59.91, 32632),  # Oslo: UTM 32N
        (14.42, 50.09, 32633),  # Prague: UTM 33N
        (-58.38, -34.60, 32721),  # Buenos Aires: UTM 21S
    ],
)
def test_national_grid_or_utm_from_location(lon, lat, epsg):
    assert working_crs([_at(lon, lat)]).to_epsg() == epsg


#: Places near the edges of each country: its data spans the whole country.
COUNTRIES = {
    28992: [(3.36, 51.37), (7.22, 53.23), (5.85, 50.76), (4.76, 52.96)],  # Netherlands
    31370: [(2.55, 51.09), (5.82, 49.55), (6.30, 50.32), (4.40, 51.49)],  # Belgium
    2056: [(6.00, 46.20), (10.45, 46.80), (8.50, 47.78), (8.90, 45.85)],  # Switzerland
    27700: [(-5.50, 50.10), (1.75, 52.48), (-3.00, 58.60), (0.30, 51.10)],  # Great Britain
    3067: [(21.00, 60.00), (29.50, 63.00), (27.00, 69.90), (23.00, 60.20)],  # Finland
}


@pytest.mark.parametrize("epsg", sorted(COUNTRIES))
@pytest.mark.parametrize("given", ["own grid", "lon/lat"])
def test_a_whole_country_in_its_own_grid_is_measured_in_that_grid(epsg, given):
    """The box of a country's data in its own grid reaches beyond the grid's area once
    turned to lon/lat; the data itself does not: the grid is kept, not a UTM zone."""
    lon, lat = zip(*COUNTRIES[epsg], strict=True)
    frame = gpd.GeoDataFrame(geometry=shapely.points(lon, lat), crs=4326)
    if given == "own grid":
        frame = frame.to_crs(epsg)
    assert working_crs([frame]).to_epsg() == epsg
    # as lines and with rows without geometry, also through the reader's choice
    lines = frame.assign(geometry=frame.geometry.buffer(1e-6).boundary)
    lines.loc[len(lines)] = [None]
    assert working_crs([lines]).to_epsg() == epsg


def test_extreme_points_are_corners_of_the_boxes_farthest_out():
    geoms = np.array(
        [shapely.box(0, 0, 1, 1), None, shapely.LineString([(5, -2), (6, 3)]), shapely.Point(2, 9)]
    )
    points = extreme_points(geoms)
    corners = {(0, 0), (0, 1), (1, 0), (1, 1), (5, -2), (5, 3), (6, -2), (6, 3), (2, 9)}
    assert {tuple(p) for p in points.tolist()} <= corners
    # brute force: in every direction, no corner reaches farther than the point found
    for (x, y), angle in zip(
        points, np.linspace(0, 2 * np.pi, len(points), endpoint=False), strict=True
    ):
        reach = max(cx * np.cos(angle) + cy * np.sin(angle) for cx, cy in corners)
        assert x * np.cos(angle) + y * np.sin(angle) == pytest.approx(reach)
    assert {(6, 3), (2, 9), (0, 0), (6, -2)} <= {tuple(p) for p in points.tolist()}
    assert extreme_points(np.array([None, shapely.Point()])).shape == (0, 2)


def test_inputs_in_different_crs_share_one_working_crs():
    amsterdam_rd = _at(4.90, 52.37, 28992)
    amsterdam_mercator = _at(4.91, 52.36, 3857)
    assert working_crs([amsterdam_rd, amsterdam_mercator]).to_epsg() == 28992


def test_preferred_and_environment(monkeypatch):
    frame = _at(4.9, 52.37)
    assert working_crs([frame], preferred="EPSG:25831").to_epsg() == 25831
    monkeypatch.setenv("IMS_GEO_CRS", "EPSG:32631")
    assert working_crs([frame]).to_epsg() == 32631


@pytest.mark.parametrize("bad", ["EPSG:3857", "EPSG:4326", "EPSG:2263"])
def test_web_mercator_degrees_and_feet_refused(bad):
    with pytest.raises(InputError, match="not a local metric CRS"):
        check_metric(bad)


def test_ensure_metric_measures_true_metres_from_web_mercator():
    # two points 20 m apart on the ground at 52 N; in Web Mercator units they are ~32.5 apart
    geod = Geod(ellps="WGS84")
    lon2, lat2, _ = geod.fwd(4.9, 52.0, 90, 20.0)
    frame = gpd.GeoDataFrame(
        geometry=[shapely.Point(4.9, 52.0), shapely.Point(lon2, lat2)], crs=4326
    )
    mercator = frame.to_crs(3857)
    assert mercator.geometry[0].distance(mercator.geometry[1]) == pytest.approx(32.5, abs=0.1)
    metric = ensure_metric(mercator)
    assert CRS.from_user_input(metric.crs).to_epsg() == 28992
    assert metric.geometry[0].distance(metric.geometry[1]) == pytest.approx(20.0, abs=0.01)


def test_no_crs_no_guess():
    with pytest.raises(InputError):
        working_crs([gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)])])
