"""Web maps of planned works and conflicts: GeoJSON, colours, legends, Leaflet maps.

Everything here is plain Python (no Streamlit) so the app's pages stay
thin and the logic is tested without a browser:

* :func:`prepare` turns a works or conflicts frame into a compact GeoJSON
  text in EPSG:4326 — simplified in the metric CRS, coordinates rounded
  with :func:`shapely.set_precision`, only the columns a popup shows —
  and switches to a lighter representation above :data:`FAST_THRESHOLD`
  features, sent compact (:attr:`MapData.compact`).
* One colour scheme: disciplines (:data:`DISCIPLINE_COLOURS`, solid) can
  never be taken for conflicts (:data:`KIND_COLOURS`, dashed bands and
  rings), moratoria, works outside the filters or the basemap; every colour
  has 3:1 contrast against :data:`BASEMAP_COLOUR` (``tests/test_maps.py``
  computes it). :func:`legend_html` explains everything drawn, in the
  language in use; :data:`VALUE_NAMES` / :func:`value_name` name the enums.
* :func:`context_layer` draws every work as one light-grey line feature: a
  basemap made from the data itself, so no tile server is needed (raster
  tiles, :func:`tile_url`, are optional).
* :func:`works_map`, :func:`conflicts_map` and :func:`programme_map` build
  :class:`folium.Map` objects that load Leaflet from the copy served with
  the app (:data:`LEAFLET_JS`), never from a CDN; :func:`highlight` is a
  layer to add to a map already shown, without redrawing it.
* :func:`areas`, :func:`bounds_of` and :func:`view_of` choose where the map
  looks (an area, an organisation, a work, search matches).
* :func:`filter_works`, :func:`filter_conflicts`, :func:`clicked_work` and
  :func:`clicked_conflict` are the pure functions behind the map and table
  filters and the map click.

Every user-supplied string (organisation, title, work id, extra values)
reaches the browser as text, never as markup: feature properties are JSON
with ``<``, ``>`` and ``&`` escaped inside the ``<script>``; tooltips and
popups escape them in the browser; layer names (organisations), which
Leaflet's layer control inserts as HTML, and the legend are escaped here.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from pyproj import CRS, Transformer

from ims_geo.crs import ensure_metric
from ims_geo.errors import InputError
from ims_geo.i18n import N_, _
from ims_geo.schema import (
    AREA_COLUMNS,
    COST,
    DISCIPLINE,
    DISCIPLINES,
    END,
    LAYER,
    ORG,
    START,
    STATUS,
    TITLE,
    WORK_ID,
)

#: Where the app serves its copy of Leaflet (Streamlit static serving of ``static/``).
LEAFLET_JS = "/app/static/leaflet/leaflet.js"
LEAFLET_CSS = "/app/static/leaflet/leaflet.css"
#: Environment variable with an optional raster tile URL, e.g.
#: ``https://tile.openstreetmap.org/{z}/{x}/{y}.png`` or ``/app/static/tiles/{z}/{x}/{y}.png``.
TILES_ENV = "IMS_GEO_TILES"
#: Environment variable with the attribution shown for those tiles.
TILES_ATTR_ENV = "IMS_GEO_TILES_ATTR"

#: Above this many features a layer is drawn in its light representation.
FAST_THRESHOLD = 3000
#: On the works map the conflicts accompany the works: above this many drawn they
#: are sent light (kind, severity and both works; a click shows the rest).
HALO_FAST_THRESHOLD = 1000
#: Simplification tolerance in metres: detailed and light representation.
TOLERANCE_M = 0.5
FAST_TOLERANCE_M = 5.0
#: At most this many conflicts are drawn on a map (the highest scores); the
#: tables and downloads keep all of them.
MAX_DRAWN_CONFLICTS = 3000
#: Lines shorter than this (metres) are drawn as points.
MIN_LINE_M = 2.0
#: Grid the coordinates are rounded to, in degrees (1e-5 deg is about 1 m).
PRECISION_DEG = 1e-5

#: Background of a map without raster tiles (Leaflet's own grey is too dark to
#: read the works on): a light warm grey like a printed street map's land.
BASEMAP_COLOUR = "#f4f3ef"

#: Colour of each discipline. Eleven disciplines are more than any
#: colour-blind-safe palette separates by hue alone (Paul Tol's muted scheme
#: stops at nine), so these are taken from Tol's and Okabe & Ito's palettes,
#: darkened where needed so that every one has a WCAG non-text contrast of at
#: least 3:1 against :data:`BASEMAP_COLOUR`, and kept apart from every colour
#: below; the legend, the tooltips and the conflicts' own line style (dashed
#: rings, never solid lines) carry the rest. The utility marking colours
#: planners know stay where they can: water blue, gas ochre, electricity red.
DISCIPLINE_COLOURS: dict[str, str] = {
    "road": "#332288",
    "sewer": "#8c510a",
    "water": "#0072b2",
    "gas": "#997700",
    "electricity": "#cc3311",
    "telecom": "#117777",
    "heat": "#882255",
    "lighting": "#777733",
    "green": "#117733",
    "transit": "#5566aa",
    "other": "#6e6e8c",
}
#: Colour of each conflict kind: signal hues no discipline uses, always drawn
#: as dashed outlines and rings (:data:`CONFLICT_STYLE`, :data:`HALO_STYLE`).
KIND_COLOURS: dict[str, str] = {
    "clash": "#e6007e",
    "moratorium": "#7a00e6",
    "synergy": "#00a000",
    "internal": "#d45500",
}
#: Protected new surfaces (the moratoria layer): a wide hatched black band.
MORATORIA_COLOUR = "#000000"
#: Works outside the filters: thin dashed dark grey, clearly above the basemap.
OUTSIDE_COLOUR = "#5c5c5c"
#: The basemap drawn from the data (every work's line, light, under everything).
CONTEXT_COLOUR = "#d3d1ca"
#: The selected work and the search matches: a wide cyan glow.
HIGHLIGHT_COLOUR = "#00c8ff"
#: Combined projects (programme map): a dashed outline.
AREA_COLOUR = "#3949ab"
FALLBACK_COLOUR = "#555555"


@dataclass(frozen=True)
class Style:
    """Leaflet path options for line/polygon features and for point features."""

    line: Mapping[str, object]
    point: Mapping[str, object]


WORK_STYLE = Style(
    line={"weight": 3, "opacity": 0.95, "fillOpacity": 0.3},
    point={"radius": 5, "weight": 2, "opacity": 0.95, "fillOpacity": 0.7},
)
#: Conflicts under the works: a wide dashed band / a dashed ring around where they meet.
HALO_STYLE = Style(
    line={"weight": 11, "opacity": 0.7, "fillOpacity": 0.1, "dashArray": "10 6", "lineCap": "butt"},
    point={"radius": 11, "weight": 3, "opacity": 0.9, "fillOpacity": 0.0, "dashArray": "4 3"},
)
#: Conflicts on their own map: dashed lines and dashed rings.
CONFLICT_STYLE = Style(
    line={"weight": 5, "opacity": 0.95, "fillOpacity": 0.15, "dashArray": "8 5", "lineCap": "butt"},
    point={"radius": 8, "weight": 3, "opacity": 0.95, "fillOpacity": 0.0, "dashArray": "4 3"},
)
#: The basemap drawn from the data: light, street-wide lines.
CONTEXT_STYLE = Style(
    line={"weight": 4, "opacity": 1.0, "fillOpacity": 0.0},
    point={"radius": 2, "weight": 1, "opacity": 1.0, "fillOpacity": 0.5},
)
#: Works outside the filters: thin dashed lines.
OUTSIDE_STYLE = Style(
    line={"weight": 1.5, "opacity": 0.9, "fillOpacity": 0.0, "dashArray": "4 4"},
    point={"radius": 3, "weight": 1, "opacity": 0.9, "fillOpacity": 0.0},
)
#: Combined projects: a dashed outline around their works.
AREA_STYLE = Style(
    line={"weight": 2, "opacity": 0.9, "fillOpacity": 0.12, "dashArray": "5 4"},
    point={"radius": 12, "weight": 2, "opacity": 0.9, "fillOpacity": 0.12},
)
#: Moratoria (protected new surfaces): a wide hatched band.
MORATORIUM_STYLE = Style(
    line={"weight": 16, "opacity": 0.3, "fillOpacity": 0.2, "dashArray": "2 4", "lineCap": "butt"},
    point={"radius": 10, "weight": 3, "opacity": 0.5, "fillOpacity": 0.15, "dashArray": "2 4"},
)
HIGHLIGHT_STYLE = Style(
    line={"weight": 12, "opacity": 0.55, "fillOpacity": 0.15},
    point={"radius": 13, "weight": 5, "opacity": 0.7, "fillOpacity": 0.15},
)

#: How each enum value reads on a map (tooltips, popups, legend), translated where shown.
VALUE_NAMES: dict[str, dict[str, str]] = {
    DISCIPLINE: {
        "road": N_("road"),
        "sewer": N_("sewer"),
        "water": N_("water"),
        "gas": N_("gas"),
        "electricity": N_("electricity"),
        "telecom": N_("telecom"),
        "heat": N_("district heat"),
        "lighting": N_("street lighting"),
        "green": N_("green"),
        "transit": N_("transit"),
        "other": N_("other"),
    },
    "kind": {
        "clash": N_("clash"),
        "moratorium": N_("moratorium"),
        "synergy": N_("synergy"),
        "internal": N_("internal"),
    },
    LAYER: {"surface": N_("surface"), "subsurface": N_("subsurface")},
    STATUS: {
        "idea": N_("idea"),
        "planned": N_("planned"),
        "committed": N_("committed"),
        "in_progress": N_("in progress"),
        "done": N_("done"),
        "cancelled": N_("cancelled"),
    },
    "severity": {"high": N_("high"), "medium": N_("medium"), "low": N_("low")},
}
VALUE_NAMES["discipline_a"] = VALUE_NAMES["discipline_b"] = VALUE_NAMES[DISCIPLINE]


def value_name(column: str, value: object) -> str:
    """``value`` of an enum ``column`` as it reads in the language in use."""
    name = VALUE_NAMES.get(column, {}).get(str(value))
    return _(name) if name is not None else str(value)


def _value_names(columns: Iterable[str]) -> dict[str, dict[str, str]]:
    """Translated enum names of ``columns`` (for the browser's tooltips and popups)."""
    return {c: {v: _(n) for v, n in VALUE_NAMES[c].items()} for c in columns if c in VALUE_NAMES}


#: Columns a work's popup shows, with their labels.
WORK_FIELDS: dict[str, str] = {
    WORK_ID: N_("Work"),
    ORG: N_("Organisation"),
    TITLE: N_("Title"),
    DISCIPLINE: N_("Discipline"),
    LAYER: N_("Layer"),
    START: N_("Start"),
    END: N_("End"),
    STATUS: N_("Status"),
    COST: N_("Cost (EUR)"),
}
#: Columns a conflict's popup shows, with their labels.
CONFLICT_FIELDS: dict[str, str] = {
    "kind": N_("Kind"),
    "severity": N_("Severity"),
    "score": N_("Score"),
    "org_a": N_("Organisation A"),
    "work_id_a": N_("Work A"),
    "org_b": N_("Organisation B"),
    "work_id_b": N_("Work B"),
    "distance_m": N_("Distance (m)"),
    "gap_days": N_("Gap (days)"),
}
#: Columns a combined project's popup shows, with their labels.
CLUSTER_FIELDS: dict[str, str] = {
    "cluster_id": N_("Combined project"),
    "n_works": N_("Works"),
    "orgs": N_("Organisations"),
    "joint_start": N_("Joint start"),
    "joint_end": N_("Joint end"),
    "disruption_days_saved": N_("Disruption days saved"),
    "savings_eur": N_("Savings (EUR)"),
}
#: Columns a moratorium's popup shows, with their labels.
MORATORIUM_FIELDS: dict[str, str] = {
    "source_org": N_("Protected by"),
    "source_work_id": N_("Work"),
    "valid_from": N_("From"),
    "valid_until": N_("Until"),
    "source": N_("Source"),
    "exemptions": N_("Exemptions"),
}
#: What a popup keeps in the light representation (big layers).
#: (The dates are left out: a click shows every detail under the map.)
LIGHT_WORK_FIELDS: tuple[str, ...] = (WORK_ID, ORG, DISCIPLINE)
#: Property of a drawn conflict with its link key (:func:`ims_geo.ui.links.conflict_key`),
#: kept when a page adds it (to tell which conflict was clicked); a popup's link
#: needs no such property (:data:`CONFLICT_TOOLTIP`).
KEY_FIELD = "key"
LIGHT_CONFLICT_FIELDS: tuple[str, ...] = (
    "kind",
    "severity",
    "org_a",
    "work_id_a",
    "org_b",
    "work_id_b",
    KEY_FIELD,
)
#: What a conflict's tooltip shows: the kind and both works. The same properties,
#: joined by :data:`KEY_SEPARATOR`, are its link key (``ims_geo.ui.links.conflict_key``):
#: the browser builds the link from them, so no feature carries its key twice.
CONFLICT_TOOLTIP: tuple[str, ...] = ("kind", "org_a", "work_id_a", "org_b", "work_id_b")
KEY_SEPARATOR = "~"
#: Separator between organisation and work id in a work's tooltip.
LABEL_SEPARATOR = " · "

_WGS84 = CRS.from_epsg(4326)


# --- GeoJSON preparation ---------------------------------------------------------------
@dataclass(frozen=True)
class MapData:
    """A layer ready for a web map.

    Attributes
    ----------
    geojson
        FeatureCollection text in EPSG:4326.
    count
        Number of features in it.
    bounds
        ``(west, south, east, north)`` in degrees, None when empty.
    light
        True when the light representation (stronger simplification) was used.
    compact
        For light layers, the same features as what the map sends instead: the
        property names once, then one array of values and one geometry per
        feature (:data:`COMPACT_PREFIX`); the browser builds the features
        from it. A third smaller than the GeoJSON at 10,000 works.
    """

    geojson: str
    count: int
    bounds: tuple[float, float, float, float] | None
    light: bool = False
    compact: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes of what a map sends of this layer."""
        return len((self.compact or self.geojson).encode("utf-8"))


def _geographic(frame: gpd.GeoDataFrame, tolerance: float) -> np.ndarray:
    """Geometries simplified in metres, in EPSG:4326, rounded to :data:`PRECISION_DEG`."""
    if frame.crs is None:
        raise InputError("the layer has no CRS; set one before drawing it on a map")
    metric = ensure_metric(frame)
    geoms = metric.geometry.to_numpy()
    # a line of a metre or two (two works touching, a house connection) would
    # be a dot of zero size on screen: draw it as a point marker instead
    short = np.isin(shapely.get_type_id(geoms), (1, 5)) & (shapely.length(geoms) < MIN_LINE_M)
    geoms = np.where(short, shapely.point_on_surface(geoms), geoms)
    if tolerance > 0:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    lonlat = gpd.GeoSeries(geoms, crs=metric.crs).to_crs(_WGS84).to_numpy()
    rounded = shapely.set_precision(lonlat, PRECISION_DEG)
    # a tiny feature that collapses on the grid keeps its unrounded shape
    collapsed = shapely.is_empty(rounded) & ~shapely.is_empty(lonlat)
    return np.where(collapsed, lonlat, rounded)


#: Start of a compact layer's text (:attr:`MapData.compact`), with its feature count.
COMPACT_PREFIX = "/* ims features: "
_MARKUP = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"))


def _values(frame: pd.DataFrame, fields: Iterable[str]) -> pd.DataFrame:
    """The ``fields`` that exist in ``frame``, as a popup shows them (dates as days)."""
    columns = [c for c in fields if c in frame.columns]
    props = pd.DataFrame(index=frame.index)
    for col in columns:
        values = frame[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            props[col] = values.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(values):
            props[col] = values.round(2)
        else:
            props[col] = values
    return props


def _no_markup(text: str) -> str:
    # the text ends up inside a <script>: no markup characters, even in strings
    for char, escape in _MARKUP:
        text = text.replace(char, escape)
    return text


def _properties(frame: pd.DataFrame, fields: Iterable[str]) -> pd.Series:
    """One JSON object text per row with the ``fields`` that exist in ``frame``."""
    props = _values(frame, fields)
    if props.columns.empty:
        return pd.Series("{}", index=frame.index)
    lines = props.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    texts = pd.Series(lines.rstrip("\n").split("\n"), index=frame.index)
    for char, escape in _MARKUP:
        texts = texts.str.replace(char, escape, regex=False)
    return texts


def _compact(geoms: np.ndarray, frame: pd.DataFrame, fields: Iterable[str]) -> str:
    """The compact text of a layer: names once, a value array and a geometry per feature."""
    props = _values(frame, fields)
    names = json.dumps([str(c) for c in props.columns], ensure_ascii=False)
    if props.columns.empty:
        values = "[" + ",".join(["[]"] * len(frame)) + "]"
    else:
        values = props.to_json(orient="values", force_ascii=False, date_format="iso")
    geometry = ",".join(pd.Series(shapely.to_geojson(geoms)).fillna("null"))
    body = '{"k": ' + names + ', "p": ' + values + ', "g": [' + geometry + "]}"
    return f"{COMPACT_PREFIX}{len(frame)} */ " + _no_markup(body)


def _collection(geoms: np.ndarray, props: pd.Series) -> str:
    """FeatureCollection text from geometries and per-row property texts."""
    if len(geoms) == 0:
        return '{"type": "FeatureCollection", "features": []}'
    geometry = pd.Series(shapely.to_geojson(geoms), index=props.index).fillna("null")
    features = '{"type": "Feature", "properties": ' + props + ', "geometry": ' + geometry + "}"
    return '{"type": "FeatureCollection", "features": [' + ",".join(features) + "]}"


def _bounds(geoms: np.ndarray) -> tuple[float, float, float, float] | None:
    present = geoms[~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)]
    if len(present) == 0:
        return None
    west, south, east, north = shapely.total_bounds(present)
    return float(west), float(south), float(east), float(north)


def prepare(
    frame: gpd.GeoDataFrame,
    fields: Iterable[str] = tuple(WORK_FIELDS),
    *,
    light_fields: Iterable[str] | None = LIGHT_WORK_FIELDS,
    tolerance: float | None = None,
    fast_threshold: int = FAST_THRESHOLD,
) -> MapData:
    """A works or conflicts frame as compact GeoJSON for a web map.

    Parameters
    ----------
    frame
        Works (or conflicts) with a CRS; rows with an empty geometry are dropped.
    fields
        Columns to keep as feature properties (the popup's content); the
        others are left out to keep the map small.
    light_fields
        The columns kept instead in the light representation (None: ``fields``).
    tolerance
        Simplification in metres, applied in the frame's metric CRS before
        reprojecting. Default :data:`TOLERANCE_M`, or :data:`FAST_TOLERANCE_M`
        when the frame has more than ``fast_threshold`` rows.
    fast_threshold
        Row count above which the light representation is used.

    Returns
    -------
    MapData
    """
    if frame.crs is None and len(frame):
        raise InputError("the layer has no CRS; set one before drawing it on a map")
    drawn = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    light = len(drawn) > fast_threshold
    if tolerance is None:
        tolerance = FAST_TOLERANCE_M if light else TOLERANCE_M
    if drawn.empty:
        return MapData(_collection(np.array([]), pd.Series(dtype=str)), 0, None, light)
    if light and light_fields is not None:
        fields = light_fields
    geoms = _geographic(drawn, tolerance)
    text = _collection(geoms, _properties(drawn, fields))
    compact = _compact(geoms, drawn, fields) if light else None
    return MapData(text, len(drawn), _bounds(geoms), light, compact)


def context_layer(works: gpd.GeoDataFrame, *, tolerance: float = FAST_TOLERANCE_M) -> MapData:
    """Works as ONE light-grey multi-line feature: a basemap drawn from the data.

    Pass the works that are *not* drawn as layers (e.g. outside the chosen
    period): the street network stays visible and every geometry is sent to
    the browser once. Lines are kept, polygons contribute their boundary,
    points are left out.
    """
    drawn = works[~(works.geometry.isna() | works.geometry.is_empty)]
    if drawn.empty:
        return MapData(_collection(np.array([]), pd.Series(dtype=str)), 0, None)
    geoms = _geographic(drawn[[drawn.geometry.name]], tolerance)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    geoms = np.where(polygonal, shapely.boundary(geoms), geoms)
    parts = shapely.get_parts(geoms)
    lines = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if len(lines) == 0:
        return MapData(_collection(np.array([]), pd.Series(dtype=str)), 0, None)
    merged = np.array([shapely.multilinestrings(lines)])
    text = _collection(merged, pd.Series(["{}"]))
    return MapData(text, 1, _bounds(merged))


# --- filters --------------------------------------------------------------------------
def _period_mask(
    start: pd.Series, end: pd.Series, first: object | None, last: object | None
) -> np.ndarray:
    """Rows whose [start, end] shares at least one day with [first, last]."""
    mask = np.ones(len(start), dtype=bool)
    if first is not None:
        mask &= (end >= pd.Timestamp(first)).to_numpy(dtype=bool)
    if last is not None:
        mask &= (start <= pd.Timestamp(last)).to_numpy(dtype=bool)
    return mask


def _isin(values: pd.Series, allowed: Iterable[str] | None) -> np.ndarray:
    if allowed is None:
        return np.ones(len(values), dtype=bool)
    return values.isin(list(allowed)).to_numpy(dtype=bool)


def filter_works(
    works: gpd.GeoDataFrame,
    *,
    start: object | None = None,
    end: object | None = None,
    layers: Iterable[str] | None = None,
    orgs: Iterable[str] | None = None,
    disciplines: Iterable[str] | None = None,
) -> gpd.GeoDataFrame:
    """Works planned at some time in ``[start, end]`` (days inclusive) and in the chosen sets.

    ``None`` means no restriction; an empty list keeps nothing.
    """
    mask = _period_mask(works[START], works[END], start, end)
    mask &= _isin(works[LAYER], layers)
    mask &= _isin(works[ORG], orgs)
    mask &= _isin(works[DISCIPLINE], disciplines)
    return works[mask]


def filter_conflicts(
    conflicts: gpd.GeoDataFrame,
    *,
    kinds: Iterable[str] | None = None,
    severities: Iterable[str] | None = None,
    orgs: Iterable[str] | None = None,
    disciplines: Iterable[str] | None = None,
    start: object | None = None,
    end: object | None = None,
) -> gpd.GeoDataFrame:
    """Conflicts of the chosen kinds and severities that involve a chosen organisation
    or discipline on either side, and whose two works together span part of ``[start, end]``.

    ``None`` means no restriction; an empty list keeps nothing.
    """
    mask = _isin(conflicts["kind"], kinds) & _isin(conflicts["severity"], severities)
    if orgs is not None:
        mask &= _isin(conflicts["org_a"], orgs) | _isin(conflicts["org_b"], orgs)
    if disciplines is not None:
        mask &= _isin(conflicts["discipline_a"], disciplines) | _isin(
            conflicts["discipline_b"], disciplines
        )
    first = np.minimum(conflicts["start_a"], conflicts["start_b"])
    last = np.maximum(conflicts["end_a"], conflicts["end_b"])
    mask &= _period_mask(pd.Series(first), pd.Series(last), start, end)
    return conflicts[mask]


def months(works: pd.DataFrame) -> list[pd.Timestamp]:
    """First day of every month from the earliest start to the latest end."""
    if works.empty:
        today = pd.Timestamp.today().normalize().replace(day=1)
        return [today]
    first = works[START].min().to_period("M").to_timestamp()
    last = works[END].max().to_period("M").to_timestamp()
    return list(pd.date_range(first, last, freq="MS"))


def month_end(month: pd.Timestamp) -> pd.Timestamp:
    """Last day of the month that starts at ``month``."""
    return (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).normalize()


# --- the map click --------------------------------------------------------------------
def work_labels(works: pd.DataFrame) -> pd.Series:
    """The tooltip text of each work: ``org · work_id`` (as drawn by :func:`works_map`)."""
    return works[ORG].astype(str) + LABEL_SEPARATOR + works[WORK_ID].astype(str)


def clicked_work(
    returned: Mapping[str, object] | None, works: gpd.GeoDataFrame
) -> pd.Series | None:
    """The work a user clicked on a map, from the dict ``st_folium`` returns.

    The tooltip of the clicked feature identifies the work; without one the
    work nearest to the clicked point is taken. None when nothing was clicked.
    """
    if not returned or works.empty:
        return None
    tooltip = returned.get("last_object_clicked_tooltip")
    if isinstance(tooltip, str) and tooltip.strip():
        hits = np.flatnonzero((work_labels(works) == tooltip.strip()).to_numpy())
        if len(hits):
            return works.iloc[hits[0]]
    point = returned.get("last_object_clicked")
    if not isinstance(point, Mapping) or point.get("lat") is None or point.get("lng") is None:
        return None
    if works.crs is None:
        raise InputError("works have no CRS; cannot find the clicked work")
    to_works = Transformer.from_crs(_WGS84, works.crs, always_xy=True)
    x, y = to_works.transform(float(point["lng"]), float(point["lat"]))  # type: ignore[arg-type]
    _, nearest = works.sindex.nearest(shapely.points(x, y), return_all=False)
    return works.iloc[int(nearest[0])]


def conflict_works(conflict: Mapping[str, object], works: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The two works of a conflict (a row of :func:`ims_geo.conflicts.find_conflicts`)."""
    org, work = works[ORG], works[WORK_ID]
    side_a = (org == conflict["org_a"]) & (work == conflict["work_id_a"])
    side_b = (org == conflict["org_b"]) & (work == conflict["work_id_b"])
    return works[(side_a | side_b).to_numpy(dtype=bool)]


def conflicts_of(work: Mapping[str, object], conflicts: pd.DataFrame) -> pd.DataFrame:
    """The conflicts a work takes part in, on either side."""
    side_a = (conflicts["org_a"] == work[ORG]) & (conflicts["work_id_a"] == work[WORK_ID])
    side_b = (conflicts["org_b"] == work[ORG]) & (conflicts["work_id_b"] == work[WORK_ID])
    return conflicts[(side_a | side_b).to_numpy(dtype=bool)]


# --- areas and views ------------------------------------------------------------------
#: Works whose extents are closer than this (metres) belong to one area.
AREA_GAP_M = 1500.0
#: Columns of :func:`areas`.
AREA_NAME, AREA_WORKS = "name", "works"
_BOX = ("west", "south", "east", "north")


def bounds_of(works: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` in degrees around ``works`` (None when none has a place)."""
    drawn = works[~(works.geometry.isna() | works.geometry.is_empty)]
    if drawn.empty:
        return None
    if drawn.crs is None:
        raise InputError("the layer has no CRS; set one before drawing it on a map")
    west, south, east, north = drawn.geometry.to_crs(_WGS84).total_bounds
    return float(west), float(south), float(east), float(north)


def _area_column(works: pd.DataFrame) -> str | None:
    """The first column of :data:`~ims_geo.schema.AREA_COLUMNS` that names every work's area."""
    known = {name.casefold() for name in AREA_COLUMNS}
    for column in works.columns:
        if isinstance(column, str) and column.casefold() in known:
            text = works[column].astype("string").str.strip()
            if (text.notna() & (text != "")).all():
                return column
    return None


def _spatial_labels(works: gpd.GeoDataFrame, gap: float) -> np.ndarray:
    """Cluster number of every work: extents within ``gap`` metres of each other chain up."""
    metric = ensure_metric(works).geometry.to_numpy()
    grown = shapely.buffer(shapely.envelope(metric), gap / 2, quad_segs=1)
    parts = shapely.get_parts(shapely.union_all(grown))
    # every work's own envelope lies in exactly one of the disjoint merged parts
    where, part = shapely.STRtree(parts).query(shapely.point_on_surface(metric), "intersects")
    labels = np.empty(len(works), dtype="int64")
    labels[where] = part
    return labels


def areas(works: gpd.GeoDataFrame, *, gap: float = AREA_GAP_M) -> pd.DataFrame:
    """The places the works are in, to zoom the map to one: most works first.

    An area is the works that share a value of an area column
    (:data:`~ims_geo.schema.AREA_COLUMNS`: municipality, gemeente, ...) when
    every work has one; else a spatial cluster: works whose extents lie
    within ``gap`` metres of each other, in a chain. A cluster is named by
    its largest organisation, followed by its most frequent street when two
    clusters would have the same name (and a number when still the same).

    Returns
    -------
    DataFrame
        ``name``, ``works`` (count) and the area's box in degrees ``west``,
        ``south``, ``east``, ``north``; one row per area.
    """
    from ims_geo.search import street_names

    drawn = works[~(works.geometry.isna() | works.geometry.is_empty)]
    if drawn.empty:
        return pd.DataFrame(columns=[AREA_NAME, AREA_WORKS, *_BOX])
    column = _area_column(drawn)
    if column is not None:
        labels = drawn[column].astype("string").str.strip().to_numpy(dtype=object)
    else:
        labels = _spatial_labels(drawn, gap)
    lonlat = drawn.geometry.to_crs(_WGS84).bounds.to_numpy()
    boxes = pd.DataFrame(lonlat, columns=list(_BOX)).assign(area=labels)
    grouped = boxes.groupby("area", sort=False)
    out = grouped.agg(
        works=("west", "size"), west=("west", "min"), south=("south", "min"),
        east=("east", "max"), north=("north", "max"),
    )  # fmt: skip
    if column is not None:
        out[AREA_NAME] = out.index.astype(str)
    else:
        labelled = pd.DataFrame(
            {"area": labels, "org": drawn[ORG].to_numpy(), "street": street_names(drawn).to_numpy()}
        )
        out[AREA_NAME] = _most_frequent(labelled, "org").reindex(out.index)
        twins = out[AREA_NAME].duplicated(keep=False)
        if twins.any():
            streets = _most_frequent(labelled[labelled["street"] != ""], "street")
            suffix = streets.reindex(out.index).fillna("")
            named = out[AREA_NAME].where(suffix == "", out[AREA_NAME] + " – " + suffix)
            out[AREA_NAME] = named.where(twins, out[AREA_NAME])
        repeat = out.groupby(AREA_NAME).cumcount()
        numbered = out[AREA_NAME] + " (" + (repeat + 1).astype(str) + ")"
        out[AREA_NAME] = out[AREA_NAME].where(~out[AREA_NAME].duplicated(keep=False), numbered)
    out = out.sort_values([AREA_WORKS, AREA_NAME], ascending=[False, True], kind="stable")
    return out[[AREA_NAME, AREA_WORKS, *_BOX]].reset_index(drop=True)


def _most_frequent(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per ``area``: the value of ``column`` most rows have (ties: the first in order)."""
    counts = frame.groupby(["area", column], sort=False).size().reset_index(name="n")
    counts = counts.sort_values(["area", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("area").set_index("area")[column]


def area_bounds(row: Mapping[str, object]) -> tuple[float, float, float, float]:
    """The box of one row of :func:`areas`."""
    return tuple(float(row[c]) for c in _BOX)  # type: ignore[return-value,arg-type]


def conflict_labels(conflicts: pd.DataFrame) -> pd.Series:
    """The tooltip text of each conflict as drawn (kind in the language in use, both works)."""
    if conflicts.empty:
        return pd.Series([], index=conflicts.index, dtype=object)
    names = {v: _(n) for v, n in VALUE_NAMES["kind"].items()}
    kinds = conflicts["kind"].astype(str)
    label = kinds.map(names).fillna(kinds).astype(object)
    for column in CONFLICT_TOOLTIP[1:]:
        label = label + LABEL_SEPARATOR + conflicts[column].astype(str)
    return label


def clicked_conflict(
    returned: Mapping[str, object] | None, conflicts: pd.DataFrame
) -> pd.Series | None:
    """The conflict a user clicked on a map (by its tooltip), or None."""
    if not returned or conflicts.empty:
        return None
    tooltip = returned.get("last_object_clicked_tooltip")
    if not isinstance(tooltip, str) or not tooltip.strip():
        return None
    hits = np.flatnonzero((conflict_labels(conflicts) == tooltip.strip()).to_numpy())
    return conflicts.iloc[hits[0]] if len(hits) else None


def view_of(
    bounds: tuple[float, float, float, float], *, width: int = 700, height: int = 500
) -> tuple[tuple[float, float], int]:
    """Centre ``(lat, lon)`` and Web-Mercator zoom that show ``bounds`` in a map of that size."""
    west, south, east, north = bounds
    centre = ((south + north) / 2, (west + east) / 2)

    def mercator_y(lat: float) -> float:
        rad = math.radians(max(min(lat, 85.0), -85.0))
        return math.log(math.tan(math.pi / 4 + rad / 2)) / (2 * math.pi)

    span_x = max((east - west) / 360.0, 1e-9)
    span_y = max(mercator_y(north) - mercator_y(south), 1e-9)
    zoom = math.floor(min(math.log2(width / 256 / span_x), math.log2(height / 256 / span_y)))
    return centre, int(min(max(zoom, 1), 18))


def tile_url() -> str | None:
    """The raster tile URL from :data:`TILES_ENV`, or None (the map then needs no server)."""
    return os.environ.get(TILES_ENV) or None


# --- legend ---------------------------------------------------------------------------
def _swatch(colour: str, style: Style) -> str:
    """A small SVG line in ``colour`` with the line style's width, opacity and dashes."""
    line = style.line
    weight = min(float(line.get("weight", 3)), 7.0)  # type: ignore[arg-type]
    dash = line.get("dashArray")
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        '<svg width="28" height="12" style="vertical-align:middle;margin-right:6px" '
        f'aria-hidden="true"><line x1="1" y1="6" x2="27" y2="6" stroke="{colour}" '
        f'stroke-width="{weight:g}" stroke-opacity="{line.get("opacity", 1)}"{dashes}/></svg>'
    )


def legend_html(
    disciplines: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    *,
    conflict_style: Style | None = None,
    moratoria: bool = False,
    outside: bool = False,
    context: bool = False,
    highlight: bool = False,
    projects: bool = False,
) -> str:
    """HTML of a map legend: a swatch for everything drawn, in the language in use.

    Parameters
    ----------
    disciplines
        Disciplines drawn as works (solid lines), listed in schema order.
    kinds
        Conflict kinds drawn (dashed, :data:`CONFLICT_STYLE` or ``conflict_style``).
    moratoria, outside, context, highlight, projects
        Whether the protected new surfaces, the works outside the filters, the
        streets drawn from the data, the selected work / search matches and
        combined projects are on the map.
    """
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    if disciplines is not None:
        chosen = set(disciplines)
        sections.append(
            (
                _("Works by discipline"),
                [
                    (_swatch(DISCIPLINE_COLOURS.get(d, FALLBACK_COLOUR), WORK_STYLE),
                     value_name(DISCIPLINE, d))
                    for d in DISCIPLINES if d in chosen
                ],
            )
        )  # fmt: skip
    if kinds is not None:
        chosen = set(kinds)
        style = conflict_style or CONFLICT_STYLE
        sections.append(
            (
                _("Conflicts"),
                [
                    (_swatch(KIND_COLOURS[k], style), value_name("kind", k))
                    for k in KIND_COLOURS if k in chosen
                ],
            )
        )  # fmt: skip
    others = [
        (shown, _swatch(colour, style), label)
        for shown, colour, style, label in (
            (projects, AREA_COLOUR, AREA_STYLE, N_("Combined project")),
            (moratoria, MORATORIA_COLOUR, MORATORIUM_STYLE, N_("Protected new surface (moratorium)")),
            (highlight, HIGHLIGHT_COLOUR, HIGHLIGHT_STYLE, N_("Selected work or search match")),
            (outside, OUTSIDE_COLOUR, OUTSIDE_STYLE, N_("Works outside the filters")),
            (context, CONTEXT_COLOUR, CONTEXT_STYLE, N_("Streets (drawn from the plans)")),
        )
    ]  # fmt: skip
    rest = [(swatch, _(label)) for shown, swatch, label in others if shown]
    if rest:
        sections.append((_("Also on the map"), rest))
    # long lists (the disciplines) in two columns, so the legend hides less of the map
    body = "".join(
        f"<div style='font-weight:600;margin-top:4px'>{html.escape(title)}</div>"
        + "<div style='display:grid;grid-template-columns:repeat("
        + ("2" if len(rows) > 4 else "1")
        + ",auto);column-gap:10px'>"
        + "".join(f"<div>{swatch}{html.escape(label)}</div>" for swatch, label in rows)
        + "</div>"
        for title, rows in sections
    )
    return (
        '<div class="ims-legend" style="background:rgba(255,255,255,.92);padding:6px 10px;'
        "border-radius:4px;font:12px/1.4 sans-serif;color:#222;"
        'box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:340px;overflow-y:auto">' + body + "</div>"
    )


# --- folium elements ------------------------------------------------------------------
class _Data(MacroElement):
    """A GeoJSON text declared once as a JavaScript variable, shared by several layers."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {%- if this.compact %}
        var {{ this.get_name() }} = (function(d) {
            var features = new Array(d.g.length);
            for (var i = 0; i < d.g.length; i++) {
                var p = {};
                for (var j = 0; j < d.k.length; j++) { p[d.k[j]] = d.p[i][j]; }
                features[i] = {type: "Feature", properties: p, geometry: d.g[i]};
            }
            return {type: "FeatureCollection", features: features};
        })({{ this.text }});
        {%- else %}
        var {{ this.get_name() }} = {{ this.text }};
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, layer: MapData):
        super().__init__()
        self._name = "ImsData"
        self.compact = layer.compact is not None
        self.text = layer.compact if layer.compact is not None else layer.geojson

    def render(self, **kwargs: object) -> str:  # type: ignore[override]
        """Add the declaration to the page's script as it is.

        branca wraps every rendered script in a new Jinja template, which
        would parse megabytes of GeoJSON (seconds at 10,000 works) for nothing.
        """
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("the GeoJSON data can only be rendered in a map's page")
        script = self._template.module.__dict__["script"](self, kwargs)
        figure.script.add_child(_Verbatim(script), name=self.get_name())
        return ""


class _Verbatim(Element):
    """Text put into a page as it is (no template)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs: object) -> str:
        return self.text


def _data(parent: folium.Map | folium.FeatureGroup, layer: MapData) -> _Data:
    data = _Data(layer)
    data.add_to(parent)
    return data


class _GeoJsonLayer(folium.map.Layer):
    """A Leaflet GeoJSON layer over a :class:`_Data`, styled and labelled in the browser.

    Styling, tooltips and popups are JavaScript functions over the features'
    properties, so nothing is computed per feature in Python. Enum values
    are shown by their names in the language in use (``names``); with
    ``link`` (properties, URL prefix, label, separator) a popup ends with a
    link that opens the feature elsewhere in
    the app (relative to the app's own address, in the same tab).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data.get_name() }}, {
            interactive: {{ this.interactive|tojson }},
            {%- if this.only is not none %}
            filter: function(f) {
                return f.properties[{{ this.only[0]|tojson }}] === {{ this.only[1]|tojson }};
            },
            {%- endif %}
            style: function(f) {
                var c = ({{ this.colours|tojson }})[f.properties[{{ this.colour_by|tojson }}]]
                    || {{ this.colour|tojson }};
                var point = f.geometry && f.geometry.type.indexOf("Point") >= 0;
                return Object.assign({color: c, fillColor: c},
                    point ? {{ this.style.point|tojson }} : {{ this.style.line|tojson }});
            },
            pointToLayer: function(f, latlng) {
                return L.circleMarker(latlng, {{ this.style.point|tojson }});
            },
            onEachFeature: function(f, layer) {
                {%- if this.tooltip or this.popup %}
                var p = f.properties;
                var names = {{ this.names|tojson }};
                var esc = function(k) {
                    var v = p[k];
                    if (v !== null && v !== undefined && names[k] && names[k][v] !== undefined) {
                        v = names[k][v];
                    }
                    return String(v === null || v === undefined ? "" : v).replace(
                        /[&<>"']/g, function(c) { return "&#" + c.charCodeAt(0) + ";"; });
                };
                {%- endif %}
                {%- if this.tooltip %}
                layer.bindTooltip(
                    {{ this.tooltip|tojson }}.map(esc).join({{ this.separator|tojson }}),
                    {sticky: true});
                {%- endif %}
                {%- if this.popup %}
                layer.bindPopup(function() {
                    var rows = {{ this.popup|tojson }}.filter(
                        function(r) { return p[r[0]] !== null && p[r[0]] !== undefined; }
                    ).map(function(r) {
                        return "<tr><th style='text-align:left;padding-right:8px'>"
                            + r[1].replace(/[&<>"']/g, function(c) {
                                return "&#" + c.charCodeAt(0) + ";"; })
                            + "</th><td>" + esc(r[0]) + "</td></tr>";
                    }).join("");
                    {%- if this.link %}
                    var parts = {{ this.link[0]|tojson }}.map(function(k) { return p[k]; });
                    if (parts.every(function(v) { return v !== null && v !== undefined; })) {
                        var key = parts.map(String).join({{ this.link[3]|tojson }});
                        var base = "/";
                        try {
                            base = window.parent.location.pathname.replace(/[^\\/]*$/, "");
                        } catch (e) {}
                        // encodeURIComponent leaves ' ( ) unescaped: the whole address
                        // is escaped again as an attribute value
                        var href = (base + {{ this.link[1]|tojson }}
                            + encodeURIComponent(String(key))).replace(/[&<>"']/g, function(c) {
                                return "&#" + c.charCodeAt(0) + ";"; });
                        rows += "<tr><td colspan='2' style='padding-top:6px'><a target='_blank' "
                            + "rel='noopener' href='"
                            + href + "'>" + {{ this.link[2]|tojson }}.replace(/[&<>"']/g,
                                function(c) { return "&#" + c.charCodeAt(0) + ";"; })
                            + "</a></td></tr>";
                    }
                    {%- endif %}
                    return "<table class='ims-popup'>" + rows + "</table>";
                }, {maxWidth: 360});
                {%- endif %}
            }
        });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: _Data,
        name: str,
        *,
        colour_by: str = DISCIPLINE,
        colours: Mapping[str, str] = DISCIPLINE_COLOURS,
        colour: str = FALLBACK_COLOUR,
        style: Style | None = None,
        only: tuple[str, str] | None = None,
        tooltip: Sequence[str] = (),
        popup: Mapping[str, str] | None = None,
        interactive: bool = True,
        control: bool = True,
        overlay: bool = True,
        show: bool = True,
        link: tuple[Sequence[str], str, str, str] | None = None,
    ):
        # Leaflet's layer control inserts a layer's name as HTML, and names are
        # organisations: escaped here, they are shown as the text they are
        super().__init__(name=html.escape(name), overlay=overlay, control=control, show=show)
        self._name = "ImsLayer"
        self.data = data
        self.colour_by = colour_by
        self.colours = dict(colours)
        self.colour = colour
        self.style = style or WORK_STYLE
        self.only = only
        self.tooltip = list(tooltip)
        self.separator = LABEL_SEPARATOR
        # labels translated now, when the map is built for one page run
        self.popup = [[k, _(v)] for k, v in (popup or {}).items()]
        self.names = _value_names([*self.tooltip, *(popup or {})])
        self.interactive = interactive
        self.link = [list(link[0]), *link[1:]] if link else None


class _Legend(MacroElement):
    """A legend box in a map corner."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomleft"});
        {{ this.get_name() }}.onAdd = function() {
            var div = L.DomUtil.create("div");
            div.innerHTML = {{ this.html|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str):
        super().__init__()
        self._name = "ImsLegend"
        self.html = html_text


class _Background(MacroElement):
    """The map's background colour where no raster tile covers it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.getContainer().style.background = {{ this.colour|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, colour: str):
        super().__init__()
        self._name = "ImsBackground"
        self.colour = colour


def _base_map(bounds: tuple[float, float, float, float] | None, tiles: str | None) -> folium.Map:
    """A map without tiles (or with ``tiles``) that loads Leaflet from the app itself."""
    west, south, east, north = bounds or (-10.0, 35.0, 30.0, 60.0)
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    # per map, not on the folium.Map class, so other folium users in the same
    # process (a notebook with internet) keep their defaults
    fmap.default_js = [("leaflet", LEAFLET_JS)]
    fmap.default_css = [("leaflet_css", LEAFLET_CSS)]
    _Background(BASEMAP_COLOUR).add_to(fmap)
    if tiles:
        folium.TileLayer(
            tiles=tiles,
            attr=os.environ.get(TILES_ATTR_ENV) or "tiles",
            name=html.escape(_("Raster tiles")),
            overlay=False,
            control=True,
        ).add_to(fmap)
    if bounds is not None:
        fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def union_bounds(*layers: MapData | None) -> tuple[float, float, float, float] | None:
    """The box around every layer's bounds (None when all are empty)."""
    boxes = np.array([d.bounds for d in layers if d is not None and d.bounds is not None])
    if len(boxes) == 0:
        return None
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


def _context(fmap: folium.Map, context: MapData | None, tiles: str | None) -> bool:
    """Draw the streets from the data; with raster tiles, as the other base layer to pick."""
    if context is None or not context.count:
        return False
    data = _data(fmap, context)
    _GeoJsonLayer(
        data,
        _("Streets from the plans (offline)"),
        colour=CONTEXT_COLOUR,
        colours={},
        style=CONTEXT_STYLE,
        interactive=False,
        control=bool(tiles),
        overlay=not tiles,
        show=not tiles,
    ).add_to(fmap)
    return True


def _outside(fmap: folium.Map, outside: MapData | None) -> bool:
    if outside is None or not outside.count:
        return False
    data = _data(fmap, outside)
    _GeoJsonLayer(
        data,
        _("Outside the filters"),
        colour=OUTSIDE_COLOUR,
        colours={},
        style=OUTSIDE_STYLE,
        interactive=False,
    ).add_to(fmap)
    return True


def _conflicts_layer(
    fmap: folium.Map | folium.FeatureGroup,
    conflicts: MapData,
    name: str,
    style: Style,
    link: str | None = None,
) -> None:
    data = _data(fmap, conflicts)
    _GeoJsonLayer(
        data,
        name,
        colour_by="kind",
        colours=KIND_COLOURS,
        style=style,
        tooltip=CONFLICT_TOOLTIP,
        popup=CONFLICT_FIELDS,
        link=None
        if link is None
        else (CONFLICT_TOOLTIP, link, _("Open in the conflict list"), KEY_SEPARATOR),
    ).add_to(fmap)


def works_map(
    works: MapData,
    *,
    groups: Sequence[str] = (),
    group_by: str = ORG,
    conflicts: MapData | None = None,
    context: MapData | None = None,
    disciplines: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    tiles: str | None = None,
    moratoria: MapData | None = None,
    outside: MapData | None = None,
    link: str | None = None,
    highlight: bool = False,
) -> folium.Map:
    """A map of works coloured by discipline, one switchable layer per group.

    Parameters
    ----------
    works
        From :func:`prepare` (its properties must include ``group_by`` and
        ``discipline``).
    groups
        Values of ``group_by`` (organisations by default) that get a layer
        each; empty: one layer "Works".
    conflicts
        Coloured by kind, drawn as a wide dashed band under the works.
    context
        From :func:`context_layer`: the streets drawn from the data, light and
        not clickable — the basemap that needs no network. With ``tiles`` it
        is the other base layer of the layer control.
    disciplines, kinds
        What the legend lists (default: every discipline; kinds of ``conflicts``).
    tiles
        Optional raster tile URL (see :func:`tile_url`).
    moratoria
        Protected new surfaces (:func:`ims_geo.cycle.moratoria`), a layer of
        their own under everything else.
    outside
        From :func:`context_layer` of the works the filters leave out: thin
        dashed dark grey lines above the basemap.
    link
        URL prefix (relative to the app) a conflict's key is appended to in its
        popup, e.g. ``"conflicts?conflict="`` (the key: :data:`CONFLICT_TOOLTIP`
        joined by :data:`KEY_SEPARATOR`).
    highlight
        Whether the legend explains the highlight (a layer added with
        :func:`highlight`).
    """
    fmap = _base_map(union_bounds(works, conflicts, context, outside), tiles)
    drew_context = _context(fmap, context, tiles)
    drew_outside = _outside(fmap, outside)
    drew_moratoria = moratoria is not None and moratoria.count > 0
    if moratoria is not None and drew_moratoria:
        moratoria_layer(fmap, moratoria)
    if conflicts is not None:
        _conflicts_layer(fmap, conflicts, _("Conflicts"), HALO_STYLE, link)
    data = _data(fmap, works)
    layers: list[tuple[str, tuple[str, str] | None]] = [(g, (group_by, g)) for g in groups]
    layers = layers or [(_("Works"), None)]
    for name, only in layers:
        _GeoJsonLayer(
            data,
            name,
            only=only,
            tooltip=(ORG, WORK_ID),
            popup=WORK_FIELDS,
        ).add_to(fmap)
    if kinds is None and conflicts is not None:
        kinds = KIND_COLOURS
    legend = legend_html(
        DISCIPLINES if disciplines is None else disciplines,
        kinds,
        conflict_style=HALO_STYLE,
        moratoria=drew_moratoria,
        outside=drew_outside,
        context=drew_context,
        highlight=highlight,
    )
    _Legend(legend).add_to(fmap)
    folium.LayerControl(collapsed=len(layers) > 8).add_to(fmap)
    return fmap


def conflicts_map(
    conflicts: MapData,
    *,
    context: MapData | None = None,
    kinds: Iterable[str] | None = None,
    tiles: str | None = None,
    link: str | None = None,
) -> folium.Map:
    """A map of conflicts coloured by kind (dashed) over the streets drawn from the data."""
    fmap = _base_map(union_bounds(conflicts, context), tiles)
    drew_context = _context(fmap, context, tiles)
    _conflicts_layer(fmap, conflicts, _("Conflicts"), CONFLICT_STYLE, link)
    kinds = KIND_COLOURS if kinds is None else kinds
    _Legend(legend_html(None, kinds, context=drew_context)).add_to(fmap)
    if tiles:
        folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def programme_map(
    works: MapData,
    clusters: MapData,
    *,
    context: MapData | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """Combined projects outlined, their works coloured by discipline on top."""
    fmap = _base_map(union_bounds(works, clusters, context), tiles)
    drew_context = _context(fmap, context, tiles)
    areas = _data(fmap, clusters)
    _GeoJsonLayer(
        areas,
        _("Combined projects"),
        colours={},
        colour=AREA_COLOUR,
        style=AREA_STYLE,
        tooltip=("cluster_id", "orgs"),
        popup=CLUSTER_FIELDS,
    ).add_to(fmap)
    data = _data(fmap, works)
    _GeoJsonLayer(data, _("Works"), tooltip=(ORG, WORK_ID), popup=WORK_FIELDS).add_to(fmap)
    _Legend(legend_html(DISCIPLINES, context=drew_context, projects=True)).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def moratoria_layer(
    fmap: folium.Map | folium.FeatureGroup, moratoria: MapData, *, name: str | None = None
) -> None:
    """Add the moratoria layer (from :func:`prepare` with :data:`MORATORIUM_FIELDS`)."""
    data = _data(fmap, moratoria)
    _GeoJsonLayer(
        data,
        _("Moratoria") if name is None else name,
        colours={},
        colour=MORATORIA_COLOUR,
        style=MORATORIUM_STYLE,
        tooltip=("source_org", "source_work_id", "valid_until"),
        popup=MORATORIUM_FIELDS,
    ).add_to(fmap)


def highlight(works: MapData, *, name: str = "Selected") -> folium.FeatureGroup:
    """A layer that outlines ``works`` in a cyan glow, for ``st_folium(feature_group_to_add=...)``."""
    group = folium.FeatureGroup(name=html.escape(name), control=False)
    data = _data(group, works)
    _GeoJsonLayer(
        data,
        name,
        colours={},
        colour=HIGHLIGHT_COLOUR,
        style=HIGHLIGHT_STYLE,
        tooltip=(ORG, WORK_ID),
        popup=WORK_FIELDS,
        control=False,
    ).add_to(group)
    return group


def feature_count(script: str) -> int:
    """Number of features written into a map's script (GeoJSON and compact layers)."""
    compact = re.findall(re.escape(COMPACT_PREFIX) + r"(\d+) \*/", script)
    return script.count('"type": "Feature"') + sum(int(n) for n in compact)
