"""Inline SVG drawings for the reports: maps and Gantt charts.

Everything is drawn from the data itself, in its metric CRS, so a report
needs no tile server, no script and no network: it prints as drawn and
opens from a USB stick. Geometries become one ``<path>`` per layer, built
with vectorised shapely and numpy (no loop over works); every text that
comes from a user is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd
import shapely

from ims_geo.i18n import fmt_number

#: Colours of a project's states (red, amber, awaiting its plans' update, green).
RAG_COLOURS: dict[str, str] = {
    "red": "#d7191c", "amber": "#f0a202", "awaiting_update": "#8073ac", "green": "#1a9641",
}  # fmt: skip
NO_STATE_COLOUR = "#4477aa"
#: Colour of a programme work that is not part of a combined project.
SOLO_COLOUR = "#7f9fbf"
CONTEXT_COLOUR = "#c8c8c8"
MORATORIUM_COLOUR = "#7b3294"

#: Height of the strip under a map that holds its scale bar.
_SCALE_BAR_PX = 20.0

_POINT_TYPES = (0, 4)  # Point, MultiPoint
_POLYGON_TYPES = (3, 6)  # Polygon, MultiPolygon


def rag_colour(state: object) -> str:
    """The colour of a red/amber/green state (blue for anything else)."""
    return RAG_COLOURS.get(str(state).strip().lower(), NO_STATE_COLOUR)


@dataclass(frozen=True)
class Layer:
    """Geometries drawn alike: one stroke colour and width, optional fill and dashes."""

    geoms: np.ndarray
    stroke: str
    width: float = 1.0
    fill: str | None = None
    dash: str | None = None
    css_class: str = ""
    #: Shown as a tooltip (``<title>``) of the layer's path.
    title: str = ""


@dataclass(frozen=True)
class Label:
    """A text placed at a point of the map (metric coordinates)."""

    x: float
    y: float
    text: str


@dataclass(frozen=True)
class _Frame:
    """Metric bounds mapped onto a picture of ``width`` x ``height`` pixels (y down)."""

    minx: float
    maxy: float
    scale: float
    width: float
    height: float

    @classmethod
    def of(cls, bounds: Sequence[float] | np.ndarray, width: float, max_height: float) -> _Frame:
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        dx, dy = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
        scale = min(width / dx, max_height / dy)
        return cls(minx, maxy, scale, dx * scale, dy * scale)

    def xy(self, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (coords[:, 0] - self.minx) * self.scale, (self.maxy - coords[:, 1]) * self.scale


def padded_bounds(geoms: np.ndarray, *, pad: float = 0.05, min_size: float = 100.0) -> np.ndarray:
    """Bounds of ``geoms`` grown by ``pad`` of their size and to at least ``min_size`` metres."""
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if not len(geoms):
        return np.array([0.0, 0.0, min_size, min_size])
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_x = max((maxx - minx) * (1 + 2 * pad), min_size) / 2
    half_y = max((maxy - miny) * (1 + 2 * pad), min_size) / 2
    return np.array([cx - half_x, cy - half_y, cx + half_x, cy + half_y])


def _numbers(values: np.ndarray) -> np.ndarray:
    # one decimal of a pixel is finer than any printer; "-0.0" would be noise
    return np.char.mod("%.1f", np.round(values, 1) + 0.0)


def _line_path(lines: np.ndarray, frame: _Frame, *, close: bool) -> str:
    """``d`` of a path with one sub-path per line (or ring) of ``lines``."""
    coords, index = shapely.get_coordinates(lines, return_index=True)
    if not len(coords):
        return ""
    x, y = frame.xy(coords)
    x, y = np.round(x, 1), np.round(y, 1)
    first = np.r_[True, index[1:] != index[:-1]]
    last = np.r_[index[1:] != index[:-1], True]
    # a point on the same pixel as the one before adds nothing but bytes
    same = ~first & ~last & (x == np.roll(x, 1)) & (y == np.roll(y, 1))
    keep = ~same
    tokens = np.where(first[keep], "M", "L")
    text = np.char.add(np.char.add(tokens, _numbers(x[keep])), " ")
    text = np.char.add(text, _numbers(y[keep]))
    if close:
        text = np.where(last[keep], np.char.add(text, "Z"), text)
    return "".join(text.tolist())


def _point_path(points: np.ndarray, frame: _Frame, radius: float) -> str:
    """``d`` of a path with a small circle per point."""
    coords = shapely.get_coordinates(points)
    if not len(coords):
        return ""
    x, y = frame.xy(coords)
    r = f"{radius:.1f}"
    d = f"{2 * radius:.1f}"
    start = np.char.add(np.char.add("M", _numbers(x - radius)), " ")
    start = np.char.add(start, _numbers(y))
    arc = f"a{r} {r} 0 1 0 {d} 0a{r} {r} 0 1 0 -{d} 0"
    return "".join(np.char.add(start, arc).tolist())


def _layer_svg(layer: Layer, frame: _Frame) -> str:
    geoms = np.asarray(layer.geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if not len(geoms):
        return ""
    # half a pixel of detail is all a reader can see
    geoms = shapely.simplify(geoms, 0.5 / frame.scale, preserve_topology=False)
    parts = shapely.get_parts(geoms)
    parts = parts[~shapely.is_empty(parts)]
    kind = shapely.get_type_id(parts)
    points = parts[np.isin(kind, _POINT_TYPES)]
    polygons = parts[np.isin(kind, _POLYGON_TYPES)]
    lines = parts[~np.isin(kind, _POINT_TYPES + _POLYGON_TYPES)]
    title = f"<title>{escape(layer.title)}</title>" if layer.title else ""
    cls = f' class="{escape(layer.css_class)}"' if layer.css_class else ""
    dash = f' stroke-dasharray="{escape(layer.dash)}"' if layer.dash else ""
    stroke = f'stroke="{escape(layer.stroke)}" stroke-width="{layer.width:g}"'
    out = []
    line_d = _line_path(lines, frame, close=False)
    if line_d:
        out.append(
            f'<path{cls} d="{line_d}" fill="none" {stroke}{dash} '
            f'stroke-linecap="round" stroke-linejoin="round">{title}</path>'
        )
    if len(polygons):
        rings = shapely.get_rings(polygons)
        fill = escape(layer.fill or layer.stroke)
        out.append(
            f'<path{cls} d="{_line_path(rings, frame, close=True)}" fill="{fill}" '
            f'fill-opacity="0.25" fill-rule="evenodd" {stroke}{dash}>{title}</path>'
        )
    if len(points):
        radius = max(2.0, layer.width * 1.2)
        out.append(
            f'<path{cls} d="{_point_path(points, frame, radius)}" '
            f'fill="{escape(layer.fill or layer.stroke)}" stroke="white" '
            f'stroke-width="0.5">{title}</path>'
        )
    return "".join(out)


def _nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^k not above ``metres``."""
    if metres <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(metres))
    return max(m * power for m in (1, 2, 5) if m * power <= metres)


