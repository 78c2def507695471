"""Tests for ims_geo.conflicts: the overlap engine against a brute-force oracle.

The oracle below spells DESIGN.md §3 out naively: every pair of works,
plain shapely ``a.distance(b)`` in metres, Python date arithmetic, and the
shared length from polygon buffers with many segments per quarter circle.
"""

from __future__ import annotations

import gc
import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from itertools import combinations
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from ims_geo import conflicts
from ims_geo.conflicts import CONFLICT_COLUMNS, empty_conflicts, find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.crs import check_metric, ensure_metric
from ims_geo.errors import InputError, MissingCRSError
from ims_geo.schema import REASON, validate

RD = "EPSG:28992"
DAY0 = date(2026, 1, 1)
#: Segments per quarter circle of the oracle's buffers, and the length error that allows.
QUAD_SEGS = 512


def day(offset: int) -> str:
    return (DAY0 + timedelta(days=offset)).isoformat()


def work(work_id: str, org: str, geometry: Any, start: str, end: str, **extra: Any) -> dict:
    return {
        "work_id": work_id,
        "org": org,
        "start_date": start,
        "end_date": end,
        "geometry": geometry,
        **extra,
    }


def works_of(rows: list[dict], crs: str = RD, *, strict: bool = True) -> gpd.GeoDataFrame:
    """Canonical works from hand-made rows (``strict``: every row must be valid)."""
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs)
    result = validate(frame)
    if strict:
        assert result.rejected.empty, result.rejected[REASON].tolist()
    return result.valid


def pairs(found: gpd.GeoDataFrame) -> dict[tuple[str, str], str]:
    return {(r.work_id_a, r.work_id_b): r.kind for r in found.itertuples()}


# --- the oracle --------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().lower()


def _is_line(geom: Any) -> bool:
    return geom.geom_type in ("LineString", "MultiLineString")


def oracle(works: gpd.GeoDataFrame, rules: Rules) -> dict[tuple, dict]:
    """Every reported pair, keyed by (org_a, work_id_a, org_b, work_id_b), worked out naively."""
    try:
        check_metric(works.crs)
        metric = works
    except InputError:
        metric = ensure_metric(works)
    records = metric.to_dict("records")
    years_days = rules.moratorium_years * 365

    def emergency(w: dict) -> bool:
        column = rules.exempt_column
        if column is None or column not in w or w[column] is None:
            return False
        if isinstance(w[column], float) and math.isnan(w[column]):
            return False
        return _text(w[column]) in rules.exempt_values

    def active(w: dict) -> bool:
        return w["status"] not in rules.exempt_status and not emergency(w)

    def seals(w: dict) -> bool:
        return w["discipline"] == "road" and w["layer"] == "surface"

    def can_seal(w: dict) -> bool:
        protects = w["status"] in rules.exempt_status and w["status"] in rules.protecting_status
        return seals(w) and (active(w) or (protects and not emergency(w)))

    def digs(w: dict) -> bool:
        return bool(w["excavation"]) and active(w)

    out = {}
    for first, second in combinations(records, 2):
        a, b = sorted((first, second), key=lambda w: (w["org"], w["work_id"]))
        same = a["org"] == b["org"]
        if same and not rules.internal:
            continue
        limit = rules.distance_for(a["discipline"], b["discipline"])
        distance = a["geometry"].distance(b["geometry"])
        if not distance <= limit:
            continue
        sa, ea = a["start_date"].date(), a["end_date"].date()
        sb, eb = b["start_date"].date(), b["end_date"].date()
        gap = (max(sa, sb) - min(ea, eb)).days
        both = active(a) and active(b)
        if both and gap <= 0:
            kind = "clash"
        elif any(
            can_seal(x) and digs(y) and y["start_date"] > x["end_date"]
            and (y["start_date"] - x["end_date"]).days <= years_days
            for x, y in ((a, b), (b, a))
        ):  # fmt: skip
            kind = "moratorium"
        elif both and gap <= rules.window_days:
            kind = "synergy"
        else:
            continue
        overlap = math.nan
        if _is_line(a["geometry"]) and _is_line(b["geometry"]):
            ga, gb = a["geometry"], b["geometry"]
            overlap = min(
                ga.intersection(gb.buffer(limit, quad_segs=QUAD_SEGS)).length,
                gb.intersection(ga.buffer(limit, quad_segs=QUAD_SEGS)).length,
            )
        depth = math.nan
        depths = [a["depth_min"], a["depth_max"], b["depth_min"], b["depth_max"]]
        if a["layer"] == b["layer"] == "subsurface" and not any(map(math.isnan, depths)):
            depth = max(
                min(a["depth_max"], b["depth_max"]) - max(a["depth_min"], b["depth_min"]), 0.0
            )
        if kind == "clash":
            urgency = min(1 - gap, 365) / 365
        elif kind == "moratorium":
            urgency = 1 - (gap - 1) / years_days
        else:
            urgency = 1 - (gap - 1) / rules.window_days
        reported = "internal" if same else kind
        shared = 0.0 if math.isnan(overlap) else overlap
        score = rules.kind_weight(reported) * (
            (1 + urgency)
            * rules.discipline_weight(a["discipline"])
            * rules.discipline_weight(b["discipline"])
            + rules.overlap_weight * shared / (shared + 100)
        )
        out[(a["org"], a["work_id"], b["org"], b["work_id"])] = {
            "kind": reported,
            "distance": distance,
            "gap": gap,
            "overlap": overlap,
            "depth": depth,
            "score": score,
            "a": a["geometry"],
            "b": b["geometry"],
            "limit": limit,
            "dates": (sa, ea, sb, eb),
        }
    return out


def check_against_oracle(works: gpd.GeoDataFrame, rules: Rules) -> gpd.GeoDataFrame:
    found = find_conflicts(works, rules)
    expected = oracle(works, rules)
    assert list(found.columns) == list(CONFLICT_COLUMNS)
    keys = list(zip(found.org_a, found.work_id_a, found.org_b, found.work_id_b, strict=True))
    assert len(keys) == len(set(keys)), "a pair is reported twice"
    assert set(keys) == set(expected)
    for key, row in zip(keys, found.itertuples(), strict=True):
        want = expected[key]
        assert (row.org_a, row.work_id_a) < (row.org_b, row.work_id_b)
        assert row.kind == want["kind"], key
        assert row.distance_m == want["distance"]
        assert row.gap_days == want["gap"]
        sa, ea, sb, eb = want["dates"]
        assert (row.start_a.date(), row.end_a.date(), row.start_b.date(), row.end_b.date()) == (
            sa,
            ea,
            sb,
            eb,
        )
        if math.isnan(want["depth"]):
            assert math.isnan(row.depth_overlap)
        else:
            assert row.depth_overlap == pytest.approx(want["depth"], abs=1e-12)
        limit = want["limit"]
        if math.isnan(want["overlap"]):
            assert math.isnan(row.overlap_m)
        else:
            # the oracle's buffers are inscribed in the true neighbourhood: it may only fall short
            slack = 4 * limit * math.pi / (2 * QUAD_SEGS)
            assert want["overlap"] - 1e-7 <= row.overlap_m <= want["overlap"] + slack, key
        assert row.score == pytest.approx(want["score"], abs=0.02)
        severity = (
            "high"
            if row.score >= rules.severity_high
            else "medium"
            if row.score >= rules.severity_medium
            else "low"
        )
        assert row.severity == severity
        check_meeting_geometry(row.geometry, row.overlap_m, want["a"], want["b"], limit)
    scores = found.score.to_numpy()
    assert (np.diff(scores) <= 0).all()
    ties = found.assign(key=keys)
    for _, group in ties.groupby("score", sort=False):
        assert list(group.key) == sorted(group.key)
    return found


