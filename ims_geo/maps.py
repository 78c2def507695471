"""Web maps of planned works and conflicts: GeoJSON, colours, legends, Leaflet maps.

Everything here is plain Python (no Streamlit) so the app's pages stay
thin and the logic is tested without a browser:

* :func:`prepare` turns a works or conflicts frame into a compact GeoJSON
  text in EPSG:4326 — simplified in the metric CRS, coordinates rounded
  with :func:`shapely.set_precision`, only the columns a popup shows —
  and switches to a lighter representation above :data:`FAST_THRESHOLD`
  features.
* :func:`context_layer` draws every work as one light-grey line feature: a
  basemap made from the data itself, so no tile server is needed.
* :func:`works_map`, :func:`conflicts_map` and :func:`programme_map` build
  :class:`folium.Map` objects that load Leaflet from the copy served with
  the app (:data:`LEAFLET_JS`), never from a CDN; :func:`highlight` is a
  layer to add to a map already shown, without redrawing it.
* :func:`filter_works`, :func:`filter_conflicts` and :func:`clicked_work`
  are the pure functions behind the map and table filters and the map
  click.

Every user-supplied string (organisation, title, work id, extra values)
reaches the browser as text, never as markup: feature properties are JSON
with ``<``, ``>`` and ``&`` escaped inside the ``<script>``; tooltips and
popups escape them in the browser; layer names (organisations), which
Leaflet's layer control inserts as HTML, and the legend are escaped here.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from pyproj import CRS, Transformer

from ims_geo.crs import ensure_metric
from ims_geo.errors import InputError
from ims_geo.schema import (
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

#: Colour of each discipline (water blue, gas yellow, electricity red,
#: telecom orange: the utility colour code planners know from site markings).
DISCIPLINE_COLOURS: dict[str, str] = {
    "road": "#4d4d4d",
    "sewer": "#8c564b",
    "water": "#1f77b4",
    "gas": "#e6ac00",
    "electricity": "#d62728",
    "telecom": "#ff7f0e",
    "heat": "#9467bd",
    "lighting": "#bcbd22",
    "green": "#2ca02c",
    "transit": "#e377c2",
    "other": "#17becf",
}
#: Colour of each conflict kind.
KIND_COLOURS: dict[str, str] = {
    "clash": "#d7191c",
    "moratorium": "#7b3294",
    "synergy": "#1a9641",
    "internal": "#f28e2b",
}
CONTEXT_COLOUR = "#c8c8c8"


@dataclass(frozen=True)
class Style:
    """Leaflet path options for line/polygon features and for point features."""

    line: Mapping[str, object]
    point: Mapping[str, object]


WORK_STYLE = Style(
    line={"weight": 3, "opacity": 0.95, "fillOpacity": 0.3},
    point={"radius": 5, "weight": 2, "opacity": 0.95, "fillOpacity": 0.6},
)
#: Conflicts under the works: a wide translucent band / ring around where they meet.
HALO_STYLE = Style(
    line={"weight": 12, "opacity": 0.4, "fillOpacity": 0.25, "lineCap": "butt"},
    point={"radius": 9, "weight": 3, "opacity": 0.7, "fillOpacity": 0.2},
)
#: Conflicts on their own map.
CONFLICT_STYLE = Style(
    line={"weight": 4, "opacity": 0.85, "fillOpacity": 0.4},
    point={"radius": 4, "weight": 2, "opacity": 0.9, "fillOpacity": 0.5},
)
CONTEXT_STYLE = Style(
    line={"weight": 2, "opacity": 0.9, "fillOpacity": 0.0},
    point={"radius": 2, "weight": 1, "opacity": 0.9, "fillOpacity": 0.5},
)
#: Combined projects: a dashed outline around their works.
AREA_STYLE = Style(
    line={"weight": 2, "opacity": 0.9, "fillOpacity": 0.12, "dashArray": "5 4"},
    point={"radius": 12, "weight": 2, "opacity": 0.9, "fillOpacity": 0.12},
)
AREA_COLOUR = "#3949ab"
#: Moratoria (protected new surfaces): a wide hatched band in the moratorium colour.
MORATORIUM_STYLE = Style(
    line={"weight": 16, "opacity": 0.35, "fillOpacity": 0.25, "dashArray": "3 5"},
    point={"radius": 10, "weight": 3, "opacity": 0.6, "fillOpacity": 0.25},
)
HIGHLIGHT_STYLE = Style(
    line={"weight": 10, "opacity": 0.5, "fillOpacity": 0.1},
    point={"radius": 12, "weight": 4, "opacity": 0.6, "fillOpacity": 0.1},
)
FALLBACK_COLOUR = "#555555"

#: Columns a work's popup shows, with their labels.
WORK_FIELDS: dict[str, str] = {
    WORK_ID: "Work",
    ORG: "Organisation",
    TITLE: "Title",
    DISCIPLINE: "Discipline",
    LAYER: "Layer",
    START: "Start",
    END: "End",
    STATUS: "Status",
    COST: "Cost (EUR)",
}
#: Columns a conflict's popup shows, with their labels.
CONFLICT_FIELDS: dict[str, str] = {
    "kind": "Kind",
    "severity": "Severity",
    "score": "Score",
    "org_a": "Organisation A",
    "work_id_a": "Work A",
    "org_b": "Organisation B",
    "work_id_b": "Work B",
    "distance_m": "Distance (m)",
    "gap_days": "Gap (days)",
}
#: Columns a combined project's popup shows, with their labels.
CLUSTER_FIELDS: dict[str, str] = {
    "cluster_id": "Combined project",
    "n_works": "Works",
    "orgs": "Organisations",
    "joint_start": "Joint start",
    "joint_end": "Joint end",
    "disruption_days_saved": "Disruption days saved",
    "savings_eur": "Savings (EUR)",
}
#: Columns a moratorium's popup shows, with their labels.
MORATORIUM_FIELDS: dict[str, str] = {
    "source_org": "Protected by",
    "source_work_id": "Work",
    "valid_from": "From",
    "valid_until": "Until",
    "source": "Source",
    "exemptions": "Exemptions",
}
#: What a popup keeps in the light representation (big layers).
LIGHT_WORK_FIELDS: tuple[str, ...] = (WORK_ID, ORG, DISCIPLINE, START, END)
LIGHT_CONFLICT_FIELDS: tuple[str, ...] = (
    "kind",
    "severity",
    "org_a",
    "work_id_a",
    "org_b",
    "work_id_b",
)
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
    """

    geojson: str
    count: int
    bounds: tuple[float, float, float, float] | None
    light: bool = False

    @property
    def size(self) -> int:
        """Size of the GeoJSON text in bytes."""
        return len(self.geojson.encode("utf-8"))


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


