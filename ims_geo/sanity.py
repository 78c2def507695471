"""Sanity checks that keep unusable geometries and dates out of the works store.

A stored work is read back by every later step: conflicts, the map, every
export. One row with a coordinate of 1e200, a geometry collection, a Z
coordinate a writer does not expect or a date in the year -1 would make
those steps fail for every organisation. The ingest calls
:func:`geometry_problems` and :func:`date_problems` before it chooses a CRS
or reprojects anything (rows that fail are rejected with the reason), and
the store calls :func:`for_store` on every write, so that no row can reach
the store without passing them.

Accepted geometries
    points, lines, polygons and their multi-part forms, 2D (Z and M are
    dropped: the planning is on the map), finite coordinates inside the
    area of use of their CRS widened by :data:`MARGIN_DEGREES`, at most
    ``max_vertices`` coordinates; WKT text at most ``max_geometry_depth``
    brackets deep (checked before the text is parsed).
Accepted dates
    years :data:`FIRST_YEAR` to :data:`LAST_YEAR`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from ims_geo import schema
from ims_geo.errors import InputError

#: Geometry types a work may have (shapely type ids).
SUPPORTED_TYPES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint",
                   5: "MultiLineString", 6: "MultiPolygon"}  # fmt: skip
_TYPE_NAMES = {2: "LinearRing", 7: "GeometryCollection"}
#: Degrees by which a CRS's area of use is widened (neighbouring zones, offshore works).
MARGIN_DEGREES = 5.0
#: No real coordinate, in metres, feet or degrees, is larger than this.
MAX_MAGNITUDE = 1e8
#: Plausible years of a planned work.
FIRST_YEAR, LAST_YEAR = 1900, 2200
#: A four-digit year 1900-2200 standing on its own (RE2 syntax: Arrow runs it natively).
_PLAUSIBLE_YEAR = r"(?:^|\D)(?:19\d\d|2[01]\d\d|2200)(?:\D|$)"


# --- geometries -------------------------------------------------------------------------


def bracket_depth(texts: Sequence[Any] | pd.Series) -> np.ndarray:
    """Deepest bracket nesting of each text (WKT, GeoJSON), without parsing it.

    Vectorised over all texts at once: the brackets of the concatenated
    bytes are summed up, and each text's maximum is taken relative to the
    depth at its start. Missing texts have depth 0.
    """
    series = pd.Series(texts, dtype=object).where(pd.notna(pd.Series(texts, dtype=object)), "")
    encoded = [str(t).encode("utf-8", "replace") for t in series.tolist()]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    depth = np.zeros(len(encoded), dtype=np.int64)
    # in slices of about 16 MB, so that a large file needs little memory for this
    cuts = np.searchsorted(np.cumsum(lengths), np.arange(1, lengths.sum() // _SLICE + 2) * _SLICE)
    bounds = np.unique(np.concatenate([[0], np.minimum(cuts + 1, len(encoded)), [len(encoded)]]))
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        depth[first:last] = _depths(encoded[first:last], lengths[first:last])
    return depth


_SLICE = 1 << 24


def _depths(encoded: list[bytes], lengths: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(encoded), dtype=np.int64)
    if not lengths.sum():
        return depth
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    steps = np.isin(data, (0x28, 0x5B)).astype(np.int32) - np.isin(data, (0x29, 0x5D))
    level = np.cumsum(steps, dtype=np.int32)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    given = lengths > 0
    before = np.where(starts > 0, level[np.maximum(starts - 1, 0)], 0)
    peaks = np.maximum.reduceat(level, starts[given])
    depth[given] = peaks - before[given]
    return np.maximum(depth, 0)


def geometry_problems(geoms: np.ndarray, crs: Any, *, max_vertices: float) -> np.ndarray:
    """Why each geometry cannot be stored (None where it can).

    Missing and empty geometries are left to :func:`ims_geo.schema.validate`.

    Parameters
    ----------
    geoms
        Shapely geometries (object array).
    crs
        Their CRS; None skips the area-of-use check.
    max_vertices
        Most coordinates one geometry may have.

    Returns
    -------
    ndarray of object
        A reason per geometry, or None.
    """
    geoms = np.asarray(geoms, dtype=object)
    reasons = np.full(len(geoms), None, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    unsupported = present & ~np.isin(types, list(SUPPORTED_TYPES))
    for type_id in np.unique(types[unsupported]):
        name = _TYPE_NAMES.get(int(type_id), str(type_id))
        reasons[unsupported & (types == type_id)] = (
            f"unsupported geometry type '{name}' (use points, lines or polygons)"
        )
    todo = present & ~unsupported
    counts = shapely.get_num_coordinates(geoms)
    many = todo & (counts > max_vertices)
    if many.any():
        reasons[many] = [
            f"geometry with '{c:,}' vertices, more than max_vertices" for c in counts[many]
        ]
    todo &= ~many
    coords, index = shapely.get_coordinates(geoms[todo], return_index=True)
    rows = np.flatnonzero(todo)
    broken = ~np.isfinite(coords).all(axis=1)
    nonfinite = np.zeros(len(geoms), dtype=bool)
    nonfinite[rows[np.unique(index[broken])]] = True
    if nonfinite.any():
        reasons[nonfinite] = "coordinate that is not a finite number (NaN or infinity)"
    todo &= ~nonfinite
    bounds = shapely.bounds(geoms[todo]) if todo.any() else np.zeros((0, 4))
    huge = np.zeros(len(geoms), dtype=bool)
    huge[np.flatnonzero(todo)[(np.abs(bounds) > MAX_MAGNITUDE).any(axis=1)]] = True
    if huge.any():
        reasons[huge] = [f"coordinate '{_coordinate(g)}' far outside any map" for g in geoms[huge]]
    todo &= ~huge
    if crs is not None and todo.any():
        outside = _outside_area_of_use(geoms[todo], CRS.from_user_input(crs))
        if outside.any():
            out_rows = np.flatnonzero(todo)[outside]
            where = area_name(CRS.from_user_input(crs))
            reasons[out_rows] = [
                f"coordinates '{_coordinate(g)}' outside the area of use of {where}"
                for g in geoms[out_rows]
            ]
    return reasons


def outside_area_of_use(reasons: np.ndarray) -> np.ndarray:
    """Which of ``reasons`` say the coordinates lie outside the CRS's area of use."""
    return np.array(
        [isinstance(r, str) and "outside the area of use" in r for r in reasons], dtype=bool
    )


