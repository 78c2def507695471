"""A planner's own tables read in: JSON record lists and Excel workbooks.

Each expectation is computed here independently: the real National
Highways feed with ``json`` + pandas, the workbooks from the cells this
test writes with openpyxl, the round trip from the frame that was exported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ims_geo import export, schema
from ims_geo.cli import main
from ims_geo.conflicts import find_conflicts
from ims_geo.errors import HostileInputError, InputError
from ims_geo.ingest import UPLOAD_TYPES, list_layers, read_works
from ims_geo.ingest.suggest import read_raw, suggest_mapping

from conftest import ROOT, shared_data

MAPPING = ROOT / "data" / "mappings" / "uk_national_highways.toml"
EMERGENCY_TYPES = {
    "Emergency Routine Works",
    "Emergency Regional Technology Works",
    "Emergency National Technology Works",
    "Emergency and urgent Street/Road Works",
}


def _run(*args: object) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# --- JSON record lists ----------------------------------------------------------------


def _roadworks() -> Path:
    return shared_data("uk_national_highways_roadworks_2020", "roadworks.json")


def test_the_real_roadworks_feed_imports_every_record_with_its_reason(tmp_path):
    path = _roadworks()
    raw = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    assert len(raw) == 1369
    rejects = tmp_path / "rejects.csv"
    store = tmp_path / "store.gpkg"
    result = _run(
        "import", path, "--mapping", MAPPING, "--allow-empty", "--rejects", rejects,
        "--store", store,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # the feed has no id column: the mapping composes one, and every record arrives
    assert "accepted: 1369" in result.stdout, result.stdout
    assert "rejected: 0" in result.stdout or "rejected" not in result.stdout, result.stdout
    assert len(gpd.read_file(store, layer="works")) == len(raw)


def test_the_real_roadworks_feed_values_arrive_as_the_records_hold_them():
    path = _roadworks()
    raw = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    result = read_works(path, mapping=MAPPING)
    assert len(result.rejected) == 0
    got = result.works  # in the order of the records
    assert len(got) == len(raw)
    london = {
        c: pd.to_datetime(raw[c], utc=True).dt.tz_convert("Europe/London").dt.date
        for c in ("startDate", "endDate")
    }
    assert [d.date() for d in got["start_date"]] == london["startDate"].tolist()
    assert [d.date() for d in got["end_date"]] == london["endDate"].tolist()
    assert got["title"].tolist() == raw["description"].str.strip().tolist()  # titles trimmed
    assert (got["org"] == "National Highways").all()
    assert got["emergency"].tolist() == raw["closureType"].isin(EMERGENCY_TYPES).tolist()
    road = ~raw["closureType"].str.contains("Technology|Diversion|Abnormal|Short Stop|Traffic "
                                            "Incidents|Embargo|Off Network")  # fmt: skip
    assert (got["discipline"].to_numpy()[road.to_numpy()] == "road").all()
    assert got.crs.to_epsg() == 27700
    xy = shapely.get_coordinates(got.geometry.to_numpy())
    expected = raw[["centreEasting", "centreNorthing"]].to_numpy(dtype=float)
    np.testing.assert_array_equal(xy, expected)
    assert got["roads"].tolist() == raw["roads"].tolist()


def _plan_records() -> list[dict]:
    return [
        {
            "work_id": "0042",
            "org": "Waternet",
            "discipline": "water",
            "start_date": "2027-03-01",
            "end_date": "2027-03-20",
            "cost_eur": 1250.5,
            "x": 121000,
            "y": 487000,
            "excavation": True,
            "contacts": {"site": "Dam", "phones": [1, 2]},
            "note": None,
        },
        {
            "work_id": "0043",
            "org": "Waternet",
            "discipline": "riool",
            "start_date": "2027-02-30",
            "end_date": "2027-04-01",
            "x": 121050,
            "y": 487010,
        },
    ]


def test_a_json_record_list_is_read_as_a_csv_is():
    records = _plan_records()
    data = json.dumps(records).encode()
    result = read_works(data, name="plan.json", crs="EPSG:28992")
    works = result.works
    assert works["work_id"].tolist() == ["0042"]
    assert works["cost_eur"].tolist() == [1250.5]
    assert works["excavation"].tolist() == [True]
    assert works["start_date"].tolist() == [pd.Timestamp("2027-03-01")]
    # a nested value is kept as its JSON text, not dropped
    assert works["contacts"].tolist() == [json.dumps(records[0]["contacts"])]
    assert result.rejected["work_id"].tolist() == ["0043"]
    assert "2027-02-30" in result.rejected[schema.REASON].iloc[0]
    # the same table written as CSV reads the same
    table = pd.DataFrame(records).drop(columns=["contacts", "note"])
    table["excavation"] = table["excavation"].map({True: "true"})
    table["x"], table["y"] = table["x"].astype(str), table["y"].astype(str)
    csv = read_works(table.to_csv(index=False).encode(), name="plan.csv", crs="EPSG:28992")
    columns = ["work_id", "org", "discipline", "start_date", "end_date", "cost_eur"]
    pd.testing.assert_frame_equal(works[columns], csv.works[columns])


def test_a_json_object_with_one_record_list_and_geojson_stays_geojson(tmp_path):
    records = _plan_records()[:1]
    wrapped = json.dumps({"exported": "2027-01-01", "works": records}).encode()
    assert list_layers(wrapped, name="plan.json") == ["works"]
    assert read_works(wrapped, name="plan.json", crs="EPSG:28992").works["work_id"].tolist() == [
        "0042"
    ]
    feature = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {k: v for k, v in records[0].items() if k not in ("x", "y")},
                "geometry": {"type": "Point", "coordinates": [4.9, 52.37]},
            }
        ],
    }
    geo = read_works(json.dumps(feature).encode(), name="plan.json")
    assert geo.works["work_id"].tolist() == ["0042"]
    assert shapely.get_coordinates(geo.works.to_crs(4326).geometry.to_numpy()) == pytest.approx(
        np.array([[4.9, 52.37]])
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[1, 2]", "record 1 is a JSON int"),
        (b"[]", "holds no records"),
        (b'{"a": 1}', "holds no list of records"),
        (b"[{]", "no valid JSON"),
    ],
)
def test_json_that_is_no_record_list_is_refused_saying_why(text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        read_works(text, name="plan.json")


def test_a_hostile_deeply_nested_json_is_refused_clearly():
    deep = b'[{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}]"
    with pytest.raises(HostileInputError, match="nests its values more deeply"):
        read_works(deep, name="plan.json")


def test_json_records_beyond_max_rows_are_refused():
    from ims_geo.ingest import Limits

    data = json.dumps(_plan_records() * 3).encode()
    with pytest.raises(HostileInputError, match=r"6 records, more than the limit of 5"):
        read_works(data, name="plan.json", limits=Limits(max_rows=5))


# --- Excel workbooks ------------------------------------------------------------------

HEADER = ["work_id", "org", "discipline", "start_date", "end_date", "cost_eur", "geometry", "n"]


def _workbook(path: Path, rows: list[list[object]], *, second: bool = True) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "plan"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    if second:
        other = book.create_sheet("notes")
        other.append(["work_id", "remark"])
        other.append(["9", "not a plan"])
    book.save(path)
    return path


def _cache(path: Path, formula: str, value: str) -> None:
    """Write the value a spreadsheet program saves with ``formula`` (openpyxl writes none)."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    old = f"<f>{formula}</f><v />".encode()
    assert old in members[sheet]
    members[sheet] = members[sheet].replace(old, f"<f>{formula}</f><v>{value}</v>".encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)


