"""Tests for ims_geo.distributed: the Dask engine equals find_conflicts, row for row.

The single-machine engine is the oracle (tests/test_conflicts.py checks it
against a brute-force one). Every comparison is exact: the same rows in the
same order, every value bit for bit, the same geometries (WKB). The Dask
runs use one LocalCluster for the whole test session (``dask_client`` in
tests/conftest.py).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box

from ims_geo import export
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.distributed import (
    Tiling,
    Works,
    engine,
    find_conflicts_dask,
    grid_tiling,
    kd_tiling,
    read_conflicts,
    reference_points,
    run,
    tile_conflicts,
)
from ims_geo.distributed.engine import SHUFFLES, _refuse_repeated
from ims_geo.distributed.tiles import HALO_MARGIN
from ims_geo.errors import InputError
from ims_geo.schema import REASON, validate

RD = "EPSG:28992"
DAY0 = date(2026, 1, 1)
#: Where the hand-made works lie in RD New (the Netherlands): x0 + x, y0 + y.
X0, Y0 = 155_000.0, 463_000.0


def day(offset: int) -> str:
    return (DAY0 + timedelta(days=offset)).isoformat()


def work(
    work_id: str, org: str, geometry: Any, start: int = 0, end: int = 30, **extra: Any
) -> dict:
    return {
        "work_id": work_id,
        "org": org,
        "start_date": day(start),
        "end_date": day(end),
        "geometry": shapely.transform(geometry, lambda c: c + [X0, Y0]),
        **extra,
    }


def works_of(rows: list[dict], crs: str = RD, *, strict: bool = True) -> gpd.GeoDataFrame:
    """Canonical works from hand-made rows (``strict``: every row must be valid)."""
    result = validate(gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs))
    if strict:
        assert result.rejected.empty, result.rejected[REASON].tolist()
    return result.valid


def assert_same(found: gpd.GeoDataFrame, want: gpd.GeoDataFrame) -> None:
    """Equal row for row: every value exactly, every geometry bit for bit, the same CRS."""
    assert list(found.columns) == list(want.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(found.drop(columns="geometry")),
        pd.DataFrame(want.drop(columns="geometry")),
        check_exact=True,
    )
    assert found.geometry.to_wkb().tolist() == want.geometry.to_wkb().tolist()
    assert found.crs == want.crs


def by_tiles(works: gpd.GeoDataFrame, tiling: Tiling, rules: Rules) -> gpd.GeoDataFrame:
    """The distributed answer computed tile by tile in this process, without Dask."""
    work, tile = tiling.copies(shapely.bounds(np.asarray(works.geometry.array)))
    parts = [tile_conflicts(works.iloc[work[tile == t]], t, tiling, rules) for t in np.unique(tile)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return find_conflicts(works.iloc[:0], rules)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(
        ["score", "org_a", "work_id_a", "org_b", "work_id_b"],
        ascending=[False, True, True, True, True],
        kind="stable",
    ).reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=works.crs)


# --- random works and random tile grids -------------------------------------------------

coord = st.integers(0, 120)
xy = st.tuples(coord, coord)
points = st.builds(Point, xy)
lines = st.lists(xy, min_size=2, max_size=4).filter(lambda p: len(set(p)) >= 2).map(LineString)
boxes = st.builds(
    lambda x, y, w, h: box(x, y, x + w, y + h), coord, coord, st.integers(1, 40), st.integers(1, 40)
)
triangles = st.lists(xy, min_size=3, max_size=3, unique=True).map(Polygon)
geometries = st.one_of(
    points,
    lines,
    lines,
    boxes,
    triangles,
    st.lists(lines, min_size=2, max_size=3).map(MultiLineString),
    # larger than a tile: a long street across the whole area
    st.builds(lambda y: LineString([(-50, y), (60, y + 1), (170, y)]), coord),
)


@st.composite
def random_works(draw: st.DrawFn) -> gpd.GeoDataFrame:
    rows = []
    for k in range(draw(st.integers(2, 14))):
        start = draw(st.integers(0, 1200))
        row = work(
            f"{draw(st.sampled_from('abc'))}{k}",
            draw(st.sampled_from(["City", "Gas", "Water"])),
            draw(geometries),
            start,
            start + draw(st.integers(0, 300)),
            discipline=draw(st.sampled_from(["road", "road", "sewer", "gas", "water"])),
            status=draw(st.sampled_from(["planned", "planned", "committed", "done", "cancelled"])),
            layer=draw(st.sampled_from(["surface", "subsurface"])),
            excavation=draw(st.booleans()),
        )
        if draw(st.booleans()):
            low = draw(st.integers(0, 30)) / 10
            row["depth_min"], row["depth_max"] = low, low + draw(st.integers(0, 20)) / 10
        rows.append(row)
    return works_of(rows, strict=False)  # e.g. a flat triangle is rejected


rules_strategy = st.builds(
    Rules,
    distance=st.sampled_from([0.0, 5.0, 10.0, 20.0]),
    window_days=st.sampled_from([0, 30, 365]),
    moratorium_years=st.sampled_from([0, 1, 3]),
    # a per-discipline-pair distance larger than the default
    pair_distance=st.sampled_from([{}, {("road", "sewer"): 35.0}, {("gas", "water"): 2.0}]),
    internal=st.booleans(),
)


@st.composite
def random_grid(draw: st.DrawFn, works: gpd.GeoDataFrame, distance: float) -> Tiling:
    """Cut lines anywhere, on the works' own coordinates, or D/2 off them (the borders)."""
    coords = shapely.get_coordinates(np.asarray(works.geometry.array))
    half = distance / 2

    def lines_along(axis: int, origin: float) -> list[float]:
        picks = draw(
            st.lists(
                st.one_of(
                    st.integers(-20, 140).map(lambda v: origin + v),
                    st.sampled_from(list(coords[:, axis])),
                    st.sampled_from(list(coords[:, axis] + half)),
                    st.sampled_from(list(coords[:, axis] - half)),
                ),
                max_size=3,
            )
        )
        return sorted(set(picks))

    return grid_tiling(lines_along(0, X0), lines_along(1, Y0), distance)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), works=random_works(), rules=rules_strategy)
