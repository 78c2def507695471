"""GeoParquet INPUT: the import, the single engine and the upload read ``.parquet``.

Every file is written here by geopandas or pyarrow (never by the code under
test, except where the round trip through ``ims-geo export`` is the point);
expected values are computed from the data built here: the same works read
from a GeoPackage, or values written down from the Arrow columns made here.
"""

from __future__ import annotations

import datetime as dt
import decimal

import fuzz_corpus as fc
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.conflicts import find_conflicts
from ims_geo.errors import HostileInputError, InputError, MissingCRSError, ReadLimitError
from ims_geo.ingest import Limits, Mapping, _geoparquet, _sources, list_layers, read_works
from ims_geo.store import open_store

RD = 28992
X0, Y0 = 121_000.0, 487_000.0  # Amsterdam, RD New
ORGS = ["Gemeente", "Waternet", "Liander"]


def works(n: int = 36, seed: int = 3) -> gpd.GeoDataFrame:
    """``n`` works of three organisations within 400 m: every geometry family, every column."""
    rng = np.random.default_rng(seed)
    x = X0 + rng.random(n) * 400
    y = Y0 + rng.random(n) * 400
    shapes = [
        shapely.Point(x[i], y[i])
        if i % 5 == 0
        else shapely.box(x[i], y[i], x[i] + 12, y[i] + 7)
        if i % 5 == 1
        else shapely.MultiLineString([[(x[i], y[i]), (x[i] + 30, y[i])], [(x[i], y[i] + 5), (x[i] + 9, y[i] + 20)]])
        if i % 5 == 2
        else shapely.LineString([(x[i], y[i], 1.5), (x[i] + 60, y[i] + 25, 2.5)])
        if i % 5 == 3
        else shapely.LineString([(x[i], y[i]), (x[i] + 50, y[i] - 10), (x[i] + 80, y[i] + 5)])
        for i in range(n)
    ]  # fmt: skip
    start = pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(5, 90, n), unit="D")
    return gpd.GeoDataFrame(
        {
            "work_id": [f"{i:05d}" for i in range(n)],
            "org": [ORGS[i % 3] for i in range(n)],
            "title": [f"Straße – {i} €" if i % 4 else None for i in range(n)],
            "discipline": rng.choice(["road", "water", "gas", "sewer", "telecom"], n),
            "start_date": start.date,
            "end_date": end.date,
            "depth_min": np.where(rng.random(n) < 0.5, np.nan, 0.6),
            "cost_eur": np.round(rng.random(n) * 1e5, 2),
            "street": rng.choice(["Damstraat", "Spui", "Rokin"], n),
            "diameter_mm": rng.integers(50, 500, n).astype(float),
        },
        geometry=shapes,
        crs=RD,
    )