def check_meeting_geometry(geom: Any, overlap: float, a: Any, b: Any, limit: float) -> None:
    if overlap > 0:
        assert geom.geom_type in ("LineString", "MultiLineString")
        assert geom.length == pytest.approx(overlap, rel=1e-9, abs=1e-9)
        on_a = a.buffer(1e-6).contains(geom)
        on_b = b.buffer(1e-6).contains(geom)
        assert on_a or on_b
        other = b if on_a else a
        assert other.buffer(limit + 0.01, quad_segs=64).contains(geom)
    else:
        assert geom.geom_type == "Point"
        ends = shapely.get_coordinates(shapely.shortest_line(a, b))
        assert tuple(geom.coords[0]) == pytest.approx(tuple((ends[0] + ends[1]) / 2), abs=1e-9)


# --- random works ------------------------------------------------------------------

coord = st.integers(0, 60)
xy = st.tuples(coord, coord)


def _line(points: list[tuple[int, int]]) -> LineString:
    return LineString(points)


points = st.builds(Point, xy)
lines = st.lists(xy, min_size=2, max_size=4).filter(lambda p: len(set(p)) >= 2).map(_line)
boxes = st.builds(
    lambda x, y, w, h: box(x, y, x + w, y + h), coord, coord, st.integers(1, 15), st.integers(1, 15)
)
triangles = st.lists(xy, min_size=3, max_size=3, unique=True).map(lambda p: Polygon(p))
geometries = st.one_of(
    points,
    lines,
    lines,
    lines,
    boxes,
    triangles,
    st.lists(points, min_size=2, max_size=3).map(MultiPoint),
    st.lists(lines, min_size=2, max_size=3).map(MultiLineString),
    st.lists(boxes, min_size=2, max_size=2).map(MultiPolygon),
)


@st.composite
def random_works(draw: st.DrawFn, geometry: st.SearchStrategy = geometries) -> list[dict]:
    n = draw(st.integers(2, 7))
    with_emergency = draw(st.booleans())
    rows = []
    for k in range(n):
        start = draw(st.integers(0, 1500))
        row = work(
            f"{draw(st.sampled_from('abc'))}{k}",
            draw(st.sampled_from(["City", "Gas", "Water"])),
            draw(geometry),
            day(start),
            day(start + draw(st.integers(0, 400))),
            discipline=draw(st.sampled_from(["road", "road", "sewer", "gas", "water", "other"])),
            status=draw(st.sampled_from(["planned", "planned", "committed", "done", "cancelled"])),
        )
        layer = draw(st.sampled_from([None, "surface", "subsurface"]))
        if layer is not None:
            row["layer"] = layer
        excavation = draw(st.sampled_from([None, True, False]))
        if excavation is not None:
            row["excavation"] = excavation
        if draw(st.booleans()):
            low = draw(st.integers(0, 30)) / 10
            row["depth_min"], row["depth_max"] = low, low + draw(st.integers(0, 20)) / 10
        if with_emergency:
            row["emergency"] = draw(st.sampled_from([True, False, False, None]))
        rows.append(row)
    return rows


rules_strategy = st.builds(
    Rules,
    distance=st.sampled_from([5.0, 10.0, 20.0]),
    window_days=st.sampled_from([0, 1, 30, 365, 500]),
    moratorium_years=st.sampled_from([0, 1, 2.5, 3]),
    pair_distance=st.sampled_from([{}, {("road", "sewer"): 30.0}, {("gas", "gas"): 2.0}]),
    internal=st.booleans(),
    discipline_weights=st.sampled_from([{}, {"sewer": 2.0, "road": 0.5}]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_works(), rules=rules_strategy)
def test_matches_oracle(rows: list[dict], rules: Rules) -> None:
    check_against_oracle(works_of(rows, strict=False), rules)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_works(), rules=rules_strategy)
def test_matches_oracle_geographic(rows: list[dict], rules: Rules) -> None:
    # the same shapes, a few metres per unit, placed in the Netherlands in lon/lat
    to_lonlat = Transformer.from_crs(RD, "EPSG:4326", always_xy=True)
    for row in rows:
        metres = shapely.affinity.affine_transform(row["geometry"], [1, 0, 0, 1, 155000, 463000])
        row["geometry"] = shapely.transform(
            metres, lambda xy: np.c_[to_lonlat.transform(xy[:, 0], xy[:, 1])]
        )
    works = works_of(rows, crs="EPSG:4326", strict=False)
    found = check_against_oracle(works, rules)
    assert CRS.from_user_input(found.crs) == CRS.from_user_input(RD)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_works(geometry=lines), rules=rules_strategy)
def test_matches_oracle_lines(rows: list[dict], rules: Rules) -> None:
    check_against_oracle(works_of(rows, strict=False), rules)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_works(), rules=rules_strategy, shuffle=st.randoms(use_true_random=False))
def test_conflict_rows_are_the_rows_of_each_pairs_works(
    rows: list[dict], rules: Rules, shuffle: Any
) -> None:
    works = validate(works_of(rows, strict=False)).valid
    order = list(range(len(works)))
    shuffle.shuffle(order)  # positions, not labels: a frame in any order, any index
    works = works.iloc[order].set_index(pd.Index([f"r{k}" for k in order]))
    rows = conflicts.find_conflict_rows(works, rules)
    found, at_a, at_b = rows.frame, rows.rows_a, rows.rows_b
    assert rows.bounds is None
    pd.testing.assert_frame_equal(found, find_conflicts(works, rules), check_exact=True)
    assert at_a.dtype == at_b.dtype == np.int64
    # each row's works looked up one by one by (org, work_id)
    where = {(w.org, w.work_id): k for k, w in enumerate(works.itertuples())}
    for side, at in (("a", at_a), ("b", at_b)):
        keys = zip(found[f"org_{side}"], found[f"work_id_{side}"], strict=True)
        expected = [where[key] for key in keys]
        assert at.tolist() == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_works(geometry=lines), rules=rules_strategy, workers=st.sampled_from([1, 2]))
def test_conflicts_written_as_wkb_are_the_answers_geometries_bit_for_bit(
    rows: list[dict], rules: Rules, workers: int
) -> None:
    works = validate(works_of(rows, strict=False)).valid
    want = find_conflicts(works, rules, workers=workers)
    got = conflicts.find_conflict_rows(works, rules, workers=workers, wkb=True)
    assert type(got.frame) is pd.DataFrame
    pd.testing.assert_frame_equal(
        got.frame.drop(columns="geometry"),
        pd.DataFrame(want.drop(columns="geometry")),
        check_exact=True,
    )
    geoms = np.asarray(want.geometry.array, dtype=object)
    assert got.frame["geometry"].tolist() == shapely.to_wkb(geoms, flavor="iso").tolist()
    assert got.bounds is not None
    np.testing.assert_array_equal(got.bounds, shapely.bounds(geoms))