def test_tiles_with_halo_and_ownership_equal_the_kernel(
    data: st.DataObject, works: gpd.GeoDataFrame, rules: Rules
) -> None:
    tiling = data.draw(random_grid(works, rules.max_distance))
    assert_same(by_tiles(works, tiling, rules), find_conflicts(works, rules))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), works=random_works(), rules=rules_strategy)
def test_dask_on_a_random_grid_equals_the_kernel(
    dask_client: Any, data: st.DataObject, works: gpd.GeoDataFrame, rules: Rules
) -> None:
    tiling = data.draw(random_grid(works, rules.max_distance))
    partitions = data.draw(st.integers(1, 3))
    shuffle = data.draw(st.sampled_from(SHUFFLES))
    result = run(
        works, rules, client=dask_client, tiling=tiling, partitions=partitions, shuffle=shuffle
    )
    assert result.shuffle == shuffle
    assert result.conflicts is not None
    assert_same(result.conflicts, find_conflicts(works, rules))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(works=random_works(), rules=rules_strategy, tiles=st.integers(1, 9))
def test_dask_kd_tiles_equal_the_kernel(
    dask_client: Any, works: gpd.GeoDataFrame, rules: Rules, tiles: int
) -> None:
    found = find_conflicts_dask(works, rules, client=dask_client, tiles=tiles)
    assert_same(found, find_conflicts(works, rules))


# --- the border cases, by hand ------------------------------------------------------


def test_pair_exactly_d_apart_across_a_tile_border_is_found_once(dask_client: Any) -> None:
    rules = Rules(distance=20.0)
    works = works_of(
        [
            work("g1", "Gas", Point(0, 0)),
            work("w1", "Water", Point(20, 0)),  # exactly D apart
            work("w2", "Water", Point(20.5, 0)),  # just beyond D
        ]
    )
    want = find_conflicts(works, rules)
    assert want[["work_id_a", "work_id_b", "distance_m"]].values.tolist() == [["g1", "w1", 20.0]]
    for cut in (0.0, 5.0, 10.0, 10.0 - HALO_MARGIN, 10.0 + 1e-9, 19.999, 20.0, 30.0):
        tiling = grid_tiling([X0 + cut], [Y0 - 10.0, Y0, Y0 + 1e-9], rules.max_distance)
        assert_same(by_tiles(works, tiling, rules), want)
        if cut in (10.0, 20.0):  # the reference point's own line, the far work's
            assert_same(find_conflicts_dask(works, rules, client=dask_client, tiling=tiling), want)


