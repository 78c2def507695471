"""The overlap engine: where and when organisations' planned works collide.

:func:`find_conflicts` implements DESIGN.md §3. For every unordered pair of
works of different organisations at most ``D`` metres apart (``D`` is
:attr:`Rules.distance`, or the pair's :attr:`Rules.pair_distance`), measured
in a local metric CRS, with ``gap = max(start_a, start_b) - min(end_a,
end_b)`` in days (dates inclusive: ``gap <= 0`` means the two periods share
at least one day, adjacent days give ``gap = 1``):

1. ``clash`` when ``gap <= 0``;
2. else ``moratorium`` when one work seals the surface
   (:func:`ims_geo.schema.seals_surface`), the other excavates
   (:func:`ims_geo.schema.excavates`), the excavation starts after the
   sealing ends and ``excavation start - sealing end <= moratorium_years *
   365`` days, whichever of the two is listed first (a reconstruction that
   seals and excavates is the excavation when it follows another
   organisation's sealing);
3. else ``synergy`` when ``gap <= window_days``;
4. otherwise the pair is not reported.

Works whose status is in :attr:`Rules.exempt_status` (cancelled, done) or
that :attr:`Rules.exempt_column` marks (emergency works) take no part,
except that a sealing work whose status is in
:attr:`Rules.protecting_status` (done) still protects its surface: it is the
sealing side of a moratorium, and nothing else. With ``internal``, pairs of
one organisation that any of rules 1-3 would report are reported as kind
``internal``.

Measures of a pair
------------------
``distance_m``
    Shortest distance between the two geometries (GEOS), in metres.
``gap_days``
    The gap as computed above (<= 0 for clashes).
``overlap_m``
    Where both works are lines: the shared length, the smaller of "length of
    line a within D of line b" and "length of line b within D of line a",
    where "within D" is the exact round-capped neighbourhood (the
    mathematical buffer, not a polygonal approximation) and ``D`` the
    distance that applies to the pair. Parts of one line that run over each
    other count once. NaN when either work is not a line.
``depth_overlap``
    Where both works are ``subsurface`` with ``depth_min`` and
    ``depth_max``: metres the two depth ranges share (0 when they are
    apart). NaN otherwise.
``geometry``
    Where the works meet: the shared part (the part of the line that gives
    ``overlap_m``) when both are lines with ``overlap_m > 0``, else the
    midpoint of the shortest line between the two (a point where they
    touch when they intersect).

Score and severity
------------------
Every pair gets a score for ranking::

    score = K[kind] * ((1 + U) * W[discipline_a] * W[discipline_b]
                       + L * overlap_m / (overlap_m + 100))

``K`` is :attr:`Rules.kind_weights` (clash 4, moratorium 4, synergy 1,
internal 0.5), ``W`` is :attr:`Rules.discipline_weights` (1 by default),
``L`` is :attr:`Rules.overlap_weight` (1; ``overlap_m`` counts as 0 where it
is NaN, so the term grows from 0 to ``L`` as the shared length grows, half
of it at 100 m), and ``U`` in [0, 1] says how pressing the pair is in time:

* clash: shared days ``1 - gap`` over a year, ``min(1 - gap, 365) / 365``;
* moratorium: how soon the excavation follows the sealing,
  ``1 - (gap - 1) / (moratorium_years * 365)``;
* synergy: how close the two periods are, ``1 - (gap - 1) / window_days``;
* internal: as the kind the pair would have between organisations.

The score is rounded to 4 decimals. ``severity`` is ``high`` from
:attr:`Rules.severity_high` (4), ``medium`` from
:attr:`Rules.severity_medium` (1.5), else ``low``: with the default weights
every clash and moratorium is high, a synergy is medium when the two
periods are at most half a window apart or share a long stretch of street,
and internal pairs are low unless they are long and pressing.

Rows are sorted by score (descending), then by ``org_a``, ``work_id_a``,
``org_b``, ``work_id_b``; within a row, ``a`` is the work that comes first
by organisation, then ``work_id``.

How it scales
-------------
Works are grouped by organisation into at most two blocks and, within each, laid
out along a space-filling curve (so that works near in space are near in
memory and are met one after another). Each block's works query the
STRtrees of the works of the organisations after the block's first (and
of the block itself when internal pairs are asked for) with their
envelopes grown by the largest distance their discipline can meet at, so
each unordered pair is produced once. There is one tree per time band
(works that start in the same window-wide stretch of days, and one for
long works) when the works are planned over a span long against the
window; a work skips the bands that no work near enough in time to be
kept can be in. The cheap vectorised filters (order,
organisation, exemptions, the time rules, distance between envelopes) run
before the exact GEOS distance, and the shared length and meeting geometry
are computed only for the final pairs, with numpy on the lines' segments.
Queries run in chunks, on up to two threads (the lines' segments are cut,
half on each, while the first tree is built, and each block's 2D copies of
the geometries are freed while the next block's chunks run); each chunk
scores and sorts its own pairs, and the answer merges the chunks' sorted
runs and gathers its columns on the pool's threads. The answer does not depend on the chunking or
the threads. Python's cyclic garbage collector is paused for
the call: the geometries it creates hold no reference cycles, and full
collections walking them cost a fifth of the time. Memory grows with the
input and the answer, never with the square of the input. Distances are
measured in 2D (a Z coordinate is ignored).

Examples
--------
>>> import geopandas as gpd
>>> from shapely import LineString
>>> from ims_geo.schema import validate
>>> frame = gpd.GeoDataFrame(
...     {"work_id": ["r1", "g1"], "org": ["City", "GasCo"],
...      "discipline": ["road", "gas"],
...      "start_date": ["2026-03-01", "2027-05-01"],
...      "end_date": ["2026-04-30", "2027-06-30"]},
...     geometry=[LineString([(0, 0), (100, 0)]), LineString([(0, 5), (100, 5)])],
...     crs="EPSG:28992")
>>> found = find_conflicts(validate(frame).valid)
>>> found[["work_id_a", "work_id_b", "kind", "severity", "gap_days", "distance_m"]]
  work_id_a work_id_b        kind severity  gap_days  distance_m
0        r1        g1  moratorium     high       366         5.0
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.array import GeometryArray
from pyproj import CRS

from ims_geo import schema as s
from ims_geo.conflicts import wkb as _wkb
from ims_geo.conflicts.rules import KINDS, Rules
from ims_geo.crs import check_metric, ensure_metric
from ims_geo.errors import InputError, MissingCRSError

CONFLICT_COLUMNS: tuple[str, ...] = (
    "work_id_a", "org_a", "work_id_b", "org_b", "discipline_a", "discipline_b",
    "kind", "severity", "score", "distance_m", "gap_days", "overlap_m", "depth_overlap",
    "start_a", "end_a", "start_b", "end_b", "geometry",
)  # fmt: skip
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")

_CLASH, _MORATORIUM, _SYNERGY, _INTERNAL = (KINDS.index(k) for k in KINDS)
_REQUIRED = (s.WORK_ID, s.ORG, s.DISCIPLINE, s.LAYER, s.START, s.END, s.EXCAVATION, s.STATUS)
#: Index of a discipline outside :data:`ims_geo.schema.DISCIPLINES` in the lookup tables.
_UNKNOWN = len(s.DISCIPLINES)
#: Query works per chunk (bounds the candidate arrays in memory).
_CHUNK = 8_192
#: Segment pairs per batch when measuring shared lengths.
_SEGMENT_BATCH = 65_536
#: At most this many organisation blocks (one STRtree each). Block ``b``'s tree holds every
#: work after its first organisation, so the trees hold about ``N * (blocks + 1) / 2``
#: works together; more blocks spare only the pairs a block's own later organisations
#: find in the wrong order (dropped by the first filter). Two blocks: on one thread at
#: 1M works, 23.5-24.0 s against 25.0-27.0 s with eight (dense set) and 10.6-11.0 s
#: against 11.6-12.3 s (project set); building a tree holds the GIL.
_MAX_BLOCKS = 2
#: Narrowest time band of the search trees, in days, and most bands (see
#: :func:`_time_bands`; the band of long works is number ``_MAX_BANDS``).
_BAND_MIN_DAYS = 30
_MAX_BANDS = 64
#: Scale of the overlap term in the score: half of ``overlap_weight`` at 100 m.
_OVERLAP_SCALE = 100.0
_LINE_TYPES = (1, 5)  # LineString, MultiLineString


def find_conflicts(
    works: gpd.GeoDataFrame,
    rules: Rules | None = None,
    *,
    internal: bool | None = None,
    workers: int | None = None,
) -> gpd.GeoDataFrame:
    """Pairs of works that clash, break a moratorium or could be combined.

    Parameters
    ----------
    works
        Planned works with canonical columns and dtypes (see
        :func:`ims_geo.schema.validate`), any CRS: a geographic or Web
        Mercator CRS is replaced by a local metric one
        (:func:`ims_geo.crs.ensure_metric`) before measuring.
    rules
        Distances, time windows, exemptions and weights (default
        :class:`~ims_geo.conflicts.rules.Rules`).
    internal
        Also report pairs within one organisation (kind ``internal``);
        None uses :attr:`Rules.internal`.
    workers
        Threads to run the chunks on (default: up to 2, one per CPU).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per pair with :data:`CONFLICT_COLUMNS`, in the metric CRS the
        distances were measured in, sorted by score (descending). See the
        module docstring for every measure, the score and the severity.

    Raises
    ------
    MissingCRSError
        The works have no CRS.
    InputError
        A required column is missing, or a work has no start or end date.
    """
    return find_conflict_rows(works, rules, internal=internal, workers=workers).frame


@dataclass
class ConflictRows:
    """:func:`find_conflict_rows`'s answer.

    Attributes
    ----------
    frame
        :func:`find_conflicts`'s answer; with ``wkb``, a plain frame whose
        ``geometry`` column holds each geometry as 2D ISO WKB (``bytes``).
    rows_a, rows_b
        Positions (int64, ``0 .. len(works) - 1``) in the works of work a and
        of work b of each row.
    bounds
        With ``wkb``: the envelope (n, 4) of each row's geometry; else None.
    crs
        The CRS of the geometries (the metric CRS the distances were measured in).
    """

    frame: pd.DataFrame
    rows_a: np.ndarray
    rows_b: np.ndarray
    bounds: np.ndarray | None = None
    crs: CRS | None = None


def find_conflict_rows(
    works: gpd.GeoDataFrame,
    rules: Rules | None = None,
    *,
    internal: bool | None = None,
    workers: int | None = None,
    wkb: bool = False,
) -> ConflictRows:
    """:func:`find_conflicts`'s answer and where each pair's two works are in ``works``.

    For a caller that goes on from the works themselves (e.g. their
    envelopes): the search knows each pair's rows, looking them up again by
    organisation and ``work_id`` would cost a fifth of the search.

    Parameters
    ----------
    works, rules, internal, workers
        As for :func:`find_conflicts`.
    wkb
        Write each meeting geometry as WKB, with its envelope, instead of
        making it (:mod:`ims_geo.conflicts.wkb`: the same bytes shapely
        writes), for a caller that only writes the answer.

    Returns
    -------
    ConflictRows

    Raises
    ------
    MissingCRSError, InputError
        As :func:`find_conflicts`.
    """
    rules = Rules() if rules is None else rules
    if internal is not None:
        rules = replace(rules, internal=bool(internal))
    _basic_checks(works)
    metric, crs = _metric(works)
    n_workers = max(1, int(workers if workers is not None else min(2, os.cpu_count() or 1)))
    pool = ThreadPoolExecutor(n_workers) if n_workers > 1 else None
    with _collector_paused():
        try:
            prepared = _prepare(metric, rules, pool)
            if prepared is not None:
                prepared.as_wkb = wkb
            parts = [] if prepared is None else _search(prepared, rules, pool)
            if prepared is None or not parts:
                nothing = np.zeros(0, np.int64)
                if not wkb:
                    return ConflictRows(empty_conflicts(crs), nothing, nothing, crs=crs)
                plain = pd.DataFrame(empty_conflicts(crs).drop(columns="geometry"))
                plain["geometry"] = pd.Series([], dtype=object)
                return ConflictRows(plain, nothing, nothing, np.zeros((0, 4)), crs)
            # the search's arrays are done with: free them before the answer is built
            prepared.segments = prepared.geoms = prepared.bounds = None  # type: ignore[assignment]
            return _frame(metric, prepared, parts, crs, pool)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the duration (and back on after).

    The search creates hundreds of thousands of geometries, none of them in a
    reference cycle; each full collection would walk every object alive (the
    works frame included), a fifth of the running time at 100k works.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _start(
    pool: ThreadPoolExecutor | None, func: Callable[..., Any], *args: Any
) -> list[Callable[[], Any]]:
    """``func(*a)`` for each ``a`` in ``zip(*args)``: started on the pool's threads when there
    is one (the caller goes on meanwhile), else computed now; call the getters for the results.
    """
    if pool is None:
        return [functools.partial(_identity, value) for value in map(func, *args)]
    return [pool.submit(func, *a).result for a in zip(*args, strict=True)]


def _identity(value: Any) -> Any:
    return value


def _halves(
    pool: ThreadPoolExecutor | None, func: Callable[[np.ndarray], np.ndarray], values: np.ndarray
) -> np.ndarray:
    """``func(values)`` for an element-wise ``func`` that releases the GIL (a shapely function):
    the first half on the pool while this thread does the second.
    """
    if pool is None or len(values) < 2:
        return func(values)
    half = len(values) // 2
    first = pool.submit(func, values[:half])
    second = func(values[half:])
    return np.concatenate([first.result(), second])


def empty_conflicts(crs: object = None) -> gpd.GeoDataFrame:
    """A conflicts frame without rows: every column of :data:`CONFLICT_COLUMNS`."""
    text = {c: pd.Series([], dtype="str") for c in CONFLICT_COLUMNS[:8]}
    data = {
        **text,
        "score": pd.Series([], dtype="float64"),
        "distance_m": pd.Series([], dtype="float64"),
        "gap_days": pd.Series([], dtype="int64"),
        "overlap_m": pd.Series([], dtype="float64"),
        "depth_overlap": pd.Series([], dtype="float64"),
        **{
            c: pd.Series([], dtype="datetime64[s]")
            for c in ("start_a", "end_a", "start_b", "end_b")
        },
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# --- input -------------------------------------------------------------------


def _basic_checks(works: gpd.GeoDataFrame) -> None:
    if not isinstance(works, gpd.GeoDataFrame):
        raise InputError("works must be a GeoDataFrame (see ims_geo.schema.validate)")
    missing = [c for c in _REQUIRED if c not in works.columns]
    if missing:
        raise InputError(
            f"works lack the column(s) {', '.join(missing)}; "
            "pass the frame through ims_geo.schema.validate first"
        )
    if works.crs is None:
        raise MissingCRSError(
            "works have no CRS, so distances cannot be measured; set the CRS the "
            "coordinates are in (e.g. works.set_crs('EPSG:28992'))"
        )


def _metric(works: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, CRS | None]:
    """The works in a local metric CRS (reprojected when needed) and that CRS."""
    try:
        return works, check_metric(works.crs)
    except InputError:
        pass
    present = ~(works.geometry.isna() | works.geometry.is_empty)
    if not present.any():  # nothing to measure: no metric CRS to choose
        return works, CRS.from_user_input(works.crs)
    metric = ensure_metric(works)
    return metric, CRS.from_user_input(metric.crs)


def _days(series: pd.Series, column: str) -> np.ndarray:
    """Whole days since 1970-01-01 (int64); raises on missing dates."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise InputError(
            f"column {column} must hold dates (datetime64); "
            "pass the frame through ims_geo.schema.validate first"
        )
    values = series.to_numpy()
    missing = np.isnat(values)
    if missing.any():
        raise InputError(
            f"{int(missing.sum())} work(s) have no {column}; give every work its dates"
        )
    return _whole_days(values)