def _properties(frame: pd.DataFrame, fields: Iterable[str]) -> pd.Series:
    """One JSON object text per row with the ``fields`` that exist in ``frame``."""
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
    if not columns:
        return pd.Series("{}", index=frame.index)
    lines = props.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    texts = pd.Series(lines.rstrip("\n").split("\n"), index=frame.index)
    # the text ends up inside a <script>: no markup characters, even in strings
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        texts = texts.str.replace(char, escape, regex=False)
    return texts


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
    return MapData(text, len(drawn), _bounds(geoms), light)


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
def legend_html(
    disciplines: Iterable[str] | None = None, kinds: Iterable[str] | None = None
) -> str:
    """HTML of a map legend: a swatch per discipline and per conflict kind."""

    def rows(title: str, names: Iterable[str], colours: Mapping[str, str]) -> str:
        items = "".join(
            f'<div><span style="display:inline-block;width:18px;height:4px;'
            f'margin:0 6px 3px 0;background:{colours.get(n, FALLBACK_COLOUR)}"></span>'
            f"{html.escape(n)}</div>"
            for n in names
        )
        return f"<div style='font-weight:600;margin-top:4px'>{html.escape(title)}</div>{items}"

    parts = []
    if disciplines is not None:
        chosen = set(disciplines)
        parts.append(
            rows("Discipline", [d for d in DISCIPLINES if d in chosen], DISCIPLINE_COLOURS)
        )
    if kinds is not None:
        chosen = set(kinds)
        parts.append(rows("Conflict", [k for k in KIND_COLOURS if k in chosen], KIND_COLOURS))
    return (
        '<div class="ims-legend" style="background:rgba(255,255,255,.9);padding:6px 10px;'
        'border-radius:4px;font:12px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,.3)">'
        + "".join(parts)
        + "</div>"
    )