def test_points_on_tile_edges_and_corners(dask_client: Any) -> None:
    rules = Rules(distance=10.0, internal=True)
    works = works_of(
        [
            work("a", "Gas", Point(0, 0)),
            work("b", "Water", Point(0, 10)),
            work("c", "Water", Point(10, 0)),
            work("d", "City", Point(10, 10)),
            work("e", "Gas", Point(5, 5)),
        ]
    )
    want = find_conflicts(works, rules)
    assert len(want) == 8  # the square's 4 sides and the centre's 4 diagonals (7.07 m)
    # cut exactly through the points, the centre and the corners
    tiling = grid_tiling([X0, X0 + 5, X0 + 10], [Y0, Y0 + 5, Y0 + 10], rules.max_distance)
    assert_same(by_tiles(works, tiling, rules), want)
    assert_same(find_conflicts_dask(works, rules, client=dask_client, tiling=tiling), want)


def test_a_work_larger_than_many_tiles(dask_client: Any) -> None:
    rules = Rules(distance=5.0)
    street = LineString([(0, 0), (1000, 0), (1000, 800)])
    rows = [work("road", "City", street, discipline="road", layer="surface")]
    rows += [work(f"p{k}", "Gas", Point(100 * k, 3), 10, 40) for k in range(11)]
    rows += [work(f"q{k}", "Water", Point(1004, 70 * (k + 1)), 10, 40) for k in range(11)]
    works = works_of(rows)
    want = find_conflicts(works, rules)
    assert len(want) == 22  # every pit meets the street; none meets another
    tiling = grid_tiling(X0 + np.arange(-50, 1100, 160.0), Y0 + np.arange(-50, 900, 190.0), 5.0)
    assert len(tiling) == 54
    assert_same(by_tiles(works, tiling, rules), want)
    assert_same(find_conflicts_dask(works, rules, client=dask_client, tiling=tiling), want)


def test_per_discipline_pair_distance_larger_than_the_default(dask_client: Any) -> None:
    rules = Rules(distance=10.0, pair_distance={("road", "sewer"): 50.0})
    works = works_of(
        [
            work("r", "City", LineString([(0, 0), (0, 100)]), discipline="road"),
            work("s", "Sewer", LineString([(48, 0), (48, 100)]), discipline="sewer"),
            work("g", "Gas", LineString([(-12, 0), (-12, 100)]), discipline="gas"),
        ]
    )
    want = find_conflicts(works, rules)
    assert sorted(want["work_id_b"]) == ["s"]  # 48 m under 50; the gas line is 12 m off
    assert len(want) == 1 and want["work_id_a"].iloc[0] == "r"
    for cut in (25.0, 47.0):  # the reference point's line; 1 m from the sewer
        tiling = grid_tiling([X0 + cut], [], rules.max_distance)
        assert_same(find_conflicts_dask(works, rules, client=dask_client, tiling=tiling), want)
    # a tiling sized for the default distance alone would miss it: refused
    with pytest.raises(InputError, match="largest"):
        run(works, rules, tiling=grid_tiling([X0 + 24.0], [], 10.0))


def test_geographic_works_are_measured_in_the_same_metric_crs(dask_client: Any) -> None:
    rows = [
        work("r", "City", LineString([(0, 0), (300, 0)]), discipline="road", layer="surface"),
        work("g", "Gas", LineString([(0, 4), (300, 4)]), 400, 430, excavation=True),
        work("w", "Water", Point(150, 8), 10, 20),
    ]
    works = works_of(rows).to_crs("EPSG:4326")
    want = find_conflicts(works, Rules())
    assert len(want) == 2 and want.crs == "EPSG:28992"  # r with g (moratorium), r with w
    assert_same(find_conflicts_dask(works, client=dask_client, tiles=3), want)


def test_nothing_found_and_works_without_geometry(dask_client: Any) -> None:
    works = works_of([work("a", "Gas", Point(0, 0)), work("b", "Water", Point(500, 0))])
    works.loc[1, "geometry"] = None
    assert_same(find_conflicts_dask(works, client=dask_client, tiles=2), find_conflicts(works))