#: Seconds in a day: whole days to ``datetime64[s]`` and back.
_DAY_S = 86_400


def _whole_days(values: np.ndarray) -> np.ndarray:
    """Whole days since 1970-01-01 (int64, rounded down) of a datetime64 array.

    Seconds (the canonical unit) are divided in one pass; numpy's unit casts
    (``astype("datetime64[D]")``) are several times slower on millions of values.
    """
    if np.datetime_data(values.dtype)[0] == "s":
        return values.view(np.int64) // _DAY_S
    return values.astype("datetime64[D]").astype(np.int64)


def _flagged(column: pd.Series, values: frozenset[str]) -> np.ndarray:
    """True where a column's value, as trimmed lower-case text, is one of ``values``."""
    if pd.api.types.is_bool_dtype(column):
        text = column.map({True: "true", False: "false"})
    elif pd.api.types.is_numeric_dtype(column):
        num = column.astype("float64")
        whole = np.isfinite(num) & (np.mod(num, 1) == 0)
        text = column.astype("string").where(
            ~whole, num.where(whole, 0).astype("int64").astype("string")
        )
    else:
        text = column.astype("string")
    text = text.astype("string").str.strip().str.lower()
    return text.isin(values).fillna(False).to_numpy(dtype=bool)


# --- preparation ---------------------------------------------------------------