def test_wkb_of_points_and_lines_is_shapelys() -> None:
    from ims_geo.conflicts import wkb

    rng = np.random.default_rng(3)
    xy = rng.normal(0, 1e5, (500, 2))
    xy[0] = [0.0, -0.0]  # bytes of zeros and a negative zero kept as they are
    assert wkb.points(xy).tolist() == shapely.to_wkb(shapely.points(xy), flavor="iso").tolist()
    n = 40
    owner = np.sort(rng.choice(n, 70))  # pairs with no line, one line, several lines
    chain = np.repeat(np.arange(len(owner)), rng.integers(2, 7, len(owner)))
    coords = rng.normal(0, 1e5, (len(chain), 2))
    lines = shapely.linestrings(coords, indices=chain)
    want = np.empty(n, dtype=object)
    for pair in np.unique(owner):  # one pair at a time: the brute-force answer
        mine = lines[owner == pair]
        shape = mine[0] if len(mine) == 1 else shapely.MultiLineString(list(mine))
        want[pair] = shapely.to_wkb(shape, flavor="iso")
    assert wkb.lines(coords, chain, owner, n).tolist() == want.tolist()
    decoded = np.array([None if w is None else shapely.from_wkb(w) for w in want], dtype=object)
    np.testing.assert_array_equal(wkb.bounds(coords, owner[chain], n), shapely.bounds(decoded))


