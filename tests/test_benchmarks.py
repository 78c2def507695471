"""The benchmark's data generator and the pairs task of every method it times."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from ims_geo import schema

from conftest import ROOT, shared_data

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import conflicts as bench
from benchmarks import generate, peers

TASK = peers.Task(distance=20.0, window_days=180)
N = 2_000


@pytest.fixture(scope="module")
def grid() -> generate.Streets:
    """The synthetic street network (what the generator falls back to)."""
    return generate.load_streets(None)


@pytest.fixture(scope="module")
def works(grid: generate.Streets) -> gpd.GeoDataFrame:
    return generate.generate(N, seed=7, streets=grid)


@pytest.fixture(scope="module")
def works_file(works: gpd.GeoDataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate.write(works, tmp_path_factory.mktemp("bench") / "works.gpkg")


def oracle(works: gpd.GeoDataFrame, task: peers.Task) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair, checked one by one (vectorised over all n*(n-1)/2 pairs)."""
    i, j = np.triu_indices(len(works), 1)
    org = works[schema.ORG].to_numpy()
    start = works[schema.START].to_numpy().astype("datetime64[D]").astype(np.int64)
    end = works[schema.END].to_numpy().astype("datetime64[D]").astype(np.int64)
    gap = np.maximum(start[i], start[j]) - np.minimum(end[i], end[j])
    keep = (org[i] != org[j]) & (gap <= task.window_days)
    i, j = i[keep], j[keep]
    geoms = works.geometry.to_numpy()
    near = shapely.distance(geoms[i], geoms[j]) <= task.distance
    return i[near], j[near]


def test_generator_is_seeded(grid: generate.Streets, works: gpd.GeoDataFrame) -> None:
    again = generate.generate(N, seed=7, streets=grid)
    assert_geodataframe_equal(works, again)
    other = generate.generate(N, seed=8, streets=grid)
    assert not works[schema.START].equals(other[schema.START])
    assert not works.geometry.geom_equals_exact(other.geometry, 0).all()


def test_generated_works_are_canonical_and_realistic(works: gpd.GeoDataFrame) -> None:
    checked = schema.validate(works)
    assert len(checked.rejected) == 0 and checked.repaired == 0
    # validation changes nothing: the generated columns already have canonical dtypes
    canonical = [
        schema.WORK_ID,
        schema.ORG,
        schema.DISCIPLINE,
        schema.LAYER,
        schema.STATUS,
        schema.VISIBILITY,
        *schema.DATE_COLUMNS,
        schema.EXCAVATION,
        *schema.NUMBER_COLUMNS,
    ]
    for column in canonical:
        assert checked.valid[column].dtype == works[column].dtype, column
        assert checked.valid[column].equals(works[column]), column
    assert set(schema.COLUMNS) - {schema.FUNDING} <= set(works.columns)
    assert works.crs.to_epsg() == 3067
    assert works[schema.ORG].nunique() == 8
    sealing = schema.seals_surface(works)
    assert set(works.loc[sealing, schema.ORG]) == {generate.ROAD_AUTHORITY}
    utilities = works[schema.ORG] != generate.ROAD_AUTHORITY
    assert works.loc[utilities, schema.EXCAVATION].all()
    assert set(works.loc[utilities, schema.LAYER]) == {"subsurface"}
    assert set(works.geom_type) == {"LineString", "Polygon"}
    assert set(works.loc[~utilities].geom_type) == {"LineString"}
    assert not works.duplicated([schema.ORG, schema.WORK_ID]).any()
    assert (works[schema.END] >= works[schema.START]).all()
    assert (works[schema.EARLIEST] <= works[schema.START]).all()
    assert (works[schema.LATEST] >= works[schema.END]).all()
    assert works[schema.START].min() >= pd.Timestamp("2027-01-01")
    assert works[schema.END].max() <= pd.Timestamp("2031-12-31")
    assert set(works[schema.STATUS]) <= set(schema.CHANGEABLE_STATUSES)
    assert works.geometry.is_valid.all() and not works.geometry.is_empty.any()
    # one tile per 2,500 works: 2,000 works lie on one copy of the street grid
    assert set(works["tile"]) == {0}


def test_tiles_are_translated_copies_side_by_side(grid: generate.Streets) -> None:
    big = generate.generate(3 * generate.WORKS_PER_TILE, seed=1, streets=grid)
    assert set(big["tile"]) == {0, 1, 2}
    width = grid.bounds[2] - grid.bounds[0]
    boxes = [shapely.box(*big.loc[big["tile"] == t].total_bounds) for t in (0, 1, 2)]
    # tiles never touch: no pair of works of two tiles is within 20 m
    for a in range(3):
        for b in range(a + 1, 3):
            assert shapely.distance(boxes[a], boxes[b]) > 20
    assert big.total_bounds[2] - big.total_bounds[0] > 1.5 * width