@dataclass
class _Prepared:
    """The works that take part, sorted by (org, work_id), as arrays."""

    rows: np.ndarray  # positions in the metric frame
    rank: np.ndarray  # position by (org, work_id): the work with the lower rank is "a"
    geoms: np.ndarray
    org: np.ndarray  # int codes into org_names, ascending
    org_end: np.ndarray  # position after the last work of each work's organisation
    org_names: pd.api.extensions.ExtensionArray
    disc: np.ndarray  # int codes into DISCIPLINES (+ _UNKNOWN)
    disc_label: np.ndarray  # int codes into disc_names
    disc_names: pd.api.extensions.ExtensionArray
    start: np.ndarray
    end: np.ndarray
    active: np.ndarray  # takes full part
    sealer: np.ndarray  # may be the sealing side of a moratorium
    digger: np.ndarray  # may be the excavation side of a moratorium
    subsurface: np.ndarray
    dmin: np.ndarray
    dmax: np.ndarray
    is_line: np.ndarray
    bounds: np.ndarray  # (n, 4)
    reach: np.ndarray  # largest distance each work can meet another at
    dist_table: np.ndarray  # (d+1, d+1) metres per discipline pair
    weight_table: np.ndarray  # (d+1,) score weight per discipline
    blocks: np.ndarray  # start positions of the organisation blocks (+ n)
    moratorium: bool  # some pair can be a moratorium (sealers, excavations, a limit of a day+)
    #: days after a work's end within which the other work of a pair it can be in starts, and
    #: days before its start within which that work ends (see :func:`_time_reach`)
    ahead: np.ndarray
    behind: np.ndarray
    band: np.ndarray  # time band of each work (see :func:`_time_bands`)
    #: the segments, or those of the two halves of the works being computed on the pool's
    #: two threads while the first tree is built (see :meth:`lines`)
    segments: _Segments | list[Future[_Segments]]
    joining: threading.Lock = field(default_factory=threading.Lock, repr=False)
    as_wkb: bool = False  # meeting geometries written as WKB (see find_conflict_rows)

    def lines(self) -> _Segments:
        """The line works' segments (waits for them when they are still being computed)."""
        with self.joining:  # the first chunk that needs them joins the halves
            if not isinstance(self.segments, _Segments):
                self.segments = _joined([half.result() for half in self.segments])
            return self.segments


@dataclass
class _Segments:
    """Straight segments of the line works: work ``w`` owns ``off[w]:off[w]+cnt[w]``."""

    off: np.ndarray
    cnt: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    length: np.ndarray
    box: np.ndarray  # (segments, 4) envelopes
    env: np.ndarray  # (works, 4) envelope of each work's segments (NaN without any)