def street_works(n: int, seed: int) -> gpd.GeoDataFrame:
    """Street-like works: lines and small pits on a 60 m grid, 4 organisations, 3 years."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, n) * 60.0
    y = rng.integers(0, 8, n) * 60.0
    horizontal = rng.random(n) < 0.5
    run = rng.integers(1, 3, n) * 60.0
    shift = rng.uniform(-4, 4, n)
    bend = rng.uniform(-3, 3, n)
    geoms = []
    for k in range(n):
        if rng.random() < 0.25:
            geoms.append(box(x[k], y[k], x[k] + 3, y[k] + 5))
        elif horizontal[k]:
            geoms.append(
                LineString(
                    [
                        (x[k], y[k] + shift[k]),
                        (x[k] + run[k] / 2, y[k] + bend[k]),
                        (x[k] + run[k], y[k]),
                    ]
                )
            )
        else:
            geoms.append(LineString([(x[k] + shift[k], y[k]), (x[k], y[k] + run[k])]))
    orgs = np.array(["City", "Gas", "Power", "Water"])[rng.integers(0, 4, n)]
    disc = {"City": "road", "Gas": "gas", "Power": "electricity", "Water": "water"}
    start = rng.integers(0, 3 * 365, n)
    rows = [
        work(
            f"{orgs[k][0]}{k:04d}",
            orgs[k],
            geoms[k],
            day(int(start[k])),
            day(int(start[k] + rng.integers(0, 120))),
            discipline=disc[orgs[k]],
            excavation=bool(orgs[k] != "City" or rng.random() < 0.3),
            status=str(rng.choice(["planned", "planned", "done", "cancelled"])),
        )
        for k in range(n)
    ]
    return works_of(rows)


def test_matches_oracle_street_network() -> None:
    works = street_works(220, seed=3)
    found = check_against_oracle(works, Rules(internal=True))
    assert set(found.kind) == {"clash", "moratorium", "synergy", "internal"}


@pytest.mark.parametrize("internal", [True, False])
@pytest.mark.parametrize("blocks", [1, 5])
def test_chunks_batches_blocks_and_threads_do_not_change_the_answer(
    monkeypatch, internal: bool, blocks: int
) -> None:
    # the same pairs and the same values, bit for bit: one block per organisation (four)
    # or all in one, against the default two
    works = street_works(300, seed=5)
    rules = Rules(internal=internal)
    expected = find_conflicts(works, rules, workers=1)
    monkeypatch.setattr(conflicts, "_CHUNK", 7)
    monkeypatch.setattr(conflicts, "_SEGMENT_BATCH", 3)
    monkeypatch.setattr(conflicts, "_MAX_BLOCKS", blocks)
    for workers in (1, 2):
        got = find_conflicts(works, rules, workers=workers)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got.geometry.geom_equals_exact(expected.geometry, 0).all()


@pytest.mark.parametrize(
    "rules",
    [
        Rules(window_days=30, moratorium_years=0),
        Rules(window_days=30, moratorium_years=1),
        Rules(window_days=60, moratorium_years=0.5, internal=True),
    ],
)
def test_time_bands_do_not_change_the_answer(monkeypatch, rules: Rules) -> None:
    # works over three years, some longer than a band: the search by time band finds the
    # same pairs, with the same values bit for bit, as one tree over every work
    works = street_works(400, seed=11)
    days = (works["end_date"] - works["start_date"]).dt.days.to_numpy()
    start = (works["start_date"] - works["start_date"].min()).dt.days.to_numpy()
    reach = max(rules.window_days, rules.moratorium_days)
    bands = conflicts._time_bands(rules, start, start + days, reach)
    # the data really is banded: several bands by start, and the band of long works
    assert len(set(bands.tolist())) > 5
    assert conflicts._MAX_BANDS in set(bands.tolist())
    assert (bands[days >= max(rules.window_days, 30)] == conflicts._MAX_BANDS).all()
    expected = check_against_oracle(works, rules)
    monkeypatch.setattr(
        conflicts, "_time_bands", lambda rules, start, end, reach: np.zeros(len(start), int)
    )
    for workers in (1, 2):
        got = find_conflicts(works, rules, workers=workers)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got.geometry.geom_equals_exact(expected.geometry, 0).all()


def test_time_reach_bounds_every_pair_the_rules_keep() -> None:
    # every pair of periods on a small grid, every role: a pair the rules keep (both take
    # part and the gap is within the window, or a moratorium) has the second work start
    # at most `ahead` days after the first ends and end at most `behind` days before the
    # first starts; where the role allows a moratorium, some pair meets the bound exactly
    rules = SimpleNamespace(window_days=3, moratorium_days=10.0)
    grid = np.array([(s, e) for s in range(0, 30) for e in range(s, min(s + 6, 30))])
    a, b = (k.ravel() for k in np.meshgrid(np.arange(len(grid)), np.arange(len(grid))))
    sa, ea, sb, eb = grid[a, 0], grid[a, 1], grid[b, 0], grid[b, 1]
    gap = np.maximum(sa, sb) - np.minimum(ea, eb)
    for seals_a, digs_a, seals_b, digs_b in itertools.product([False, True], repeat=4):
        ahead, behind = conflicts._time_reach(
            rules, np.array([seals_a]), np.array([digs_a]), moratorium=True
        )
        kept = (
            (gap <= 3)
            | (seals_a & digs_b & (sb > ea) & (sb - ea <= 10))
            | (seals_b & digs_a & (sa > eb) & (sa - eb <= 10))
        )
        assert (sb[kept] - ea[kept]).max() == (10 if seals_a and digs_b else 3) <= ahead[0]
        assert (sa[kept] - eb[kept]).max() == (10 if digs_a and seals_b else 3) <= behind[0]
        assert ahead[0] == (10 if seals_a else 3) and behind[0] == (10 if digs_a else 3)
    # without moratoria the window bounds both sides
    ahead, behind = conflicts._time_reach(rules, np.array([True]), np.array([True]), False)
    assert ahead.tolist() == behind.tolist() == [3.0]


@pytest.mark.parametrize("threads", [0, 2])
def test_steps_split_over_the_pool_keep_their_order(threads: int) -> None:
    # each element's 2D copy where it was, whether the halves run on one thread or two
    pool = ThreadPoolExecutor(threads) if threads else None
    try:
        for n in (0, 1, 2, 5):
            shapes = shapely.points(np.arange(n, dtype=float), np.zeros(n), np.arange(n) + 10.0)
            got = conflicts._halves(pool, shapely.force_2d, shapes)
            assert shapely.to_wkt(got).tolist() == [f"POINT ({k} 0)" for k in range(n)]
        getters = conflicts._start(pool, divmod, [7, 9, 20], [2, 4, 3])
        assert [get() for get in getters] == [(3, 1), (2, 1), (6, 2)]
    finally:
        if pool is not None:
            pool.shutdown()


def test_segments_cut_in_runs_and_joined_equal_those_cut_at_once() -> None:
    # lines, a multi-line, a line over itself, a zero-length segment, polygons and points
    shapes = np.array(
        [
            LineString([(0, 0), (5, 0), (5, 5)]),
            Polygon([(0, 0), (1, 0), (1, 1)]),
            MultiLineString([[(0, 0), (2, 0)], [(3, 0), (3, 0), (4, 1)]]),
            LineString([(0, 0), (4, 0), (1, 0), (6, 0)]),
            Point(1, 1),
            LineString([(9, 9), (9, 9), (10, 9)]),
            MultiLineString([[(0, 1), (0, 3)], [(0, 2), (0, 5)]]),
        ],
        dtype=object,
    )
    is_line = np.isin(shapely.get_type_id(shapes), (1, 5))
    whole = conflicts._segments(shapes, is_line)
    for cuts in ([3], [1, 4], [2, 3, 6]):
        bounds = [0, *cuts, len(shapes)]
        runs = [
            conflicts._segments(shapes[a:b], is_line[a:b])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        joined = conflicts._joined(runs)
        for name in ("off", "cnt", "x0", "y0", "x1", "y1", "length", "box", "env"):
            np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name))
    # the line over itself and the overlapping parts are dissolved: three segments each
    assert whole.cnt.tolist() == [2, 0, 2, 3, 0, 1, 3]


def test_search_order_key_interleaves_the_bits() -> None:
    # the Morton key against its definition, bit by bit: x's bit k at 2k, y's at 2k + 1
    rng = np.random.default_rng(4)
    cells = np.r_[[0, 1, 0xFFFF, 0x8000, 0x5555], rng.integers(0, 1 << 16, 200)].astype(np.uint64)
    spread = conflicts._spread(cells)
    for value, got in zip(cells.tolist(), spread.tolist(), strict=True):
        assert got == sum(((value >> k) & 1) << (2 * k) for k in range(16))
    centres = rng.random((300, 2)) * [500.0, 80.0] + [1000.0, 2000.0]
    bounds = np.c_[centres - 1.0, centres + 1.0]
    key = conflicts._morton(bounds)
    centres = (bounds[:, :2] + bounds[:, 2:]) / 2
    span = centres.max(axis=0) - centres.min(axis=0)
    cells_xy = np.minimum((centres - centres.min(axis=0)) / span * 65536, 65535).astype(int)
    for (x, y), got in zip(cells_xy.tolist(), key.tolist(), strict=True):
        assert got == sum(
            (((x >> k) & 1) << (2 * k)) | (((y >> k) & 1) << (2 * k + 1)) for k in range(16)
        )


@pytest.mark.parametrize("internal", [True, False])
def test_many_organisations(internal: bool) -> None:
    # more organisations than blocks: several organisations share a block and its tree
    # (without internal pairs the tree starts after the block's first organisation)
    rng = np.random.default_rng(2)
    rows = [
        work(
            f"w{k}",
            f"Org{k % 13:02d}",
            Point(*rng.integers(0, 80, 2)),
            day(int(rng.integers(0, 300))),
            day(400),
            discipline=str(rng.choice(["road", "gas", "water"])),
        )
        for k in range(90)
    ]
    found = check_against_oracle(works_of(rows), Rules(internal=internal))
    assert found.org_a.nunique() > 8
    assert (found.kind == "internal").any() == internal


def test_input_order_and_index_do_not_matter() -> None:
    works = street_works(120, seed=8)
    expected = find_conflicts(works)
    shuffled = works.sample(frac=1.0, random_state=1)
    shuffled.index = np.arange(len(works))[::-1] * 7
    got = find_conflicts(shuffled)
    pd.testing.assert_frame_equal(got, expected)


def test_z_coordinates_are_ignored() -> None:
    flat = street_works(120, seed=4)
    # the same works lifted to heights 0-90 m: distances and shared lengths stay 2D
    heights = np.arange(len(flat)) % 10 * 10.0
    lifted = flat.copy()
    lifted["geometry"] = shapely.force_3d(flat.geometry.array, heights)
    assert shapely.has_z(lifted.geometry.array).all()
    expected = find_conflicts(flat)
    got = find_conflicts(lifted)
    assert len(expected) >= 50
    pd.testing.assert_frame_equal(got, expected)
    assert not shapely.has_z(got.geometry.array).any()


# --- distance ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geom_b", "found"),
    [
        (Point(20, 0), True),
        (Point(20.001, 0), False),
        (LineString([(20, -5), (20, 5)]), True),
        (LineString([(20.001, -5), (20.001, 5)]), False),
        (box(20, -1, 25, 1), True),
        (box(20.001, -1, 25, 1), False),
        (Point(12, 16), True),  # 20 m on the diagonal
    ],
)
def test_distance_boundary(geom_b: Any, found: bool) -> None:
    works = works_of(
        [
            work("a", "A", Point(0, 0), day(0), day(5), discipline="water"),
            work("b", "B", geom_b, day(0), day(5), discipline="gas"),
        ]
    )
    result = find_conflicts(works)
    assert len(result) == int(found)
    if found:
        assert result.distance_m.iloc[0] == 20.0


def test_lines_boundary_parallel() -> None:
    rows = [
        work("a", "A", LineString([(0, 0), (100, 0)]), day(0), day(5)),
        work("b", "B", LineString([(0, 20), (100, 20)]), day(0), day(5)),
        work("c", "C", LineString([(0, -20.001), (100, -20.001)]), day(0), day(5)),
    ]
    result = find_conflicts(works_of(rows))
    assert pairs(result) == {("a", "b"): "clash"}
    row = result.iloc[0]
    assert row.distance_m == 20.0
    # every point of each line is exactly 20 m from the other: the whole length is shared
    assert row.overlap_m == 100.0


def test_pair_distance() -> None:
    rows = [
        work("r", "City", LineString([(0, 0), (100, 0)]), day(0), day(5), discipline="road"),
        work("s", "Sewer", Point(50, 25), day(0), day(5), discipline="sewer"),
        work("w", "Water", Point(50, -25), day(0), day(5), discipline="water"),
    ]
    works = works_of(rows)
    assert pairs(find_conflicts(works)) == {}
    rules = Rules(pair_distance={("sewer", "road"): 30})
    assert pairs(find_conflicts(works, rules)) == {("r", "s"): "clash"}
    # a larger default with a smaller pair distance: the pair distance wins
    rules = Rules(distance=60, pair_distance={("road", "sewer"): 24.9})
    assert pairs(find_conflicts(works, rules)) == {
        ("r", "w"): "clash",
        ("s", "w"): "clash",
    }


def test_web_mercator_is_measured_in_metres() -> None:
    # at 52 N a Web Mercator "metre" is 1.62 true metres: 20 m and 25 m apart on the ground
    geod = Geod(ellps="WGS84")
    lon, lat = 5.0, 52.0
    lon20, lat20, _ = geod.fwd(lon, lat, 90, 20.0)
    lon25, lat25, _ = geod.fwd(lon, lat, 270, 25.0)
    to_mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    centre, east, west = (
        Point(to_mercator.transform(*p)) for p in ((lon, lat), (lon20, lat20), (lon25, lat25))
    )
    rows = [
        work("c", "A", centre, day(0), day(5)),
        work("e", "B", east, day(0), day(5)),
        work("w", "C", west, day(0), day(5)),
    ]
    works = works_of(rows, crs="EPSG:3857")
    assert centre.distance(west) > 40  # what a naive engine would measure
    result = find_conflicts(works)
    assert pairs(result) == {("c", "e"): "clash"}
    assert result.distance_m.iloc[0] == pytest.approx(20.0, abs=0.01)
    assert CRS.from_user_input(result.crs) == CRS.from_user_input(RD)


# --- time ---------------------------------------------------------------------------


def two_works(
    a: tuple[str, str], b: tuple[str, str], rules: Rules | None = None, **kw_b: Any
) -> gpd.GeoDataFrame:
    rows = [
        work("a", "A", Point(0, 0), *a, discipline="water"),
        work("b", "B", Point(5, 0), *b, **({"discipline": "gas"} | kw_b)),
    ]
    return find_conflicts(works_of(rows), rules)


@pytest.mark.parametrize(
    ("b", "kind", "gap"),
    [
        (("2026-01-10", "2026-01-20"), "clash", 0),  # share one day
        (("2026-01-11", "2026-01-20"), "synergy", 1),  # adjacent days
        (("2026-01-05", "2026-01-08"), "clash", -3),  # inside: 4 shared days
        (("2025-12-01", "2026-01-01"), "clash", 0),
        (("2025-12-01", "2025-12-31"), "synergy", 1),
        (("2025-01-01", "2027-01-01"), "clash", -9),
    ],
)
def test_gap_days(b: tuple[str, str], kind: str, gap: int) -> None:
    result = two_works(("2026-01-01", "2026-01-10"), b)
    assert len(result) == 1
    assert result.kind.iloc[0] == kind
    assert result.gap_days.iloc[0] == gap


@pytest.mark.parametrize(("gap", "kind"), [(29, "synergy"), (30, "synergy"), (31, None)])
def test_window_boundary(gap: int, kind: str | None) -> None:
    result = two_works((day(0), day(9)), (day(9 + gap), day(20 + gap)), Rules(window_days=30))
    assert list(result.kind) == ([kind] if kind else [])
    if kind:
        assert result.gap_days.iloc[0] == gap


def sealing_then_digging(
    gap: int,
    *,
    seal_org: str = "City",
    dig_org: str = "Sewer",
    seal_first: bool = True,
    **rules: Any,
) -> gpd.GeoDataFrame:
    seal = work("s", seal_org, LineString([(0, 0), (100, 0)]), day(0), day(30), discipline="road")
    dig = work(
        "d",
        dig_org,
        LineString([(0, 3), (100, 3)]),
        day(30 + gap),
        day(60 + gap),
        discipline="sewer",
    )
    rows = [seal, dig] if seal_first else [dig, seal]
    return find_conflicts(works_of(rows), Rules(**rules))


@pytest.mark.parametrize("seal_first", [True, False])
@pytest.mark.parametrize(("seal_org", "dig_org"), [("City", "Sewer"), ("Sewer", "City")])
@pytest.mark.parametrize(
    ("gap", "window", "kind"),
    [
        (1, 365, "moratorium"),
        (1095, 365, "moratorium"),
        (1096, 365, None),
        (1096, 2000, "synergy"),
        (0, 365, "clash"),
        (-10, 365, "clash"),
    ],
)
def test_moratorium_boundary_both_orders(
    gap: int, window: int, kind: str | None, seal_first: bool, seal_org: str, dig_org: str
) -> None:
    result = sealing_then_digging(
        gap, seal_org=seal_org, dig_org=dig_org, seal_first=seal_first, window_days=window
    )
    assert list(result.kind) == ([kind] if kind else [])
    if kind:
        assert result.gap_days.iloc[0] == gap


def test_moratorium_years_fraction() -> None:
    # 2.5 years = 912.5 days
    rules = {"moratorium_years": 2.5, "window_days": 2000}
    assert list(sealing_then_digging(912, **rules).kind) == ["moratorium"]
    assert list(sealing_then_digging(913, **rules).kind) == ["synergy"]
    assert list(sealing_then_digging(1, moratorium_years=0).kind) == ["synergy"]


def test_excavation_before_sealing_is_not_a_moratorium() -> None:
    # dig first, pave after: the natural order, an opportunity
    rows = [
        work("s", "City", Point(0, 0), day(100), day(130), discipline="road"),
        work("d", "Sewer", Point(1, 0), day(0), day(40), discipline="sewer"),
    ]
    assert pairs(find_conflicts(works_of(rows))) == {("s", "d"): "synergy"}
    # digging that starts before the sealing ends overlaps it: a clash
    rows[1] = work("d", "Sewer", Point(1, 0), day(120), day(200), discipline="sewer")
    assert pairs(find_conflicts(works_of(rows))) == {("s", "d"): "clash"}


def test_surface_work_that_does_not_excavate_is_no_moratorium() -> None:
    rows = [
        work("s", "City", Point(0, 0), day(0), day(30), discipline="road"),
        work("l", "Light", Point(1, 0), day(100), day(110), discipline="lighting"),
        work("t", "Tram", Point(2, 0), day(100), day(110), discipline="transit", excavation=True),
    ]
    assert pairs(find_conflicts(works_of(rows))) == {
        ("s", "l"): "synergy",
        ("s", "t"): "moratorium",
        ("l", "t"): "clash",
    }


def test_reconstruction_after_resurfacing() -> None:
    resurfacing = work("r", "City", Point(0, 0), day(0), day(30), discipline="road")
    rebuild = work("x", "Tram", Point(1, 0), day(200), day(300), discipline="road", excavation=True)
    assert pairs(find_conflicts(works_of([resurfacing, rebuild]))) == {("r", "x"): "moratorium"}
    # the other way round the resurfacing digs nothing: an opportunity
    resurfacing["start_date"], resurfacing["end_date"] = day(400), day(430)
    assert pairs(find_conflicts(works_of([resurfacing, rebuild]))) == {("r", "x"): "synergy"}
    # two reconstructions: the later one digs up the earlier one's surface
    resurfacing["excavation"] = True
    assert pairs(find_conflicts(works_of([resurfacing, rebuild]))) == {("r", "x"): "moratorium"}


# --- organisations and exemptions ------------------------------------------------------


def test_internal_pairs_only_when_asked() -> None:
    rows = [
        work("a1", "A", Point(0, 0), day(0), day(10)),
        work("a2", "A", Point(3, 0), day(5), day(15)),
        work("b1", "B", Point(6, 0), day(100), day(110)),
    ]
    works = works_of(rows)
    assert pairs(find_conflicts(works)) == {("a1", "b1"): "synergy", ("a2", "b1"): "synergy"}
    with_internal = {
        ("a1", "a2"): "internal",
        ("a1", "b1"): "synergy",
        ("a2", "b1"): "synergy",
    }
    assert pairs(find_conflicts(works, internal=True)) == with_internal
    assert pairs(find_conflicts(works, Rules(internal=True))) == with_internal
    assert ("a1", "a2") not in pairs(find_conflicts(works, Rules(internal=True), internal=False))
    internal = find_conflicts(works, internal=True).set_index("work_id_b").loc["a2"]
    assert internal.gap_days == -5
    assert internal.severity == "low"
    assert internal.score == pytest.approx(0.5 * (1 + 6 / 365), abs=1e-4)


def test_cancelled_and_done_works_are_exempt() -> None:
    rows = [
        work("p", "A", Point(0, 0), day(0), day(10)),
        work("c", "B", Point(1, 0), day(0), day(10), status="cancelled"),
        work("d", "C", Point(2, 0), day(0), day(10), status="done"),
    ]
    assert pairs(find_conflicts(works_of(rows))) == {}
    assert pairs(find_conflicts(works_of(rows), Rules(exempt_status=[]))) == {
        ("p", "c"): "clash",
        ("p", "d"): "clash",
        ("c", "d"): "clash",
    }


def test_done_sealing_still_protects_the_surface() -> None:
    rows = [
        work("s", "City", Point(0, 0), day(0), day(30), discipline="road", status="done"),
        work("d", "Sewer", Point(1, 0), day(100), day(130), discipline="sewer"),
        work("o", "Power", Point(2, 0), day(10), day(20), discipline="electricity"),
        work("l", "Light", Point(3, 0), day(100), day(130), discipline="lighting"),
    ]
    result = find_conflicts(works_of(rows))
    # the done resurfacing: a moratorium for the later excavation, nothing else
    assert pairs(result) == {
        ("s", "d"): "moratorium",
        ("l", "d"): "clash",
        ("l", "o"): "synergy",
        ("o", "d"): "synergy",
    }
    # a cancelled resurfacing protects nothing
    rows[0]["status"] = "cancelled"
    assert ("s", "d") not in pairs(find_conflicts(works_of(rows)))
    # nor does a done one when "done" does not protect
    rows[0]["status"] = "done"
    assert ("s", "d") not in pairs(find_conflicts(works_of(rows), Rules(protecting_status=[])))
    # a done excavation is never the digging side
    rows[0]["status"], rows[1]["status"] = "planned", "done"
    assert ("s", "d") not in pairs(find_conflicts(works_of(rows)))


@pytest.mark.parametrize(
    ("values", "rules", "exempt"),
    [
        ([True, False, None], Rules(), [True, False, False]),
        (["yes", "no", ""], Rules(), [True, False, False]),
        ([1.0, 0.0, np.nan], Rules(), [True, False, False]),
        ([1, 0, 0], Rules(), [True, False, False]),
        ([True, True, False], Rules(exempt_column=None), [False, False, False]),
        (
            ["Emergency ", "URGENT", "planned"],
            Rules(exempt_column="category"),
            [True, True, False],
        ),
        (
            ["Immediate - emergency", "Major", "Standard"],
            Rules(exempt_column="category", exempt_values=["immediate - emergency"]),
            [True, False, False],
        ),
    ],
)
def test_emergency_works_are_exempt(values: list, rules: Rules, exempt: list[bool]) -> None:
    column = rules.exempt_column or "emergency"
    rows = [
        work(f"w{k}", f"Org{k}", Point(k, 0), day(0), day(10), **{column: value})
        for k, value in enumerate(values)
    ]
    rows.append(work("x", "Other", Point(1, 1), day(0), day(10)))
    found = pairs(find_conflicts(works_of(rows), rules))
    for k, is_exempt in enumerate(exempt):
        met = {key for key in found if f"w{k}" in key}
        assert (len(met) == 0) == is_exempt, (k, found)


def test_emergency_sealing_does_not_protect() -> None:
    rows = [
        work(
            "s",
            "City",
            Point(0, 0),
            day(0),
            day(30),
            discipline="road",
            status="done",
            emergency=True,
        ),
        work("d", "Sewer", Point(1, 0), day(100), day(130), discipline="sewer", emergency=False),
    ]
    assert pairs(find_conflicts(works_of(rows))) == {}


# --- measures -----------------------------------------------------------------------


def line_pair(a: Any, b: Any, **rules: Any) -> pd.Series:
    rows = [
        work("a", "A", a, day(0), day(10), discipline="water"),
        work("b", "B", b, day(0), day(10), discipline="gas"),
    ]
    result = find_conflicts(works_of(rows), Rules(**rules))
    assert len(result) == 1
    return result.iloc[0]


def test_overlap_parallel_lines() -> None:
    # a: 100 m; b: 60 m, 5 m away. All of b is within 20 m of a; of a, b's stretch
    # plus sqrt(20^2 - 5^2) before it. The shared length is the smaller: 60 m, b's part.
    row = line_pair(LineString([(0, 0), (100, 0)]), LineString([(40, 5), (100, 5)]))
    assert row.overlap_m == 60.0
    assert row.geometry.equals_exact(LineString([(40, 5), (100, 5)]), 0)
    # ... and the other way round: a is the shorter line
    row = line_pair(LineString([(0, 0), (10, 0)]), LineString([(0, 5), (100, 5)]))
    assert row.overlap_m == 10.0
    assert row.geometry.equals_exact(LineString([(0, 0), (10, 0)]), 0)
    # the exact round cap (not a polygonal buffer): 60 + sqrt(375) of a lies within 20 m of b
    row = line_pair(LineString([(0, 0), (100, 0)]), LineString([(40, 5), (200, 5)]))
    assert row.overlap_m == pytest.approx(60 + math.sqrt(375), abs=1e-12)
    assert row.geometry.equals_exact(LineString([(40 - math.sqrt(375), 0), (100, 0)]), 1e-12)


def test_overlap_crossing_and_touching_lines() -> None:
    row = line_pair(LineString([(0, -50), (0, 50)]), LineString([(-50, 0), (50, 0)]))
    assert row.overlap_m == pytest.approx(40.0, abs=1e-12)
    assert row.geometry.equals_exact(LineString([(0, -20), (0, 20)]), 1e-12)
    assert row.distance_m == 0.0
    row = line_pair(LineString([(-100, 0), (100, 0)]), LineString([(-50, -50), (50, 50)]))
    assert row.overlap_m == pytest.approx(40 * math.sqrt(2), abs=1e-12)
    # b ends where it crosses a: 20 m of b, and of a 20 sqrt(2) on one side and 20 on the other
    row = line_pair(LineString([(-100, 0), (100, 0)]), LineString([(0, 0), (50, 50)]))
    assert row.overlap_m == pytest.approx(20 * math.sqrt(2), abs=1e-12)
    # one street continues the other: 20 m of each is within 20 m of the other
    row = line_pair(LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]))
    assert row.overlap_m == pytest.approx(20.0, abs=1e-12)
    assert row.geometry.equals_exact(LineString([(80, 0), (100, 0)]), 0)


def test_overlap_chains_pieces_along_a_line() -> None:
    a = LineString([(0, 0), (50, 0), (50, 50)])
    b = LineString([(0, 3), (47, 3), (47, 50)])
    row = line_pair(a, b)
    assert row.overlap_m == pytest.approx(94.0, abs=1e-12)
    assert row.geometry.geom_type == "LineString"
    assert row.geometry.equals_exact(b, 1e-12)


def test_overlap_in_two_places() -> None:
    a = LineString([(0, 0), (100, 0)])
    b = MultiLineString([[(10, 5), (20, 5)], [(70, 5), (80, 5)]])
    row = line_pair(a, b)
    assert row.overlap_m == 20.0
    assert row.geometry.geom_type == "MultiLineString"
    assert row.geometry.equals_exact(b, 0)


def test_overlap_counts_a_line_that_runs_over_itself_once() -> None:
    row = line_pair(LineString([(0, 0), (100, 0), (50, 0)]), LineString([(0, 5), (100, 5)]))
    assert row.overlap_m == pytest.approx(100.0, abs=1e-12)


def test_overlap_uses_the_pair_distance() -> None:
    a = LineString([(0, 0), (100, 0)])
    b = LineString([(100, 0), (200, 0)])
    assert line_pair(a, b, distance=10).overlap_m == pytest.approx(10.0, abs=1e-12)
    assert line_pair(a, b, pair_distance={("gas", "water"): 30}).overlap_m == pytest.approx(
        30.0, abs=1e-12
    )


def test_overlap_is_nan_unless_both_are_lines() -> None:
    row = line_pair(LineString([(0, 0), (100, 0)]), box(40, 5, 60, 10))
    assert math.isnan(row.overlap_m)
    # the midpoint of the shortest line: 2.5 m from both, somewhere along the box's edge
    assert row.geometry.y == 2.5 and 40 <= row.geometry.x <= 60
    row = line_pair(Point(0, 0), Point(6, 8))
    assert math.isnan(row.overlap_m)
    assert row.geometry.equals_exact(Point(3, 4), 0)
    assert row.distance_m == 10.0


def test_meeting_point_of_intersecting_polygons() -> None:
    row = line_pair(box(0, 0, 10, 10), box(5, 5, 20, 20))
    assert row.distance_m == 0.0
    assert row.geometry.geom_type == "Point"
    assert box(5, 5, 10, 10).buffer(1e-9).contains(row.geometry)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"depth_min": 1.0, "depth_max": 3.0}, {"depth_min": 2.0, "depth_max": 4.0}, 1.0),
        ({"depth_min": 1.0, "depth_max": 1.5}, {"depth_min": 2.0, "depth_max": 3.0}, 0.0),
        ({"depth_min": 0.5, "depth_max": 4.0}, {"depth_min": 1.25, "depth_max": 2.0}, 0.75),
        ({"depth_min": 1.0, "depth_max": 3.0}, {"depth_max": 2.0}, math.nan),
        ({"depth_min": 1.0, "depth_max": 3.0}, {}, math.nan),
        (
            {"depth_min": 1.0, "depth_max": 3.0},
            {"depth_min": 2.0, "depth_max": 4.0, "layer": "surface"},
            math.nan,
        ),
    ],
)
def test_depth_overlap(a: dict, b: dict, expected: float) -> None:
    rows = [
        work("a", "A", Point(0, 0), day(0), day(5), discipline="water", **a),
        work("b", "B", Point(1, 0), day(0), day(5), discipline="gas", **b),
    ]
    value = find_conflicts(works_of(rows)).depth_overlap.iloc[0]
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected


def test_score_and_severity() -> None:
    # a clash sharing 10 days: 4 * (1 + 10/365)
    row = two_works((day(0), day(9)), (day(0), day(9))).iloc[0]
    assert row.score == round(4 * (1 + 10 / 365), 4)
    assert row.severity == "high"
    # synergies: 1 * (1 + 1) the day after, 1 * (1 + 1/365) a window later
    row = two_works((day(0), day(9)), (day(10), day(20))).iloc[0]
    assert (row.score, row.severity) == (2.0, "medium")
    row = two_works((day(0), day(9)), (day(9 + 365), day(400))).iloc[0]
    assert (row.score, row.severity) == (round(1 + 1 / 365, 4), "low")
    # discipline weights multiply; the overlap term adds half its weight at 100 m
    rules = Rules(discipline_weights={"water": 2.0, "gas": 1.5}, overlap_weight=2.0)
    row = line_pair(
        LineString([(0, 0), (100, 0)]),
        LineString([(0, 1), (100, 1)]),
        **{
            "discipline_weights": {"water": 2.0, "gas": 1.5},
            "overlap_weight": 2.0,
        },
    )
    assert rules.kind_weight("clash") == 4.0
    assert row.score == round(4 * ((1 + 11 / 365) * 3.0 + 2.0 * 0.5), 4)
    # a moratorium the day after: 4 * (1 + 1); three years later 4 * (1 + 1/1095)
    # (the two 100 m lines share 100 m: the overlap term adds 1.0 * 100 / 200)
    assert sealing_then_digging(1).score.iloc[0] == 4 * (2 + 0.5)
    assert sealing_then_digging(1095).score.iloc[0] == round(4 * (1 + 1 / 1095 + 0.5), 4)


@pytest.mark.parametrize("threads", [0, 2])
@pytest.mark.parametrize(
    ("n", "scale"),
    [(50, 8.0), (3_000_000, 8.0), (50, 1e12), (200_000, 4e4)],  # one key; two keys
)
def test_rank_order_is_score_then_first_then_second(n: int, scale: float, threads: int) -> None:
    rng = np.random.default_rng(int(scale) % 1000 + n % 1000)
    count = 2_000
    rank_a = rng.integers(0, n, count)
    rank_b = rng.integers(0, n, count)
    rank_a[:40] = rank_a[40:80]  # ties on the score and the first work
    unique = np.unique(rank_a * np.int64(n) + rank_b, return_index=True)[1]
    rank_a, rank_b = rank_a[unique], rank_b[unique]
    score = np.round(rng.choice(rng.random(30) * scale, len(rank_a)), 4)
    # sorted runs, as the chunks hand them over, then shuffled ones
    cut = len(score) // 3
    first = np.lexsort((rank_b[:cut], rank_a[:cut], -score[:cut]))
    shuffle = np.r_[first, cut + rng.permutation(len(score) - cut)]
    score, rank_a, rank_b = score[shuffle], rank_a[shuffle], rank_b[shuffle]
    expected = np.lexsort((rank_b, rank_a, -score))
    pool = ThreadPoolExecutor(threads) if threads else None
    try:
        for size in (0, 1, 2, 3, len(score)):  # the halves of the parallel sort, down to none
            got = conflicts._ranked(
                score[:size], rank_a[:size] * np.int64(n) + rank_b[:size], n, pool
            )
            want = np.lexsort((rank_b[:size], rank_a[:size], -score[:size]))
            np.testing.assert_array_equal(got, want)
        assert size == len(expected)
    finally:
        if pool is not None:
            pool.shutdown()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("weight", [4.0, 1e12])  # the score key fits one integer; two keys
def test_answer_sorted_by_score_then_works_across_chunks(
    monkeypatch, workers: int, weight: float
) -> None:
    # the chunks' sorted runs merged, and a score too large for the one-integer key
    # (the chunks and the answer then sort on two keys), against a sort of the rows
    monkeypatch.setattr(conflicts, "_CHUNK", 7)
    works = street_works(300, seed=5)
    rules = Rules(
        internal=True,
        kind_weights={"clash": weight, "moratorium": 3.0, "synergy": 1.0, "internal": 0.5},
        discipline_weights={"gas": 1.5},
    )
    got = find_conflicts(works, rules, workers=workers)
    assert got.kind.nunique() == 4 and got.score.nunique() > 20
    assert got.score.max() >= 1e9 if weight > 1e9 else got.score.max() < 1e9
    expected = got.sort_values(
        ["score", "org_a", "work_id_a", "org_b", "work_id_b"],
        ascending=[False, True, True, True, True],
    ).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_sorted_by_score_then_ids() -> None:
    rows = [
        work("z", "B", Point(0, 0), day(0), day(9)),
        work("y", "A", Point(1, 0), day(0), day(9)),
        work("x", "C", Point(2, 0), day(0), day(9)),
        work("w", "A", Point(3, 0), day(20), day(29)),
    ]
    result = find_conflicts(works_of(rows))
    assert list(zip(result.work_id_a, result.work_id_b, strict=True)) == [
        ("y", "z"),
        ("y", "x"),
        ("z", "x"),
        ("w", "z"),
        ("w", "x"),
    ]
    assert list(result.org_a) == ["A", "A", "B", "A", "A"]


def test_each_pair_once() -> None:
    rows = [work(f"w{k}", f"Org{k}", Point(k, 0), day(0), day(9)) for k in range(5)]
    result = find_conflicts(works_of(rows))
    assert len(result) == 10
    assert len(set(zip(result.work_id_a, result.work_id_b, strict=True))) == 10


# --- empty and bad input ----------------------------------------------------------------


def assert_empty(result: gpd.GeoDataFrame, crs: Any) -> None:
    assert isinstance(result, gpd.GeoDataFrame)
    assert len(result) == 0
    assert list(result.columns) == list(CONFLICT_COLUMNS)
    expected = empty_conflicts(crs)
    pd.testing.assert_series_equal(result.dtypes, expected.dtypes)
    assert result.crs == expected.crs
    assert str(result.kind.dtype) == "str"
    assert result.score.dtype == "float64" and result.gap_days.dtype == "int64"
    assert result.start_a.dtype == "datetime64[s]"


def test_empty_input() -> None:
    empty = works_of([work("a", "A", Point(0, 0), day(0), day(1))]).iloc[:0]
    assert_empty(find_conflicts(empty), RD)
    assert_empty(find_conflicts(empty.to_crs(4326)), "EPSG:4326")


def test_no_pairs() -> None:
    rows = [
        work("a", "A", Point(0, 0), day(0), day(1)),
        work("b", "B", Point(500, 0), day(0), day(1)),
        work("c", "A", Point(1, 0), day(0), day(1)),
    ]
    assert_empty(find_conflicts(works_of(rows)), RD)
    assert_empty(find_conflicts(works_of(rows[:1])), RD)
    rows[1]["status"] = "cancelled"
    rows[1]["geometry"] = Point(2, 0)
    assert_empty(find_conflicts(works_of(rows)), RD)


def test_result_dtypes_match_the_empty_frame() -> None:
    result = find_conflicts(street_works(60, seed=1))
    assert len(result)
    pd.testing.assert_series_equal(result.dtypes, empty_conflicts(RD).dtypes)
    assert result.index.equals(pd.RangeIndex(len(result)))


def test_missing_crs() -> None:
    works = works_of([work("a", "A", Point(0, 0), day(0), day(1))]).set_crs(
        None, allow_override=True
    )
    with pytest.raises(MissingCRSError, match="no CRS"):
        find_conflicts(works)


def test_missing_columns() -> None:
    works = works_of([work("a", "A", Point(0, 0), day(0), day(1))]).drop(
        columns=["status", "layer"]
    )
    with pytest.raises(InputError, match="layer, status"):
        find_conflicts(works)


def test_missing_dates() -> None:
    works = works_of(
        [work("a", "A", Point(0, 0), day(0), day(1)), work("b", "B", Point(0, 0), day(0), day(1))]
    )
    works.loc[1, "end_date"] = pd.NaT
    with pytest.raises(InputError, match="1 work"):
        find_conflicts(works)


def test_garbage_collector_state_is_restored() -> None:
    works = street_works(40, seed=1)
    bad = works.copy()
    bad.loc[bad.index[0], "end_date"] = pd.NaT
    was_enabled = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            find_conflicts(works)
            assert gc.isenabled() is enabled
            with pytest.raises(InputError):
                find_conflicts(bad)
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()


def test_empty_geometries_take_no_part() -> None:
    works = works_of(
        [
            work("a", "A", Point(0, 0), day(0), day(1)),
            work("b", "B", Point(1, 0), day(0), day(1)),
            work("c", "C", Point(2, 0), day(0), day(1)),
        ]
    )
    works.loc[2, "geometry"] = Point()
    assert pairs(find_conflicts(works)) == {("a", "b"): "clash"}


# --- works that take no part ---------------------------------------------------------------
def test_left_out_counts_the_works_that_take_no_part_and_why() -> None:
    at = LineString([(121_000, 487_000), (121_050, 487_000)])
    surface = {"discipline": "road", "layer": "surface"}
    rows = [
        work("A1", "A", at, day(0), day(30), status="planned", **surface),
        work("A2", "A", at, day(0), day(30), status="done", **surface),  # protects its surface
        work("A3", "A", at, day(200), day(230), status="done", discipline="water"),
        work("B1", "B", at, day(10), day(20), status="cancelled", discipline="gas"),
        work("B2", "B", at, day(10), day(20), status="cancelled", **surface),
        work("B3", "B", at, day(10), day(20), status="planned", emergency="yes", discipline="gas"),
        work("B4", "B", at, day(10), day(20), status="done", emergency="urgent", discipline="gas"),
        work("C1", "C", at, day(400), day(430), status="planned", discipline="sewer"),
        work("C2", "C", at, day(50), day(60), status="idea", discipline="sewer"),
        work("C3", "C", at, day(500), day(560), status="planned", discipline="sewer"),
    ]
    works = works_of(rows)
    works.loc[works["work_id"] == "C3", "geometry"] = None

    def expected(*rows: tuple[str, int, str]) -> pd.DataFrame:
        frame = pd.DataFrame(rows, columns=["reason", "works", "part"])
        return frame.astype({"reason": object, "works": "int64", "part": object})

    every = [
        ("no geometry", 1, "none"),  # C3
        ("exempt by column emergency", 2, "none"),  # B3, B4 (done, but an emergency first)
        ("status cancelled", 2, "none"),  # B1, B2
        ("status done", 1, "none"),  # A3
        ("status done, a finished resurfacing", 1, "protects its surface only"),  # A2
    ]
    pd.testing.assert_frame_equal(conflicts.left_out(works), expected(*every))
    period = conflicts.left_out(works, start=pd.Timestamp(day(0)), end=pd.Timestamp(day(100)))
    pd.testing.assert_frame_equal(period, expected(*every, ("outside the period", 1, "none")))
    later = conflicts.left_out(works, start=pd.Timestamp(day(300)))  # A1, C2 end before
    assert later["reason"].tolist()[-1] == "outside the period" and later["works"].iloc[-1] == 2

    no_column = conflicts.left_out(works, Rules(exempt_column=None))
    pd.testing.assert_frame_equal(
        no_column,
        expected(
            ("no geometry", 1, "none"),
            ("status cancelled", 2, "none"),
            ("status done", 2, "none"),  # A3, B4
            ("status done, a finished resurfacing", 1, "protects its surface only"),
        ),
    )
    assert conflicts.left_out(works.iloc[[0, 8]]).empty

    # the works named in the conflicts are exactly the ones not counted (A2 only protects)
    found = find_conflicts(works.iloc[[i for i in range(10) if i != 9]])
    named = set(found["work_id_a"]) | set(found["work_id_b"])
    assert named == {"A1", "A2", "C1", "C2"}