# --- folium elements ------------------------------------------------------------------
class _Data(MacroElement):
    """A GeoJSON text declared once as a JavaScript variable, shared by several layers."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.text }};
        {% endmacro %}
        """
    )

    def __init__(self, text: str):
        super().__init__()
        self._name = "ImsData"
        self.text = text


def _data(parent: folium.Map | folium.FeatureGroup, text: str) -> _Data:
    data = _Data(text)
    data.add_to(parent)
    return data


class _GeoJsonLayer(folium.map.Layer):
    """A Leaflet GeoJSON layer over a :class:`_Data`, styled and labelled in the browser.

    Styling, tooltips and popups are JavaScript functions over the features'
    properties, so nothing is computed per feature in Python.
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
                var esc = function(v) {
                    return String(v === null || v === undefined ? "" : v).replace(
                        /[&<>"']/g, function(c) { return "&#" + c.charCodeAt(0) + ";"; });
                };
                {%- endif %}
                {%- if this.tooltip %}
                layer.bindTooltip(
                    {{ this.tooltip|tojson }}.map(function(k) { return esc(p[k]); })
                        .join({{ this.separator|tojson }}), {sticky: true});
                {%- endif %}
                {%- if this.popup %}
                layer.bindPopup(function() {
                    return "<table class='ims-popup'>" + {{ this.popup|tojson }}.filter(
                        function(r) { return p[r[0]] !== null && p[r[0]] !== undefined; }
                    ).map(function(r) {
                        return "<tr><th style='text-align:left;padding-right:8px'>" + esc(r[1])
                            + "</th><td>" + esc(p[r[0]]) + "</td></tr>";
                    }).join("") + "</table>";
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
    ):
        # Leaflet's layer control inserts a layer's name as HTML, and names are
        # organisations: escaped here, they are shown as the text they are
        super().__init__(name=html.escape(name), overlay=True, control=control, show=True)
        self._name = "ImsLayer"
        self.data = data
        self.colour_by = colour_by
        self.colours = dict(colours)
        self.colour = colour
        self.style = style or WORK_STYLE
        self.only = only
        self.tooltip = list(tooltip)
        self.separator = LABEL_SEPARATOR
        self.popup = [[k, v] for k, v in (popup or {}).items()]
        self.interactive = interactive


class _Legend(MacroElement):
    """A legend box in a map corner."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
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
    if tiles:
        folium.TileLayer(
            tiles=tiles,
            attr=os.environ.get(TILES_ATTR_ENV) or "tiles",
            name="Tiles",
            overlay=False,
            control=False,
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


def _context(fmap: folium.Map, context: MapData | None) -> None:
    if context is not None and context.count:
        data = _data(fmap, context.geojson)
        _GeoJsonLayer(
            data,
            "Context",
            colour=CONTEXT_COLOUR,
            colours={},
            style=CONTEXT_STYLE,
            interactive=False,
            control=False,
        ).add_to(fmap)


def _conflicts_layer(
    fmap: folium.Map | folium.FeatureGroup, conflicts: MapData, name: str, style: Style
) -> None:
    data = _data(fmap, conflicts.geojson)
    _GeoJsonLayer(
        data,
        name,
        colour_by="kind",
        colours=KIND_COLOURS,
        style=style,
        tooltip=("kind", "org_a", "org_b"),
        popup=CONFLICT_FIELDS,
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
        Coloured by kind, drawn as a wide translucent band under the works.
    context
        From :func:`context_layer`: a light-grey, non-clickable basemap.
    disciplines, kinds
        What the legend lists (default: every discipline; kinds of ``conflicts``).
    tiles
        Optional raster tile URL (see :func:`tile_url`).
    moratoria
        Protected new surfaces (:func:`ims_geo.cycle.moratoria`), a layer of
        their own under everything else.
    """
    fmap = _base_map(union_bounds(works, conflicts, context), tiles)
    _context(fmap, context)
    if moratoria is not None and moratoria.count:
        moratoria_layer(fmap, moratoria)
    if conflicts is not None:
        _conflicts_layer(fmap, conflicts, "Conflicts", HALO_STYLE)
    data = _data(fmap, works.geojson)
    layers: list[tuple[str, tuple[str, str] | None]] = [(g, (group_by, g)) for g in groups]
    layers = layers or [("Works", None)]
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
    _Legend(legend_html(DISCIPLINES if disciplines is None else disciplines, kinds)).add_to(fmap)
    folium.LayerControl(collapsed=len(layers) > 8).add_to(fmap)
    return fmap


def conflicts_map(
    conflicts: MapData,
    *,
    context: MapData | None = None,
    kinds: Iterable[str] | None = None,
    tiles: str | None = None,
) -> folium.Map:
    """A map of conflicts coloured by kind over the works' context layer."""
    fmap = _base_map(union_bounds(conflicts, context), tiles)
    _context(fmap, context)
    _conflicts_layer(fmap, conflicts, "Conflicts", CONFLICT_STYLE)
    _Legend(legend_html(None, KIND_COLOURS if kinds is None else kinds)).add_to(fmap)
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
    _context(fmap, context)
    areas = _data(fmap, clusters.geojson)
    _GeoJsonLayer(
        areas,
        "Combined projects",
        colours={},
        colour=AREA_COLOUR,
        style=AREA_STYLE,
        tooltip=("cluster_id", "orgs"),
        popup=CLUSTER_FIELDS,
    ).add_to(fmap)
    data = _data(fmap, works.geojson)
    _GeoJsonLayer(data, "Works", tooltip=(ORG, WORK_ID), popup=WORK_FIELDS).add_to(fmap)
    _Legend(legend_html(DISCIPLINES)).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def moratoria_layer(
    fmap: folium.Map | folium.FeatureGroup, moratoria: MapData, *, name: str = "Moratoria"
) -> None:
    """Add the moratoria layer (from :func:`prepare` with :data:`MORATORIUM_FIELDS`)."""
    data = _data(fmap, moratoria.geojson)
    _GeoJsonLayer(
        data,
        name,
        colours={},
        colour=KIND_COLOURS["moratorium"],
        style=MORATORIUM_STYLE,
        tooltip=("source_org", "source_work_id", "valid_until"),
        popup=MORATORIUM_FIELDS,
    ).add_to(fmap)


def highlight(works: MapData, *, name: str = "Selected") -> folium.FeatureGroup:
    """A layer that outlines ``works`` in black, for ``st_folium(feature_group_to_add=...)``."""
    group = folium.FeatureGroup(name=html.escape(name), control=False)
    data = _data(group, works.geojson)
    _GeoJsonLayer(
        data,
        name,
        colours={},
        colour="#000000",
        style=HIGHLIGHT_STYLE,
        tooltip=(ORG, WORK_ID),
        popup=WORK_FIELDS,
        control=False,
    ).add_to(group)
    return group


def feature_count(script: str) -> int:
    """Number of GeoJSON features written into a map's script."""
    return script.count('"type": "Feature"')
