"""Hostile progress reports and moratoria registers: refused or rejected, never a crash.

Both readers parse the file in the limited worker process (like every
upload) and apply the geometry sanity checks of :mod:`ims_geo.sanity` to
the rows' geometries. Every case checks the store: the exact row counts of
the planning-cycle tables (and of the works) are the same before and after.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import fuzz_corpus as fc
import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ims_geo import cycle
from ims_geo.cli import main
from ims_geo.errors import ImsGeoError, InputError
from ims_geo.store import open_store
from ims_geo.store.cycle_tables import TABLES
from tests.test_cycle import PLANS, RD, YEAR, build, line, progress_frame

DEPTH = 100_000
NESTED = "GEOMETRYCOLLECTION (" * DEPTH + "POINT (121000 487000)" + ")" * DEPTH
NESTED_REASON = f"geometry nested '{DEPTH + 1}' brackets deep, more than max_geometry_depth"
HUGE = "POINT (1e200 487000)"
HUGE_REASON = "coordinate '1e+200 487000' far outside any map"
#: Rows the seeded store holds: every plan's works, one progress report, one moratorium.
SEEDED = {t: 0 for t in TABLES} | {"progress_reports": 1, "moratoria": 1}
WORKS = sum(len(rows) for rows in PLANS.values())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile_cycle") / "store.gpkg"
    store = build(path)
    done = cycle.record_progress(
        store, YEAR, "Water", progress_frame([("W1", "in_progress", "2027-05-02", None, None)])
    )
    assert len(done.accepted) == 1 and done.rejected.empty
    register = gpd.GeoDataFrame(
        {"source_org": ["City"], "source_work_id": ["M1"], "valid_from": ["2027-01-01"],
         "valid_until": ["2029-12-31"]},
        geometry=[line(0, 50)], crs=RD,
    )  # fmt: skip
    stored, rejected = cycle.import_moratoria(store, register, org="City", source="seed")
    assert len(stored) == 1 and rejected.empty
    return path


@pytest.fixture
def store_path(seeded: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.gpkg"
    shutil.copyfile(seeded, copy)
    assert counts(copy) == (SEEDED, WORKS)
    return copy


def counts(path: Path) -> tuple[dict[str, int], int]:
    """Rows of every planning-cycle table, and of the works, counted with plain SQL."""
    with sqlite3.connect(path) as con:
        cycle_rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        works = con.execute("SELECT count(*) FROM works").fetchone()[0]
    return cycle_rows, works


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


# --- hostile files ---------------------------------------------------------------------------
PROGRESS_HEADER = "work_id,status,actual_start,actual_end,geometry\n"
REGISTER_HEADER = "org,id,from,until,geometry\n"


def progress_csv(wkt: str) -> bytes:
    return (PROGRESS_HEADER + f'W1,done,2027-05-02,2027-05-21,"{wkt}"\n').encode()


def register_csv(wkt: str) -> bytes:
    return (REGISTER_HEADER + f'City,M2,2027-01-01,2029-12-31,"{wkt}"\n').encode()


def wrong_encoding_zip(frame: gpd.GeoDataFrame) -> bytes:
    """A zipped shapefile whose .cpg declares UTF-8 but whose text is cp1252."""
    parts = fc.shapefile_parts(frame, encoding="cp1252")
    return fc.zipped({f"report{s}": d for s, d in parts.items()} | {"report.cpg": b"UTF-8"})


def damaged_zip(text: bytes) -> bytes:
    data, _member = fc.damaged_member(fc.zipped({"report.csv": text * 200}), random.Random(3))
    return data


def progress_shapefile() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"work_id": ["W1"], "status": ["done"], "actual_start": ["2027-05-02"],
         "actual_end": ["2027-05-21"], "remark": ["Straße é fertig"]},
        geometry=[line(0, 2)], crs=RD,
    )  # fmt: skip


def register_shapefile() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"org": ["City"], "id": ["Straße é"], "from": ["2027-01-01"], "until": ["2029-12-31"]},
        geometry=[line(0, 60)], crs=RD,
    )  # fmt: skip


# --- progress reports ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wkt", "reason"), [(NESTED, NESTED_REASON), (HUGE, HUGE_REASON)], ids=["nested", "1e200"]
)
def test_a_progress_row_with_a_hostile_geometry_is_rejected(
    store_path: Path, tmp_path: Path, wkt: str, reason: str
) -> None:
    path = tmp_path / "progress.csv"
    path.write_bytes(progress_csv(wkt))
    reports = cycle.read_progress(path)
    assert reports["geometry_problem"].tolist() == [reason]
    result = cycle.record_progress(open_store(store_path), YEAR, "Water", reports)
    assert result.accepted.empty
    assert result.rejected["reason"].tolist() == [reason]
    assert "geometry_problem" not in result.rejected
    assert counts(store_path) == (SEEDED, WORKS)
    # the same file through the command line: a rejected row, nothing stored
    code, out = run("cycle", "progress", str(path), "--org", "Water", "--cycle", str(YEAR),
                    "--store", str(store_path))  # fmt: skip
    assert "Traceback" not in out
    assert "0 progress reports stored, 1 rejected" in out, out
    assert counts(store_path) == (SEEDED, WORKS)


def test_a_progress_geojson_with_a_1e200_coordinate_is_a_rejected_row(store_path: Path) -> None:
    data = fc.killer_geojson("1e200", 28992).replace(b'"work_id":"1"', b'"work_id":"W1"')
    reports = cycle.read_progress(data, name="killer.geojson")
    result = cycle.record_progress(open_store(store_path), YEAR, "Water", reports)
    assert result.rejected["reason"].tolist() == [
        "coordinate '1e+200 6.67e+06' far outside any map"
    ]
    assert counts(store_path) == (SEEDED, WORKS)


def test_a_progress_geometry_that_is_fine_or_not_wkt_does_not_reject_the_report(
    store_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "progress.csv"
    path.write_bytes(
        (PROGRESS_HEADER + 'W1,in_progress,2027-05-02,,"POINT (121000 487000)"\n'
         "V1,in_progress,2027-07-01,,a street\n").encode()
    )  # fmt: skip
    reports = cycle.read_progress(path)
    assert reports["geometry_problem"].tolist() == [None, None]
    result = cycle.record_progress(open_store(store_path), YEAR, "Water", reports)
    assert result.accepted["work_id"].tolist() == ["W1", "V1"]
    assert counts(store_path) == (SEEDED | {"progress_reports": 3}, WORKS)


@pytest.mark.parametrize("kind", ["wrong encoding", "damaged zip"])
def test_an_unreadable_progress_file_is_refused_naming_it(
    store_path: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / ("utf8_declared.zip" if kind == "wrong encoding" else "damaged.zip")
    honest = (PROGRESS_HEADER + "W1,done,2027-05-02,2027-05-21,\n").encode()
    path.write_bytes(
        wrong_encoding_zip(progress_shapefile())
        if kind == "wrong encoding"
        else damaged_zip(honest)
    )
    expected = "is not UTF-8" if kind == "wrong encoding" else "damaged"
    with pytest.raises(InputError, match=rf"{path.name}.*{expected}"):
        cycle.read_progress(path)
    # the bytes of an upload (the cycle page, the API) take the same path
    with pytest.raises(InputError, match=path.name):
        cycle.read_progress(path.read_bytes(), name=path.name)
    code, out = run("cycle", "progress", str(path), "--org", "Water", "--cycle", str(YEAR),
                    "--store", str(store_path))  # fmt: skip
    assert code != 0 and path.name in out and "Traceback" not in out
    assert counts(store_path) == (SEEDED, WORKS)
    # the process lives on and reads the next file
    good = tmp_path / "good.csv"
    good.write_bytes(honest)
    assert cycle.read_progress(good)["work_id"].tolist() == ["W1"]


# --- moratoria registers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wkt", "reason"),
    [
        (NESTED, NESTED_REASON),
        (HUGE, HUGE_REASON),
        ("LINESTRING (121000 487000, 121100 nan)", "coordinate that is not a finite number "
         "(NaN or infinity)"),
        ("POINT (121000 4870000)",
         "coordinates '121000 4.87e+06' outside the area of use of EPSG:28992 (Netherlands)"),
        ("not a geometry", "unparsable geometry 'not a geometry' (not WKT)"),
    ],
    ids=["nested", "1e200", "nan", "outside", "not wkt"],
)  # fmt: skip
def test_a_register_row_with_a_hostile_geometry_is_rejected(
    store_path: Path, tmp_path: Path, wkt: str, reason: str
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(register_csv(wkt))
    register = cycle.read_moratoria(path, crs=RD)
    assert register["geometry_problem"].tolist() == [reason]
    assert shapely.is_missing(register.geometry.to_numpy()).all()
    stored, rejected = cycle.import_moratoria(open_store(store_path), register, org="City")
    assert stored.empty
    assert rejected["reason"].tolist() == [reason]
    assert "geometry_problem" not in rejected
    assert counts(store_path) == (SEEDED, WORKS)
    code, out = run("moratoria", "import", str(path), "--org", "City", "--crs", RD,
                    "--store", str(store_path))  # fmt: skip
    assert code == 0 and "Traceback" not in out
    assert "Stored 0 moratoria, 1 rows rejected" in out
    assert f"rejected 1: {reason}" in out
    assert counts(store_path) == (SEEDED, WORKS)


def test_a_register_frame_built_in_code_gets_the_same_geometry_checks(store_path: Path) -> None:
    register = gpd.GeoDataFrame(
        {"source_org": ["City", "City"], "source_work_id": ["M2", "M3"],
         "valid_from": ["2027-01-01"] * 2, "valid_until": ["2029-12-31"] * 2},
        geometry=[shapely.Point(1e200, 487000), line(0, 70)], crs=RD,
    )  # fmt: skip
    stored, rejected = cycle.import_moratoria(open_store(store_path), register, org="City")
    assert stored["source_work_id"].tolist() == ["M3"]
    assert rejected["reason"].tolist() == [HUGE_REASON]
    assert counts(store_path) == (SEEDED | {"moratoria": 2}, WORKS)


def test_a_register_geojson_with_a_1e200_coordinate_is_a_rejected_row(
    store_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "killer.geojson"
    path.write_bytes(fc.killer_geojson("1e200", 28992))
    register = cycle.read_moratoria(path)
    stored, rejected = cycle.import_moratoria(open_store(store_path), register, org="City")
    assert stored.empty
    assert rejected["reason"].tolist() == ["coordinate '1e+200 6.67e+06' far outside any map"]
    assert counts(store_path) == (SEEDED, WORKS)


@pytest.mark.parametrize("kind", ["wrong encoding", "damaged zip"])
def test_an_unreadable_register_is_refused_naming_it(
    store_path: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / ("utf8_declared.zip" if kind == "wrong encoding" else "damaged.zip")
    honest = register_csv(line(0, 80).wkt)
    path.write_bytes(
        wrong_encoding_zip(register_shapefile())
        if kind == "wrong encoding"
        else damaged_zip(honest)
    )
    expected = "is not UTF-8" if kind == "wrong encoding" else "damaged"
    with pytest.raises(InputError, match=rf"{path.name}.*{expected}"):
        cycle.read_moratoria(path, crs=RD)
    code, out = run("moratoria", "import", str(path), "--org", "City", "--crs", RD,
                    "--store", str(store_path))  # fmt: skip
    assert code != 0 and path.name in out and "Traceback" not in out
    assert counts(store_path) == (SEEDED, WORKS)
    # the process lives on and imports the next register
    good = tmp_path / "good.csv"
    good.write_bytes(honest)
    stored, _ = cycle.import_moratoria(
        open_store(store_path), cycle.read_moratoria(good, crs=RD), org="City"
    )
    assert stored["source_work_id"].tolist() == ["M2"]
    assert counts(store_path) == (SEEDED | {"moratoria": 2}, WORKS)


def test_a_register_of_several_layers_is_refused_not_read_in_part(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    register_shapefile().to_file(path, layer="a")
    register_shapefile().to_file(path, layer="b")
    with pytest.raises(ImsGeoError, match=r"two.gpkg holds 2 layers: a, b"):
        cycle.read_moratoria(path)
    assert cycle.read_moratoria(path, layer="b")["source_work_id"].tolist() == ["Straße é"]
    frame = pd.DataFrame(cycle.read_moratoria(path, layer="a"))
    assert frame["geometry_problem"].tolist() == [None]


# --- isolation -------------------------------------------------------------------------------
def test_both_readers_parse_in_the_limited_worker(tmp_path: Path, monkeypatch) -> None:
    from ims_geo.errors import ReadLimitError
    from ims_geo.ingest import Limits, _worker, suggest

    seen: list[tuple[str, list[str]]] = []

    def watched(func, args, name, limits, paths):  # type: ignore[no-untyped-def]
        seen.append((name, [Path(p).suffix for p in paths]))
        return _worker.run(
            func, args, name=name, memory=limits.memory_for(paths),
            cpu=limits.max_cpu_seconds, wall=limits.max_read_seconds,
        )  # fmt: skip

    monkeypatch.setattr(suggest, "_isolated", watched)
    progress = tmp_path / "progress.csv"
    progress.write_bytes(progress_csv("POINT (121000 487000)"))
    register = tmp_path / "register.csv"
    register.write_bytes(register_csv("POINT (121000 487000)"))
    assert cycle.read_progress(progress)["work_id"].tolist() == ["W1"]
    assert cycle.read_moratoria(register, crs=RD)["source_work_id"].tolist() == ["M2"]
    # each read's memory limit grows with its own file
    assert seen == [("progress.csv", [".csv"]), ("register.csv", [".csv"])]
    # a reader that dies (here: no time at all) is a refusal naming the file, not a crash
    with pytest.raises(ReadLimitError, match=r"progress.csv: reading was stopped"):
        cycle.read_progress(progress, limits=Limits(max_read_seconds=0.0001))