ROWS: list[list[object]] = [
    ["0042", "Waternet", "water", dt.date(2027, 3, 1), dt.date(2027, 3, 20), 1250.5,
     "POINT (121000 487000)", "=2*3"],
    ["0043", "Waternet", "riool", dt.datetime(2027, 4, 1), dt.datetime(2027, 4, 30, 12, 30), 80,
     "POINT (121050 487010)", 7],
]  # fmt: skip


def test_an_excel_sheet_keeps_its_cells_kinds_and_a_formula_s_saved_value(tmp_path):
    path = _workbook(tmp_path / "plan.xlsx", ROWS + [[None] * 8, [None] * 8])
    _cache(path, "2*3", "6")
    frame, text_geometry, layer = read_raw(path)
    assert (text_geometry, layer) == (True, "plan")
    expected = pd.DataFrame(
        [
            ["0042", "Waternet", "water", dt.date(2027, 3, 1), dt.date(2027, 3, 20), 1250.5,
             "POINT (121000 487000)", 6],
            ["0043", "Waternet", "riool", dt.date(2027, 4, 1), dt.datetime(2027, 4, 30, 12, 30),
             80, "POINT (121050 487010)", 7],
        ],
        columns=HEADER,
        dtype=object,
    )  # fmt: skip
    pd.testing.assert_frame_equal(frame, expected)
    result = read_works(path, crs="EPSG:28992")
    assert result.works["work_id"].tolist() == ["0042", "0043"]
    assert result.works["discipline"].tolist() == ["water", "sewer"]
    assert result.works["end_date"].tolist() == [
        pd.Timestamp("2027-03-20"),
        pd.Timestamp("2027-04-30"),
    ]
    assert result.works["cost_eur"].tolist() == [1250.5, 80.0]