def run(*args: object):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def sorted_works(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.sort_values(["org", "work_id"], ignore_index=True)


# --- the round trip and the single engine ------------------------------------------------


def test_export_then_import_into_a_fresh_store_gives_identical_works(tmp_path):
    plan = tmp_path / "plan.gpkg"
    works().to_file(plan, driver="GPKG")
    first, second = tmp_path / "first.gpkg", tmp_path / "second.gpkg"
    assert run("import", plan, "--store", first).exit_code == 0
    exported = tmp_path / "works.parquet"
    assert run("export", "--out", exported, "--store", first).exit_code == 0
    result = run("import", exported, "--store", second)
    assert result.exit_code == 0, result.output
    assert "accepted: 36" in result.stdout and "rejected: 0" in result.stdout
    before = sorted_works(open_store(first).works())
    after = sorted_works(open_store(second).works())
    assert len(after) == 36
    assert_geodataframe_equal(after, before, check_less_precise=False)
    assert set(after.geom_type) == {"Point", "Polygon", "MultiLineString", "LineString"}


def test_single_engine_on_parquet_equals_the_same_works_from_geopackage(tmp_path):
    store = tmp_path / "store.gpkg"
    plan = tmp_path / "plan.gpkg"
    works().to_file(plan, driver="GPKG")
    assert run("import", plan, "--store", store).exit_code == 0
    for out in ("works.parquet", "works.gpkg"):
        assert run("export", "--out", tmp_path / out, "--store", store).exit_code == 0
    from_parquet = read_works(tmp_path / "works.parquet")
    from_gpkg = read_works(tmp_path / "works.gpkg")
    assert_geodataframe_equal(from_parquet.works, from_gpkg.works)
    found = find_conflicts(from_parquet.works)
    assert len(found) >= 5 and set(found["kind"]) >= {"clash"}
    pd.testing.assert_frame_equal(found, find_conflicts(from_gpkg.works))
    answers = []
    for name in ("works.parquet", "works.gpkg"):
        out = tmp_path / f"conflicts_{name}.csv"
        result = run("conflicts", tmp_path / name, "--out", out)
        assert result.exit_code == 0, result.output
        answers.append(pd.read_csv(out, dtype=str, keep_default_na=False))
    assert len(answers[0]) == len(found)
    pd.testing.assert_frame_equal(answers[0], answers[1])


def test_upload_bytes_list_layers_mapping_and_the_upload_page_types(tmp_path):
    frame = works(6).rename(columns={"work_id": "nummer", "start_date": "begin"})
    buffer = fc.geoparquet(frame)
    assert list_layers(buffer, name="plan_2027.parquet") == ["plan_2027"]
    mapping = Mapping(columns={"work_id": "nummer", "start_date": "begin"})
    result = read_works(buffer, name="plan_2027.parquet", mapping=mapping)
    assert result.rejected.empty, result.report()
    assert result.works[schema.WORK_ID].tolist() == [f"{i:05d}" for i in range(6)]
    assert result.columns[schema.START] == ["begin"]
    assert ".parquet" in _sources.FORMATS  # the upload page offers every format of FORMATS


# --- what the file says about its geometry and CRS -------------------------------------------


def test_geoarrow_native_geometries_read_as_their_wkb_twins():
    lines = works(10)
    lines = lines[[g.geom_type == "LineString" and not g.has_z for g in lines.geometry]]
    wkb = read_works(fc.geoparquet(lines), name="wkb.parquet").works
    native = read_works(
        fc.geoparquet(lines, geometry_encoding="geoarrow"), name="native.parquet"
    ).works
    assert len(native) == len(lines) > 0
    assert_geodataframe_equal(native, wkb)


def _without_geo(frame: gpd.GeoDataFrame, column: str = "geometry") -> bytes:
    table = pa.table(
        {
            **{c: pa.array(frame[c].astype(str)) for c in frame.columns if c != "geometry"},
            column: pa.array(shapely.to_wkb(frame.geometry.to_numpy()), pa.binary()),
        }
    )
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    return out.getvalue().to_pybytes()


def test_parquet_without_geo_metadata_is_read_as_a_csv_would_be():
    frame = works(5)
    lonlat = _without_geo(frame.to_crs(4326), column="WKB")
    result = read_works(lonlat, name="lonlat.parquet")
    assert result.rejected.empty, result.report()
    assert result.crs.to_epsg() == RD
    moved = gpd.GeoSeries(result.works.geometry.to_numpy(), crs=RD)
    assert (moved.hausdorff_distance(frame.geometry.reset_index(drop=True)) < 0.01).all()
    rd = _without_geo(frame)
    with pytest.raises(MissingCRSError, match=r"rd.parquet says nothing about its CRS.*--crs"):
        read_works(rd, name="rd.parquet")
    given = read_works(rd, name="rd.parquet", crs="EPSG:28992")
    assert shapely.equals_exact(
        given.works.geometry.to_numpy(), frame.geometry.to_numpy(), tolerance=0
    ).all()
    no_wkb = _without_geo(frame, column="shape_text").replace(b"shape_text", b"not_a_geom")
    with pytest.raises(InputError, match=r"no WKB column named geometry or geom"):
        read_works(no_wkb, name="plain.parquet")


def test_further_geometry_columns_and_a_pandas_index_are_no_attributes():
    frame = works(4).set_index(pd.Index([7, 3, 9, 1]))
    frame["centre"] = frame.geometry.centroid
    result = read_works(fc.geoparquet(frame), name="two.parquet")
    assert result.rejected.empty, result.report()
    assert "centre" not in result.works and not any("index" in c for c in result.works.columns)
    assert result.warnings == [
        "two.parquet: only the geometry column 'geometry' is read; the further geometry "
        "columns centre are left out"
    ]
    assert result.works["street"].tolist() == frame["street"].tolist()


def test_a_text_geometry_column_is_refused_with_the_fix():
    frame = works(3)
    table = pa.table({"work_id": ["1", "2", "3"], "geometry": frame.geometry.to_wkt().tolist()})
    out = pa.BufferOutputStream()
    pq.write_table(table, out)
    with pytest.raises(InputError, match=r"'geometry' holds (large_)?string, not WKB.*WKB"):
        read_works(out.getvalue().to_pybytes(), name="wkt.parquet")


# --- hostile files ------------------------------------------------------------------------


def case(name: str) -> fc.Case:
    return next(c for c in fc._parquet_cases() if c.name == name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("image.parquet", r"image.parquet is not a vector data file \(it looks like a PNG image\)"),
        ("text.parquet", r"text.parquet is not a vector data file; supported formats .*GeoParquet"),
        ("cut.parquet", r"cut.parquet .*could not be read as Parquet: Parquet magic bytes"),
        ("footer_only.parquet", r"footer_only.parquet .*could not be read as Parquet"),
        ("geo_not_json.parquet", r"'geo' metadata is not JSON .*export it again"),
        ("geo_list.parquet", r"has no 'primary_column' and 'columns'"),
        (
            "geo_missing_column.parquet",
            r"names the geometry column 'geom', which the file does not",
        ),
        ("encoding_wkt.parquet", r"encoded as 'WKT', which is not read .*GEOMETRY_ENCODING=WKB"),
        ("crs_null.parquet", r"says nothing about its CRS .*--crs EPSG:28992"),
        ("crs_absent.parquet", r"declares its CRS as OGC:CRS84, but no coordinate lies"),
        ("rows.parquet", r"rows.parquet holds 300 features, more than the limit of 100"),
        ("expanded.parquet", r"expands to [\d,]+ bytes of column data.*max_expanded_bytes"),
    ],
)
def test_hostile_parquet_is_refused_with_a_clear_message(name, message):
    found = case(name)
    limits = Limits(**found.limits) if found.limits else None
    with pytest.raises(InputError, match=message):
        read_works(found.data, name=found.name, org=fc.ORG, limits=limits)


