"""Frames as GeoJSON for the HTTP API: EPSG:4326, dates as ISO text, no NaN.

RFC 7946 asks for WGS 84 longitude/latitude; the store keeps its metric CRS,
so every frame is reprojected here, once, on the way out. A bounding box
given by a client (``minx,miny,maxx,maxy`` in longitude/latitude) is
reprojected the other way to filter in the store's CRS.
"""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ims_geo.errors import InputError

#: Coordinates are rounded to this many decimals of a degree (about 1 cm).
DECIMALS = 7


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` (longitude/latitude) as four floats, or None when not given."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InputError(
            f"bbox {text[:80]!r} is not four numbers; give minx,miny,maxx,maxy in "
            "longitude/latitude (EPSG:4326), e.g. bbox=4.88,52.36,4.90,52.38"
        )
    minx, miny, maxx, maxy = values
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InputError(
            f"bbox {text[:80]!r} is not a box in longitude/latitude: it needs "
            "-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90"
        )
    return minx, miny, maxx, maxy


def in_bbox(frame: gpd.GeoDataFrame, bbox: tuple[float, float, float, float] | None) -> np.ndarray:
    """Which rows of ``frame`` touch ``bbox`` (longitude/latitude); all when None."""
    if bbox is None or frame.empty:
        return np.ones(len(frame), dtype=bool)
    box = gpd.GeoSeries([shapely.box(*bbox)], crs=4326)
    if frame.crs is not None:
        box = box.to_crs(frame.crs)
    return np.asarray(frame.geometry.intersects(box.iloc[0]), dtype=bool)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date().isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def feature_collection(
    frame: gpd.GeoDataFrame | pd.DataFrame, columns: list[str] | None = None
) -> dict[str, Any]:
    """``frame`` as a GeoJSON FeatureCollection in EPSG:4326.

    ``columns`` chooses the properties (default: every column but the
    geometry). Dates become ``YYYY-MM-DD``; NaN, NaT and NA become null.
    """
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        geometry = frame.geometry
        if geometry.crs is not None and len(frame):
            geometry = geometry.to_crs(4326)
        geoms = shapely.set_precision(geometry.to_numpy(), 10.0**-DECIMALS)
        shapes = [None if g is None else json.loads(shapely.to_geojson(g)) for g in geoms]
        props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    else:
        shapes = [None] * len(frame)
        props = pd.DataFrame(frame)
    if columns is not None:
        props = props.loc[:, [c for c in columns if c in props.columns]]
    records = props.astype(object).to_dict("records")
    features = [
        {
            "type": "Feature",
            "properties": {str(k): _plain(v) for k, v in record.items()},
            "geometry": shape,
        }
        for record, shape in zip(records, shapes, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}