def test_the_sheet_named_by_layer_is_read(tmp_path):
    path = _workbook(tmp_path / "plan.xlsx", ROWS[1:])
    assert list_layers(path) == ["plan", "notes"]
    frame, _, layer = read_raw(path, layer="notes")
    assert layer == "notes"
    pd.testing.assert_frame_equal(
        frame, pd.DataFrame([["9", "not a plan"]], columns=["work_id", "remark"], dtype=object)
    )
    with pytest.raises(InputError, match="has no layer 'other'; its layers are: plan, notes"):
        read_raw(path, layer="other")


def test_a_formula_without_its_saved_value_is_refused_naming_the_cell(tmp_path):
    path = _workbook(tmp_path / "plan.xlsx", ROWS)
    with pytest.raises(InputError, match=r"cell H2 holds the formula '=2\*3' without its value"):
        read_works(path, crs="EPSG:28992")


def test_a_sheet_without_header_or_with_a_repeated_name_is_refused(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(ROWS[1][:7])
    book.save(tmp_path / "noheader.xlsx")
    with pytest.raises(InputError, match="row 1 must name the columns, but cell D1 holds"):
        read_works(tmp_path / "noheader.xlsx")
    book = openpyxl.Workbook()
    book.active.append(["work_id", "org", "Work_ID"])
    book.active.append(["1", "a", "2"])
    book.save(tmp_path / "twice.xlsx")
    with pytest.raises(InputError, match=r"more than once \('work_id' in A1, C1\)"):
        read_works(tmp_path / "twice.xlsx")
    openpyxl.Workbook().save(tmp_path / "empty.xlsx")
    with pytest.raises(InputError, match="is empty; row 1 must name the columns"):
        read_works(tmp_path / "empty.xlsx")


def test_a_workbook_that_expands_like_a_zip_bomb_is_refused_before_it_is_opened(tmp_path):
    path = _workbook(tmp_path / "plan.xlsx", ROWS[1:])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * (20 << 20))
    with pytest.raises(
        HostileInputError, match=r"'xl/media/padding.bin' expands 1,029 times .*\(max_ratio\)"
    ):
        read_works(path, crs="EPSG:28992")
    with pytest.raises(HostileInputError, match="max_ratio"):
        list_layers(path)


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_old_and_open_spreadsheets_are_asked_to_be_saved_as_xlsx_or_csv(suffix):
    with pytest.raises(InputError, match=r"save it as an Excel workbook \(\.xlsx\) or as \.csv"):
        read_works(b"\xd0\xcf\x11\xe0 spreadsheet", name=f"plan{suffix}")


def test_the_upload_types_and_the_command_line_name_both_formats():
    assert {"json", "xlsx"} <= set(UPLOAD_TYPES)
    help_text = _run("import", "--help").stdout
    assert "Excel" in help_text and "JSON" in help_text


