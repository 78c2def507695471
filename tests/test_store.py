"""The works stores: the same behaviour tests over GeoPackage and PostGIS."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS, Transformer
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)

from ims_geo.errors import ImportRefusedError, InputError, MissingCRSError, StoreError
from ims_geo.schema import COLUMNS, REASON, validate
from ims_geo.store import (
    COMPARE_COLUMNS,
    PRIVATE_ORG,
    STORE_ENV,
    SUMMARY_COLUMNS,
    VERSION_COLUMNS,
    GeoPackageStore,
    Store,
    open_store,
    organisations_of,
)

RD = "EPSG:28992"  # Dutch national grid, metres
X0, Y0 = 121_000.0, 487_000.0  # Amsterdam


# --- data built in code -----------------------------------------------------------
def plan(org: str, rows: list[dict], crs: str = RD) -> gpd.GeoDataFrame:
    """Valid works of ``org`` from hand-written rows (through schema.validate)."""
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=crs)
    checked = validate(frame, org=org, source=f"{org}.gpkg")
    assert checked.rejected.empty, checked.rejected[REASON].tolist()
    return checked.valid


def line(dx: float, dy: float = 0.0, length: float = 50.0) -> LineString:
    return LineString([(X0 + dx, Y0 + dy), (X0 + dx + length, Y0 + dy)])


def simple(
    org: str, ids: list[str], start: str = "2027-03-01", end: str = "2027-06-30"
) -> gpd.GeoDataFrame:
    rows = [
        {"work_id": w, "title": f"{org} {w}", "discipline": "water", "start_date": start,
         "end_date": end, "geometry": line(100.0 * i)}
        for i, w in enumerate(ids)
    ]  # fmt: skip
    return plan(org, rows)


def rich_plan() -> gpd.GeoDataFrame:
    """Every column kind, awkward values and every geometry type."""
    square = Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0 + 10)])
    holed = Polygon(
        [(X0 + 20, Y0), (X0 + 40, Y0), (X0 + 40, Y0 + 20), (X0 + 20, Y0 + 20)],
        [[(X0 + 25, Y0 + 5), (X0 + 30, Y0 + 5), (X0 + 30, Y0 + 10), (X0 + 25, Y0 + 5)]],
    )
    geoms = [
        Point(X0 + 0.123456789, Y0 - 0.987654321),
        LineString([(X0, Y0), (X0 + 33.3, Y0 + 1e-7), (X0 + 70, Y0 + 12.5)]),
        square,
        MultiPoint([(X0, Y0), (X0 + 5, Y0 + 5)]),
        MultiLineString([[(X0, Y0), (X0 + 1, Y0 + 1)], [(X0 + 2, Y0), (X0 + 3, Y0 + 4)]]),
        MultiPolygon([square, holed]),
    ]
    rows = {
        "work_id": ["00017", "0042", "A-7", "7", "007", "x y"],
        "title": ["Straße €–ß renewal", None, "", "Ωmega 'quoted' \"double\"", "line\nbreak", "ok"],
        "discipline": ["sewer", "road", "gas", "telecom", "lighting", "heat"],
        "layer": ["subsurface", "surface", "subsurface", "subsurface", "surface", "subsurface"],
        "start_date": ["2027-01-01", "2027-02-28", "2028-02-29", "2027-12-31", "2030-06-15", "2027-05-05"],
        "end_date": ["2027-01-01", "2027-03-31", "2028-03-01", "2028-01-02", "2031-06-15", "2027-09-09"],
        "earliest": ["2026-10-01", None, None, "2027-06-01", None, None],
        "latest": [None, "2027-12-31", None, None, None, "2028-12-31"],
        "excavation": [True, False, True, False, True, True],
        "depth_min": [1.5, np.nan, 0.6, 0.3, np.nan, 0.8],
        "depth_max": [3.25, np.nan, 1.2, 0.6, np.nan, 1.6],
        "status": ["planned", "committed", "idea", "in_progress", "done", "cancelled"],
        "cost_eur": [0.1 + 0.2, 1e12 + 0.5, np.nan, 0.0, 123456.789, 5e-324],
        "funding": ["MJOP 2027 – Kanal", None, "EU €", None, "", "x"],
        "visibility": ["public", "partners", "private", "public", "partners", "private"],
        # extra user columns of several kinds
        "prio": [1, 2, 3, -4, 0, 2**53],
        "score": [0.5, np.nan, 1 / 3, -0.0, 2.5e-9, 1e300],
        "district": ["Zuid–Oost", None, "Centrum ß", "", "Noord", "€"],
        "urgent": [True, False, False, True, False, True],
        "inspected": pd.to_datetime(["2026-05-01 08:30:00", None, "2026-01-31", None, "2025-12-31 23:59:59", "2024-02-29"], format="ISO8601").astype("datetime64[s]"),
        "geometry": geoms,
    }  # fmt: skip
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=RD)
    checked = validate(frame, org="Waternet", source="plan.gpkg")
    assert checked.rejected.empty, checked.rejected[REASON].tolist()
    return checked.valid


def assert_same_works(actual: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    """Equal values and dtypes, geometries equal to the last bit."""
    expected = expected.reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns)
    assert_geodataframe_equal(actual, expected, check_dtype=True, check_crs=True)
    assert (
        shapely.to_wkb(actual.geometry.to_numpy()).tolist()
        == shapely.to_wkb(expected.geometry.to_numpy()).tolist()
    )


# --- the two stores -------------------------------------------------------------------
@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "gpkg":
        return str(tmp_path / "nested" / "dir" / "ims.gpkg")
    return str(request.getfixturevalue("postgis_url"))


@pytest.fixture
def store(location: str):
    with open_store(location) as opened:
        yield opened


def stored_rows(store: Store) -> tuple[int, int, int]:
    """Raw row counts of the works, plan_versions and rejected tables."""
    tables = ("works", "plan_versions", "rejected")
    if isinstance(store, GeoPackageStore):
        with sqlite3.connect(store.path) as con:
            return tuple(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables)
    import sqlalchemy as sa

    engine = sa.create_engine(store.url)
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {store.schema}.{t}")).scalar_one()
            for t in tables
        )
    engine.dispose()
    return counts


# --- behaviour, both stores ---------------------------------------------------------------
def test_empty_store(store: Store) -> None:
    assert store.crs is None
    works = store.works()
    assert list(works.columns) == [*COLUMNS, "geometry"] and works.empty
    assert list(store.plan_versions().columns) == list(VERSION_COLUMNS)
    assert store.plan_versions().empty
    assert list(store.summary().columns) == list(SUMMARY_COLUMNS) and store.summary().empty
    assert store.rejected().empty
    assert store.revision() == store.revision()


def test_round_trip_is_exact(store: Store, location: str) -> None:
    works = rich_plan()
    version = store.import_plan(works, org="Waternet", cycle=2027, source="plan.gpkg")
    assert (version.org, version.cycle, version.version, version.n_works, version.n_rejected) == (
        "Waternet", 2027, 1, 6, 0,
    )  # fmt: skip
    assert store.crs == CRS.from_user_input(RD)
    assert_same_works(store.works(), works)
    assert_same_works(store.version_works(version.version_id), works)
    # a second store object on the same location reads the same
    with open_store(location) as again:
        assert_same_works(again.works(), works)
        assert again.crs == CRS.from_user_input(RD)


def test_extra_columns_keep_their_values_and_dtypes(store: Store) -> None:
    works = simple("A", ["1", "2", "3"])
    extras = pd.DataFrame(
        {
            "Int": pd.array([1, None, -(2**62)], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "kind": pd.Categorical(["b", "a", "b"]),
            "f32": np.array([0.5, 1.25, -2.0], dtype="float32"),
            "local": pd.to_datetime(["2027-03-28 01:30", None, "2027-10-31 02:30"])
            .tz_localize("Europe/Amsterdam", ambiguous=[True, True, False])
            .astype("datetime64[us, Europe/Amsterdam]"),
            "ns": pd.to_datetime(
                ["2027-01-01 00:00:00.123456789", None, "1970-01-01"], format="ISO8601"
            ),
            "wait": pd.to_timedelta(["1 days 02:00:00", None, "0 s"]),
            "id with space": ["a b", "ä", ""],
            "7": [7, 8, 9],
        }
    )
    works = pd.concat([works.drop(columns="geometry"), extras], axis=1)
    works = gpd.GeoDataFrame(works, geometry=simple("A", ["1", "2", "3"]).geometry, crs=RD)
    store.import_plan(works, org="A", cycle=2027)
    assert_same_works(store.works(), works)


def test_new_import_is_a_new_version_and_old_ones_stay_readable(store: Store) -> None:
    v1 = simple("Waternet", ["1", "2", "3"])
    v2 = simple("Waternet", ["1", "2"], start="2027-04-01")
    v3 = simple("Waternet", ["9"])
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    p1 = store.import_plan(v1, org="Waternet", cycle=2027, source="a.zip")
    p2 = store.import_plan(v2, org="Waternet", cycle=2027, source="b.zip")
    p3 = store.import_plan(v3, org="Waternet", cycle=2028, source="c.zip")
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    assert [p.version for p in (p1, p2, p3)] == [1, 2, 3]  # per organisation, any cycle
    assert p1.version_id < p2.version_id < p3.version_id
    versions = store.plan_versions()
    expected = pd.DataFrame(
        {
            "version_id": [p1.version_id, p2.version_id, p3.version_id],
            "org": pd.array(["Waternet"] * 3, dtype="str"),
            "cycle": [2027, 2027, 2028],
            "version": [1, 2, 3],
            "uploaded_at": pd.Series([p1.uploaded_at, p2.uploaded_at, p3.uploaded_at]).astype(
                "datetime64[ms, UTC]"
            ),
            "source": pd.array(["a.zip", "b.zip", "c.zip"], dtype="str"),
            "n_works": [3, 2, 1],
            "n_rejected": [0, 0, 0],
            "is_current": [False, False, True],
        }
    )
    pd.testing.assert_frame_equal(versions, expected)
    assert all(before <= p.uploaded_at <= after for p in (p1, p2, p3))
    assert all(p.uploaded_at.tzinfo is not None for p in (p1, p2, p3))
    assert_same_works(store.works(), v3)
    assert_same_works(store.version_works(p1.version_id), v1)
    assert_same_works(store.version_works(p2.version_id), v2)
    assert stored_rows(store) == (6, 3, 0)


def test_organisations_are_independent(store: Store) -> None:
    a1, b1 = simple("A", ["1", "2"]), simple("B", ["1"], start="2028-01-01", end="2028-12-31")
    a2 = simple("A", ["3", "4"], start="2029-05-01", end="2029-05-31")
    # each organisation brings its own extra columns
    b1 = b1.assign(netz="MS", kv=[10.5])[[*COLUMNS, "netz", "kv", "geometry"]]
    a2 = a2.assign(ward=[3, 4], netz=["N1", None])[[*COLUMNS, "ward", "netz", "geometry"]]
    store.import_plan(a1, org="A", cycle=2027)
    pb = store.import_plan(b1, org="B", cycle=2027, source="b.csv")
    pa = store.import_plan(a2, org="A", cycle=2027, source="a2.csv")

    assert_same_works(store.works(orgs=["B"]), b1)
    assert_same_works(store.works(orgs="A"), a2)
    both = store.works()
    assert list(both.columns) == [*COLUMNS, "netz", "kv", "ward", "geometry"]
    assert both["netz"].tolist()[:2] == ["MS", "N1"] and pd.isna(both["netz"].iloc[2])
    np.testing.assert_array_equal(both["kv"].to_numpy(), [10.5, np.nan, np.nan])
    np.testing.assert_array_equal(both["ward"].to_numpy(), [np.nan, 3.0, 4.0])
    assert_same_works(
        both.drop(columns=["netz", "kv", "ward"]), pd.concat([b1, a2])[[*COLUMNS, "geometry"]]
    )
    assert store.works(orgs=[]).empty
    current = store.plan_versions()
    assert current.loc[current["is_current"], "version_id"].tolist() == [
        pb.version_id,
        pa.version_id,
    ]

    summary = store.summary()
    expected = pd.DataFrame(
        {
            "org": pd.array(["A", "B"], dtype="str"),
            "works": [2, 1],
            "first_start": pd.to_datetime(["2029-05-01", "2028-01-01"]).astype("datetime64[s]"),
            "last_end": pd.to_datetime(["2029-05-31", "2028-12-31"]).astype("datetime64[s]"),
            "cycle": [2027, 2027],
            "version": [2, 1],
            "version_id": [pa.version_id, pb.version_id],
            "uploaded_at": pd.Series([pa.uploaded_at, pb.uploaded_at]).astype(
                "datetime64[ms, UTC]"
            ),
        }
    )
    pd.testing.assert_frame_equal(summary, expected)


def test_rejected_rows_are_kept_with_their_reasons(store: Store) -> None:
    frame = gpd.GeoDataFrame(
        {
            "work_id": ["1", "2", "3", "4", "5"],
            "title": ["good", "no geometry", "backwards", "odd date", "good too"],
            "discipline": ["water", "gas", "water", "sewer", "road"],
            "start_date": ["2027-01-01", "2027-01-01", "2027-05-01", "2027-13-01", "2027-02-01"],
            "end_date": ["2027-02-01", "2027-02-01", "2027-04-01", "2027-02-01", "2027-03-01"],
            "budget": ["7.5", "x", None, "1", "2"],
            "geometry": [line(0), None, line(10), Point(X0, Y0), line(20)],
        },
        geometry="geometry",
        crs=RD,
    ).rename(columns={"budget": "kostenplaats"})
    checked = validate(frame, org="Liander", source="liander.xlsx")
    assert len(checked.valid) == 2 and len(checked.rejected) == 3
    version = store.import_plan(
        checked.valid, org="Liander", cycle=2027, source="liander.xlsx", rejected=checked.rejected
    )
    assert (version.n_works, version.n_rejected) == (2, 3)

    got = store.rejected(version.version_id)
    assert got.columns[:5].tolist() == ["version_id", "org", "source_row", "source_file", "reason"]
    assert got["version_id"].tolist() == [version.version_id] * 3
    assert got["org"].tolist() == ["Liander"] * 3
    assert got["source_row"].tolist() == [2, 3, 4]
    assert got["source_file"].tolist() == ["liander.xlsx"] * 3
    assert got["reason"].tolist() == checked.rejected[REASON].tolist()
    assert got["reason"].tolist() == [
        "missing geometry",
        "end_date before start_date",
        "unparsable start_date '2027-13-01'",
    ]
    assert got["work_id"].tolist() == ["2", "3", "4"]
    assert got["title"].tolist() == ["no geometry", "backwards", "odd date"]
    assert got["kostenplaats"].tolist() == ["x", None, "1"]
    assert got["geometry"].tolist() == [None, line(10).wkt, Point(X0, Y0).wkt]
    pd.testing.assert_frame_equal(store.rejected(), got)

    # a new version without rejections: current rejections empty, the old ones kept
    store.import_plan(checked.valid, org="Liander", cycle=2027)
    assert store.rejected().empty
    pd.testing.assert_frame_equal(store.rejected(version.version_id), got)


def test_revision_changes_with_every_commit(store: Store, location: str) -> None:
    seen = [store.revision()]
    assert store.revision() == seen[0]
    store.import_plan(simple("A", ["1"]), org="A", cycle=2027)
    seen.append(store.revision())
    store.import_plan(simple("A", ["1"]), org="A", cycle=2027)  # same content, new version
    seen.append(store.revision())
    store.import_plan(simple("B", ["1"]), org="B", cycle=2027)
    seen.append(store.revision())
    assert len(set(seen)) == 4
    with open_store(location) as again:
        assert again.revision() == seen[-1]


def test_failed_import_leaves_the_previous_version_intact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = simple("A", ["1", "2", "3"])
    b1 = simple("B", ["1"])
    p1 = store.import_plan(v1, org="A", cycle=2027)
    store.import_plan(b1, org="B", cycle=2027)
    versions, revision = store.plan_versions(), store.revision()
    counts = stored_rows(store)
    v2 = simple("A", [str(i) for i in range(10, 20)], start="2028-01-01", end="2028-02-01")

    writer = type(store)._insert_works

    def dies_half_way(self, con, version_id, works):
        writer(self, con, version_id, works.iloc[: len(works) // 2])
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(type(store), "_insert_works", dies_half_way)
    rejected = validate(
        gpd.GeoDataFrame({"work_id": ["x"], "start_date": ["bad"], "end_date": ["2027-01-01"],
                          "geometry": [line(0)]}, crs=RD), org="A"
    ).rejected  # fmt: skip
    with pytest.raises(RuntimeError, match="disk unplugged"):
        store.import_plan(v2, org="A", cycle=2027, rejected=rejected)

    assert_same_works(store.works(orgs=["A"]), v1)
    assert_same_works(store.works(), pd.concat([v1, b1], ignore_index=True))
    pd.testing.assert_frame_equal(store.plan_versions(), versions)
    assert store.revision() == revision
    assert stored_rows(store) == counts  # no half version left behind

    monkeypatch.undo()
    p2 = store.import_plan(v2, org="A", cycle=2027)
    assert p2.version == 2
    assert_same_works(store.works(orgs=["A"]), v2)
    assert_same_works(store.version_works(p1.version_id), v1)
    assert stored_rows(store) == (counts[0] + 10, counts[1] + 1, 0)


def test_readers_see_only_committed_versions(
    store: Store, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2 = simple("A", ["1", "2"]), simple("A", ["3", "4", "5"])
    store.import_plan(v1, org="A", cycle=2027)
    reader = open_store(location)
    writer = type(store)._insert_works
    seen: dict[str, object] = {}

    def look_while_writing(self, con, version_id, works):
        writer(self, con, version_id, works)  # rows written, not yet committed
        seen["works"] = reader.works()
        seen["versions"] = len(reader.plan_versions())

    monkeypatch.setattr(type(store), "_insert_works", look_while_writing)
    store.import_plan(v2, org="A", cycle=2027)
    assert_same_works(seen["works"], v1)
    assert seen["versions"] == 1
    assert_same_works(reader.works(), v2)
    reader.close()


def test_later_imports_are_reprojected_to_the_store_crs(store: Store, location: str) -> None:
    store.import_plan(simple("A", ["1"]), org="A", cycle=2027)
    lonlat = [(4.8952, 52.3702), (4.9041, 52.3676)]
    b = plan("B", [{"work_id": "1", "start_date": "2027-01-01", "end_date": "2027-01-31",
                    "geometry": LineString(lonlat)}], crs="EPSG:4326")  # fmt: skip
    store.import_plan(b, org="B", cycle=2027)
    got = store.works(orgs=["B"])
    assert got.crs == CRS.from_user_input(RD)
    to_rd = Transformer.from_crs("EPSG:4326", RD, always_xy=True)
    xs, ys = to_rd.transform([p[0] for p in lonlat], [p[1] for p in lonlat])
    np.testing.assert_allclose(
        shapely.get_coordinates(got.geometry.to_numpy()), np.c_[xs, ys], atol=1e-6
    )
    # about 120 000 / 487 000 in the Dutch grid: really metres, really Amsterdam
    assert 120_000 < xs[0] < 123_000 and 486_000 < ys[0] < 489_000
    with open_store(location) as again:
        assert again.crs == CRS.from_user_input(RD)

    unset = simple("C", ["1"]).set_crs(None, allow_override=True)
    with pytest.raises(MissingCRSError, match="no CRS"):
        store.import_plan(unset, org="C", cycle=2027)


def test_acting_organisation_changes_only_its_own_works_and_sees_private_ones_anonymised(
    tmp_path: Path,
) -> None:
    # GeoPackage only: a PostGIS store takes the organisation from a verified
    # sign-in (tests/test_access.py), never from acting_org
    location = str(tmp_path / "ims.gpkg")
    store = open_store(location)
    a = plan("A", [
        {"work_id": "a1", "title": "A public", "start_date": "2027-01-01", "end_date": "2027-02-01",
         "visibility": "public", "geometry": line(0)},
        {"work_id": "a2", "title": "A secret", "start_date": "2027-01-01", "end_date": "2027-02-01",
         "visibility": "private", "geometry": line(100)},
    ])  # fmt: skip
    b = plan("B", [
        {"work_id": "b1", "title": "B for partners", "discipline": "gas", "start_date": "2027-03-01",
         "end_date": "2027-04-01", "cost_eur": 10.0, "funding": "B fund", "code": "K1",
         "geometry": line(0, 5)},
        {"work_id": "secret-2", "title": "B secret", "discipline": "gas", "start_date": "2027-03-01",
         "end_date": "2027-04-01", "cost_eur": 99.5, "funding": "B fund", "code": "K2",
         "visibility": "private", "depth_min": 1.0, "depth_max": 2.0, "geometry": line(100, 5)},
        {"work_id": "secret-3", "title": "B secret 2", "discipline": "heat", "start_date": "2027-05-01",
         "end_date": "2027-06-01", "code": "K3", "visibility": "private", "geometry": line(200, 5)},
    ])  # fmt: skip
    rejected_b = validate(
        gpd.GeoDataFrame({"work_id": ["bx"], "start_date": ["2027-01-01"], "end_date": ["2026-01-01"],
                          "geometry": [line(0)]}, crs=RD), org="B"
    ).rejected  # fmt: skip
    store.import_plan(a, org="A", cycle=2027)
    pb = store.import_plan(b, org="B", cycle=2027, rejected=rejected_b)

    as_a = open_store(location, acting_org="A")
    with pytest.raises(StoreError, match="organisation 'A' may only change its own works"):
        as_a.import_plan(b, org="B", cycle=2027)
    assert len(store.plan_versions()) == 2

    seen = as_a.works()
    assert_same_works(seen[seen["org"] == "A"].drop(columns="code").reset_index(drop=True), a)
    plain = store.works()
    # B's partners work is shown as it is
    assert seen.iloc[2].drop("geometry").equals(plain.iloc[2].drop("geometry"))
    hidden = seen.iloc[3:].reset_index(drop=True)
    original = plain.iloc[3:].reset_index(drop=True)
    assert hidden["org"].tolist() == [PRIVATE_ORG, PRIVATE_ORG]
    ids = hidden["work_id"].tolist()
    assert all(i.startswith("anon-") and len(i) == 21 for i in ids) and ids[0] != ids[1]
    assert not any("secret" in i for i in ids)  # "s" is no hex digit: never by chance
    assert hidden["title"].tolist() == [None, None]
    assert hidden["funding"].tolist() == [None, None]
    assert hidden["cost_eur"].isna().all() and hidden["code"].isna().all()
    for kept in ("discipline", "layer", "excavation", "status", "visibility"):
        pd.testing.assert_series_equal(hidden[kept], original[kept])
    assert hidden["depth_min"].isna().all() and hidden["depth_max"].isna().all()
    # whole months, and the 50 m grid cells the work touches (both lines end on a cell edge)
    days = pd.to_datetime(["2027-03-01", "2027-05-01"]).astype("datetime64[s]")
    assert hidden["start_date"].tolist() == days.tolist()
    ends = pd.to_datetime(["2027-04-30", "2027-06-30"]).astype("datetime64[s]")
    assert hidden["end_date"].tolist() == ends.tolist()
    cells = [
        shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 50),
        shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 50),
    ]
    assert shapely.equals(hidden.geometry.to_numpy(), cells).all()
    # stable: the same opaque ids in every read, also through another connection
    assert as_a.works()["work_id"].tolist()[3:] == ids
    with open_store(location, acting_org="A") as again:
        assert again.works()["work_id"].tolist()[3:] == ids
        assert again.version_works(pb.version_id)["work_id"].tolist()[1:] == ids
    # A sees its own private work, not B's rejected rows; A may import its own plan
    assert seen.loc[seen["work_id"] == "a2", "title"].tolist() == ["A secret"]
    assert as_a.rejected().empty
    assert as_a.import_plan(a, org="A", cycle=2027).version == 2

    as_b = open_store(location, acting_org="B")
    seen_b = as_b.works()
    assert seen_b["org"].tolist() == ["B", "B", "B", "A", PRIVATE_ORG]
    assert seen_b["work_id"].tolist()[:4] == ["b1", "secret-2", "secret-3", "a1"]
    assert seen_b["title"].tolist()[:3] == ["B for partners", "B secret", "B secret 2"]
    assert as_b.rejected()["work_id"].tolist() == ["bx"]
    as_a.close()
    as_b.close()


def test_compare_versions_lists_added_dropped_moved_and_reshaped_works(store: Store) -> None:
    ring = [(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0, Y0 + 10)]

    def work(work_id, start, end, geometry, title="t"):
        return {"work_id": work_id, "title": title, "start_date": start, "end_date": end,
                "geometry": geometry}  # fmt: skip

    old = plan("A", [
        work("w1", "2027-01-01", "2027-02-01", line(0)),
        work("w2", "2027-03-01", "2027-06-30", line(100)),
        work("w3", "2027-03-01", "2027-06-30", line(200)),
        work("w4", "2027-03-01", "2027-06-30", line(300), title="gone"),
        work("w6", "2027-03-01", "2027-06-30", line(500)),
        work("w7", "2027-03-01", "2027-06-30", Polygon(ring)),
        work("w8", "2027-03-01", "2027-06-30", line(700), title="old title"),
    ])  # fmt: skip
    new = plan("A", [
        work("w1", "2027-01-01", "2027-02-01", line(0)),
        work("w2", "2027-03-31", "2027-08-14", line(100)),
        work("w3", "2027-03-01", "2027-06-30", line(200, 3)),
        work("w5", "2028-01-01", "2028-01-31", line(400), title="new"),
        work("w6", "2027-02-01", "2027-06-20", line(500, length=80)),
        work("w7", "2027-03-01", "2027-06-30", Polygon(ring[2:] + ring[:2])),  # same ring
        work("w8", "2027-03-01", "2027-06-30", line(700), title="new title"),
    ])  # fmt: skip
    p1 = store.import_plan(old, org="A", cycle=2027)
    p2 = store.import_plan(new, org="A", cycle=2027)
    other = store.import_plan(simple("B", ["w1"]), org="B", cycle=2027)

    assert (p1.version, p2.version, other.version) == (1, 2, 1)
    got = store.compare_versions("A", 1, 2)
    assert list(got.columns) == list(COMPARE_COLUMNS)
    day = lambda s: pd.Timestamp(s) if s else pd.NaT  # noqa: E731
    expected = pd.DataFrame(
        {
            "work_id": ["w5", "w4", "w2", "w3", "w6"],
            "change": ["added", "dropped", "moved", "geometry changed", "moved, geometry changed"],
            "title": ["new", "gone", "t", "t", "t"],
            "old_start": [
                day(""),
                day("2027-03-01"),
                day("2027-03-01"),
                day("2027-03-01"),
                day("2027-03-01"),
            ],
            "old_end": [
                day(""),
                day("2027-06-30"),
                day("2027-06-30"),
                day("2027-06-30"),
                day("2027-06-30"),
            ],
            "new_start": [
                day("2028-01-01"),
                day(""),
                day("2027-03-31"),
                day("2027-03-01"),
                day("2027-02-01"),
            ],
            "new_end": [
                day("2028-01-31"),
                day(""),
                day("2027-08-14"),
                day("2027-06-30"),
                day("2027-06-20"),
            ],
            "shift_days": pd.array([None, None, 30, 0, -28], dtype="Int64"),
            "end_shift_days": pd.array([None, None, 45, 0, -10], dtype="Int64"),
        }
    )
    for col in ("old_start", "old_end", "new_start", "new_end"):
        expected[col] = expected[col].astype("datetime64[s]")
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), expected, check_dtype=False
    )
    assert got["old_start"].dtype == "datetime64[s]" and got["shift_days"].dtype == "Int64"
    assert got.geometry.tolist() == [
        line(400),
        line(300),
        line(100),
        line(200, 3),
        line(500, length=80),
    ]
    assert got.crs == CRS.from_user_input(RD)

    back = store.compare_versions("A", 2, 1)
    assert back["work_id"].tolist() == ["w4", "w5", "w2", "w3", "w6"]
    assert back["change"].tolist()[:2] == ["added", "dropped"]
    assert back["shift_days"].tolist()[2:] == [-30, 0, 28]
    assert store.compare_versions("A", 1, 1).empty
    with pytest.raises(InputError, match=r"'A' has no plan version 3 \(its versions: 1, 2\); "
                       r"see ims-geo versions --org A$"):  # fmt: skip
        store.compare_versions("A", 1, 3)
    with pytest.raises(InputError, match=r"no plans of 'a' in .* \(did you mean 'A'\?\)\. "
                       r"Known organisations: A, B$"):  # fmt: skip
        store.compare_versions("a", 1, 2)


def test_bad_imports_and_unknown_versions_raise_clear_errors(store: Store) -> None:
    works = simple("A", ["1", "2"])
    with pytest.raises(InputError, match="lack the columns status"):
        store.import_plan(works.drop(columns=["status"]), org="A", cycle=2027)
    with pytest.raises(InputError, match="org is not 'B'"):
        store.import_plan(works, org="B", cycle=2027)
    with pytest.raises(InputError, match="duplicate work_id in rows 1, 2"):
        store.import_plan(works.assign(work_id="1"), org="A", cycle=2027)
    with pytest.raises(InputError, match="cycle must be a year"):
        store.import_plan(works, org="A", cycle="next year")
    with pytest.raises(InputError, match="GeoDataFrame"):
        store.import_plan(pd.DataFrame(works.drop(columns="geometry")), org="A", cycle=2027)
    with pytest.raises(StoreError, match="no plan version 999"):
        store.version_works(999)
    with pytest.raises(StoreError, match="no plan version 999"):
        store.rejected(999)
    assert store.plan_versions().empty and stored_rows(store) == (0, 0, 0)


def test_a_large_plan_round_trips(store: Store) -> None:
    n = 5_000
    rng = np.random.default_rng(7)
    x, y = X0 + rng.uniform(0, 5000, n), Y0 + rng.uniform(0, 5000, n)
    start = pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), "D")
    frame = gpd.GeoDataFrame(
        {
            "work_id": [f"{i:07d}" for i in range(n)],
            "discipline": rng.choice(["road", "water", "gas", "sewer"], n),
            "start_date": start,
            "end_date": start + pd.to_timedelta(rng.integers(0, 200, n), "D"),
            "cost_eur": rng.uniform(0, 1e6, n),
            "ward": rng.integers(1, 30, n),
        },
        geometry=shapely.linestrings(np.stack([x, y, x + 40, y + 25], 1).reshape(n, 2, 2)),
        crs=RD,
    )
    works = validate(frame, org="Big").valid
    store.import_plan(works, org="Big", cycle=2027)
    assert_same_works(store.works(), works)


# --- GeoPackage specifics ------------------------------------------------------------------
def test_open_store_picks_the_store_from_the_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORE_ENV, raising=False)
    default = open_store()
    assert isinstance(default, GeoPackageStore)
    assert default.path == Path("data/ims.gpkg") and (tmp_path / "data" / "ims.gpkg").is_file()

    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env" / "works.GPKG"))
    from_env = open_store()
    assert from_env.path == tmp_path / "env" / "works.GPKG" and from_env.path.is_file()
    assert open_store(tmp_path / "p.gpkg", acting_org="A").acting_org == "A"

    with pytest.raises(StoreError, match=r"must be a GeoPackage ending in \.gpkg"):
        open_store(tmp_path / "works.shp")
    with pytest.raises(StoreError, match="unknown store location 'mysql://"):
        open_store("mysql://user@host/db")


def test_files_that_are_not_stores_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.gpkg"
    text.write_text("these are not works")
    with pytest.raises(StoreError, match=f"{text} is not a GeoPackage"):
        open_store(text)

    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    with pytest.raises(StoreError, match=f"store {broken} is damaged .*restore it from a backup"):
        open_store(broken)

    foreign = tmp_path / "streets.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[line(0)], crs=RD).to_file(foreign, layer="streets")
    with pytest.raises(StoreError, match="is a database but not an ims_geo store"):
        open_store(foreign)
    assert pyogrio.list_layers(foreign).tolist() == [["streets", "LineString"]]  # untouched


def test_the_store_file_is_an_ordinary_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "ims.gpkg"
    store = open_store(path)
    v1, v2 = simple("A", ["1", "2"]), simple("A", ["3"])
    store.import_plan(v1, org="A", cycle=2027)
    store.import_plan(v2, org="A", cycle=2027)
    store.import_plan(rich_plan(), org="Waternet", cycle=2027)

    layers = dict(pyogrio.list_layers(path).tolist())
    assert {"works", "current_works", "plan_versions", "rejected"} <= layers.keys()
    every = pyogrio.read_dataframe(path, layer="works")
    assert len(every) == 2 + 1 + 6 and every.crs == CRS.from_user_input(RD)
    current = pyogrio.read_dataframe(path, layer="current_works")
    assert current["work_id"].tolist() == ["3", *rich_plan()["work_id"]]
    assert current["start_date"].dtype.kind == "M"  # a real DATE column
    assert current["excavation"].dtype == bool
    assert current.geometry.equals(store.works().geometry)
    info = pyogrio.read_info(path, layer="works")
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["end_date"].startswith(
        "datetime64"
    )
    versions = pyogrio.read_dataframe(path, layer="plan_versions")
    assert versions["version"].tolist() == [1, 2, 1]  # A: 1, 2; Waternet: 1


# --- PostGIS specifics -------------------------------------------------------------------
@pytest.mark.postgis
def test_postgis_urls_and_index(postgis_url: str) -> None:
    from ims_geo.store.postgis import PostGISStore

    plain_url = postgis_url.replace("postgresql+psycopg://", "postgresql://")
    with open_store(plain_url) as store:
        assert isinstance(store, PostGISStore)
        store.import_plan(simple("A", ["1"]), org="A", cycle=2027)
        indexes = store._query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'ims_geo' AND tablename = 'works'"
        )
        assert any("USING gist (geometry)" in row[0] for row in indexes)
    with open_store(postgis_url) as again:  # tables exist: opened, not re-created
        assert len(again.works()) == 1


def test_postgis_server_that_cannot_be_reached_gives_a_store_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}/nowhere: could not open the store"):
        open_store(f"postgresql://someone:secret@127.0.0.1:{port}/nowhere")


CUSTOM_TM = "+proj=tmerc +lat_0=0 +lon_0=5 +k=0.9996 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m"


def test_a_crs_without_epsg_code_is_kept_in_the_geopackage(tmp_path: Path) -> None:
    works = simple("A", ["1"]).to_crs(CUSTOM_TM)
    store = open_store(tmp_path / "ims.gpkg")
    store.import_plan(works, org="A", cycle=2027)
    again = open_store(tmp_path / "ims.gpkg")
    assert again.crs is not None and again.crs.equals(CRS.from_user_input(CUSTOM_TM))
    np.testing.assert_allclose(
        shapely.get_coordinates(again.works().geometry.to_numpy()),
        shapely.get_coordinates(works.geometry.to_numpy()),
    )
    assert pyogrio.read_dataframe(again.path, layer="works").crs.equals(again.crs)


@pytest.mark.postgis
def test_postgis_needs_a_crs_with_an_epsg_code(postgis_url: str) -> None:
    with open_store(postgis_url) as store:
        with pytest.raises(StoreError, match="CRS without an EPSG code"):
            store.import_plan(simple("A", ["1"]).to_crs(CUSTOM_TM), org="A", cycle=2027)
        assert store.crs is None and store.plan_versions().empty
        store.import_plan(simple("A", ["1"]), org="A", cycle=2027)
        assert store.crs == CRS.from_user_input(RD)


# --- plans are never silently replaced by a broken file ------------------------------------
def test_a_plan_without_works_is_refused_unless_allowed(store: Store) -> None:
    current = store.import_plan(simple("A", ["1", "2", "3"]), org="A", cycle=2027, source="a.zip")
    before = (store.plan_versions(), store.revision(), stored_rows(store))
    bad_dates = validate(
        gpd.GeoDataFrame({"work_id": ["7", "8"], "start_date": ["31/02/2027", "x"],
                          "end_date": ["2027-04-01", "2027-05-01"], "geometry": [line(0), line(9)]},
                         crs=RD), org="A", source="broken.csv",
    )  # fmt: skip
    assert bad_dates.valid.empty and len(bad_dates.rejected) == 2
    with pytest.raises(ImportRefusedError) as refused:
        store.import_plan(bad_dates.valid, org="A", cycle=2027, rejected=bad_dates.rejected)
    assert refused.value.refused == {"A": "empty"}
    assert str(refused.value) == (
        "nothing was stored: the new plan of 'A' has no accepted works (2 rows rejected: the "
        "report says why); storing it would empty its current plan (version 1, 3 works). Fix "
        "the file (or choose the right organisation), or store an empty plan on purpose with: "
        "ims-geo import --allow-empty"
    )
    assert isinstance(refused.value, ValueError)  # an input problem: the CLI exits 2
    pd.testing.assert_frame_equal(store.plan_versions(), before[0])
    assert (store.revision(), stored_rows(store)) == before[1:]

    emptied = store.import_plan(
        bad_dates.valid, org="A", cycle=2027, rejected=bad_dates.rejected, allow_empty=True
    )
    assert (emptied.version, emptied.n_works, emptied.n_rejected) == (2, 0, 2)
    assert store.works().empty
    assert store.rejected()["work_id"].tolist() == ["7", "8"]
    assert_same_works(store.version_works(current.version_id), simple("A", ["1", "2", "3"]))


def test_a_plan_sharing_no_id_with_a_sizeable_current_plan_is_refused(store: Store) -> None:
    eleven = simple("A", [f"A-{i}" for i in range(1, 12)])
    store.import_plan(eleven, org="A", cycle=2027)
    store.import_plan(simple("B", ["B-1"]), org="B", cycle=2027)
    before = (store.plan_versions(), store.revision(), stored_rows(store))
    foreign = simple("A", ["W1", "W2", "W3", "W4"])  # another organisation's ids
    with pytest.raises(ImportRefusedError) as refused:
        store.import_plan(foreign, org="A", cycle=2027)
    assert refused.value.refused == {"A": "unrelated"}
    assert str(refused.value) == (
        "nothing was stored: the new plan of 'A' (4 works, ids such as 'W1', 'W2', 'W3', ...) "
        "shares no work_id with its current plan (version 1, 11 works, ids such as 'A-1', "
        "'A-2', 'A-3', ...): that looks like another organisation's file, or ids read from "
        "the wrong column. Check the file and its organisation (--org, the org column or the "
        "mapping); if it really replaces the whole plan, import it with: ims-geo import "
        "--replace (and ims-geo restore A 1 brings the current plan back)"
    )
    pd.testing.assert_frame_equal(store.plan_versions(), before[0])
    assert (store.revision(), stored_rows(store)) == before[1:]

    # one id in common is a new version of the same plan
    overlapping = simple("A", ["W1", "A-11"])
    assert store.import_plan(overlapping, org="A", cycle=2027).version == 2
    # a current plan of at most 10 works may be replaced by any plan
    assert store.import_plan(foreign, org="A", cycle=2027).version == 3
    ten = simple("A", [f"T{i}" for i in range(10)])
    assert store.import_plan(ten, org="A", cycle=2027, replace=True).version == 4
    assert store.import_plan(foreign, org="A", cycle=2027).version == 5
    # said explicitly: replaced
    store.import_plan(eleven, org="A", cycle=2027)
    assert store.import_plan(foreign, org="A", cycle=2028, replace=True).version == 7
    assert_same_works(store.works(orgs="A"), foreign)


def test_restore_makes_an_earlier_version_current_as_a_new_version(
    store: Store, location: str
) -> None:
    first = simple("A", ["1", "2", "3"]).assign(ward=[7, 8, 9], note=["x", None, "ü"])
    first = first[[*COLUMNS, "ward", "note", "geometry"]]
    rejected = validate(
        gpd.GeoDataFrame({"work_id": ["9"], "start_date": ["2027-02-01"], "end_date": ["2027-01-01"],
                          "kostenplaats": ["K7"], "geometry": [line(5)]}, crs=RD),
        org="A", source="a.zip",
    ).rejected  # fmt: skip
    p1 = store.import_plan(first, org="A", cycle=2026, source="a.zip", rejected=rejected)
    wrong = simple("A", [f"W{i}" for i in range(20)])
    p2 = store.import_plan(wrong, org="A", cycle=2027, source="wrong.zip", replace=True)
    pb = store.import_plan(simple("B", ["1"]), org="B", cycle=2027)

    p3 = store.restore("A", 1)
    assert (p3.org, p3.version, p3.cycle, p3.n_works, p3.n_rejected) == ("A", 3, 2026, 3, 1)
    assert p3.source == "restored version 1 (a.zip)"
    assert_same_works(store.works(orgs="A"), first)
    assert_same_works(store.version_works(p2.version_id), wrong)  # nothing lost
    assert store.compare_versions("A", 1, 3).empty
    old, new = store.rejected(p1.version_id), store.rejected(p3.version_id)
    assert new["version_id"].tolist() == [p3.version_id]
    pd.testing.assert_frame_equal(new.drop(columns="version_id"), old.drop(columns="version_id"))
    versions = store.plan_versions()
    assert versions["version"].tolist() == [1, 2, 1, 3]
    assert versions["is_current"].tolist() == [False, False, True, True]
    assert versions["source"].tolist()[-1] == "restored version 1 (a.zip)"
    # and back again, into another cycle
    p4 = store.restore("A", 2, cycle=2028)
    assert (p4.version, p4.cycle, p4.n_works) == (4, 2028, 20)
    assert_same_works(store.works(orgs="A"), wrong)
    assert_same_works(store.works(orgs="B"), store.version_works(pb.version_id))

    with pytest.raises(InputError, match="version 4 is already the current plan of 'A'; "
                       "nothing to restore"):  # fmt: skip
        store.restore("A", 4)
    with pytest.raises(InputError, match=r"'A' has no plan version 9 \(its versions: 1, 2, 3, 4\)"):
        store.restore("A", 9)
    with pytest.raises(InputError, match="no plans of 'C' in .*Known organisations: A, B"):
        store.restore("C", 1)
    assert len(store.plan_versions()) == 5
    if isinstance(store, GeoPackageStore):  # PostGIS: the organisation comes from the sign-in
        with open_store(location, acting_org="B") as as_b:
            with pytest.raises(
                StoreError, match="'B' may only change its own works, not the plan of 'A'"
            ):
                as_b.restore("A", 1)


# --- several organisations in one file -------------------------------------------------------
def three_organisations() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Valid works of A (2), B (1), C (3) in one frame, and its rejected rows (B 1, no org 1)."""
    frame = gpd.GeoDataFrame(
        {
            "org": ["B", "A", "C", "C", "A", "C", "B", None],
            "work_id": ["b1", "a1", "c1", "c2", "a2", "c3", "b2", "x1"],
            "start_date": ["2027-01-01"] * 6 + ["2027-05-01", "2027-01-01"],
            "end_date": ["2027-02-01"] * 6 + ["2027-04-01", "2027-02-01"],
            "geometry": [line(10.0 * i) for i in range(8)],
        },
        crs=RD,
    )
    checked = validate(frame, source="feed.gpkg")
    assert checked.valid["org"].tolist() == ["B", "A", "C", "C", "A", "C"]
    assert checked.rejected["work_id"].tolist() == ["b2", "x1"]
    return checked.valid, checked.rejected