def _exemptions(
    works: gpd.GeoDataFrame, rules: Rules
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Which works the rules keep out of the search (one place for the search and the count).

    Returns the masks ``present`` (has a geometry), ``exempt_by_status``,
    ``exempt_by_column`` and ``protector`` (exempt by status, yet a finished
    sealing that still protects its surface), and the normalised status.
    """
    geoms = np.asarray(works.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    status = works[s.STATUS].astype("string").str.strip().str.lower()
    exempt_by_column = np.zeros(len(works), dtype=bool)
    if rules.exempt_column is not None and rules.exempt_column in works.columns:
        exempt_by_column = _flagged(works[rules.exempt_column], rules.exempt_values)
    exempt_by_status = status.isin(rules.exempt_status).fillna(False).to_numpy(dtype=bool)
    protects = status.isin(rules.protecting_status).fillna(False).to_numpy(dtype=bool)
    protector = exempt_by_status & protects & s.seals_surface(works) & ~exempt_by_column
    return present, exempt_by_status, exempt_by_column, protector, status


#: Columns of :func:`left_out`.
LEFT_OUT_COLUMNS: tuple[str, ...] = ("reason", "works", "part")
#: ``part`` of works that take no part at all, and of finished resurfacings.
NO_PART = "none"
PROTECTS_ONLY = "protects its surface only"


def left_out(
    works: gpd.GeoDataFrame,
    rules: Rules | None = None,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """How many works take no part in the conflict search, and why.

    Each work is counted once, under the first of these reasons that applies:
    ``no geometry``; ``exempt by column <name>`` (:attr:`Rules.exempt_column`,
    e.g. emergency works); ``status <value>`` for each of
    :attr:`Rules.exempt_status`, where a finished resurfacing in
    :attr:`Rules.protecting_status` is counted apart (``part`` ``"protects
    its surface only"``: it is the sealing side of a moratorium and nothing
    else); and, when ``start`` or ``end`` is given, ``outside the period``
    for an otherwise taking part work whose planned dates do not meet
    ``[start, end]``.

    Parameters
    ----------
    works
        Works as for :func:`find_conflicts`.
    rules
        The rules of the search (default :class:`~ims_geo.conflicts.rules.Rules`).
    start, end
        A period the caller looks at (both days inclusive); None: open.

    Returns
    -------
    pandas.DataFrame
        :data:`LEFT_OUT_COLUMNS`: ``reason``, ``works`` (count, > 0) and
        ``part`` (``"none"`` or ``"protects its surface only"``), in the
        order of the reasons above, exempt statuses alphabetically.
    """
    rules = Rules() if rules is None else rules
    present, by_status, by_column, protector, status = _exemptions(works, rules)
    taken = np.zeros(len(works), dtype=bool)
    rows: list[tuple[str, int, str]] = []

    def count(mask: np.ndarray, reason: str, part: str = NO_PART) -> None:
        nonlocal taken
        mine = mask & ~taken
        taken |= mine
        if mine.any():
            rows.append((reason, int(mine.sum()), part))

    count(~present, "no geometry")
    if rules.exempt_column is not None:
        count(by_column, f"exempt by column {rules.exempt_column}")
    values = status.to_numpy(dtype=object, na_value=None)
    for value in sorted(rules.exempt_status):
        count(by_status & (values == value) & ~protector, f"status {value}")
    for value in sorted(rules.protecting_status & rules.exempt_status):
        count(
            protector & (values == value), f"status {value}, a finished resurfacing", PROTECTS_ONLY
        )
    if start is not None or end is not None:
        first = works[s.START].to_numpy(dtype="datetime64[D]")
        last = works[s.END].to_numpy(dtype="datetime64[D]")
        outside = np.zeros(len(works), dtype=bool)
        if end is not None:
            outside |= first > np.datetime64(pd.Timestamp(end).date(), "D")
        if start is not None:
            outside |= last < np.datetime64(pd.Timestamp(start).date(), "D")
        count(outside, "outside the period")
    frame = pd.DataFrame(rows, columns=list(LEFT_OUT_COLUMNS))
    return frame.astype({"reason": object, "works": "int64", "part": object})


def describe_left_out(table: pd.DataFrame, total: int) -> str:
    """One sentence from a :func:`left_out` table of ``total`` works.

    Examples
    --------
    >>> describe_left_out(left_out(works), len(works))  # doctest: +SKIP
    '3 of 120 works took no part: 2 status cancelled, 1 status done.'
    """
    if table.empty:
        return f"All {total:,} works took part."
    none = table[table["part"] == NO_PART]
    partly = table[table["part"] != NO_PART]
    line = f"{int(none['works'].sum()):,} of {total:,} works took no part"
    if len(none):
        line += ": " + ", ".join(f"{r.works:,} {r.reason}" for r in none.itertuples(index=False))
    if len(partly):
        line += "; only as a protected surface: " + ", ".join(
            f"{r.works:,} {r.reason}" for r in partly.itertuples(index=False)
        )
    return line + "."


def _prepare(
    works: gpd.GeoDataFrame, rules: Rules, pool: ThreadPoolExecutor | None = None
) -> _Prepared | None:
    geoms_all = np.asarray(works.geometry.array, dtype=object)
    # envelopes and types of every work (GEOS, outside the GIL) on the pool while this
    # thread finds the works that take part (2D copies keep the types: see below)
    (shapes,) = _start(pool, _bounds_and_types, [geoms_all])
    seals_all = s.seals_surface(works)
    present, exempt_by_status, exempt_by_column, protector_all, _ = _exemptions(works, rules)
    active_all = ~exempt_by_status & ~exempt_by_column
    take = np.flatnonzero(present & (active_all | protector_all))
    if len(take) < 2:
        return None

    # organisations and disciplines are factorised whole and their codes taken (gathering
    # a million strings first costs more than the factorising); codes of organisations
    # without a work taking part go unused, the order of the others is the same
    org_all, org_names = pd.factorize(works[s.ORG], sort=True)
    org_codes = org_all[take]
    # the a/b order is found on the pool while this thread finds the search order
    (ranked,) = _start(pool, _rank, [org_codes], [works[s.WORK_ID].iloc[take]])
    bounds_all, types_all = shapes()
    bounds = _take(bounds_all, take)
    start = _days(works[s.START].iloc[take], s.START)
    end = _days(works[s.END].iloc[take], s.END)
    if (end < start).any():
        bad = works[s.WORK_ID].to_numpy()[take[end < start]][:5]
        raise InputError(f"work(s) {', '.join(map(str, bad))} end before they start; fix end_date")
    active = active_all[take]
    sealer = seals_all[take] & (active | protector_all[take])
    digger = s.excavates(works)[take] & active
    # the excavation starts a day or more after the sealing ends
    moratorium = bool(rules.moratorium_days >= 1 and sealer.any() and digger.any())
    # works are searched organisation by organisation, in space-filling-curve order
    # within each: neighbours in space are neighbours in memory and in time of search
    # (the Morton key has 32 bits: organisation and key fit in one 64-bit key)
    order = np.argsort(
        ((org_codes + 1).astype(np.uint64) << np.uint64(32)) | _morton(bounds), kind="stable"
    )
    rows = take[order]
    bounds = _take(bounds, order)
    org = org_codes[order].astype(np.int32)
    start, end, active, sealer, digger = (v[order] for v in (start, end, active, sealer, digger))
    disc_all, labels = pd.factorize(works[s.DISCIPLINE])
    names = disc_all[rows]

    lookup = {d: i for i, d in enumerate(s.DISCIPLINES)}
    disc = np.array([lookup.get(d, _UNKNOWN) for d in labels], dtype=np.int64)[names]
    dist_table = np.full((_UNKNOWN + 1, _UNKNOWN + 1), float(rules.distance))
    for (a, b), metres in rules.pair_distance.items():
        dist_table[lookup[a], lookup[b]] = dist_table[lookup[b], lookup[a]] = metres
    weight_table = np.array([rules.discipline_weight(d) for d in s.DISCIPLINES] + [1.0])

    # fresh 2D copies, allocated in search order: GEOS then reads memory near what it
    # just read (the search's distances take a third longer on the scattered originals)
    geoms = _halves(pool, shapely.force_2d, geoms_all[rows])
    depth = {
        c: (
            works[c].to_numpy(dtype="float64", na_value=np.nan)[rows]
            if c in works
            else np.full(len(rows), np.nan)
        )
        for c in (s.DEPTH_MIN, s.DEPTH_MAX)
    }
    subsurface = (works[s.LAYER].astype("string") == "subsurface").fillna(False)
    is_line = np.isin(types_all[rows], _LINE_TYPES)
    ahead, behind = _time_reach(rules, sealer, digger, moratorium)
    return _Prepared(
        rows=rows,
        rank=ranked()[order],  # waited for last: it overlaps everything above
        geoms=geoms,
        org=org,
        org_end=np.searchsorted(org, org, side="right"),
        org_names=pd.array(list(org_names), dtype="str"),
        disc=disc,
        disc_label=names,
        disc_names=pd.array(list(labels), dtype="str"),
        start=start,
        end=end,
        active=active,
        sealer=sealer,
        digger=digger,
        subsurface=subsurface.to_numpy(dtype=bool)[rows],
        dmin=depth[s.DEPTH_MIN],
        dmax=depth[s.DEPTH_MAX],
        is_line=is_line,
        bounds=bounds,
        reach=dist_table.max(axis=1)[disc],
        dist_table=dist_table,
        weight_table=weight_table,
        blocks=_blocks(org, len(rows)),
        moratorium=moratorium,
        band=_time_bands(rules, start, end, float(max(ahead.max(), behind.max()))),
        ahead=ahead,
        behind=behind,
        segments=(
            _segments(geoms, is_line)
            if pool is None
            else [
                pool.submit(_segments, geoms[part], is_line[part])
                for part in (slice(0, len(geoms) // 2), slice(len(geoms) // 2, None))
            ]
        ),
    )


def _bounds_and_types(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Envelopes (n, 4) and GEOS type ids of the geometries."""
    return shapely.bounds(geoms), shapely.get_type_id(geoms)


def _rank(org_codes: np.ndarray, ids: pd.Series) -> np.ndarray:
    """Position of each work by (organisation, work_id): the work with the lower rank is "a"."""
    id_codes, _ = pd.factorize(ids, sort=True)
    rank = np.empty(len(ids), dtype=np.int64)
    # one stable sort of one integer key (a third of the time of a two-key lexsort)
    # (a missing value's code -1 sorts first, as in a lexsort of the codes)
    by_id = org_codes.astype(np.int64) * (int(id_codes.max(initial=0)) + 2) + (id_codes + 1)
    rank[np.argsort(by_id, kind="stable")] = np.arange(len(ids))
    return rank


def _morton(bounds: np.ndarray) -> np.ndarray:
    """Z-order (Morton) key of the envelope centres on a 65536 x 65536 grid over their extent."""
    centre = (bounds[:, :2] + bounds[:, 2:]) / 2
    low = centre.min(axis=0)
    span = np.maximum(centre.max(axis=0) - low, 1e-9)
    cells = np.minimum((centre - low) / span * 65536, 65535).astype(np.uint64)
    return _spread(cells[:, 0]) | (_spread(cells[:, 1]) << np.uint64(1))


def _spread(cells: np.ndarray) -> np.ndarray:
    """The 16 bits of each value moved to the even bits 0, 2, ..., 30 (bit k to bit 2k)."""
    key = cells.astype(np.uint64)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        key = (key | (key << np.uint64(shift))) & np.uint64(mask)
    return key


def _blocks(org: np.ndarray, n: int) -> np.ndarray:
    """Split the sorted works into at most _MAX_BLOCKS runs of whole organisations."""
    starts = np.flatnonzero(np.r_[True, org[1:] != org[:-1]])
    if len(starts) <= _MAX_BLOCKS:
        return np.r_[starts, n]
    # cut at the organisation starts nearest to equal shares of the works
    targets = np.linspace(0, n, _MAX_BLOCKS + 1)[1:-1]
    cuts = starts[np.clip(np.searchsorted(starts, targets), 0, len(starts) - 1)]
    return np.unique(np.r_[0, cuts, n])


def _time_reach(
    rules: Rules, sealer: np.ndarray, digger: np.ndarray, moratorium: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Days ``ahead`` of each work's end and ``behind`` its start that bound its pairs.

    Every pair the search keeps (:func:`_chunk`: both take part and ``gap <=
    window``, or a moratorium) has ``start_b <= end_a + ahead[a]`` and ``end_b
    >= start_a - behind[a]``, with ``ahead`` the window, or the moratorium
    where ``a`` may seal, and ``behind`` the window, or the moratorium where
    ``a`` may dig:

    * ``gap <= window``: ``max(start_a, start_b) - min(end_a, end_b) <=
      window`` gives ``start_b - end_a <= window`` and ``start_a - end_b <=
      window``;
    * ``a`` seals, ``b`` digs: ``end_a < start_b <= end_a + moratorium``, and
      ``end_b >= start_b > end_a >= start_a``;
    * ``b`` seals, ``a`` digs: ``start_a - moratorium <= end_b < start_a``,
      and ``start_b <= end_b < start_a <= end_a``.
    """
    window = np.full(len(sealer), float(rules.window_days))
    if not moratorium:
        return window, window
    limit = max(float(rules.window_days), rules.moratorium_days)
    return np.where(sealer, limit, window), np.where(digger, limit, window)


@dataclass
class _Band:
    """Works of one search tree: positions (ascending), their tree, and their time span."""

    rows: np.ndarray
    tree: shapely.STRtree
    first_start: int  # earliest start of its works
    last_end: int  # latest end of its works


def _time_bands(rules: Rules, start: np.ndarray, end: np.ndarray, reach: float) -> np.ndarray:
    """The time band of each work: its search tree within its block (see :func:`_bands`).

    A pair is only kept when its works are near in time (:func:`_time_reach`),
    so a query work skips every band whose span (earliest start to latest end
    of its works) is further from it than its reach: at a window of half a
    year on works planned over five years, the bounding-box query returns a
    third of the pairs one tree returns. Bands are ``window_days`` (at least
    :data:`_BAND_MIN_DAYS`) wide by start, at most :data:`_MAX_BANDS`; a work
    as long as a band or longer goes to one band of long works (its span would
    otherwise widen its band's). All works are in band 0 when their time span
    is short against ``reach``, the largest of the works' days ``ahead`` and
    ``behind`` (bands would skip little).
    """
    low = int(start.min())
    span = int(end.max()) - low + 1
    width = max(rules.window_days, _BAND_MIN_DAYS, -(-span // _MAX_BANDS))
    if 2 * (reach + width) >= 0.75 * span:
        return np.zeros(len(start), dtype=np.int64)
    return np.where(end - start >= width, _MAX_BANDS, (start - low) // width)


def _bands(prep: _Prepared, first: int) -> list[_Band]:
    """Trees of the works from ``first`` on, one per time band (:func:`_time_bands`)."""
    band = prep.band[first:]
    order = np.argsort(band, kind="stable")
    bands = []
    for rows in np.split(first + order, np.flatnonzero(np.diff(band[order])) + 1):
        tree = shapely.STRtree(prep.geoms[rows])
        tree.query(prep.geoms[rows[0]])  # built on the first query: here, not in the chunks
        bands.append(_Band(rows, tree, int(prep.start[rows].min()), int(prep.end[rows].max())))
    return bands


def _segments(geoms: np.ndarray, is_line: np.ndarray) -> _Segments:
    """The straight segments of every line work, self-overlaps dissolved."""
    n = len(geoms)
    lines = np.flatnonzero(is_line)
    shapes = geoms[lines]
    # a line that runs over itself is measured once along each stretch
    tangled = ~shapely.is_simple(shapes)
    if tangled.any():
        shapes = shapes.copy()
        shapes[tangled] = shapely.line_merge(shapely.union(shapes[tangled], shapes[tangled]))
    # only multi-part lines need splitting into parts (get_parts copies every geometry)
    multi = shapely.get_type_id(shapes) == 5
    owners = [lines[~multi]]
    coords, part = shapely.get_coordinates(shapes[~multi], return_index=True)
    if multi.any():
        parts, owner = shapely.get_parts(shapes[multi], return_index=True)
        more, more_part = shapely.get_coordinates(parts, return_index=True)
        owners.append(lines[multi][owner])
        coords = np.concatenate([coords, more])
        part = np.concatenate([part, more_part + int(multi.size - multi.sum())])
    owner_of_part = np.concatenate(owners)
    inner = np.flatnonzero(part[1:] == part[:-1])
    work = np.take(owner_of_part, np.take(part, inner))
    xs, ys = coords[:, 0], coords[:, 1]
    x0, y0 = np.take(xs, inner), np.take(ys, inner)
    x1, y1 = np.take(xs, inner + 1), np.take(ys, inner + 1)
    length = np.hypot(x1 - x0, y1 - y0)
    # zero-length segments add no length, and their disc is covered by their neighbours'
    keep = length > 0
    if multi.any() or not keep.all():
        order = np.flatnonzero(keep)
        if multi.any():  # each work's segments together, in their own order
            order = order[np.argsort(work[order], kind="stable")]
        work, x0, y0, x1, y1, length = (np.take(v, order) for v in (work, x0, y0, x1, y1, length))
    cnt = np.bincount(work, minlength=n)
    off = np.cumsum(cnt) - cnt
    box = np.empty((len(x0), 4))
    np.minimum(x0, x1, out=box[:, 0])
    np.minimum(y0, y1, out=box[:, 1])
    np.maximum(x0, x1, out=box[:, 2])
    np.maximum(y0, y1, out=box[:, 3])
    env = np.full((n, 4), np.nan)
    has = np.flatnonzero(cnt)
    if len(has):
        env[has, :2] = np.minimum.reduceat(box[:, :2], off[has], axis=0)
        env[has, 2:] = np.maximum.reduceat(box[:, 2:], off[has], axis=0)
    return _Segments(off, cnt, x0, y0, x1, y1, length, box, env)


def _joined(parts: list[_Segments]) -> _Segments:
    """The segments of consecutive runs of works as one: each run's after the previous'.

    Every work's segments depend on that work alone, so the join equals the segments
    of all the works cut at once.
    """
    shifts = np.cumsum([0] + [len(part.x0) for part in parts[:-1]])
    joined = {
        f.name: np.concatenate([getattr(part, f.name) for part in parts])
        for f in fields(_Segments)
        if f.name != "off"
    }
    joined["off"] = np.concatenate([part.off + at for part, at in zip(parts, shifts, strict=True)])
    return _Segments(**joined)


# --- candidate pairs --------------------------------------------------------------


@dataclass
class _Found:
    """Final pairs of one chunk, sorted as the answer is: its columns, text ones as codes.

    Fields are named after the answer's columns (:data:`CONFLICT_COLUMNS`);
    a text column holds positions in its names (:func:`_frame`), ``pair`` is
    the pair's ``rank_a * n + rank_b`` (the order after the score).
    """

    work_id_a: np.ndarray  # positions in the works frame
    org_a: np.ndarray
    work_id_b: np.ndarray
    org_b: np.ndarray
    discipline_a: np.ndarray
    discipline_b: np.ndarray
    kind: np.ndarray
    severity: np.ndarray
    score: np.ndarray
    distance_m: np.ndarray
    gap_days: np.ndarray
    overlap_m: np.ndarray
    depth_overlap: np.ndarray
    start_a: np.ndarray
    end_a: np.ndarray
    start_b: np.ndarray
    end_b: np.ndarray
    geometry: np.ndarray  # geometries, or their WKB
    pair: np.ndarray
    bounds: np.ndarray | None = None  # (n, 4) envelopes of the geometries written as WKB

    def __len__(self) -> int:
        return len(self.pair)


def _search(prep: _Prepared, rules: Rules, pool: ThreadPoolExecutor | None) -> list[_Found]:
    """Final pairs, chunk by chunk, in a fixed order (the answer never depends on threads).

    Block ``b`` queries the trees (:func:`_bands`) of every later block's works
    and, with internal pairs, its own; without them, of the works after the
    block's first organisation (a pair's second work belongs to a later
    organisation than its first), so each pair is met from its first work
    and the last organisation queries nothing. With a pool the chunks run on
    its threads while the next block's trees are built; at most two blocks
    are in flight, so at most two blocks' trees are alive.
    """
    found: list[_Found | None] = []
    in_flight: list[tuple[int, int, list[Future[_Found | None]]]] = []
    for b in range(len(prep.blocks) - 1):
        lo, hi = int(prep.blocks[b]), int(prep.blocks[b + 1])
        # the first work that can be the second of a pair found from this block
        first = lo if rules.internal else int(prep.org_end[lo])
        if lo >= len(prep.rows) - 1 or first >= len(prep.rows):
            continue
        bands = _bands(prep, first)
        chunks = [(c, min(c + _CHUNK, hi)) for c in range(lo, hi, _CHUNK)]
        if pool is None:
            found.extend(_chunk(prep, rules, bands, c0, c1) for c0, c1 in chunks)
            del bands
            _release(prep.geoms, lo, hi)
            continue
        in_flight.append(
            (lo, hi, [pool.submit(_chunk, prep, rules, bands, c0, c1) for c0, c1 in chunks])
        )
        del bands
        if len(in_flight) > 1:
            done_lo, done_hi, block = in_flight.pop(0)
            found.extend(f.result() for f in block)
            _release(prep.geoms, done_lo, done_hi)
    for done_lo, done_hi, block in in_flight:
        found.extend(f.result() for f in block)
        _release(prep.geoms, done_lo, done_hi)
    return [f for f in found if f is not None]


def _release(geoms: np.ndarray, lo: int, hi: int) -> None:
    """Drop the 2D copies of the works ``lo:hi`` once their block's chunks are done.

    Later blocks read only later works (their trees start at their first work), so
    the copies are freed while the next block's chunks run rather than all at the
    end, when nothing else could run meanwhile (freeing a geometry holds the GIL).
    Slices of a chunk's size let the chunks take the GIL in between.
    """
    for start in range(lo, hi, _CHUNK):
        geoms[start : min(start + _CHUNK, hi)] = None


def _chunk(prep: _Prepared, rules: Rules, bands: list[_Band], lo: int, hi: int) -> _Found | None:
    """Final pairs whose first work is one of the query works ``lo:hi``."""
    i, j = _candidates(prep, bands, lo, hi)

    # cheap filters first: each unordered pair once, organisations, time
    # works are sorted by organisation: those of other organisations after i start at org_end[i]
    keep = j > i if rules.internal else j >= prep.org_end[i]
    i, j = _kept(keep, i, j)
    si, ei, sj, ej = prep.start[i], prep.end[i], prep.start[j], prep.end[j]
    gap = np.maximum(si, sj) - np.minimum(ei, ej)
    both = prep.active[i] & prep.active[j]
    limit = rules.moratorium_days
    if prep.moratorium:
        mor = (prep.sealer[i] & prep.digger[j] & (sj > ei) & (sj - ei <= limit)) | (
            prep.sealer[j] & prep.digger[i] & (si > ej) & (si - ej <= limit)
        )
    else:
        mor = np.zeros(len(i), dtype=bool)
    keep = (both & (gap <= rules.window_days)) | mor
    # in the order of the second works (of the search order): the geometries are then read
    # from memory in one sweep (a band's works are spread over the search order)
    at = np.flatnonzero(keep)
    at = at[np.argsort(j[at])]
    i, j, gap, both, mor = (np.take(v, at) for v in (i, j, gap, both, mor))

    # envelopes further apart than the pair's distance cannot meet
    dpair = prep.dist_table[prep.disc[i], prep.disc[j]]
    bi, bj = _take(prep.bounds, i), _take(prep.bounds, j)
    dx = np.maximum(0.0, np.maximum(bi[:, 0], bj[:, 0]) - np.minimum(bi[:, 2], bj[:, 2]))
    dy = np.maximum(0.0, np.maximum(bi[:, 1], bj[:, 1]) - np.minimum(bi[:, 3], bj[:, 3]))
    keep = dx * dx + dy * dy <= dpair * dpair * (1 + 1e-9) + 1e-9
    i, j, gap, both, mor, dpair = _kept(keep, i, j, gap, both, mor, dpair)

    distance = shapely.distance(_take(prep.geoms, i), _take(prep.geoms, j))
    i, j, gap, both, mor, distance, dpair = _kept(
        distance <= dpair, i, j, gap, both, mor, distance, dpair
    )
    if not len(i):
        return None
    kind = np.where(both & (gap <= 0), _CLASH, np.where(mor, _MORATORIUM, _SYNERGY))
    # "a" is the pair's first work by organisation and work_id
    swap = prep.rank[i] > prep.rank[j]
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    overlap, geometry, box = _meet(prep, i, j, dpair)
    return _answer(prep, rules, i, j, kind, gap, distance, overlap, geometry, box)


def _candidates(
    prep: _Prepared, bands: list[_Band], lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of a query work ``i`` in ``lo:hi`` and a work ``j`` of a band whose
    envelopes, ``i``'s grown by its reach, meet; bands out of ``i``'s reach in time
    (:func:`_time_reach`) are not asked.
    """
    r = prep.reach[lo:hi] * (1 + 1e-9) + 1e-6  # a hair wider: rounding never loses a pair
    b = prep.bounds[lo:hi]
    boxes = shapely.box(b[:, 0] - r, b[:, 1] - r, b[:, 2] + r, b[:, 3] + r)
    until = prep.end[lo:hi] + prep.ahead[lo:hi]
    since = prep.start[lo:hi] - prep.behind[lo:hi]
    found_i, found_j = [], []
    for band in bands:
        asks = np.flatnonzero((band.first_start <= until) & (band.last_end >= since))
        if not len(asks):
            continue
        qi, tj = band.tree.query(boxes if len(asks) == hi - lo else boxes[asks])
        found_i.append(_take(asks, qi) + lo)
        found_j.append(_take(band.rows, tj))
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_i), np.concatenate(found_j)


# --- where the works meet --------------------------------------------------------------


def _meet(
    prep: _Prepared, i: np.ndarray, j: np.ndarray, dpair: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shared length (NaN unless both are lines) and meeting geometry of each pair.

    With ``prep.as_wkb`` the geometries are their WKB, and their envelopes (n, 4)
    come third (else None).
    """
    overlap = np.full(len(i), np.nan)
    geometry = np.empty(len(i), dtype=object)
    box = np.full((len(i), 4), np.nan) if prep.as_wkb else None
    lines = np.flatnonzero(prep.is_line[i] & prep.is_line[j])
    if len(lines):
        overlap[lines], geometry[lines], line_box = _shared(
            prep.lines(), i[lines], j[lines], dpair[lines], prep.as_wkb
        )
        if box is not None:
            box[lines] = line_box
    point = pd.isna(geometry)  # None: no shared part (a geometry or its WKB elsewhere)
    if point.any():
        shortest = shapely.shortest_line(prep.geoms[i[point]], prep.geoms[j[point]])
        ends = shapely.get_coordinates(shortest)
        middle = (ends[0::2] + ends[1::2]) / 2
        if box is None:
            geometry[point] = shapely.points(middle)
        else:
            geometry[point] = _wkb.points(middle)
            box[point] = np.hstack([middle, middle])
    return overlap, geometry, box


def _shared(
    seg: _Segments, a: np.ndarray, b: np.ndarray, dist: np.ndarray, as_wkb: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shared length and shared part of pairs of line works (see the module docstring).

    Every segment of each line is cut by the capsule (the points within the
    pair's distance) of every near segment of the other line; the cuts of
    one segment are merged into disjoint runs ``(pair, segment, t0, t1)``.
    A line's length within the other is the sum of its runs' lengths.
    """
    n = len(a)
    cuts_a: list[tuple[np.ndarray, ...]] = []
    cuts_b: list[tuple[np.ndarray, ...]] = []
    for p, k, m, d in _segment_pairs(seg, a, b, dist):
        ax, ay, cx, cy = seg.x0[k], seg.y0[k], seg.x0[m], seg.y0[m]
        ux, uy, vx, vy = seg.x1[k] - ax, seg.y1[k] - ay, seg.x1[m] - cx, seg.y1[m] - cy
        for cuts, own, (lo, hi) in (
            (cuts_a, k, _within(ax, ay, ux, uy, cx, cy, vx, vy, d)),
            (cuts_b, m, _within(cx, cy, vx, vy, ax, ay, ux, uy, d)),
        ):
            cuts.append(_kept(hi > lo, p, own, lo, hi))
    lengths = []
    runs = []
    for cuts in (cuts_a, cuts_b):
        rp, rs, rlo, rhi = _union(*_stack(cuts))
        lengths.append(np.bincount(rp, weights=(rhi - rlo) * seg.length[rs], minlength=n))
        runs.append((rp, rs, rlo, rhi))
    overlap = np.minimum(*lengths)
    use_a = lengths[0] <= lengths[1]
    pieces = []
    for (rp, rs, rlo, rhi), chosen in zip(runs, (use_a, ~use_a), strict=True):
        pieces.append(_kept(chosen[rp] & (overlap[rp] > 0), rp, rs, rlo, rhi))
    rp, rs, rlo, rhi = _stack(pieces)
    # each pair's pieces come from one line's runs, which are sorted by segment and start:
    # a stable sort by pair alone is the lexicographic order (pair, segment, start)
    order = np.argsort(rp, kind="stable")
    geometry, box = _pieces_to_lines(seg, n, rp[order], rs[order], rlo[order], rhi[order], as_wkb)
    return overlap, geometry, box


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` along the first axis.

    ``np.take`` gathers the rows of a 2D array many times faster than indexing does
    (numpy 2.4: 0.1 ms against 2.5 ms for 60,000 rows of four floats).
    """
    return np.take(values, index, axis=0)


def _kept(mask: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The elements (rows) of each array where ``mask`` is True, in order.

    The positions are found once and gathered: several times faster than indexing
    each array with the mask.
    """
    at = np.flatnonzero(mask)
    return tuple(np.take(values, at, axis=0) for values in arrays)


def _stack(parts: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Concatenate (pair, segment, t0, t1) arrays; four empty ones when there are none."""
    if not parts:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return tuple(np.concatenate(col) for col in zip(*parts, strict=True))


def _segment_pairs(
    seg: _Segments, a: np.ndarray, b: np.ndarray, dist: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of (pair, segment of a, segment of b, distance) whose envelopes are near.

    Only the segments of each line whose envelopes come within the pair's
    distance of the other line's envelope are paired: a segment further from
    the whole other line is further from each of its segments, so the pairs
    left out are exactly pairs the envelope test below would drop, and the
    pairs kept come in the same order. Each pair is split into tasks along
    a's kept segments, and tasks are grouped into batches of at most
    ``_SEGMENT_BATCH`` segment pairs, so that two long lines cannot exhaust
    memory; segments of a come in ascending order.
    """
    kept_a, own = _near_segments(seg, a, b, dist)
    kept_b, far = _near_segments(seg, b, a, dist)
    start_b = np.cumsum(far) - far
    step = np.maximum(1, _SEGMENT_BATCH // np.maximum(far, 1))
    tasks = np.where(far > 0, -(-own // step), 0)
    task_pair = np.repeat(np.arange(len(a)), tasks)
    task_rank = np.arange(len(task_pair)) - np.repeat(np.cumsum(tasks) - tasks, tasks)
    first_own = (np.cumsum(own) - own)[task_pair]
    task_first = first_own + task_rank * step[task_pair]
    task_size = (
        np.minimum(step[task_pair], first_own + own[task_pair] - task_first) * far[task_pair]
    )
    total = np.cumsum(task_size)
    t = 0
    while t < len(task_pair):
        done = total[t - 1] if t else 0
        stop = max(int(np.searchsorted(total, done + _SEGMENT_BATCH, side="right")), t + 1)
        size = task_size[t:stop]
        rep = np.repeat(np.arange(t, stop), size)
        r = np.arange(len(rep)) - np.repeat(np.cumsum(size) - size, size)
        p = task_pair[rep]
        nf = far[p]
        k = kept_a[task_first[rep] + r // nf]
        m = kept_b[start_b[p] + r % nf]
        d = dist[p]
        bk, bm = _take(seg.box, k), _take(seg.box, m)
        near = (bk[:, 0] <= bm[:, 2] + d) & (bm[:, 0] <= bk[:, 2] + d)
        near &= (bk[:, 1] <= bm[:, 3] + d) & (bm[:, 1] <= bk[:, 3] + d)
        p, k, m, d = _kept(near, p, k, m, d)
        yield p, k, m, d
        t = stop


def _near_segments(
    seg: _Segments, own: np.ndarray, other: np.ndarray, dist: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segments of each pair's ``own`` line within ``dist`` of the ``other`` line's envelope.

    Returns the segment numbers, pair by pair and ascending within each
    pair, and how many each pair keeps.
    """
    cnt = seg.cnt[own]
    pair = np.repeat(np.arange(len(own)), cnt)
    ids = np.repeat(seg.off[own] - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
    box, env, d = _take(seg.box, ids), _take(seg.env, _take(other, pair)), _take(dist, pair)
    near = (box[:, 0] <= env[:, 2] + d) & (env[:, 0] <= box[:, 2] + d)
    near &= (box[:, 1] <= env[:, 3] + d) & (env[:, 1] <= box[:, 3] + d)
    ids, pair = _kept(near, ids, pair)
    return ids, np.bincount(pair, minlength=len(own))


def _within(
    ax: np.ndarray,
    ay: np.ndarray,
    ux: np.ndarray,
    uy: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    dist: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Interval [lo, hi] of t where A + t u (0 <= t <= 1) is within ``dist`` of segment C, C + v.

    The points within ``dist`` of a segment form its capsule: two discs and
    a rectangle. The capsule is convex, so the part of the other segment in
    it is one interval: the span of the intervals the three pieces cut.
    Where nothing is cut, ``lo`` and ``hi`` are NaN. Segments have a positive length.
    """
    uu = ux * ux + uy * uy
    dd = dist * dist
    wx, wy = ax - cx, ay - cy  # A seen from C: the first disc's centre, the rectangle's corner
    vv = vx * vx + vy * vy
    reach = dist * np.sqrt(vv)
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN: misses; flat slabs: replaced
        near_c = _disc(ux, uy, uu, wx, wy, dd)
        near_d = _disc(ux, uy, uu, ax - (cx + vx), ay - (cy + vy), dd)
        # the rectangle: 0 <= along <= |v|^2 and |across| <= dist * |v|, both linear in t
        along = _slab(wx * vx + wy * vy, ux * vx + uy * vy, 0.0, vv)
        across = _slab(wx * vy - wy * vx, ux * vy - uy * vx, -reach, reach)
    t_lo, t_hi = np.maximum(along[0], across[0]), np.minimum(along[1], across[1])
    inside = along[2] & across[2] & (t_lo <= t_hi)
    # the span of the three pieces' intervals (fmin/fmax skip the NaN of a miss)
    lo = np.fmin(np.fmin(near_c[0], near_d[0]), np.where(inside, t_lo, np.nan))
    hi = np.fmax(np.fmax(near_c[1], near_d[1]), np.where(inside, t_hi, np.nan))
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)  # NaN (nothing cut) stays NaN


def _disc(
    ux: np.ndarray,
    uy: np.ndarray,
    uu: np.ndarray,
    wx: np.ndarray,
    wy: np.ndarray,
    dd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Roots t of ``|w + t u|^2 = dd``: where the line A + t u (``w`` = A less the disc's
    centre, ``uu`` = ``|u|^2``) enters and leaves the disc of radius² ``dd``; NaN: it misses.

    ``(-b -+ sqrt(b^2 - uu (|w|^2 - dd))) / uu`` with ``b = u . w``, computed in place in
    the order of the formula (the same values as the expression, bit for bit).
    """
    half_b = ux * wx
    half_b += uy * wy
    root = wx * wx
    root += wy * wy
    root -= dd
    root *= uu
    np.subtract(half_b * half_b, root, out=root)
    np.sqrt(root, out=root)
    np.negative(half_b, out=half_b)
    enter = half_b - root
    enter /= uu
    half_b += root
    half_b /= uu
    return enter, half_b


def _slab(
    alpha: np.ndarray, beta: np.ndarray, bottom: float | np.ndarray, top: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval [low, high] of t where ``bottom <= alpha + t beta <= top``, and whether it
    can hold: where ``beta`` is 0 the whole line is in or out (edges included), and the
    interval is (-inf, inf).
    """
    flat = beta == 0
    e0, e1 = (bottom - alpha) / beta, (top - alpha) / beta  # where flat: not used
    low = np.where(flat, -np.inf, np.minimum(e0, e1))
    high = np.where(flat, np.inf, np.maximum(e0, e1))
    return low, high, ~flat | ((alpha >= bottom) & (alpha <= top))


def _union(
    p: np.ndarray, seg: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the intervals of each (pair, segment) into disjoint runs, sorted by both."""
    if not len(p):
        return p, seg, lo, hi
    key = p * (int(seg.max()) + 1) + seg
    if (key[1:] < key[:-1]).any():
        order = np.argsort(key, kind="stable")
        p, seg, lo, hi, key = p[order], seg[order], lo[order], hi[order], key[order]
    first = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(first) - 1
    crowded = np.flatnonzero(np.bincount(group)[group] > 1)
    if not len(crowded):
        return p, seg, lo, hi
    # sorted by (group, lo), ties kept in place: one sort of one integer key, the group and
    # the rank by lo (as a two-key lexsort, in a fraction of its time)
    by_lo = np.empty(len(crowded), dtype=np.int64)
    by_lo[np.argsort(lo[crowded], kind="stable")] = np.arange(len(crowded))
    order = np.arange(len(p))
    order[crowded] = crowded[
        np.argsort(group[crowded] * np.int64(len(crowded)) + by_lo, kind="stable")
    ]
    lo, hi = lo[order], hi[order]
    # running maximum of hi within each group (hi is in [0, 1]; groups are offset by 2)
    reach = np.maximum.accumulate(group * 2.0 + hi) - group * 2.0
    new = first | (lo > np.r_[-np.inf, reach[:-1]])
    starts = np.flatnonzero(new)
    return p[starts], seg[starts], lo[starts], np.maximum.reduceat(hi, starts)


def _pieces_to_lines(
    seg: _Segments,
    n: int,
    p: np.ndarray,
    k: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    as_wkb: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(Multi)LineStrings of pieces sorted by pair, segment, start; None for pairs without any.

    With ``as_wkb`` their WKB, and their envelopes (n, 4) second (else None).
    """
    out = np.empty(n, dtype=object)
    if not len(p):
        return out, (np.full((n, 4), np.nan) if as_wkb else None)
    x0, y0, x1, y1 = seg.x0[k], seg.y0[k], seg.x1[k], seg.y1[k]
    # (1 - t) * A + t * B gives A and B exactly at t = 0 and 1, so pieces chain exactly
    sx, sy = (1 - lo) * x0 + lo * x1, (1 - lo) * y0 + lo * y1
    ex, ey = (1 - hi) * x0 + hi * x1, (1 - hi) * y0 + hi * y1
    joins = (
        (p[1:] == p[:-1])
        & (hi[:-1] == 1.0)
        & (lo[1:] == 0.0)
        & (ex[:-1] == sx[1:])
        & (ey[:-1] == sy[1:])
    )
    begins = np.r_[True, ~joins]
    first = np.flatnonzero(begins)
    chain = np.cumsum(begins) - 1
    emit = 1 + begins.astype(np.int64)
    pos = np.cumsum(emit) - emit
    coords = np.empty((int(emit.sum()), 2))
    at = pos[first]
    coords[at, 0], coords[at, 1] = sx[first], sy[first]
    end_pos = pos + begins
    coords[end_pos, 0], coords[end_pos, 1] = ex, ey
    chain_of = np.repeat(chain, emit)
    owner = p[first]
    if as_wkb:
        return _wkb.lines(coords, chain_of, owner, n), _wkb.bounds(coords, owner[chain_of], n)
    lines = shapely.linestrings(coords, indices=chain_of)
    count = np.bincount(owner, minlength=n)
    single = count[owner] == 1
    out[owner[single]] = lines[single]
    multi = ~single
    if multi.any():
        pairs, dense = np.unique(owner[multi], return_inverse=True)
        out[pairs] = shapely.multilinestrings(lines[multi], indices=dense)
    return out, None


# --- the answer -------------------------------------------------------------------


def _answer(
    prep: _Prepared,
    rules: Rules,
    i: np.ndarray,
    j: np.ndarray,
    base: np.ndarray,
    gap: np.ndarray,
    distance: np.ndarray,
    overlap: np.ndarray,
    geometry: np.ndarray,
    box: np.ndarray | None = None,
) -> _Found:
    """The answer's values of final pairs (``i`` the first work of each, ``base`` the kind
    between organisations), scored and sorted as the answer is (see :func:`_ranked`).

    Every value depends on its pair alone, so the chunks compute them on the pool's
    threads and the answer only merges their sorted runs and gathers.
    """
    kind = np.where(prep.org[i] == prep.org[j], _INTERNAL, base)
    window = max(rules.window_days, 1)
    limit = max(rules.moratorium_days, 1.0)
    urgency = np.select(
        [base == _CLASH, base == _MORATORIUM],
        [np.minimum(1 - gap, 365) / 365, 1 - (gap - 1) / limit],
        1 - (gap - 1) / window,
    )
    weights = np.array([rules.kind_weight(k) for k in KINDS])
    shared = np.nan_to_num(overlap, nan=0.0)
    score = weights[kind] * (
        (1 + np.clip(urgency, 0.0, 1.0))
        * prep.weight_table[prep.disc[i]]
        * prep.weight_table[prep.disc[j]]
        + rules.overlap_weight * shared / (shared + _OVERLAP_SCALE)
    )
    score = np.round(score, 4)
    pair = prep.rank[i] * np.int64(len(prep.rank)) + prep.rank[j]
    order = _ranked(score, pair, len(prep.rank))
    i, j, kind, gap, score, pair = (v[order] for v in (i, j, kind, gap, score, pair))
    # depths shared by the pairs of two subsurface works only (NaN when a depth is missing)
    depth = np.full(len(i), np.nan)
    both = np.flatnonzero(prep.subsurface[i] & prep.subsurface[j])
    top = np.maximum(prep.dmin[i[both]], prep.dmin[j[both]])
    depth[both] = np.maximum(np.minimum(prep.dmax[i[both]], prep.dmax[j[both]]) - top, 0.0)
    severity = np.where(
        score >= rules.severity_high, 0, np.where(score >= rules.severity_medium, 1, 2)
    )

    def day_s(days: np.ndarray) -> np.ndarray:
        return (days * _DAY_S).view("datetime64[s]")

    return _Found(
        work_id_a=prep.rows[i],
        org_a=prep.org[i],
        work_id_b=prep.rows[j],
        org_b=prep.org[j],
        discipline_a=prep.disc_label[i],
        discipline_b=prep.disc_label[j],
        kind=kind.astype(np.int8),
        severity=severity.astype(np.int8),
        score=score,
        distance_m=distance[order],
        gap_days=gap.astype(np.int64, copy=False),
        overlap_m=overlap[order],
        depth_overlap=depth,
        start_a=day_s(prep.start[i]),
        end_a=day_s(prep.end[i]),
        start_b=day_s(prep.start[j]),
        end_b=day_s(prep.end[j]),
        geometry=geometry[order],
        pair=pair,
        bounds=None if box is None else box[order],
    )


def _ranked(
    score: np.ndarray, pair: np.ndarray, n: int, pool: ThreadPoolExecutor | None = None
) -> np.ndarray:
    """Order of the pairs by score (descending, 4 decimals), then ``pair`` (ascending).

    ``pair`` is ``rank_a * n + rank_b`` of ``n`` works. One sort of one
    integer key when the two fit in 63 bits (they do up to millions of works
    with the default weights), else a sort of two keys.
    """
    pair_bits = max(int(n) * int(n), 1).bit_length()
    if len(score) and np.isfinite(score).all() and np.abs(score).max() < 1e9:
        # scores have 4 decimals: score * 10^4 are distinct integers, in the same order
        steps = np.rint(score * 1e4).astype(np.int64)
        steps = steps.max() - steps  # descending score first
        if int(steps.max()) < 1 << (63 - pair_bits):
            return _argsort((steps << np.int64(pair_bits)) | pair, pool)
    return np.lexsort((pair, -score))


def _argsort(key: np.ndarray, pool: ThreadPoolExecutor | None) -> np.ndarray:
    """A stable ``argsort``: with a pool, each half sorted on its own thread, then merged.

    numpy's stable sort of integers (timsort) finds the runs that are already sorted,
    such as the chunks' sorted pairs, and merges two sorted halves in one pass.
    """
    if pool is None or len(key) < 2:
        return np.argsort(key, kind="stable")
    half = len(key) // 2
    first = pool.submit(np.argsort, key[:half], kind="stable")
    second = np.argsort(key[half:], kind="stable") + half
    halves = np.concatenate([first.result(), second])
    return halves[np.argsort(key[halves], kind="stable")]


def _frame(
    works: gpd.GeoDataFrame,
    prep: _Prepared,
    parts: list[_Found],
    crs: CRS | None,
    pool: ThreadPoolExecutor | None = None,
) -> ConflictRows:
    """The answer: the chunks' sorted pairs merged into one frame; ``parts`` is emptied.

    The order comes from the score and ``pair`` columns; every other column is
    put in place chunk by chunk (no joined copy) on the pool's threads (numpy
    and Arrow release the GIL) while this thread places the geometries.
    Returned with the rows in ``works`` of each pair's work a and work b.
    """

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    score = joined("score")
    order = _ranked(score, joined("pair"), len(prep.rank), pool)
    # where each row of the joined chunks goes in the answer
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    ends = np.cumsum([len(p) for p in parts])
    names = {
        "work_id": works[s.WORK_ID].astype("str").array,
        "org": prep.org_names,
        "discipline": prep.disc_names,
        "kind": pd.array(list(KINDS), dtype="str"),
        "severity": pd.array(list(SEVERITIES), dtype="str"),
    }

    def placed(name: str) -> np.ndarray:
        given = getattr(parts[0], name)
        values = np.empty((len(order), *given.shape[1:]), dtype=given.dtype)
        for part, end in zip(parts, ends, strict=True):
            values[place[end - len(part) : end]] = getattr(part, name)
            setattr(part, name, None)  # each chunk's column freed once placed
        return values

    rows: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray | pd.Series:
        values = score[order] if name == "score" else placed(name)
        if name in (f"{s.WORK_ID}_a", f"{s.WORK_ID}_b"):
            rows[name] = values
        label = names.get(name.removesuffix("_a").removesuffix("_b"))
        return values if label is None else pd.Series(label.take(values), dtype="str")

    # the text columns (Arrow gathers) first: the longest
    computed = [c for c in CONFLICT_COLUMNS if c != "geometry"]
    getters = _start(pool, column, computed)
    if prep.as_wkb:  # the geometries' WKB and envelopes, no geometry made
        wkb, bounds = placed("geometry"), placed("bounds")
        data = {name: get() for name, get in zip(computed, getters, strict=True)}
        plain = pd.DataFrame({**data, "geometry": wkb}, copy=False)
        return ConflictRows(plain, rows[f"{s.WORK_ID}_a"], rows[f"{s.WORK_ID}_b"], bounds, crs)
    # every element is a shapely geometry the engine made: no need to check each one again
    geometry = gpd.GeoSeries(GeometryArray(placed("geometry"), crs=crs), copy=False)
    data = {name: get() for name, get in zip(computed, getters, strict=True)}
    frame = gpd.GeoDataFrame(data, geometry=geometry, crs=crs, copy=False)
    return ConflictRows(frame, rows[f"{s.WORK_ID}_a"], rows[f"{s.WORK_ID}_b"], crs=crs)


__all__ = [
    "CONFLICT_COLUMNS",
    "LEFT_OUT_COLUMNS",
    "SEVERITIES",
    "describe_left_out",
    "ConflictRows",
    "empty_conflicts",
    "find_conflict_rows",
    "find_conflicts",
    "left_out",
]