def _scale_bar(frame: _Frame) -> str:
    length = _nice_length(frame.width / frame.scale / 4)
    px = length * frame.scale
    x0, y0 = 10.0, frame.height + _SCALE_BAR_PX - 6.0
    value, unit = (length / 1000, "km") if length >= 1000 else (length, "m")
    # the language's decimal sign: "0.5 m" / "0,5 m"
    label = f"{fmt_number(value, decimals=max(0, -math.floor(math.log10(value))))} {unit}"
    return (
        f'<g class="scale"><path d="M{x0:.1f} {y0 - 4:.1f}V{y0:.1f}H{x0 + px:.1f}V{y0 - 4:.1f}" '
        f'fill="none" stroke="#222" stroke-width="1.5"/>'
        f'<text x="{x0 + px + 4:.1f}" y="{y0:.1f}" font-size="11">{label}</text></g>'
    )


def map_svg(
    layers: Sequence[Layer],
    *,
    bounds: Sequence[float] | np.ndarray,
    labels: Sequence[Label] = (),
    width: float = 900,
    max_height: float = 650,
    css_class: str = "map",
    title: str = "",
) -> str:
    """An SVG map of ``layers`` (drawn in order, the last on top) within ``bounds``.

    Parameters
    ----------
    layers
        What to draw; geometries in a metric CRS.
    bounds
        minx, miny, maxx, maxy of the drawn area, in the layers' CRS.
    labels
        Texts placed at metric coordinates (escaped).
    width, max_height
        Largest size of the picture in pixels; the aspect of ``bounds`` is kept.
    css_class, title
        Class of the ``<svg>`` element and its accessible title.

    Returns
    -------
    str
        An ``<svg>`` element, with a scale bar in a strip under the map.
    """
    frame = _Frame.of(bounds, width, max_height)
    body = "".join(_layer_svg(layer, frame) for layer in layers)
    texts = []
    for label in labels:
        (x,), (y,) = frame.xy(np.array([[label.x, label.y]]))
        texts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" class="label" text-anchor="middle">'
            f"{escape(label.text)}</text>"
        )
    return (
        f'<svg class="{escape(css_class)}" role="img" '
        f'width="{frame.width:.0f}" height="{frame.height + _SCALE_BAR_PX:.0f}" '
        f'viewBox="0 0 {frame.width:.1f} {frame.height + _SCALE_BAR_PX:.1f}">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{frame.width:.1f}" height="{frame.height:.1f}" fill="#fbfbf8"/>'
        f"{body}{''.join(texts)}{_scale_bar(frame)}</svg>"
    )


# --- Gantt charts --------------------------------------------------------------------------


#: Columns of the bars a Gantt chart draws (dates as datetime64; actual dates may be NaT).
BAR_COLUMNS: tuple[str, ...] = (
    "label", "start", "end", "colour", "tooltip", "actual_start", "actual_end",
)  # fmt: skip
_MAX_LABEL = 38