def test_organisations_of_an_import_are_counted(store: Store) -> None:
    works, rejected = three_organisations()
    expected = pd.DataFrame(
        {
            "org": pd.Series(["A", "B", "C", None], dtype=object),
            "works": [2, 1, 3, 0],
            "rejected": [0, 1, 0, 1],
            "stored": [True, True, True, False],
        }
    )
    pd.testing.assert_frame_equal(organisations_of(works, rejected), expected)
    only_c = organisations_of(works, rejected, org="C")
    # the row without an organisation goes to the one organisation imported
    assert only_c.values.tolist() == [
        ["A", 2, 0, False], ["B", 1, 1, False], ["C", 3, 1, True],
    ]  # fmt: skip
    assert organisations_of(works, rejected, org="D")["stored"].tolist() == [
        False, False, False, True,
    ]  # fmt: skip


def test_a_file_of_three_organisations_lands_as_three_versions(store: Store) -> None:
    old_a = store.import_plan(simple("A", ["a1", "a9"]), org="A", cycle=2026)
    works, rejected = three_organisations()
    versions = store.import_plans(works, rejected, cycle=2027, source="feed.gpkg")
    assert [(v.org, v.version, v.cycle, v.n_works, v.n_rejected, v.source) for v in versions] == [
        ("A", 2, 2027, 2, 0, "feed.gpkg"),
        ("B", 1, 2027, 1, 1, "feed.gpkg"),
        ("C", 1, 2027, 3, 0, "feed.gpkg"),
    ]
    assert len({v.version_id for v in versions} | {old_a.version_id}) == 4
    for org in ("A", "B", "C"):
        assert_same_works(store.works(orgs=org), works[works["org"] == org])
    assert store.rejected()["work_id"].tolist() == ["b2"]  # x1 names no organisation
    assert store.plan_versions()["is_current"].tolist() == [False, True, True, True]
    assert stored_rows(store) == (2 + 6, 4, 1)

    # --org: only C's plan; A and B keep theirs
    c2 = store.import_plans(works, rejected, cycle=2027, org="C")
    assert [(v.org, v.version, v.n_works, v.n_rejected) for v in c2] == [("C", 2, 3, 1)]
    assert store.rejected(c2[0].version_id)["work_id"].tolist() == ["x1"]
    assert store.plan_versions()["is_current"].tolist() == [False, True, True, False, True]