def test_density_puts_more_works_on_each_tile(grid: generate.Streets) -> None:
    n = 5 * generate.WORKS_PER_TILE  # 12,500 works
    plain = generate.generate(n, seed=3, streets=grid)
    assert_geodataframe_equal(plain, generate.generate(n, seed=3, streets=grid, density=1.0))
    dense = generate.generate(n, seed=3, streets=grid, density=2.5)
    assert generate.works_per_tile(2.5) == 6_250
    # 12,500 works: five copies of the grid at density 1, two at density 2.5
    assert set(plain["tile"]) == set(range(5)) and set(dense["tile"]) == {0, 1}
    assert len(dense) == n and schema.validate(dense).rejected.empty

    def neighbours(works: gpd.GeoDataFrame) -> int:
        """Unordered pairs whose envelopes, grown by 20 m, meet (counted one by one)."""
        b = works.geometry.bounds.to_numpy()
        i, j = np.triu_indices(len(b), 1)
        near = (b[i, 0] <= b[j, 2] + 40) & (b[j, 0] <= b[i, 2] + 40)
        return int((near & (b[i, 1] <= b[j, 3] + 40) & (b[j, 1] <= b[i, 3] + 40)).sum())

    sample = np.random.default_rng(0).choice(n, 2_500, replace=False)
    # 2.5 times the works per tile: roughly 2.5 times the neighbours per work
    ratio = neighbours(dense.iloc[sample]) / neighbours(plain.iloc[sample])
    assert 2.0 < ratio < 3.0
    with pytest.raises(ValueError, match="density"):
        generate.generate(10, streets=grid, density=0)


def test_real_streets_are_reprojected_osm_segments() -> None:
    path = shared_data("helsinki_osm_streets", "helsinki_streets.gpkg")
    streets = generate.load_streets(path)
    assert "OpenStreetMap" in streets.source
    assert 2_000 < len(streets.segments) < 2_504  # steps, paths... left out
    x0, y0, x1, y1 = streets.bounds  # central Helsinki in ETRS-TM35FIN metres
    assert 384_000 < x0 < x1 < 388_000 and 6_670_000 < y0 < y1 < 6_675_000
    assert streets.weights.sum() == pytest.approx(1.0)
    works = generate.generate(500, seed=2, streets=streets)
    assert works["street"].str.len().gt(0).any()


def test_missing_street_file_falls_back_to_a_grid_and_says_so(tmp_path: Path) -> None:
    streets = generate.load_streets(tmp_path / "absent.gpkg")
    assert streets.source.startswith("synthetic street grid")
    assert "absent.gpkg" in streets.source


def test_written_file_has_date_fields_and_reads_back(
    works: gpd.GeoDataFrame, works_file: Path
) -> None:
    info = pyogrio.read_info(works_file)
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert {types[c] for c in schema.DATE_COLUMNS} == {"OFTDate"}
    assert info["crs"] == "EPSG:3067" and info["features"] == N
    back = gpd.read_file(works_file, engine="pyogrio", use_arrow=True)
    assert (back[schema.WORK_ID] == works[schema.WORK_ID]).all()
    assert (pd.to_datetime(back[schema.END]) == works[schema.END]).all()
    assert back.geometry.geom_equals_exact(works.geometry, 0).all()


def test_dataset_is_cached_by_size_and_seed(grid: generate.Streets, tmp_path: Path) -> None:
    first = generate.dataset(300, seed=5, directory=tmp_path, streets=grid)
    stamp = first.stat().st_mtime_ns
    assert generate.dataset(300, seed=5, directory=tmp_path, streets=grid) == first
    assert first.stat().st_mtime_ns == stamp
    assert generate.dataset(300, seed=6, directory=tmp_path, streets=grid) != first
    dense = generate.dataset(300, seed=5, directory=tmp_path, streets=grid, density=2.5)
    assert dense != first and "density2.5" in dense.name


def test_checksum_ignores_order_and_orientation() -> None:
    a = peers.checksum(np.array([0, 2]), np.array([3, 1]), 4)
    assert a == peers.checksum(np.array([1, 3]), np.array([2, 0]), 4)
    assert a != peers.checksum(np.array([0, 1]), np.array([3, 3]), 4)


@pytest.mark.parametrize(
    "method", ["ims_geo", "buffer_sjoin", "sjoin_dwithin", "strtree", "duckdb"]
)
def test_every_method_finds_the_brute_force_pairs(
    method: str, works: gpd.GeoDataFrame, works_file: Path
) -> None:
    i, j = oracle(works, TASK)
    assert len(i) > 500  # the data set has real work to do
    result = peers.run(method, works_file, TASK)
    assert result.pairs == len(i)
    assert result.checksum == peers.checksum(i, j, N)
    assert result.seconds == pytest.approx(sum(result.phases.values()))
    assert result.peak_rss_mib > 50
    if method == "duckdb":
        assert any("SPATIAL_JOIN" in note for note in result.notes)


