"""The common metric working CRS every distance is measured in.

All inputs of one run are reprojected into ONE local metric CRS before any
distance is measured: the national grid where the data lies in a country
that has one, else the UTM zone of the data. Never Web Mercator, whose
"metres" are 1/cos(latitude) too long (1.6x at 52° N).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from ims_geo.errors import InputError

#: Environment variable that fixes the working CRS (e.g. "EPSG:28992").
CRS_ENV = "IMS_GEO_CRS"

# National grids, chosen when the data's bounding box (lon/lat) lies inside.
_NATIONAL_GRIDS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("EPSG:28992", (3.2, 50.7, 7.3, 53.7)),  # Netherlands, RD New
    ("EPSG:31370", (2.5, 49.5, 6.4, 51.55)),  # Belgium, Lambert 72 (Flanders/GIPOD)
    ("EPSG:2056", (5.9, 45.8, 10.5, 47.9)),  # Switzerland, LV95
    ("EPSG:27700", (-8.7, 49.8, 1.8, 60.9)),  # Great Britain, OSGB36
    ("EPSG:3067", (19.0, 59.7, 31.6, 70.1)),  # Finland, ETRS-TM35FIN
)
_METRIC_REJECTS = {3857, 900913, 3395, 4087}


#: Directions in which :func:`extreme_points` looks (a multiple of 4: the axes are among them).
_DIRECTIONS = 16


def extreme_points(geoms: np.ndarray) -> np.ndarray:
    """The corners of the geometries' bounding boxes farthest out in :data:`_DIRECTIONS` directions.

    They lie where the data is, unlike the corners of its total bounding
    box: the box of a whole country in its own grid reaches far beyond the
    country once turned to longitude/latitude (Great Britain's to 2.06° E,
    where its coast ends at 1.76° E), out of the grid's own area. The axes
    are among the directions, so the extremes of x and y are exact.

    Parameters
    ----------
    geoms
        Geometries (missing and empty ones are skipped).

    Returns
    -------
    numpy.ndarray
        One ``(x, y)`` row per direction; no rows without any geometry.
    """
    bounds = shapely.bounds(geoms)
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    if not len(bounds):
        return np.empty((0, 2))
    xmin, ymin, xmax, ymax = (np.ascontiguousarray(bounds[:, i]) for i in range(4))
    angles = np.linspace(0.0, 2 * np.pi, _DIRECTIONS, endpoint=False)
    steps = zip(np.round(np.cos(angles), 12), np.round(np.sin(angles), 12), strict=True)
    out = np.empty((_DIRECTIONS, 2))
    for i, (dx, dy) in enumerate(steps):
        xs = xmax if dx >= 0 else xmin
        ys = ymax if dy >= 0 else ymin
        best = int(np.argmax(xs * dx + ys * dy))
        out[i] = xs[best], ys[best]
    return out


def _lonlat_bounds(frames: Iterable[gpd.GeoDataFrame]) -> tuple[float, float, float, float]:
    """Longitude/latitude box of all frames (each frame's :func:`extreme_points`)."""
    boxes = []
    for frame in frames:
        if frame.crs is None or frame.empty:
            continue
        points = extreme_points(frame.geometry.to_numpy())
        if not len(points):
            continue
        to_lonlat = Transformer.from_crs(frame.crs, 4326, always_xy=True)
        lon, lat = to_lonlat.transform(points[:, 0], points[:, 1])
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            continue
        boxes.append((lon.min(), lat.min(), lon.max(), lat.max()))
    if not boxes:
        raise InputError("no geometries with a CRS to choose a working CRS from")
    b = np.asarray(boxes, dtype=float)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def check_metric(crs: CRS | str | int) -> CRS:
    """Return ``crs`` as a CRS if it is projected in metres and not Web Mercator."""
    out = CRS.from_user_input(crs)
    epsg = out.to_epsg()
    unit = out.axis_info[0].unit_name if out.axis_info else ""
    if not out.is_projected or unit not in ("metre", "meter") or epsg in _METRIC_REJECTS:
        raise InputError(
            f"working CRS {out.to_string()} is not a local metric CRS; "
            "use a national grid (e.g. EPSG:28992, EPSG:27700, EPSG:25832) or a UTM zone"
        )
    return out


def working_crs(
    frames: Iterable[gpd.GeoDataFrame], preferred: CRS | str | int | None = None
) -> CRS:
    """The one metric CRS to measure all ``frames`` in.

    ``preferred`` (or the ``IMS_GEO_CRS`` environment variable) wins when
    set; otherwise a national grid covering the data, else its UTM zone.
    """
    chosen = preferred if preferred is not None else os.environ.get(CRS_ENV) or None
    if chosen is not None:
        return check_metric(chosen)
    west, south, east, north = _lonlat_bounds(frames)
    # the smallest national grid whose box holds all the data: near a border
    # either grid measures well, the smaller box is the more specific one
    fitting = [
        ((e - w) * (n - s), code)
        for code, (w, s, e, n) in _NATIONAL_GRIDS
        if west >= w and south >= s and east <= e and north <= n
    ]
    if fitting:
        return CRS.from_user_input(min(fitting)[1])
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(west, south, east, north),
    )
    lon = (west + east) / 2
    zone = int((lon + 180) // 6) + 1
    hemisphere = "N" if (south + north) / 2 >= 0 else "S"
    for info in infos:
        if info.name.endswith(f"zone {zone}{hemisphere}"):
            return CRS.from_authority(info.auth_name, info.code)
    return CRS.from_epsg((32600 if hemisphere == "N" else 32700) + zone)


def to_working(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Reproject ``frame`` to the working CRS (a no-op when it is already there)."""
    if frame.crs is None:
        raise InputError("works have no CRS; set one before measuring distances")
    if CRS.from_user_input(frame.crs) == crs:
        return frame
    return frame.to_crs(crs)


def ensure_metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` itself when its CRS is local metric, else reprojected to one."""
    try:
        check_metric(frame.crs)
        return frame
    except InputError:
        return to_working(frame, working_crs([frame]))