def test_a_failure_on_the_third_organisation_leaves_all_three_as_they_were(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {o: simple(o, [f"{o.lower()}1", "old"]) for o in ("A", "B", "C")}
    for org, plan_ in before.items():
        store.import_plan(plan_, org=org, cycle=2026)
    state = (store.plan_versions(), store.revision(), stored_rows(store))
    works, rejected = three_organisations()

    writer = type(store)._insert_works
    calls: list[int] = []

    def dies_on_the_third(self, con, version_id, frame):
        calls.append(version_id)
        if len(calls) == 3:
            writer(self, con, version_id, frame.iloc[:1])
            raise RuntimeError("disk unplugged")
        writer(self, con, version_id, frame)

    monkeypatch.setattr(type(store), "_insert_works", dies_on_the_third)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        store.import_plans(works, rejected, cycle=2027)
    assert len(calls) == 3
    for org, plan_ in before.items():
        assert_same_works(store.works(orgs=org), plan_)
    pd.testing.assert_frame_equal(store.plan_versions(), state[0])
    assert (store.revision(), stored_rows(store)) == state[1:]

    monkeypatch.undo()
    assert [v.version for v in store.import_plans(works, rejected, cycle=2027)] == [2, 2, 2]


def test_one_refused_organisation_refuses_the_whole_file(store: Store, location: str) -> None:
    store.import_plan(simple("C", [f"c-old-{i}" for i in range(11)]), org="C", cycle=2026)
    state = (store.plan_versions(), store.revision(), stored_rows(store))
    works, rejected = three_organisations()
    with pytest.raises(ImportRefusedError) as refused:
        store.import_plans(works, rejected, cycle=2027)
    assert refused.value.refused == {"C": "unrelated"}
    pd.testing.assert_frame_equal(store.plan_versions(), state[0])
    assert (store.revision(), stored_rows(store)) == state[1:]
    with pytest.raises(ImportRefusedError) as refused:
        store.import_plans(works, rejected, cycle=2027, org="D")
    assert refused.value.refused == {"D": "empty"}
    assert "rows of other organisations only: A (2 rows), B (2 rows), C (3 rows)" in str(
        refused.value
    )
    assert [v.org for v in store.import_plans(works, rejected, cycle=2027, replace=True)] == [
        "A", "B", "C",
    ]  # fmt: skip
    with pytest.raises(InputError, match="the works name no organisation"):
        store.import_plans(works.iloc[:0], rejected.iloc[1:], cycle=2027)
    if not isinstance(store, GeoPackageStore):  # PostGIS: the organisation comes from the sign-in
        return
    with open_store(location, acting_org="A") as as_a:
        with pytest.raises(StoreError, match="'A' may only change its own works, not the plan "
                           "of 'B', 'C'"):  # fmt: skip
            as_a.import_plans(works, rejected, cycle=2027)
        assert [v.org for v in as_a.import_plans(works, rejected, cycle=2027, org="A")] == ["A"]


def test_an_import_that_raced_another_one_for_the_same_plan_stores_nothing(
    store: Store, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_plan(simple("A", ["1", "2"]), org="A", cycle=2027)
    commit = type(store)._commit
    raced: list[bool] = []

    def another_import_first(self, prepare):
        # between this import's checks and its transaction, someone else imports A
        if not raced:
            raced.append(True)
            with open_store(location) as other:
                other.import_plan(simple("A", ["1", "3"]), org="A", cycle=2027, source="other")
        return commit(self, prepare)

    monkeypatch.setattr(type(store), "_commit", another_import_first)
    with pytest.raises(StoreError, match="the plan of 'A' was changed by another import while "
                       "this one was checked; nothing was stored, import again"):  # fmt: skip
        store.import_plan(simple("A", ["1", "4"]), org="A", cycle=2027, source="mine")
    monkeypatch.undo()
    assert store.plan_versions()["source"].tolist() == ["", "other"]
    assert store.works()["work_id"].tolist() == ["1", "3"]