def test_hostile_parquet_through_the_cli_is_an_error_line_not_a_traceback(tmp_path):
    for name in ("cut.parquet", "geo_not_json.parquet", "encoding_wkt.parquet"):
        path = tmp_path / name
        path.write_bytes(case(name).data)
        store = tmp_path / "s.gpkg"
        result = CliRunner().invoke(main, ["import", str(path), "--store", str(store)])
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert name in result.stderr


def nested(depth: int) -> shapely.Geometry:
    """A point in ``depth`` GeometryCollections, the innermost with a multi-polygon beside it."""
    geom = shapely.GeometryCollection(
        [shapely.Point(X0, Y0), shapely.MultiPolygon([shapely.box(X0, Y0, X0 + 1, Y0 + 1)])]
    )
    for _ in range(depth - 1):
        geom = shapely.GeometryCollection([shapely.Point(X0 + 1, Y0), geom])
    return geom


@pytest.mark.parametrize("depth", [1, 2, 7, 8, 9, 30])
@pytest.mark.parametrize(
    "flavour",
    [{"byte_order": 1}, {"byte_order": 0}, {"include_srid": True}, {"output_dimension": 3}],
)
def test_wkb_nesting_is_measured_as_built(depth, flavour):
    geom = nested(depth)
    if flavour.get("output_dimension") == 3:
        geom = shapely.force_3d(geom, 2.0)
    if flavour.get("include_srid"):
        geom = shapely.set_srid(geom, RD)
    wkb = shapely.to_wkb(geom, **flavour)
    # the innermost collection holds a multi-polygon: one level more
    assert _geoparquet._wkb_depth(wkb, 100) == depth + 1
    assert _geoparquet._wkb_depth(wkb, 3) == min(depth + 1, 4)
    counted = _geoparquet._collection_headers(pa.array([b"", wkb, None, wkb[:20]], pa.binary()))
    assert counted[1] >= depth + 1 and counted[0] == 0 and counted[2] == 0


def test_deeply_nested_wkb_rejects_its_row_before_geos_parses_it():
    found = case("deep_wkb.parquet")
    result = read_works(found.data, name=found.name, org=fc.ORG)
    assert len(result.works) == 19
    assert result.rejected[schema.SOURCE_ROW].tolist() == [1]
    assert result.rejected[schema.REASON].tolist() == [
        "geometry nesting collections 9+ deep, more than max_geometry_depth"
    ]
    shallow = fc.geoparquet(
        fc.plan(3, 2), table=lambda t: fc._with_wkb(t, 1, shapely.to_wkb(nested(7)))
    )
    parsed = read_works(shallow, name="shallow.parquet", org=fc.ORG)  # parsed, then judged
    assert parsed.rejected[schema.REASON].tolist() == [
        "unsupported geometry type 'GeometryCollection' (use points, lines or polygons)"
    ]