def test_mapping_suggest_reads_json_records_and_workbooks(tmp_path):
    path = _workbook(tmp_path / "plan.xlsx", ROWS[1:], second=False)
    suggested = suggest_mapping(path)
    assert suggested.mapping().columns["work_id"] == ("work_id",)
    feed = suggest_mapping(_roadworks())
    assert feed.mapping().columns["start_date"] == ("startDate",)


# --- the product's own XLSX export read back --------------------------------------------


def _kent_works() -> gpd.GeoDataFrame:
    csv = shared_data("uk_eton_kent_roadworks_2018", "kent10.csv")
    works = read_works(csv, mapping=ROOT / "data" / "mappings" / "uk_eton.toml").works
    works = works.copy()
    # text a spreadsheet would run as a formula comes back as written
    works.loc[0, "title"] = '=HYPERLINK("http://example.com","x")'
    works.loc[1, "title"] = "+44 20 7946 0000"
    works.loc[2, "title"] = "@SUM(A1:A9)"
    works.loc[3, "title"] = "-3.5"
    return works


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as objects, every missing value as None (a text column's NaN or NA alike)."""
    out = frame.reset_index(drop=True).astype(object)
    return out.where(out.notna(), None)


def test_the_product_s_xlsx_export_reads_back_with_every_work_and_value(tmp_path):
    works = _kent_works()
    path = export.write(works, tmp_path / "works.xlsx", layer="works")
    back = read_works(path).works
    assert back.crs == works.crs
    attributes = [c for c in works.columns if c != "geometry"]
    pd.testing.assert_frame_equal(
        _plain(back[attributes]), _plain(works[attributes]), check_dtype=False
    )
    # the export writes WKT in longitude/latitude to 7 decimals: centimetres
    moved = shapely.distance(back.geometry.to_numpy(), works.geometry.to_numpy())
    assert moved.max() < 0.05


def test_the_conflicts_sheet_of_the_export_reads_back_as_written(tmp_path):
    gpkg = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    works = read_works(gpkg, mapping=ROOT / "data" / "mappings" / "uk_eton.toml").works
    conflicts = find_conflicts(works)
    assert len(conflicts) == 5  # the two of the CLI test and three more (test_cli_realdata)
    path = export.write(conflicts, tmp_path / "conflicts.xlsx", layer="conflicts")
    frame, _, layer = read_raw(path)
    assert layer == "conflicts"
    expected = pd.DataFrame(conflicts.drop(columns="geometry"))
    for column in expected.columns:
        if pd.api.types.is_datetime64_any_dtype(expected[column]):
            expected[column] = expected[column].dt.date
    pd.testing.assert_frame_equal(
        _plain(frame.drop(columns="geometry")), _plain(expected), check_dtype=False
    )


def test_the_cli_round_trip_export_then_import(tmp_path):
    store, again = tmp_path / "store.gpkg", tmp_path / "again.gpkg"
    csv = shared_data("uk_eton_kent_roadworks_2018", "kent10.csv")
    mapping = ROOT / "data" / "mappings" / "uk_eton.toml"
    assert _run("import", csv, "--mapping", mapping, "--store", store).exit_code == 0
    out = tmp_path / "works.xlsx"
    assert _run("export", "--out", out, "--store", store).exit_code == 0
    result = _run("import", out, "--store", again)
    assert result.exit_code == 0, result.output
    assert "rejected: 0" in result.stdout
    tables = []
    for source in (store, again):
        csv_out = tmp_path / f"{source.stem}.csv"
        assert _run("export", "--out", csv_out, "--store", source).exit_code == 0
        tables.append(pd.read_csv(csv_out, dtype=str))
    first, second = (t.drop(columns="geometry") for t in tables)
    pd.testing.assert_frame_equal(first, second)
    # WKT in longitude/latitude to 8 decimals, read back to metres and written again: the
    # last decimal may move (a millimetre)
    here, there = (shapely.from_wkt(t["geometry"].to_numpy()) for t in tables)
    assert shapely.equals_exact(here, there, tolerance=2e-8).all()