def _coordinate(geom: Any) -> str:
    x, y = shapely.get_coordinates(geom)[0]
    return f"{x:.6g} {y:.6g}"


def area_name(crs: CRS) -> str:
    """``crs`` as reasons name it: its code and the first words of its area of use.

    Parameters
    ----------
    crs
        A coordinate reference system.

    Returns
    -------
    str
        E.g. ``EPSG:27700 (United Kingdom (UK))``; the code alone without an area of use.
    """
    code = crs.to_string()
    area = crs.area_of_use
    return f"{code} ({area.name.split(' - ')[0]})" if area is not None else code


def _outside_area_of_use(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Per geometry: does its bounding box leave the CRS's area of use (plus the margin)?"""
    area = crs.area_of_use
    if area is None:
        return np.zeros(len(geoms), dtype=bool)
    bounds = shapely.bounds(geoms)
    west, south, east, north = area.bounds
    m = MARGIN_DEGREES
    if not crs.is_geographic and east > west:
        # most geometries lie well inside: test them against the area's box in the CRS
        # itself, and reproject only the others (PROJ time grows with the points)
        with contextlib.suppress(Exception):
            box = Transformer.from_crs(4326, crs, always_xy=True).transform_bounds(
                west - m, max(south - m, -90.0), east + m, min(north + m, 90.0), densify_pts=21
            )
            if np.isfinite(box).all():
                inside = (
                    (bounds[:, 0] >= box[0])
                    & (bounds[:, 1] >= box[1])
                    & (bounds[:, 2] <= box[2])
                    & (bounds[:, 3] <= box[3])
                )
                outside = np.zeros(len(geoms), dtype=bool)
                if not inside.all():
                    outside[~inside] = _outside_by_corners(bounds[~inside], crs, area.bounds)
                return outside
    return _outside_by_corners(bounds, crs, area.bounds)


def _outside_by_corners(
    bounds: np.ndarray, crs: CRS, area: tuple[float, float, float, float]
) -> np.ndarray:
    """Per bounding box: does a corner, in longitude/latitude, leave ``area`` plus the margin?"""
    xs = bounds[:, [0, 2, 0, 2]].ravel()
    ys = bounds[:, [1, 1, 3, 3]].ravel()
    if crs.is_geographic and crs.to_epsg() == 4326:
        x, y = xs, ys
    else:
        to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
        x, y = to_lonlat.transform(xs, ys, errcheck=False)
    lon: np.ndarray = np.asarray(x, dtype=float).reshape(-1, 4)
    lat: np.ndarray = np.asarray(y, dtype=float).reshape(-1, 4)
    west, south, east, north = area
    m = MARGIN_DEGREES
    if east < west:  # the area crosses the antimeridian
        east += 360
        lon = np.where(lon < west - m, lon + 360, lon)
    ok = (
        np.isfinite(lon).all(axis=1)
        & np.isfinite(lat).all(axis=1)
        & (lon >= west - m).all(axis=1)
        & (lon <= east + m).all(axis=1)
        & (lat >= max(south - m, -90.0)).all(axis=1)
        & (lat <= min(north + m, 90.0)).all(axis=1)
    )
    return ~ok


def flat(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` in 2D (Z and M dropped), the same objects where already flat."""
    geoms = np.asarray(geoms, dtype=object)
    raised = shapely.has_z(geoms) | _has_m(geoms)
    if not raised.any():
        return geoms
    out = geoms.copy()
    out[raised] = shapely.force_2d(geoms[raised])
    return out


def _has_m(geoms: np.ndarray) -> np.ndarray:
    has_m = getattr(shapely, "has_m", None)
    return has_m(geoms) if has_m is not None else np.zeros(len(geoms), dtype=bool)


# --- dates ------------------------------------------------------------------------------


def implausible_years(values: pd.Series) -> np.ndarray:
    """Which dates (datetime64 values, NaT allowed) lie outside FIRST_YEAR..LAST_YEAR."""
    days = values.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
    low = np.datetime64(f"{FIRST_YEAR:04d}-01-01", "D")
    high = np.datetime64(f"{LAST_YEAR:04d}-12-31", "D")
    return ~np.isnat(days) & ((days < low) | (days > high))


def date_problems(frame: pd.DataFrame) -> list[tuple[str, np.ndarray, Any]]:
    """Rows whose dates parse but cannot be meant: the year -1, 1066 or 3024."""
    problems = []
    for column in schema.DATE_COLUMNS:
        if column not in frame:
            continue
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            wrong = implausible_years(values)
        else:
            # a text holding a plausible four-digit year cannot parse to an implausible
            # date: only the others (usually none) are parsed here a second time
            text = values.astype("string")
            plausible = text.str.contains(_PLAUSIBLE_YEAR, regex=True).fillna(True)
            doubt = (~plausible | text.str.strip().str.startswith("-").fillna(False)).to_numpy(bool)
            wrong = np.zeros(len(values), dtype=bool)
            if doubt.any():
                parsed, _bad = schema.parse_dates(values[doubt])
                wrong[doubt] = implausible_years(parsed)
        if wrong.any():
            text = frame[column].astype("string").fillna("").reset_index(drop=True)
            message = (
                f"implausible {column} '" + text + f"' (before {FIRST_YEAR} or after {LAST_YEAR})"
            )
            problems.append((column, wrong, message))
    return problems


# --- the store's last line of defence ------------------------------------------------------


def for_store(
    frame: gpd.GeoDataFrame, org: str, max_vertices: float = 1_000_000
) -> gpd.GeoDataFrame:
    """``frame`` with 2D geometries; raise for any row that could break a later reader.

    Called by the store on every write (``frame`` in canonical dtypes).

    Raises
    ------
    InputError
        Naming the first rows with an unsupported, non-finite, misplaced or
        oversized geometry, or an implausible date.
    """
    geoms = frame.geometry.to_numpy()
    reasons = geometry_problems(geoms, frame.crs, max_vertices=max_vertices)
    for column in schema.DATE_COLUMNS:
        if column in frame:
            wrong = implausible_years(frame[column])
            reasons[wrong & pd.isna(reasons)] = (
                f"implausible {column} (before {FIRST_YEAR} or after {LAST_YEAR})"
            )
    bad = np.flatnonzero(pd.notna(reasons))
    if bad.size:
        shown = "; ".join(f"row {i + 1}: {reasons[i]}" for i in bad[:3])
        more = f" (and {bad.size - 3} more rows)" if bad.size > 3 else ""
        raise InputError(
            f"works for {org!r} cannot be stored: {shown}{more}; read files with "
            "ims_geo.ingest.read_works, which rejects such rows"
        )
    out = frame.copy()
    out[frame.geometry.name] = gpd.GeoSeries(flat(geoms), index=frame.index, crs=frame.crs)
    return out