def test_invalid_wkb_rejects_its_row_only():
    for name, row in (("bad_wkb.parquet", 2), ("unknown_wkb_type.parquet", 3)):
        result = read_works(case(name).data, name=name, org=fc.ORG)
        assert len(result.works) == 19
        assert result.rejected[schema.SOURCE_ROW].tolist() == [row]
        assert result.rejected[schema.REASON].tolist() == [_geoparquet.UNREADABLE_WKB]


def test_footer_limits_are_checked_before_any_data_is_read(monkeypatch, tmp_path):
    path = tmp_path / "plan.parquet"
    path.write_bytes(fc.geoparquet(fc.plan(300, 10)))
    meta = pq.ParquetFile(path).metadata
    expanded = sum(
        meta.row_group(g).column(c).total_uncompressed_size
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    )

    def never(*_args, **_kwargs):
        raise AssertionError("data pages read")

    monkeypatch.setattr(pq.ParquetFile, "read", never)
    dataset = _sources.Dataset("parquet", "GeoParquet", path=str(path), limits=Limits())
    with pytest.raises(HostileInputError, match="holds 300 features"):
        _geoparquet.read_parquet(dataset, "plan.parquet", max_rows=299)
    dataset.limits = Limits(max_expanded_bytes=expanded - 1)
    with pytest.raises(HostileInputError, match=f"expands to {expanded:,} bytes"):
        _geoparquet.read_parquet(dataset, "plan.parquet")
    dataset.limits = Limits(max_ratio=1.01)
    with pytest.raises(HostileInputError, match="compression bombs"):
        _geoparquet.read_parquet(dataset, "plan.parquet")
    dataset.limits = Limits(max_expanded_bytes=expanded)
    with pytest.raises(AssertionError, match="data pages read"):
        _geoparquet.read_parquet(dataset, "plan.parquet", max_rows=300)


def test_a_compression_bomb_column_is_refused_from_its_footer(tmp_path):
    zeros = pa.array(np.zeros(400_000, np.int64))
    path = tmp_path / "bomb.parquet"
    big = pa.table({"zeros": zeros})
    pq.write_table(big, path, compression="zstd", compression_level=19, use_dictionary=False)
    meta = pq.ParquetFile(path).metadata.row_group(0).column(0)
    ratio = meta.total_uncompressed_size / meta.total_compressed_size
    assert ratio > 200 and meta.total_uncompressed_size > 2**20
    dataset = _sources.Dataset("parquet", "GeoParquet", path=str(path), limits=Limits())
    with pytest.raises(HostileInputError, match=rf"expands {ratio:,.0f} times .*max_ratio"):
        _geoparquet.read_parquet(dataset, "bomb.parquet")


def test_decoded_text_beyond_the_memory_limit_is_a_read_limit_error(tmp_path):
    # one dictionary value of 1 MB repeated 4000 times: a tiny file, 4 GB once decoded
    frame = fc.plan(4000, 12)
    text = pa.array(["y" * 2**20] * 4000).dictionary_encode()
    data = fc.geoparquet(frame, table=lambda t: t.append_column("note", text))
    assert len(data) < 2**21
    with pytest.raises(ReadLimitError, match=r"big.parquet.*memory limit of 1,024 MiB"):
        read_works(data, name="big.parquet", limits=Limits(max_memory_bytes=2**30))


def test_odd_and_nested_column_types_are_read_as_text():
    result = read_works(case("odd_types.parquet").data, name="odd.parquet", org=fc.ORG)
    assert result.rejected.empty, result.report()
    first = result.works.iloc[0]
    assert first["price"] == str(decimal.Decimal("12.50"))
    assert first["at"] == dt.time(7, 30).isoformat(timespec="microseconds")
    assert first["kind"] == "x"
    assert first["info"] == '{"a": 1, "b": "c"}'
    assert first["tags"] == "[1, 2]"
    assert first["pairs"] == '[["k", 1]]'
    assert first["blob"] == "0102"
    assert first["half"] == "1.5"
    assert pd.Timestamp(first["stamp"]) == pd.Timestamp("2027-01-01 08:00", tz="UTC")
    assert pd.isna(first["nothing"])
    took = pa.array([dt.timedelta(seconds=90)], pa.duration("s")).cast(pa.string())[0].as_py()
    assert first["took"] == took
    assert len(result.works) == 20