def test_the_shuffle_follows_the_works_per_worker_thread(
    dask_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    works = works_of([work("a", "Gas", Point(0, 0)), work("b", "Water", Point(5, 0))])
    threads = sum(dask_client.nthreads().values())
    monkeypatch.setattr(engine, "DIRECT_WORKS_PER_THREAD", 2 / threads)  # 2 works: direct
    assert run(works, client=dask_client, tiles=2).shuffle == "direct"
    monkeypatch.setattr(engine, "DIRECT_WORKS_PER_THREAD", 1.9 / threads)  # beyond: p2p
    result = run(works, client=dask_client, tiles=2)
    assert result.shuffle == "p2p"
    assert result.conflicts is not None
    assert_same(result.conflicts, find_conflicts(works))
    with pytest.raises(InputError, match="shuffle must be one of direct, p2p, not 'disk'"):
        run(works, client=dask_client, shuffle="disk")


def test_the_direct_way_gives_a_free_worker_the_largest_tile_left(dask_client: Any) -> None:
    works = street_works(3000, seed=11)
    threads = dask_client.nthreads()
    assert sorted(threads.values()) == [1, 1]  # the session's cluster: two one-thread workers
    result = run(works, client=dask_client, tiles=7, shuffle="direct")
    assert result.conflicts is not None
    assert_same(result.conflicts, find_conflicts(works))
    spans = result.tile_spans
    assert len(spans) == 7 and sum(c for *_, c in spans) == result.copies
    sizes = np.array([c for *_, c in spans])
    assert len(set(sizes.tolist())) > 3  # the KD tiles' copies differ: the order can be wrong
    largest = np.argsort(-sizes, kind="stable")
    for worker in threads:
        mine = sorted((start, end, k) for k, (w, start, end, _) in enumerate(spans) if w == worker)
        assert mine, f"{worker} ran no tile"
        # one tile at a time, each begun after the worker's previous one ended
        assert all(b[0] >= a[1] for a, b in zip(mine, mine[1:], strict=False))
        order = [k for *_, k in mine]
        # each worker got its tiles in the order of their copies, its first among the largest
        assert order == sorted(order, key=lambda k: int(np.flatnonzero(largest == k)[0]))
        assert order[0] in largest[: len(threads)]
    assert sorted(result.tiles_per_worker.values()) == sorted(
        Counter(w for w, *_ in spans).values()
    )
    assert result.phase_seconds["idle between tiles"] >= 0.0


def test_a_tile_whose_works_repeat_a_key_is_refused() -> None:
    rng = np.random.default_rng(5)
    orgs = np.array(["Gas", "Water", "Telecom"], dtype=object)
    keys = pd.DataFrame(
        {"org": orgs[rng.integers(0, 3, 300)], "work_id": rng.integers(0, 400, 300)}
    )
    keys = keys.drop_duplicates().reset_index(drop=True)
    keys["work_id"] = keys["work_id"].astype(str)
    keys.loc[7, "org"] = None  # a missing organisation is a key like any other
    _refuse_repeated(keys)  # every key once: nothing to say
    twice = pd.concat([keys, keys.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match=f"duplicate work_id '{keys.loc[3, 'work_id']}'"):
        _refuse_repeated(twice)
    missing_twice = pd.concat([keys, keys.iloc[[7]]], ignore_index=True)
    with pytest.raises(InputError, match=f"duplicate work_id '{keys.loc[7, 'work_id']}'"):
        _refuse_repeated(missing_twice)


def test_duplicate_work_ids_in_a_tile_are_refused() -> None:
    works = works_of([work("a", "Gas", Point(0, 0)), work("b", "Gas", Point(1, 0))])
    works.loc[1, "work_id"] = "a"
    works.loc[1, "org"] = "Gas"
    other = works_of([work("w", "Water", Point(0, 1))])
    both = gpd.GeoDataFrame(pd.concat([works, other], ignore_index=True), crs=RD)
    with pytest.raises(InputError, match="duplicate work_id 'a' for org 'Gas'"):
        find_conflicts_dask(both, tiles=1)


# --- the tiles themselves -------------------------------------------------------------


def test_kd_tiles_partition_the_plane_and_balance_counts() -> None:
    rng = np.random.default_rng(7)
    dense = rng.normal(0, 50, size=(9000, 2))  # a dense centre
    sparse = rng.uniform(-5000, 5000, size=(1000, 2))
    centres = np.vstack([dense, sparse])
    tiling = kd_tiling(centres, 10, 20.0)
    assert len(tiling) == 10
    # every point, also far outside and on the cuts, lies in exactly one tile
    corners = np.isfinite(tiling.x0) & np.isfinite(tiling.y0)
    probe = np.vstack(
        [centres, rng.uniform(-1e7, 1e7, size=(500, 2)), np.c_[tiling.x0, tiling.y0][corners]]
    )
    inside = sum(tiling.owns(t, probe[:, 0], probe[:, 1]).astype(int) for t in range(len(tiling)))
    assert (inside == 1).all()
    owner = tiling.owner(probe[:, 0], probe[:, 1])
    assert all(tiling.owns(int(t), probe[k : k + 1, 0], probe[k : k + 1, 1])[0]
               for k, t in enumerate(owner))  # fmt: skip
    counts = np.bincount(tiling.owner(centres[:, 0], centres[:, 1]), minlength=10)
    assert counts.tolist() == [1000] * 10  # 10,000 distinct points: exactly equal shares


def test_kd_tiles_of_points_on_one_spot() -> None:
    tiling = kd_tiling(np.zeros((50, 2)), 8, 20.0)
    assert len(tiling) == 1 and np.isinf(tiling.x0[0]) and np.isinf(tiling.y1[0])


def test_copies_reach_every_tile_the_grown_envelope_touches() -> None:
    tiling = grid_tiling([0.0, 100.0], [0.0], 20.0)  # 3 x 2 tiles
    bounds = np.array(
        [[50.0, 50.0, 50.0, 50.0], [-10.0, 5.0, -10.0, 5.0], [95.0, -30.0, 99.0, -30.0]]
    )
    work, tile = tiling.copies(bounds)
    got = {
        (int(w), (float(tiling.x0[t]), float(tiling.y0[t])))
        for w, t in zip(work, tile, strict=True)
    }
    inf = float("inf")
    assert got == {
        (0, (0.0, 0.0)),
        (1, (-inf, 0.0)), (1, (-inf, -inf)), (1, (0.0, 0.0)), (1, (0.0, -inf)),
        (2, (0.0, -inf)), (2, (100.0, -inf)),
    }  # fmt: skip


@pytest.mark.parametrize("matrix_tiles", [0, 10_000], ids=["tree", "compared"])
def test_copies_equal_a_brute_force_test_of_every_work_and_tile(
    matrix_tiles: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of :meth:`Tiling.copies` (a tree of tile boxes, or numbers compared)."""
    import ims_geo.distributed.tiles as tiles_module

    monkeypatch.setattr(tiles_module, "MATRIX_TILES", matrix_tiles)
    monkeypatch.setattr(tiles_module, "_BLOCK", 64)  # several blocks of works
    rng = np.random.default_rng(7)
    # whole metres and a halo of 10 m + 1 mm: envelopes end on tile edges, grown or not
    tiling = grid_tiling([0.0, 30.0, 60.0], [0.0, 40.0], 20.0)
    low = rng.integers(-50, 100, size=(300, 2)).astype(float)
    size = rng.integers(0, 80, size=(300, 2)) * rng.integers(0, 2, size=(300, 1))
    bounds = np.c_[low, low + size]
    bounds[:5] = [[30.0 - tiling.halo, 0.0, 30.0 - tiling.halo, 0.0]] * 5  # grown: touches x = 30
    work, tile = tiling.copies(bounds)
    h = tiling.halo
    want = [
        (w, t)
        for w in range(len(bounds))
        for t in range(len(tiling))
        if box(
            *np.clip([tiling.x0[t], tiling.y0[t], tiling.x1[t], tiling.y1[t]], -1e9, 1e9)
        ).intersects(box(*(bounds[w] + [-h, -h, h, h])))
    ]
    assert list(zip(work.tolist(), tile.tolist(), strict=True)) == want
    assert work.dtype == tile.dtype == np.int64


def test_reference_point_lies_in_both_grown_envelopes() -> None:
    a = np.array([[0.0, 0.0, 10.0, 2.0]])
    b = np.array([[30.0, -5.0, 40.0, 1.0]])  # 20 m to the right: exactly D
    px, py = reference_points(a, b, 20.0)
    assert (px[0], py[0]) == (20.0, -10.0)
    for env in (a[0], b[0]):
        assert env[0] - 10 <= px[0] <= env[2] + 10 and env[1] - 10 <= py[0] <= env[3] + 10


def test_bad_tilings_are_refused() -> None:
    with pytest.raises(InputError, match="increasing"):
        grid_tiling([5.0, 1.0], [], 10.0)
    with pytest.raises(InputError, match="at least 1"):
        kd_tiling(np.zeros((3, 2)), 0, 10.0)
    with pytest.raises(InputError, match=">= 0"):
        grid_tiling([], [], float("nan"))


# --- input in partitions, output as partitioned GeoParquet ------------------------------


def street_works(n: int, seed: int) -> gpd.GeoDataFrame:
    """``n`` works on a 2 km street grid: trenches, pits and resurfacings of 5 organisations."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 20, n) * 100.0
    y = rng.integers(0, 20, n) * 100.0
    along = rng.random(n) < 0.5
    length = rng.uniform(10, 120, n)
    off = rng.uniform(-4, 4, n)
    x0 = np.where(along, x + rng.uniform(0, 50, n), x + off)
    y0 = np.where(along, y + off, y + rng.uniform(0, 50, n))
    x1, y1 = np.where(along, x0 + length, x0), np.where(along, y0, y0 + length)
    geoms = shapely.linestrings(np.stack([np.c_[x0, y0], np.c_[x1, y1]], axis=1))
    pits = rng.random(n) < 0.2
    geoms[pits] = shapely.buffer(shapely.points(x0[pits], y0[pits]), 2.0, quad_segs=2)
    orgs = np.array(["City", "Gas", "Water", "Heat", "Fibre"])[rng.integers(0, 5, n)]
    disc = np.where(orgs == "City", "road", np.char.lower(orgs.astype(str)))
    disc = np.where(np.isin(disc, ["fibre"]), "telecom", disc)
    start = rng.integers(0, 1500, n)
    frame = gpd.GeoDataFrame(
        {
            "work_id": [f"w{k:05d}" for k in range(n)],
            "org": orgs,
            "discipline": disc,
            "layer": np.where(orgs == "City", "surface", "subsurface"),
            "excavation": orgs != "City",
            "status": np.where(rng.random(n) < 0.1, "done", "planned"),
            "start_date": [day(int(v)) for v in start],
            "end_date": [day(int(v)) for v in start + rng.integers(0, 120, n)],
        },
        geometry=shapely.transform(geoms, lambda c: c + [X0, Y0]),
        crs=RD,
    )
    result = validate(frame)
    assert result.rejected.empty
    return result.valid


@pytest.mark.parametrize("shuffle", SHUFFLES)
def test_street_network_on_the_cluster_with_partitioned_geoparquet(
    dask_client: Any, tmp_path: Path, shuffle: str
) -> None:
    works = street_works(3000, seed=3)
    rules = Rules(internal=True, pair_distance={("road", "sewer"): 30.0})
    want = find_conflicts(works, rules)
    assert len(want) > 1000
    # the works as GeoParquet 1.1 with bbox columns, read back in partitions
    path = tmp_path / "works.parquet"
    export.write(works, path)
    source = Works.read_parquet(path, rules)
    assert source.frame.npartitions >= 1
    folder = tmp_path / "conflicts"
    folder.mkdir()
    # a part of an earlier run with more tiles is not part of this answer
    want.iloc[:5].to_parquet(folder / "part-00099.parquet")
    result = run(source, rules, client=dask_client, tiles=6, out_dir=folder, shuffle=shuffle)
    assert result.shuffle == shuffle
    phases = {"first pass", "search", "uneven end", "idle between tiles", "files"}
    assert set(result.phase_seconds) == phases | ({"cut"} if shuffle == "direct" else set())
    assert sum(result.tiles_per_worker.values()) == 6
    assert set(result.tiles_per_worker) <= set(dask_client.nthreads())
    assert not (folder / "part-00099.parquet").exists()
    assert result.tiles == 6 and result.works == 3000 and result.pairs == len(want)
    assert 1.0 < result.copy_ratio < 1.5
    assert_same(result.conflicts, want)
    assert {f.name for f in result.files} <= {f"part-{k:05d}.parquet" for k in range(6)}
    assert_same(read_conflicts(folder), want)
    # each part is GeoParquet 1.1 with the bbox covering column, in the working CRS
    import json

    import pyarrow.parquet as pq

    schema = pq.read_schema(result.files[0])
    meta = json.loads(schema.metadata[b"geo"])
    assert meta["version"] == "1.1.0"
    # the export's GeoParquet: dates as dates, the same bytes as the single engine's file
    assert str(schema.field("start_a").type) == "date32[day]"
    whole = tmp_path / "single.parquet"
    export.write(want, whole)
    assert pq.read_schema(whole).equals(schema, check_metadata=False)
    assert meta["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert gpd.read_parquet(result.files[0]).crs == want.crs
    # nothing gathered: the tiles write their geometries' WKB and boxes straight from the
    # kernel, and each part is the same table, metadata included, as the gathering run's
    written = tmp_path / "written"
    alone = run(source, rules, client=dask_client, tiling=result.tiling, out_dir=written,
                gather=False, shuffle=shuffle)  # fmt: skip
    assert alone.conflicts is None and alone.pairs == len(want)
    assert [f.name for f in alone.files] == [f.name for f in result.files]
    for mine, theirs in zip(alone.files, result.files, strict=True):
        assert pq.read_table(mine).equals(pq.read_table(theirs), check_metadata=True)
    assert_same(read_conflicts(written), want)


def test_geoparquet_written_in_row_groups_is_read_in_partitions(
    dask_client: Any, tmp_path: Path
) -> None:
    works = street_works(2000, seed=4)
    path = tmp_path / "works.parquet"
    works.to_parquet(path, row_group_size=300, write_covering_bbox=True, schema_version="1.1.0")
    source = Works.read_parquet(path)
    assert source.frame.npartitions == 7
    assert_same(find_conflicts_dask(source, client=dask_client, tiles=4), find_conflicts(works))


def test_input_that_is_not_geoparquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"work_id": ["a"]}).to_parquet(path)
    with pytest.raises(InputError, match="not GeoParquet"):
        Works.read_parquet(path)
    with pytest.raises(InputError, match="does not exist"):
        Works.read_parquet(tmp_path / "missing.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no .parquet"):
        Works.read_parquet(tmp_path / "empty")


def test_hostile_geoparquet_is_refused_with_a_message(dask_client: Any, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    works = street_works(30, seed=5)
    path = tmp_path / "works.parquet"
    works.to_parquet(path)
    table = pq.read_table(path)
    # the geometry bytes replaced by garbage, the geo metadata kept
    garbage = pa.array([b"\x01\x02not wkb"] * len(table), type=pa.binary())
    broken = table.set_column(table.schema.get_field_index("geometry"), "geometry", garbage)
    pq.write_table(broken, tmp_path / "garbage.parquet")
    with pytest.raises(InputError, match="not valid WKB"):
        find_conflicts_dask(Works.read_parquet(tmp_path / "garbage.parquet"), tiles=2)
    # a CRS that is no CRS
    meta = dict(table.schema.metadata)
    geo = json.loads(meta[b"geo"])
    geo["columns"]["geometry"]["crs"] = "EPSG:not-a-code"
    meta[b"geo"] = json.dumps(geo).encode()
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "crs.parquet")
    with pytest.raises(InputError, match="is not a CRS"):
        Works.read_parquet(tmp_path / "crs.parquet")
    # not Parquet at all
    (tmp_path / "text.parquet").write_text("work_id,org\n1,a\n")
    with pytest.raises(InputError, match="cannot be read as GeoParquet"):
        Works.read_parquet(tmp_path / "text.parquet")


# --- works read from files are checked as the import checks them ----------------------


def _far_apart_pair(works: gpd.GeoDataFrame) -> tuple[int, int]:
    """Two works of one organisation in different row groups of 300, far apart."""
    same = works.index[works["org"] == works["org"].iloc[0]].to_numpy()
    first = int(same[0])
    cx = works.geometry.centroid.x.to_numpy()
    last = int(same[np.argmax(np.abs(cx[same] - cx[first]))])
    assert last // 300 != first // 300 and abs(cx[last] - cx[first]) > 100
    return first, last


def test_duplicate_work_id_in_two_partitions_and_tiles_is_refused_as_the_import_does(
    dask_client: Any, tmp_path: Path
) -> None:
    works = street_works(2000, seed=6)
    first, last = _far_apart_pair(works)
    works.loc[last, "work_id"] = works.loc[first, "work_id"]
    path = tmp_path / "works.parquet"
    works.to_parquet(path, row_group_size=300, write_covering_bbox=True, schema_version="1.1.0")
    source = Works.read_parquet(path)
    assert source.frame.npartitions == 7
    # the import rejects both rows with this reason
    reasons = validate(gpd.read_parquet(path)).rejected[REASON].tolist()
    message = (
        f"duplicate work_id '{works.loc[first, 'work_id']}' for org '{works.loc[first, 'org']}'"
    )
    assert reasons == [message, message]
    # the two copies lie in different tiles: no tile holds both
    tiling = grid_tiling(
        [float(np.mean(works.geometry.centroid.x.to_numpy()[[first, last]]))], [], 20.0
    )
    owners = tiling.owner(
        works.geometry.centroid.x.to_numpy()[[first, last]],
        works.geometry.centroid.y.to_numpy()[[first, last]],
    )
    assert owners[0] != owners[1]
    for kwargs in ({"tiling": tiling}, {"tiles": 4}):
        for shuffle in SHUFFLES:
            with pytest.raises(InputError, match=f"^{message} in {path} "):
                run(Works.read_parquet(path), client=dask_client, shuffle=shuffle, **kwargs)


def test_a_run_whose_key_hashes_collide_goes_on_with_the_same_answer(
    dask_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    works = street_works(400, seed=8)
    keys = pd.util.hash_pandas_object(works[["org", "work_id"]].astype("str"), index=False)
    forged = keys.to_numpy()[[5, 300]]  # as if two different works had hashed to one value

    def collided(hashes: list[np.ndarray]) -> np.ndarray:
        return forged if hashes else np.zeros(0, np.uint64)

    monkeypatch.setattr(engine, "_repeated", collided)
    result = run(works, client=dask_client, tiles=3, shuffle="direct")
    assert result.conflicts is not None and result.pairs == len(result.conflicts) > 0
    assert_same(result.conflicts, find_conflicts(works))


def test_keys_whose_hashes_collide_are_not_taken_for_duplicates(dask_client: Any) -> None:
    from ims_geo.distributed.engine import _refuse_duplicates

    works = Works.from_geodataframe(street_works(50, seed=7), partitions=3)
    keys = works.frame[["org", "work_id"]].compute()
    hashes = pd.util.hash_pandas_object(keys.astype("str"), index=False).to_numpy()
    forged = hashes[[3, 40]]  # as if two different works had hashed to one value
    _refuse_duplicates(works, forged, dask_client)  # read again, found different: no error
    works_dup = street_works(50, seed=7)
    works_dup.loc[40, ["org", "work_id"]] = works_dup.loc[3, ["org", "work_id"]].to_numpy()
    dup = Works.from_geodataframe(works_dup, partitions=3)
    with pytest.raises(InputError, match="duplicate work_id"):
        _refuse_duplicates(dup, forged, dask_client)


def test_geoparquet_rows_are_checked_and_repaired_as_the_import_does(
    dask_client: Any, tmp_path: Path
) -> None:
    works = street_works(600, seed=8)
    raw = works.copy()
    # a layer left out (the import fills it from the discipline), a self-crossing
    # polygon (the import repairs it): the answer is the single engine's on the imported works
    raw["layer"] = raw["layer"].astype(object)
    raw.loc[5, "layer"] = None
    # excavation and dates as text, as a hand-made file may hold them
    raw["excavation"] = np.where(raw["excavation"], "yes", "no")
    for column in ("start_date", "end_date"):
        raw[column] = raw[column].dt.strftime("%d.%m.%Y")
    x, y = raw.geometry.iloc[7].coords[0]
    raw.loc[7, "geometry"] = Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10)])
    assert not raw.geometry.iloc[7].is_valid
    path = tmp_path / "raw.parquet"
    raw.to_parquet(path, row_group_size=200, write_covering_bbox=True, schema_version="1.1.0")
    imported = validate(gpd.read_parquet(path))
    assert imported.rejected.empty and imported.repaired == 1
    assert imported.valid.loc[5, "layer"] != "" and imported.valid.geometry.iloc[7].is_valid
    want = find_conflicts(imported.valid)
    assert_same(find_conflicts_dask(Works.read_parquet(path), client=dask_client, tiles=3), want)
    # a work the import rejects: the run is refused, naming the file, the work and the reason
    raw.loc[9, "end_date"] = "01.01.2020"
    raw.to_parquet(path, row_group_size=200, write_covering_bbox=True, schema_version="1.1.0")
    (reason,) = validate(gpd.read_parquet(path)).rejected[REASON].tolist()
    assert reason == "end_date before start_date"
    with pytest.raises(InputError) as refused:
        find_conflicts_dask(Works.read_parquet(path), client=dask_client, tiles=3)
    text = str(refused.value)
    assert text.startswith(f"{path}: 1 work(s) fail the checks of ims-geo import")
    assert f"work_id '{raw.loc[9, 'work_id']}' of org '{raw.loc[9, 'org']}': {reason}" in text


def test_local_workers_start_without_dasks_malloc_trim_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """glibc keeps adjusting its mmap threshold in the workers (see ``WORKER_CONFIG``)."""
    import os
    import sys
    import types

    from ims_geo.distributed.cluster import dask_client

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    # the worker processes are spawned: they run the main module again, and in a test
    # process that ran the app's pages before, that is the app's script; under the
    # command line it is the command's own
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = dict(os.environ)
    with dask_client(workers=1, memory_limit="1GiB") as client:
        # the settings the workers start with are theirs: this process keeps its own
        assert dict(os.environ) == before
        seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"))
        threads = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
        profiling = client.run(
            lambda: __import__("dask").config.get("distributed.worker.profile.enabled")
        )
        imported = client.run(lambda: "ims_geo.distributed.engine" in sys.modules)
    assert list(seen.values()) == ["unset"]
    assert list(threads.values()) == ["1"]  # Dask's other settings of the workers stay
    assert list(profiling.values()) == [False]  # no dashboard: no profiler
    assert list(imported.values()) == [True]  # the engine imported when the client connected