def _day_numbers(values: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as floats (NaN where missing)."""
    stamps = pd.to_datetime(values, errors="coerce")
    days = stamps.to_numpy(dtype="datetime64[D]").astype("int64").astype(float)
    days[stamps.isna().to_numpy()] = np.nan
    return days


def _fmt(values: np.ndarray) -> pd.Series:
    return pd.Series(np.char.mod("%.1f", np.round(values, 1) + 0.0))


def gantt_svg(
    bars: pd.DataFrame,
    *,
    span: tuple[dt.date, dt.date],
    today: dt.date | None = None,
    width: float = 900,
    label_width: float = 230,
    row_height: float = 18,
    title: str = "",
) -> str:
    """A Gantt chart: one row per bar on a time axis from ``span[0]`` to ``span[1]``.

    Parameters
    ----------
    bars
        :data:`BAR_COLUMNS`: a row label, the adopted period (both days
        inclusive) drawn in ``colour`` with ``tooltip``, and the actual
        period drawn below it as a dark line (still running when it has no
        end: up to ``today``).
    span
        First and last day the axis must show; it runs over whole years.
    today
        Drawn as a dashed red line.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    first = dt.date(span[0].year, 1, 1)
    last = dt.date(span[1].year + 1, 1, 1)
    d0 = (first - dt.date(1970, 1, 1)).days
    days = max((last - first).days, 1)
    plot = width - label_width - 10
    top = 22.0
    height = top + row_height * len(bars) + 6

    def x(day_number: np.ndarray) -> np.ndarray:
        return label_width + (day_number - d0) / days * plot

    grid = []
    for year in range(first.year, last.year + 1):
        (gx,) = x(np.array([(dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days]))
        grid.append(
            f'<line x1="{gx:.1f}" y1="{top - 4:.1f}" x2="{gx:.1f}" y2="{height:.1f}" '
            f'stroke="#999" stroke-width="0.6"/>'
        )
        if year < last.year:
            (mid,) = x(np.array([(dt.date(year, 7, 1) - dt.date(1970, 1, 1)).days]))
            grid.append(
                f'<text x="{mid:.1f}" y="{top - 8:.1f}" text-anchor="middle" '
                f'font-size="11">{year}</text>'
            )
    rows = ""
    if len(bars):
        bars = bars.reset_index(drop=True)
        y = top + np.arange(len(bars)) * row_height
        x0 = x(_day_numbers(bars["start"]))
        x1 = x(_day_numbers(bars["end"]) + 1)
        labels = bars["label"].astype(str)
        labels = labels.where(labels.str.len() <= _MAX_LABEL, labels.str[: _MAX_LABEL - 1] + "…")
        text = (
            '<text x="4" y="' + _fmt(y + row_height * 0.7) + '" font-size="11">'
            + labels.map(escape) + "</text>"
            + '<rect class="bar" x="' + _fmt(x0) + '" y="' + _fmt(y + 2)
            + '" width="' + _fmt(np.maximum(x1 - x0, 1.5))
            + f'" height="{row_height * 0.55:.1f}" fill="'
            + bars["colour"].astype(str).map(escape) + '"><title>'
            + bars["tooltip"].astype(str).map(escape) + "</title></rect>"
        )  # fmt: skip
        a0 = _day_numbers(bars["actual_start"])
        a_end = _day_numbers(bars["actual_end"])
        running = np.isnan(a_end)
        if today is not None:
            a_end = np.where(running, (today - dt.date(1970, 1, 1)).days, a_end)
        a_end = np.where(np.isnan(a_end), a0, a_end)
        has_actual = ~np.isnan(a0)
        ax0, ax1 = x(a0), x(a_end + 1)
        actual = (
            '<rect class="actual" x="' + _fmt(ax0) + '" y="' + _fmt(y + row_height * 0.62)
            + '" width="' + _fmt(np.maximum(ax1 - ax0, 1.5))
            + f'" height="{row_height * 0.22:.1f}" fill="#222"/>'
        )  # fmt: skip
        text = text + actual.where(has_actual, "")
        rows = "".join(text.tolist())
    marker = ""
    if today is not None and first <= today < last:
        (tx,) = x(np.array([(today - dt.date(1970, 1, 1)).days]))
        marker = (
            f'<line x1="{tx:.1f}" y1="{top - 4:.1f}" x2="{tx:.1f}" y2="{height:.1f}" '
            f'stroke="#d7191c" stroke-dasharray="3 2"/>'
        )
    return (
        f'<svg class="gantt" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f"<title>{escape(title)}</title>{''.join(grid)}{rows}{marker}</svg>"
    )


def as_date(value: object) -> dt.date | None:
    """A date from a date, datetime, Timestamp or ISO text; None for missing values."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return None if pd.isna(stamp) else stamp.date()