@pytest.mark.postgis
def test_postgis_finds_the_brute_force_pairs(
    postgis_url: str, works: gpd.GeoDataFrame, works_file: Path
) -> None:
    i, j = oracle(works, TASK)
    result = peers.run("postgis", works_file, TASK, postgis_url=postgis_url)
    assert (result.pairs, result.checksum) == (len(i), peers.checksum(i, j, N))
    assert any("GiST index scan" in note for note in result.notes)
    assert result.server_peak_mib is not None and result.server_peak_mib > 0


def test_floor_bounds_the_candidates(works: gpd.GeoDataFrame, works_file: Path) -> None:
    i, j = oracle(works, TASK)
    floor = peers.run("floor", works_file, TASK)
    assert floor.pairs > len(i)  # bbox candidates of every org and date: a superset


def test_spawn_measures_the_child_not_the_parent() -> None:
    # this test process holds geopandas & co: a plain fork/exec child would report its size
    small = bench.spawn([sys.executable, "-c", "pass"], timeout=60)
    big = bench.spawn(
        [sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"],
        timeout=60,
    )
    assert small.returncode == 0 and big.returncode == 0
    assert small.peak_rss_mib < 60
    assert 300 < big.peak_rss_mib < 400
    slow = bench.spawn([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert slow.timed_out and slow.returncode is None


def test_agreement_reports_methods_that_differ() -> None:
    def measured(name: str, pairs: int, digest: str) -> bench.Measured:
        return bench.Measured(name, result={"pairs": pairs, "checksum": digest})

    same = {m: measured(m, 10, "abc") for m in ("ims_geo", "strtree", "duckdb")}
    same["floor"] = measured("floor", 99, "zzz")  # the floor does not answer the task
    assert bench.agreement(same) == (10, "")
    same["duckdb"] = measured("duckdb", 10, "abd")
    count, disagree = bench.agreement(same)
    assert count is None and "duckdb 10 (abd)" in disagree


def test_benchmark_script_runs_and_reports(tmp_path: Path) -> None:
    code = bench.main(
        ["--sizes", "400", "--methods", "floor,ims_geo,strtree", "--workdir", str(tmp_path)]
    )
    assert code == 0
    report = json.loads((tmp_path / "conflicts.json").read_text())
    (size,) = report["sizes"]
    assert size["n"] == 400 and not size["disagree"]
    methods = size["methods"]
    assert methods["ims_geo"]["result"]["pairs"] == methods["strtree"]["result"]["pairs"]
    assert methods["ims_geo"]["peak_rss_mib"] > 50
    e2e = size["end_to_end"]
    assert e2e["strtree_program"]["rows"] == size["pairs"]
    assert e2e["cli"]["same_pairs_within_window"] is True
    # without moratoria the CLI writes exactly the peers' pairs
    assert e2e["cli_moratorium_0"]["rows"] == size["pairs"]
    assert e2e["cli"]["rows"] >= size["pairs"]
    table = (tmp_path / "conflicts.md").read_text()
    assert "| ims_geo |" in table and "| cli_moratorium_0 |" in table


def test_the_dense_target_counts_validate_and_find_conflicts_against_the_floor() -> None:
    def method(seconds: dict[str, float], peak: float = 3000.0) -> dict:
        return {"result": {"seconds": sum(seconds.values()), "phases": seconds},
                "peak_rss_mib": peak}  # fmt: skip

    ims = {"read": 1.5, "validate": 0.5, "find_conflicts": 10.5}
    report = {"sizes": [{"n": 1_000_000, "methods": {
        "floor": method({"read": 1.5, "index": 0.3, "bbox query": 4.0}),
        "ims_geo": method(ims, peak=4100.0)}}]}  # fmt: skip
    lines = bench.verdicts(report)
    # (0.5 + 10.5) / 5.8 = 1.90; with the read (12.5 / 5.8) 2.16
    assert lines[0] == (
        "1M: validate + find_conflicts 11.00 s = 1.90x the floor (5.80 s): target <= 2x met"
        " (with ims_geo's read: 2.16x)"
    )
    assert lines[1] == "1M: 12.5 s (target < 30 s met), peak RSS 4.00 GiB (target < 4 GiB MISSED)"
    ims["find_conflicts"] = 11.2  # 11.7 / 5.8 = 2.02; with the read 13.2 / 5.8 = 2.28
    report["sizes"][0]["methods"]["ims_geo"] = method(ims)
    assert bench.verdicts(report)[0].endswith("target <= 2x MISSED (with ims_geo's read: 2.28x)")
