"""Reading works plans: every format and engine, encodings, mappings, CRS, bad rows, hostile files.

Every input is a real file written into ``tmp_path`` (or its bytes, as an
upload would arrive); expected values are written down from the data built
here, never taken from the function under test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Transformer

from ims_geo import schema
from ims_geo.errors import HostileInputError, InputError, MissingCRSError, RulesError
from ims_geo.ingest import (
    IngestResult,
    Limits,
    Mapping,
    list_layers,
    load_mapping,
    read_many,
    read_works,
)

ENGINES = ["pyogrio", "fiona"]
RD = 28992  # the Netherlands' national grid: the working CRS of data in the Netherlands
TITLES = ["Riool Straße – €", "Water Lindenlaan", "Gas plein"]
IDS = ["00017", "0420", "3"]
# three street works in Utrecht, in RD New metres
LINES = [
    shapely.LineString([(136000, 455000), (136100, 455000)]),
    shapely.LineString([(136050, 455010), (136050, 455200)]),
    shapely.LineString([(137000, 456000), (137300, 456000)]),
]


def plan(crs: int = RD) -> gpd.GeoDataFrame:
    """Three valid works with canonical columns, dates as ISO text."""
    frame = gpd.GeoDataFrame(
        {
            "work_id": IDS,
            "org": ["Gemeente Utrecht"] * 3,
            "title": TITLES,
            "discipline": ["riool", "water", "gas"],
            "start_date": ["2027-03-01", "2027-04-15", "2028-01-10"],
            "end_date": ["2027-06-30", "2027-05-31", "2028-02-29"],
            "cost_eur": [125000.5, 40000.0, 7000.0],
        },
        geometry=LINES,
        crs=RD,
    )
    return frame.to_crs(crs)


def write(frame: gpd.GeoDataFrame, folder: Path, fmt: str, stem: str = "plan") -> Path:
    """Write ``frame`` as ``fmt`` into ``folder``; returns the file to upload."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt in ("shp", "zip"):
        parts = folder / "parts"
        parts.mkdir(exist_ok=True)
        frame.to_file(parts / f"{stem}.shp", encoding="UTF-8")
        if fmt == "shp":
            return parts / f"{stem}.shp"
        return zip_files(folder / f"{stem}.zip", {p.name: p.read_bytes() for p in parts.iterdir()})
    if fmt == "csv":
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["geometry"] = shapely.to_wkt(frame.geometry.array, rounding_precision=-1)
        epsg = frame.crs.to_epsg()
        if epsg != 4326:
            table["geometry"] = f"SRID={epsg};" + table["geometry"]
        path = folder / f"{stem}.csv"
        table.to_csv(path, index=False)
        return path
    driver = {"gpkg": "GPKG", "geojson": "GeoJSON", "fgb": "FlatGeobuf", "gml": "GML"}[fmt]
    path = folder / f"{stem}.{fmt}"
    # FlatGeobuf's spatial index would store the features in Hilbert order
    options = {"SPATIAL_INDEX": "NO"} if fmt == "fgb" else {}
    frame.to_file(path, driver=driver, layer_options=options)
    return path


def zip_files(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def shapefile_parts(frame: gpd.GeoDataFrame, folder: Path, **kwargs) -> dict[str, bytes]:
    """The files of a shapefile written by GDAL, by suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_file(folder / "works.shp", **kwargs)
    return {p.suffix: p.read_bytes() for p in folder.iterdir()}


# --- formats x engines -----------------------------------------------------------

FORMATS = ["zip", "shp", "gpkg", "geojson", "fgb", "csv", "gml"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_with_both_engines(tmp_path, fmt, engine):
    # GeoJSON and CSV without SRID are in lon/lat; the rest keep RD New
    crs = 4326 if fmt in ("geojson",) else RD
    path = write(plan(crs), tmp_path, fmt)
    result = read_works(path, engine=engine)

    assert isinstance(result, IngestResult)
    assert result.rejected.empty, result.report()
    works = result.works
    assert works.crs.to_epsg() == RD
    assert result.crs.to_epsg() == RD
    assert works[schema.WORK_ID].tolist() == IDS  # ids stay text with their leading zeros
    assert works[schema.TITLE].tolist() == TITLES
    assert works[schema.DISCIPLINE].tolist() == ["sewer", "water", "gas"]
    assert works[schema.LAYER].tolist() == ["subsurface"] * 3
    assert works[schema.START].tolist() == [
        pd.Timestamp("2027-03-01"),
        pd.Timestamp("2027-04-15"),
        pd.Timestamp("2028-01-10"),
    ]
    assert works[schema.END].dtype == "datetime64[s]"
    assert works[schema.COST].tolist() == [125000.5, 40000.0, 7000.0]
    for got, want in zip(works.geometry, LINES, strict=True):
        assert shapely.equals_exact(got, want, tolerance=0.01)  # after 4326 -> RD, within 1 cm
    assert list(works.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)


@pytest.mark.parametrize("fmt", ["zip", "gpkg", "geojson", "fgb", "csv", "gml"])
def test_uploads_as_bytes_and_file_objects(tmp_path, fmt):
    path = write(plan(), tmp_path, fmt)
    data = path.read_bytes()
    from_bytes = read_works(data, name=f"upload.{fmt}")
    buffer = io.BytesIO(data)
    buffer.name = f"C:/Users/planner/upload.{fmt}"
    from_file = read_works(buffer)
    assert from_bytes.works[schema.WORK_ID].tolist() == IDS
    assert from_file.works[schema.TITLE].tolist() == TITLES
    assert from_file.source == f"upload.{fmt}"


def test_bytes_without_a_name_are_refused():
    with pytest.raises(InputError, match="name="):
        read_works(b"PK\x05\x06" + b"\x00" * 18)


def test_shp_without_its_siblings_is_refused(tmp_path):
    path = write(plan(), tmp_path, "shp")
    with pytest.raises(InputError, match="upload the shapefile as a .zip"):
        read_works(path.read_bytes(), name="plan.shp")
    path.with_suffix(".dbf").unlink()
    with pytest.raises(InputError, match=r"\.dbf"):
        read_works(path)


def test_unknown_engine_is_refused(tmp_path):
    with pytest.raises(InputError, match="pyogrio, fiona"):
        read_works(write(plan(), tmp_path, "gpkg"), engine="gdal")


# --- layers ---------------------------------------------------------------------------


def test_geopackage_layers_listed_and_chosen(tmp_path):
    path = tmp_path / "plans.gpkg"
    plan().to_file(path, layer="riolering")
    plan().iloc[:1].assign(work_id="W1").to_file(path, layer="wegen", mode="a")
    assert list_layers(path) == ["riolering", "wegen"]
    assert list_layers(path.read_bytes(), name="plans.gpkg") == ["riolering", "wegen"]
    with pytest.raises(InputError, match="2 layers: riolering, wegen") as err:
        read_works(path)
    assert "plans.gpkg" in str(err.value) and "layer=" in str(err.value)
    for engine in ENGINES:
        chosen = read_works(path, layer="wegen", engine=engine)
        assert chosen.works[schema.WORK_ID].tolist() == ["W1"]
        assert chosen.layer == "wegen"
    with pytest.raises(InputError, match="no layer 'bomen'; its layers are: riolering, wegen"):
        read_works(path, layer="bomen")


def test_zip_with_several_shapefiles_needs_a_layer(tmp_path):
    a = shapefile_parts(plan(), tmp_path / "a")
    b = shapefile_parts(plan().iloc[:2], tmp_path / "b")
    members = {f"riool{s}": d for s, d in a.items()} | {f"water{s}": d for s, d in b.items()}
    path = zip_files(tmp_path / "plans.zip", members)
    assert list_layers(path) == ["riool", "water"]
    with pytest.raises(InputError, match="2 layers: riool, water"):
        read_works(path)
    for engine in ENGINES:
        assert len(read_works(path, layer="water", engine=engine).works) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_zip_with_the_shapefile_in_a_folder(tmp_path, engine):
    parts = shapefile_parts(plan(), tmp_path / "parts")
    members = {f"Plan 2027/netwerk/works{s}": d for s, d in parts.items()}
    members["Plan 2027/leesmij.txt"] = b"readme"
    path = zip_files(tmp_path / "Plan 2027.zip", members)
    assert list_layers(path) == ["works"]
    result = read_works(path.read_bytes(), name="Plan 2027.zip", engine=engine)
    assert result.works[schema.WORK_ID].tolist() == IDS
    assert result.works[schema.TITLE].tolist() == TITLES


def test_layer_choice_is_ignored_by_single_layer_files(tmp_path):
    paths = [write(plan(), tmp_path / fmt, fmt) for fmt in ("shp", "geojson", "fgb", "csv")]
    for path in paths:
        assert read_works(path, layer="wegen").works[schema.WORK_ID].tolist() == IDS


def test_zip_holding_one_geopackage_is_that_geopackage(tmp_path):
    gpkg = write(plan(), tmp_path, "gpkg")
    path = zip_files(tmp_path / "plan.zip", {"export/plan.gpkg": gpkg.read_bytes()})
    assert read_works(path).works[schema.WORK_ID].tolist() == IDS


# --- encodings -------------------------------------------------------------------------

CP1252_TITLES = ["Kosten € 5–10", "Fußweg Ärgernis", "naïve café"]


def _cp1252_plan() -> gpd.GeoDataFrame:
    return plan().assign(title=CP1252_TITLES)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("with_cpg", [True, False])
def test_windows_1252_shapefile_with_and_without_cpg(tmp_path, engine, with_cpg):
    parts = shapefile_parts(_cp1252_plan(), tmp_path / "parts", encoding="cp1252")
    assert parts[".cpg"].upper().startswith(b"CP1252")
    if not with_cpg:
        del parts[".cpg"]
    path = zip_files(tmp_path / "plan.zip", {f"plan{s}": d for s, d in parts.items()})
    result = read_works(path, engine=engine)
    assert result.works[schema.TITLE].tolist() == CP1252_TITLES
    guessed = [w for w in result.warnings if "Windows-1252" in w]
    assert len(guessed) == (0 if with_cpg else 1)


def test_utf8_shapefile_without_cpg_is_read_as_utf8(tmp_path):
    parts = shapefile_parts(_cp1252_plan(), tmp_path / "parts", encoding="UTF-8")
    del parts[".cpg"]
    path = zip_files(tmp_path / "plan.zip", {f"plan{s}": d for s, d in parts.items()})
    result = read_works(path)
    assert result.works[schema.TITLE].tolist() == CP1252_TITLES
    assert not result.warnings


def test_encoding_argument_overrides_the_cpg(tmp_path):
    parts = shapefile_parts(_cp1252_plan(), tmp_path / "parts", encoding="cp1252")
    path = zip_files(tmp_path / "plan.zip", {f"plan{s}": d for s, d in parts.items()})
    latin1 = read_works(path, encoding="latin-1").works[schema.TITLE].tolist()
    assert latin1[0] == "Kosten \x80 5\x9610"  # what the same bytes mean in ISO-8859-1
    assert latin1[1] == "Fußweg Ärgernis"


def test_csv_in_windows_1252_and_semicolons(tmp_path):
    text = "kenmerk;beheerder;omschrijving;startdatum;einddatum;wkt\n"
    text += "00017;Stedin;Kosten € 5–10;01-03-2027;30-06-2027;POINT (5.1 52.1)\n"
    path = tmp_path / "stedin.csv"
    path.write_bytes(text.encode("cp1252"))
    result = read_works(path)
    assert result.works[schema.TITLE].tolist() == ["Kosten € 5–10"]
    assert result.works[schema.WORK_ID].tolist() == ["00017"]
    assert any("not UTF-8" in w for w in result.warnings)


# --- column names, aliases and mapping files ------------------------------------------------


def test_dutch_and_german_columns_and_values(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "Kenmerk": ["R-1", "E-2", "W-3"],
            "Beheerder": ["Gemeente Utrecht", "Stedin", "Vitens"],
            "Sparte": ["Riool", "Strom", "Trinkwasser"],
            "Startdatum": ["2027-01-01", "2027-02-01", "2027-03-01"],
            "Einddatum": ["2027-01-31", "2027-02-28", "2027-03-31"],
            "Fase": ["gepland", "in uitvoering", "vastgesteld"],
            "Straat": ["Lange Nieuwstraat", "Oudegracht", "Biltstraat"],
        },
        geometry=LINES,
        crs=RD,
    )
    result = read_works(write(frame, tmp_path, "gpkg"))
    works = result.works
    assert works[schema.WORK_ID].tolist() == ["R-1", "E-2", "W-3"]
    assert works[schema.ORG].tolist() == ["Gemeente Utrecht", "Stedin", "Vitens"]
    assert works[schema.DISCIPLINE].tolist() == ["sewer", "electricity", "water"]
    assert works[schema.STATUS].tolist() == ["planned", "in_progress", "committed"]
    assert works["Straat"].tolist() == ["Lange Nieuwstraat", "Oudegracht", "Biltstraat"]


def test_two_alias_columns_for_one_field_warn_and_the_mapping_decides(tmp_path):
    frame = plan().drop(columns="work_id").assign(id=["1", "2", "3"], works_ref=["a", "b", "c"])
    path = write(frame, tmp_path, "gpkg")
    result = read_works(path)
    assert result.works[schema.WORK_ID].tolist() == ["1", "2", "3"]
    assert result.works["works_ref"].tolist() == ["a", "b", "c"]
    assert any("'works_ref' could also be work_id" in w for w in result.warnings)
    chosen = read_works(path, mapping=Mapping(columns={"work_id": "WORKS_REF"}))
    assert chosen.works[schema.WORK_ID].tolist() == ["a", "b", "c"]
    assert chosen.works["id"].tolist() == ["1", "2", "3"]
    assert not chosen.warnings
    # what was read from where, for the upload page's column-mapping step
    assert result.columns[schema.WORK_ID] == ["id"]
    assert chosen.columns[schema.WORK_ID] == ["works_ref"]
    assert result.columns[schema.START] == ["start_date"]
    assert "geometry" not in result.source_columns
    assert {"id", "works_ref", "org", "start_date", "end_date"} <= set(result.source_columns)


MAPPING_TOML = """
crs = "EPSG:28992"
date_format = "%d.%m.%Y"
drop = ["Telefon"]

[columns]
work_id = "Projekt"
org = ["Traeger", "Betreiber"]
discipline = "Beschrieb"
start_date = "Beginn"
end_date = "Ende"

[values.org]
"EWZ" = "Elektrizitätswerk Zürich"

[values.discipline]
"Belagsersatz" = "road"

[keywords.discipline]
"kanal" = "sewer"
"leitung" = "water"
"" = "other"

[defaults]
visibility = "public"
org = "Tiefbauamt"

[extras]
notiz = "Bemerkung"
"""


def _german_plan() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "Projekt": ["007", "008", "009", "010"],
            "Traeger": ["ewz", None, "", "Tiefbauamt Nord"],
            "Betreiber": [None, "ERZ", None, None],
            "Beschrieb": ["Kanalersatz", "BELAGSERSATZ", "Neue Gasleitung", "Fest"],
            "Beginn": ["01.03.2027", "15.04.2027", "01.05.2027", "01.06.2027"],
            "Ende": ["30.06.2027", "31.05.2027", "31.05.2027", "30.06.2027"],
            "Bemerkung": ["a", "b", "c", "d"],
            "Telefon": ["044 1", "044 2", "044 3", "044 4"],
        },
        geometry=[shapely.Point(136000 + 10 * i, 455000) for i in range(4)],
        crs=None,
    )


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_mapping_file_columns_values_keywords_defaults_extras(tmp_path):
    mapping_path = tmp_path / "baustellen.toml"
    mapping_path.write_text(MAPPING_TOML, encoding="utf-8")
    path = write(_german_plan(), tmp_path, "zip")  # no .prj: the mapping's crs applies
    result = read_works(path, mapping=mapping_path)
    works = result.works
    assert result.rejected.empty, result.report()
    assert works[schema.WORK_ID].tolist() == ["007", "008", "009", "010"]
    # first non-empty of Traeger/Betreiber, then [values.org], then [defaults] org
    assert works[schema.ORG].tolist() == [
        "Elektrizitätswerk Zürich",
        "ERZ",
        "Tiefbauamt",
        "Tiefbauamt Nord",
    ]
    # exact value first, then the first keyword found, then the catch-all
    assert works[schema.DISCIPLINE].tolist() == ["sewer", "road", "water", "other"]
    assert works[schema.START].tolist() == [
        pd.Timestamp(d) for d in ["2027-03-01", "2027-04-15", "2027-05-01", "2027-06-01"]
    ]
    assert works[schema.VISIBILITY].tolist() == ["public"] * 4
    assert works["notiz"].tolist() == ["a", "b", "c", "d"]
    assert "Telefon" not in works and "Bemerkung" not in works
    assert works.crs.to_epsg() == RD
    # the explicit org= wins over the mapping's default
    given = read_works(path, mapping=load_mapping(mapping_path), org="Stadt Zürich")
    assert given.works[schema.ORG].tolist()[2] == "Stadt Zürich"


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_mapping_keep_extras_false_keeps_only_the_listed_ones(tmp_path):
    mapping = Mapping(
        columns={
            "work_id": "Projekt",
            "org": "Traeger",
            "start_date": "Beginn",
            "end_date": "Ende",
        },
        defaults={"org": "X"},
        extras={"notiz": "Bemerkung"},
        keep_extras=False,
        date_format="%d.%m.%Y",
    )
    result = read_works(write(_german_plan(), tmp_path, "zip"), mapping=mapping, crs="EPSG:28992")
    extras = [c for c in result.works.columns if c not in (*schema.COLUMNS, "geometry")]
    assert extras == ["notiz"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('colums = {work_id = "a"}', "unknown key 'colums'"),
        ('[columns]\nwork_ref = "a"', r"unknown column 'work_ref' in \[columns\]"),
        ('[values.discipline]\n"x" = ["road"]', r"\[values.discipline\] 'x'"),
        ('[defaults]\nfoo = "a"', r"unknown column 'foo' in \[defaults\]"),
        ('crs = "EPSG:999999"', "not a known CRS"),
        ('encoding = "klingon"', "encoding 'klingon' is unknown"),
        ("keep_extras = 1", "keep_extras must be true or false"),
        ('[extras]\nwork_id = "a"', "not a usable extra column name"),
        ("[columns\n", "not a valid TOML file"),
    ],
)
def test_bad_mapping_files_name_the_key_and_the_file(tmp_path, toml, message):
    path = tmp_path / "bad_mapping.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(RulesError, match=message) as err:
        load_mapping(path)
    assert "bad_mapping.toml" in str(err.value)


def test_mapping_naming_a_column_the_file_lacks(tmp_path):
    mapping = Mapping(columns={"start_date": "Startdatum"}, source="plan.toml")
    with pytest.raises(InputError, match="plan.toml.*start_date.*'Startdatum'.*plan.gpkg has no"):
        read_works(write(plan(), tmp_path, "gpkg"), mapping=mapping)


def test_mapping_file_missing():
    with pytest.raises(InputError, match="does not exist"):
        load_mapping("/nonexistent/mapping.toml")


# --- CRS ---------------------------------------------------------------------------------


def test_missing_crs_is_an_error_that_says_how_to_fix_it(tmp_path):
    parts = shapefile_parts(plan(), tmp_path / "parts")
    del parts[".prj"]
    path = zip_files(tmp_path / "zonder_prj.zip", {f"w{s}": d for s, d in parts.items()})
    with pytest.raises(MissingCRSError) as err:
        read_works(path)
    message = str(err.value)
    for hint in ("zonder_prj.zip", ".prj", "crs=", "--crs", "mapping file"):
        assert hint in message
    fixed = read_works(path, crs="EPSG:28992")
    assert fixed.works.crs.to_epsg() == RD
    assert shapely.equals_exact(fixed.works.geometry[0], LINES[0], tolerance=1e-6)


def test_a_files_own_crs_is_kept_over_the_crs_argument(tmp_path):
    result = read_works(write(plan(), tmp_path, "gpkg"), crs="EPSG:31370")
    assert shapely.equals_exact(result.works.geometry[0], LINES[0], tolerance=1e-6)
    assert any("only used for files without one" in w for w in result.warnings)


def test_csv_crs_from_ewkt_argument_or_default(tmp_path):
    lonlat = Transformer.from_crs(RD, 4326, always_xy=True).transform(136000, 455000)
    rows = pd.DataFrame(
        {
            "work_id": ["a", "b", "c"],
            "org": ["o"] * 3,
            "start_date": ["2027-01-01"] * 3,
            "end_date": ["2027-01-02"] * 3,
            "the_geom": [
                "SRID=28992;POINT(136000 455000)",
                f"POINT({lonlat[0]} {lonlat[1]})",  # no SRID: the file's SRID applies
                "srid=4326; POINT({} {})".format(*lonlat),  # another SRID: reprojected
            ],
        }
    )
    path = tmp_path / "ewkt.csv"
    rows.iloc[[0, 2]].to_csv(path, index=False)
    works = read_works(path).works
    assert works.crs.to_epsg() == RD
    for point in works.geometry:
        assert point.distance(shapely.Point(136000, 455000)) < 0.01

    rows.iloc[[1]].to_csv(path, index=False)  # lon/lat without SRID: EPSG:4326
    assert read_works(path).works.geometry[0].distance(shapely.Point(136000, 455000)) < 0.01

    rd_only = rows.iloc[[0]].assign(the_geom="POINT(136000 455000)")
    rd_only.to_csv(path, index=False)
    with pytest.raises(MissingCRSError, match="ewkt.csv.*not longitude/latitude"):
        read_works(path)
    assert read_works(path, crs=RD).works.geometry[0].equals(shapely.Point(136000, 455000))


def test_csv_without_geometry_column(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("work_id,org\n1,a\n", encoding="utf-8")
    with pytest.raises(InputError, match="plain.csv has no geometry column.*work_id, org"):
        read_works(path)


def test_csv_with_coordinate_columns_instead_of_wkt(tmp_path):
    # lon/lat columns (decimal commas as Dutch spreadsheets write them), one row unreadable
    lonlat = tmp_path / "punten.csv"
    lonlat.write_text(
        "work_id;org;start_date;end_date;Lon;Lat\n"
        "1;Waternet;2027-01-01;2027-02-01;4,9;52,37\n"
        "2;Waternet;2027-01-01;2027-02-01;abc;52.37\n"
        "3;Waternet;2027-01-01;2027-02-01;;\n",
        encoding="utf-8",
    )
    result = read_works(lonlat)
    assert result.works[schema.WORK_ID].tolist() == ["1"]
    expected = Transformer.from_crs(4326, result.crs, always_xy=True).transform(4.9, 52.37)
    assert result.works.geometry[0].distance(shapely.Point(expected)) < 1e-6
    reasons = dict(
        zip(result.rejected[schema.WORK_ID], result.rejected[schema.REASON], strict=True)
    )
    assert reasons == {
        "2": "unparsable coordinates Lon/Lat 'abc 52.37'",
        "3": "missing geometry",
    }
    # x/y in metres say nothing about their CRS: refused until one is given
    xy = tmp_path / "rd.csv"
    xy.write_text("work_id,org,start_date,end_date,X,Y\n1,A,2027-01-01,2027-02-01,136000,455000\n")
    with pytest.raises(MissingCRSError, match="rd.csv.*not longitude/latitude"):
        read_works(xy)
    assert read_works(xy, crs=RD).works.geometry[0].equals(shapely.Point(136000, 455000))


def test_geographic_and_projected_inputs_share_one_metric_crs(tmp_path):
    # work A in lon/lat (GeoJSON), work B in RD New 300 m east and 400 m north of A
    a_rd = shapely.Point(136000, 455000)
    b_rd = shapely.Point(136300, 455400)
    base = {"org": ["o"], "start_date": ["2027-01-01"], "end_date": ["2027-01-31"]}
    a = gpd.GeoDataFrame({**base, "work_id": ["A"]}, geometry=[a_rd], crs=RD).to_crs(4326)
    b = gpd.GeoDataFrame({**base, "work_id": ["B"]}, geometry=[b_rd], crs=RD)
    paths = [write(a, tmp_path / "a", "geojson"), write(b, tmp_path / "b", "gpkg")]
    result = read_many(paths)
    assert result.crs.to_epsg() == RD
    geoms = dict(zip(result.works[schema.WORK_ID], result.works.geometry, strict=True))
    assert geoms["A"].distance(geoms["B"]) == pytest.approx(500.0, abs=0.01)

    utm = read_many(paths, target_crs="EPSG:32631")
    assert utm.works.crs.to_epsg() == 32631
    g = dict(zip(utm.works[schema.WORK_ID], utm.works.geometry, strict=True))
    assert g["A"].distance(g["B"]) == pytest.approx(500.0, rel=2e-3)  # UTM scale error < 0.1 %

    with pytest.raises(InputError, match="not a local metric CRS"):
        read_many(paths, target_crs="EPSG:3857")


def test_working_crs_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMS_GEO_CRS", "EPSG:25831")
    assert read_works(write(plan(), tmp_path, "gpkg")).crs.to_epsg() == 25831


# --- bad rows ---------------------------------------------------------------------------


def _bad_rows_csv(tmp_path: Path) -> Path:
    rows = [
        # work_id, org, discipline, start, end, geometry
        ("ok-1", "A", "road", "2027-01-01", "2027-01-31", "POINT(5.1 52.1)"),
        ("no-geom", "A", "road", "2027-01-01", "2027-01-31", ""),
        ("empty-geom", "A", "road", "2027-01-01", "2027-01-31", "POINT EMPTY"),
        ("bad-wkt", "A", "road", "2027-01-01", "2027-01-31", "POINT(5.1"),
        ("bad-date", "A", "road", "2027-02-30", "2027-03-31", "POINT(5.1 52.1)"),
        ("backwards", "A", "road", "2027-05-01", "2027-04-01", "POINT(5.1 52.1)"),
        ("", "A", "road", "2027-01-01", "2027-01-31", "POINT(5.1 52.1)"),
        ("dup", "A", "road", "2027-01-01", "2027-01-31", "POINT(5.1 52.1)"),
        ("dup", "A", "water", "2027-01-01", "2027-01-31", "POINT(5.2 52.1)"),
        ("dup", "B", "water", "2027-01-01", "2027-01-31", "POINT(5.2 52.1)"),
        ("enum", "A", "asphalt", "2027-01-01", "2027-01-31", "POINT(5.1 52.1)"),
        ("ok-2", "A", "", "2027-01-01", "", "POINT(5.1 52.1)"),
    ]
    frame = pd.DataFrame(
        rows, columns=["work_id", "org", "discipline", "start_date", "end_date", "geometry"]
    )
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_each_kind_of_bad_row_is_rejected_with_its_reason(tmp_path):
    result = read_works(_bad_rows_csv(tmp_path))
    # an unknown discipline keeps the work (as "other", with a warning)
    assert result.works[schema.WORK_ID].tolist() == ["ok-1", "dup", "enum"]
    assert result.works[schema.ORG].tolist() == ["A", "B", "A"]
    assert result.works[schema.DISCIPLINE].tolist() == ["road", "water", "other"]
    assert result.works["discipline_raw"].tolist()[2] == "asphalt"
    rejected = result.rejected.set_index(schema.SOURCE_ROW)
    expected = {
        2: "missing geometry",
        3: "empty geometry",
        4: "unparsable geometry 'POINT(5.1' (not WKT)",
        5: "unparsable start_date '2027-02-30'",
        6: "end_date before start_date",
        7: "missing work_id",
        8: "duplicate work_id 'dup' for org 'A'",
        9: "duplicate work_id 'dup' for org 'A'",
        12: "missing end_date",
    }
    assert sorted(rejected.index) == sorted(expected)
    for row, reason in expected.items():
        assert rejected.loc[row, schema.REASON].startswith(reason), rejected.loc[row]
    assert (rejected[schema.SOURCE_FILE] == "bad.csv").all()
    # the rejected rows keep their own values, as they were in the file
    assert rejected.loc[5, schema.START] == "2027-02-30"

    report = result.report()
    for line in (
        "Import of bad.csv",
        "accepted: 3",
        "repaired: 0",
        "rejected: 9",
        "bad.csv: discipline 'asphalt' (1 row) read as other — add it to [values.discipline] "
        "in a mapping file",
        "missing geometry: 1",
        "duplicate work_id for org: 2 (e.g. 'dup')",
        "unparsable start_date: 1 (e.g. '2027-02-30')",
    ):
        assert line in report, report


def test_repaired_geometries_are_counted(tmp_path):
    x, y = 136000, 455000
    bowtie = shapely.Polygon([(x, y), (x + 10, y + 10), (x + 10, y), (x, y + 10), (x, y)])
    square = shapely.box(x, y, x + 5, y + 5)
    frame = plan().iloc[:2].set_geometry([bowtie, square], crs=RD)
    result = read_works(write(frame, tmp_path, "gpkg"))
    assert result.repaired == 1
    assert result.works.geometry[0].area == pytest.approx(50.0)  # both triangles of the bow tie
    assert len(result.works) == 2 and result.rejected.empty
    assert result.works.geometry.is_valid.all()
    assert "repaired: 1" in result.report()
    assert any("1 invalid geometries repaired" in w for w in result.warnings)


def test_leading_zero_ids_stay_text_in_every_text_format(tmp_path):
    for fmt in ("csv", "geojson", "gpkg", "zip"):
        frame = plan(4326 if fmt == "geojson" else RD)
        works = read_works(write(frame, tmp_path / fmt, fmt)).works
        assert works[schema.WORK_ID].tolist() == IDS, fmt


def test_dates_as_date_fields_iso_text_and_datetimes(tmp_path):
    frame = plan().assign(
        start_date=[dt.date(2027, 3, 1), dt.date(2027, 4, 15), dt.date(2028, 1, 10)],
        end_date=pd.to_datetime(["2027-06-30 17:30", "2027-05-31 08:00", "2028-02-29 23:59"]),
        earliest=["2027-02-01", "2027-04-01T00:30:00+02:00", None],
    )
    path = tmp_path / "dates.gpkg"
    frame.to_file(path, use_arrow=True)  # real DATE and DATETIME fields
    works = read_works(path).works
    assert works[schema.START].tolist() == [
        pd.Timestamp("2027-03-01"),
        pd.Timestamp("2027-04-15"),
        pd.Timestamp("2028-01-10"),
    ]
    assert works[schema.END].tolist() == [
        pd.Timestamp("2027-06-30"),
        pd.Timestamp("2027-05-31"),
        pd.Timestamp("2028-02-29"),
    ]
    # the wall-clock date of a time with an offset; absent -> the planned start
    assert works[schema.EARLIEST].tolist() == [
        pd.Timestamp("2027-02-01"),
        pd.Timestamp("2027-04-01"),
        pd.Timestamp("2028-01-10"),
    ]


def test_long_text_rejects_only_its_row(tmp_path):
    frame = plan().assign(title=["x" * 5000, "short", "y" * 1000])
    result = read_works(write(frame, tmp_path, "gpkg"), limits=Limits(max_text_chars=1000))
    assert result.works[schema.WORK_ID].tolist() == IDS[1:]
    rejected = result.rejected
    assert rejected[schema.REASON].tolist() == ["text in column title longer than 1,000 characters"]
    assert rejected[schema.TITLE].str.len().tolist() == [1000]  # cut to the limit


# --- several files ------------------------------------------------------------------------


def test_read_many_rejects_every_row_of_a_key_found_in_two_files(tmp_path):
    first = write(plan(), tmp_path / "one", "gpkg")
    second_frame = plan().iloc[[0, 2]].assign(work_id=["00017", "X9"])
    second = write(second_frame, tmp_path / "two", "geojson", stem="other")
    result = read_many([first, ("upload.geojson", second.read_bytes())])
    assert sorted(result.works[schema.WORK_ID]) == ["0420", "3", "X9"]
    rejected = result.rejected
    assert sorted(zip(rejected[schema.SOURCE_FILE], rejected[schema.SOURCE_ROW], strict=True)) == [
        ("plan.gpkg", 1),
        ("upload.geojson", 1),
    ]
    assert (
        rejected[schema.REASON]
        == "duplicate work_id '00017' for org 'Gemeente Utrecht' in several files "
        "(plan.gpkg, upload.geojson)"
    ).all()
    assert [f.accepted for f in result.files] == [2, 1]
    assert [f.rejected for f in result.files] == [1, 1]
    assert "per file:" in result.report()


def test_read_many_with_one_organisation_per_file(tmp_path):
    first = write(plan().drop(columns="org"), tmp_path / "one", "gpkg")
    second = write(plan().drop(columns="org"), tmp_path / "two", "geojson", stem="other")
    result = read_many([first, second], org=["Waternet", "Liander"])
    keys = sorted(zip(result.works[schema.ORG], result.works[schema.WORK_ID], strict=True))
    assert keys == sorted([("Waternet", i) for i in IDS] + [("Liander", i) for i in IDS])
    assert result.rejected.empty
    # the same organisation for both files: the same ids now collide
    both = read_many([first, second], org="Waternet")
    assert both.works.empty
    assert len(both.rejected) == 2 * len(IDS)
    with pytest.raises(InputError, match="3 organisations given for 2 files"):
        read_many([first, second], org=["a", "b", "c"])


def test_read_many_without_inputs():
    with pytest.raises(InputError, match="no input files"):
        read_many([])


# --- hostile and broken uploads --------------------------------------------------------------


def _good_zip(tmp_path: Path) -> Path:
    return write(plan(), tmp_path, "zip")


def test_upload_over_the_size_limit(tmp_path):
    path = _good_zip(tmp_path)
    size = path.stat().st_size
    limits = Limits(max_upload_bytes=size - 1)
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        with pytest.raises(HostileInputError, match=r"plan.zip.*max_upload_bytes"):
            read_works(source, name="plan.zip", limits=limits)
    assert len(read_works(path, limits=Limits(max_upload_bytes=size)).works) == 3


@pytest.mark.parametrize("member", ["../evil.shp", "../../etc/cron.d/x.dbf", "/abs/evil.shp"])
def test_zip_slip_members_reject_the_archive(tmp_path, member):
    parts = shapefile_parts(plan(), tmp_path / "parts")
    members = {f"plan{s}": d for s, d in parts.items()} | {member: b"payload"}
    path = zip_files(tmp_path / "slip.zip", members)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(HostileInputError, match="slip.zip.*outside the archive"):
        read_works(path)
    assert set(tmp_path.rglob("*")) == before  # nothing written anywhere near the upload


def test_zip_expanding_past_the_limit(tmp_path):
    path = _good_zip(tmp_path)
    with zipfile.ZipFile(path) as archive:
        expanded = sum(i.file_size for i in archive.infolist())
    with pytest.raises(HostileInputError, match="plan.zip expands to.*max_expanded_bytes"):
        read_works(path, limits=Limits(max_expanded_bytes=expanded - 1))


def test_zip_bomb_ratio(tmp_path):
    parts = shapefile_parts(plan(), tmp_path / "parts")
    members = {f"plan{s}": d for s, d in parts.items()} | {"padding.txt": b"\0" * 4_000_000}
    path = zip_files(tmp_path / "bomb.zip", members)
    with pytest.raises(HostileInputError, match="bomb.zip.*max_ratio"):
        read_works(path)


def test_zip_with_too_many_members(tmp_path):
    parts = shapefile_parts(plan(), tmp_path / "parts")
    members = {f"plan{s}": d for s, d in parts.items()}
    members |= {f"junk/{i}.txt": b"x" for i in range(20)}
    path = zip_files(tmp_path / "many.zip", members)
    with pytest.raises(HostileInputError, match="many.zip holds 25 files.*max_members"):
        read_works(path, limits=Limits(max_members=24))
    assert len(read_works(path, limits=Limits(max_members=25)).works) == 3


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@pytest.mark.parametrize("name", ["foto.zip", "foto.gpkg", "foto.fgb", "foto.geojson", "foto.csv"])
def test_non_vector_content_is_named(name):
    with pytest.raises(InputError, match=f"{name} is not a vector data file") as err:
        read_works(PNG, name=name)
    assert "PNG image" in str(err.value)
    assert "supported formats are" in str(err.value) and "GeoPackage (.gpkg)" in str(err.value)
    assert not isinstance(err.value, HostileInputError)


def test_zip_without_vector_files(tmp_path):
    path = zip_files(tmp_path / "docs.zip", {"readme.txt": b"hello", "plan.pdf": b"%PDF-1.4"})
    with pytest.raises(InputError, match="docs.zip is not a vector data file.*no .shp"):
        read_works(path)


def test_garbage_with_a_geopackage_name(tmp_path):
    with pytest.raises(InputError, match="broken.gpkg is not a vector data file"):
        read_works(b"SQLite format 3\x00" + os.urandom(200), name="broken.gpkg")


def test_empty_file(tmp_path):
    path = tmp_path / "leeg.gpkg"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"leeg.gpkg is empty \(0 bytes\)"):
        read_works(path)


@pytest.mark.parametrize("name", ["plan.docx", "plan.dxf", "plan"])
def test_unknown_extension_lists_the_supported_ones(name):
    with pytest.raises(InputError, match="are not read; supported formats are") as err:
        read_works(b"whatever", name=name)
    for suffix in (".zip", ".shp", ".gpkg", ".geojson", ".fgb", ".csv"):
        assert suffix in str(err.value)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        read_works("/nonexistent/plan.gpkg")


def test_limits_must_be_positive():
    with pytest.raises(InputError, match="max_ratio"):
        Limits(max_ratio=0)


# --- performance shape -------------------------------------------------------------------


def test_reading_many_rows_is_vectorised(tmp_path):
    n = 20_000
    rng = np.random.default_rng(7)
    x = 136000 + rng.random(n) * 5000
    frame = pd.DataFrame(
        {
            "work_id": [f"{i:06d}" for i in range(n)],
            "org": rng.choice(["Stedin", "Vitens", "Gemeente"], n),
            "discipline": rng.choice(["riool", "Strom", "road"], n),
            "start_date": "2027-01-01",
            "end_date": "2027-12-31",
            "geometry": "SRID=28992;POINT (" + pd.Series(x).round(1).astype(str) + " 455000)",
        }
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    result = read_works(path)
    assert len(result.works) == n
    assert result.works[schema.WORK_ID].iloc[17] == "000017"
    assert CRS.from_user_input(result.crs).to_epsg() == RD


def test_kml_placemarks_with_time_spans(tmp_path):
    """KML as Google Earth writes it: TimeSpan begin/end are the planned period;
    the drawing fields (visibility, extrude...) are not attributes of the work."""
    placemarks = "".join(
        f"""<Placemark><name>{title}</name>
        <TimeSpan><begin>{begin}</begin><end>{end}</end></TimeSpan>
        <visibility>0</visibility>
        <ExtendedData><Data name="work_id"><value>{work_id}</value></Data></ExtendedData>
        <LineString><coordinates>8.50,47.30,0 8.51,47.30,0</coordinates></LineString>
        </Placemark>"""
        for work_id, title, begin, end in (
            ("K-1", "Kanal Seestrasse", "2027-01-01", "2027-03-01"),
            ("K-2", "Belag Seestrasse", "2027-02-01T08:00:00", "2027-04-01"),
        )
    )
    path = tmp_path / "plan.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>plan</name>{placemarks}</Document></kml>",
        encoding="utf-8",
    )
    result = read_works(path, org="Stadt Zürich")
    works = result.works
    assert works[schema.WORK_ID].tolist() == ["K-1", "K-2"]
    assert works[schema.TITLE].tolist() == ["Kanal Seestrasse", "Belag Seestrasse"]
    assert works[schema.START].dt.strftime("%Y-%m-%d").tolist() == ["2027-01-01", "2027-02-01"]
    assert works[schema.END].dt.strftime("%Y-%m-%d").tolist() == ["2027-03-01", "2027-04-01"]
    assert works[schema.VISIBILITY].tolist() == ["partners", "partners"]
    assert not {"visibility_raw", "extrude", "tessellate", "altitudeMode"} & set(works.columns)
    line = shapely.LineString([(8.50, 47.30), (8.51, 47.30)])
    expected = gpd.GeoSeries([line], crs="EPSG:4326").to_crs(works.crs).length.iloc[0]
    assert works.geometry.length.tolist() == pytest.approx([expected, expected], abs=1e-6)


# --- a large file: the reader's memory limit grows with it ------------------------------------


@pytest.mark.realdata
def test_a_large_flatgeobuf_is_read_under_the_limit_grown_with_its_size(tmp_path, monkeypatch):
    from ims_geo.ingest import _worker
    from tests.conftest import shared_data

    from benchmarks import generate

    # 100,000 works on the real street network (45 MB); at 1M works (449 MB) the reading needs
    # more than the 3 GiB every file got before (README, Limits: measured per format)
    streets = generate.load_streets(shared_data(*generate.STREETS_FILE.parts[-2:]))
    path = tmp_path / "works.fgb"
    generate.generate(100_000, seed=0, streets=streets).to_file(
        path, driver="FlatGeobuf", engine="pyogrio", use_arrow=True
    )
    size = path.stat().st_size
    limits = Limits.for_local_files()
    grown = 3 * 2**30 + 4 * size  # 4 bytes per byte of FlatGeobuf on top of 3 GiB
    assert limits.memory_for([path]) == _worker.Memory(grown, file_bytes=size)
    # the reader's process gets the grown limit, not the 3 GiB base
    given: list[_worker.Memory] = []
    run = _worker.run

    def recording(*args, **kwargs):
        given.append(kwargs["memory"])
        return run(*args, **kwargs)

    monkeypatch.setattr(_worker, "run", recording)
    result = read_works(path, limits=limits)
    assert given == [_worker.Memory(grown, file_bytes=size)]
    assert len(result.works) == 100_000 and result.rejected.empty, result.report()


# --- DATE fields: read as datetime64, shown as written -----------------------------------------

#: Planned dates of four works as DATE fields: a normal one, the first and the last year a
#: DATE holds, and none.
DATES = [dt.date(2027, 3, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), None]


def dated_plan() -> gpd.GeoDataFrame:
    """Four works whose start_date is a DATE field (Arrow date32 when written)."""
    frame = gpd.GeoDataFrame(
        {
            "work_id": ["D-1", "D-2", "D-3", "D-4"],
            "org": ["Gemeente Utrecht"] * 4,
            "start_date": DATES,
            "end_date": [dt.date(2027, 6, 30)] * 4,
        },
        geometry=[
            shapely.LineString([(136000 + 200 * i, 455000), (136100 + 200 * i, 455000)])
            for i in range(4)
        ],
        crs=RD,
    )
    return frame


def _expected_rejects(dates: list[dt.date | None]) -> dict[str, str]:
    """work_id -> reason, from the dates themselves (sanity's plausible years, end 2027-06-30)."""
    from ims_geo import sanity

    reasons = {}
    for work_id, day in zip(["D-1", "D-2", "D-3", "D-4"], dates, strict=True):
        found = []
        if day is None:
            found.append("missing start_date")
        elif not sanity.FIRST_YEAR <= day.year <= sanity.LAST_YEAR:
            found.append(
                f"implausible start_date '{day.isoformat()}' "
                f"(before {sanity.FIRST_YEAR} or after {sanity.LAST_YEAR})"
            )
        if day is not None and day > dt.date(2027, 6, 30):
            found.append("end_date before start_date")
        if found:
            reasons[work_id] = "; ".join(found)
    return reasons


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_date_fields_are_read_as_datetime64_with_their_exact_days(tmp_path, fmt):
    from ims_geo.ingest import _sources

    driver = {"gpkg": "GPKG", "shp": "ESRI Shapefile"}[fmt]
    path = tmp_path / f"plan.{fmt}"
    dated_plan().to_file(path, driver=driver, engine="pyogrio", use_arrow=True)
    upload = _sources.open_source(path, None, float("inf"))
    dataset = _sources.resolve(path, upload, layer=None, encoding=None, limits=Limits())
    frame = _sources.read_gdal(dataset, path.name, "pyogrio")[0]

    assert dataset.date_fields == ["start_date", "end_date"]
    assert frame["start_date"].dtype == "datetime64[ms]"
    days = frame["start_date"].to_numpy().astype("datetime64[D]")
    want = np.array([d.isoformat() if d else "NaT" for d in DATES], dtype="datetime64[D]")
    np.testing.assert_array_equal(days, want)


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "fgb"])
def test_rejected_dates_are_shown_as_written(tmp_path, fmt):
    from ims_geo import export

    driver = {"gpkg": "GPKG", "shp": "ESRI Shapefile", "fgb": "FlatGeobuf"}[fmt]
    path = tmp_path / f"plan.{fmt}"
    options = {"SPATIAL_INDEX": "NO"} if fmt == "fgb" else {}
    dated_plan().to_file(
        path, driver=driver, engine="pyogrio", use_arrow=True, layer_options=options
    )
    result = read_works(path)

    reasons = _expected_rejects(DATES)
    rejected = result.rejected.set_index("work_id")
    assert rejected[schema.REASON].to_dict() == reasons
    assert result.works[schema.WORK_ID].tolist() == [
        w for w in ["D-1", "D-2", "D-3", "D-4"] if w not in reasons
    ]
    assert result.works[schema.START].tolist() == [pd.Timestamp("2027-03-01")]
    written = {w: d for w, d in zip(["D-1", "D-2", "D-3", "D-4"], DATES, strict=True)}
    # a DATE field comes back as the day itself; FlatGeobuf has no DATE type (a date-time)
    for work_id in reasons:
        got = rejected.loc[work_id, "start_date"]
        if written[work_id] is None:
            assert pd.isna(got)
        elif fmt == "fgb":
            assert got == pd.Timestamp(written[work_id])
        else:
            assert type(got) is dt.date and got == written[work_id]
    # the rejected rows' CSV, as the CLI and the upload page write it
    out = tmp_path / "rejected.csv"
    export.write(result.rejected, str(out), layer="rejected")
    text = out.read_text(encoding="utf-8-sig")
    assert "0001-01-01" in text and "9999-12-31" in text and "2027-06-30" in text
    if fmt != "fgb":
        assert "00:00:00" not in text


def _write_date_texts(
    path: Path, layer: str, column: str, texts: dict[str, object], gone: tuple[str, ...] = ()
) -> None:
    """Put ``texts`` (work_id -> stored value) into a GeoPackage's DATE column with SQLite,
    and delete the works ``gone`` (their rowids leave gaps).

    GDAL's triggers on the layer call spatial functions plain SQLite lacks; they are
    dropped for the update and created again (the geometries do not change).
    """
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (layer,)
        ).fetchall()
        for name, _sql in triggers:
            db.execute(f'DROP TRIGGER "{name}"')
        for work_id, value in texts.items():
            db.execute(f'UPDATE "{layer}" SET "{column}" = ? WHERE work_id = ?', (value, work_id))
        for work_id in gone:
            db.execute(f'DELETE FROM "{layer}" WHERE work_id = ?', (work_id,))
        db.execute(
            f'UPDATE gpkg_ogr_contents SET feature_count = (SELECT COUNT(*) FROM "{layer}") '
            "WHERE table_name = ?",
            (layer,),
        )
        for _name, sql in triggers:
            db.execute(sql)
        db.commit()


def _plan_gpkg(tmp_path: Path, ids: list[str]) -> Path:
    """A GeoPackage (layer ``works``) of one line per work id, March to June 2027."""
    frame = gpd.GeoDataFrame(
        {
            "work_id": ids,
            "org": ["Gemeente Utrecht"] * len(ids),
            "start_date": [dt.date(2027, 3, 1)] * len(ids),
            "end_date": [dt.date(2027, 6, 30)] * len(ids),
        },
        geometry=[
            shapely.LineString([(136000 + 200 * i, 455000), (136100 + 200 * i, 455000)])
            for i in range(len(ids))
        ],
        crs=RD,
    )
    path = tmp_path / "plan.gpkg"
    frame.to_file(path, driver="GPKG", layer="works", engine="pyogrio", use_arrow=True)
    return path


#: DATE cells GDAL reads as another day (1970-01-01 or the day they overflow to), written as text.
BAD_DATES = {"B-1": "abc", "B-2": "2027-13-01", "B-3": "2027-02-30", "B-4": "0000-01-01", "B-5": ""}


@pytest.mark.parametrize("gone", [(), ("G-1", "G-2")])
def test_geopackage_date_text_that_is_no_date_is_rejected_naming_it(tmp_path, gone):
    from ims_geo import sanity

    # deleted features leave gaps in the rowids: each bad cell still finds its own row
    ids = ["B-0", "G-1", *list(BAD_DATES)[:2], "G-2", *list(BAD_DATES)[2:]]
    path = _plan_gpkg(tmp_path, ids)
    _write_date_texts(path, "works", "start_date", BAD_DATES, gone=gone)
    result = read_works(path)

    # a text no date format reads is named; an empty one is no date given; year 0 is a
    # date before any plausible year
    want = {
        w: f"unparsable start_date '{t}'" for w, t in BAD_DATES.items() if t[:4] not in ("", "0000")
    }
    want["B-4"] = (
        f"implausible start_date '0000-01-01' (before {sanity.FIRST_YEAR} or after {sanity.LAST_YEAR})"
    )
    want["B-5"] = "missing start_date"
    rejected = result.rejected.set_index("work_id")
    assert rejected[schema.REASON].to_dict() == want
    # the rejected rows hold what the file holds, the other dates stay days
    assert rejected["start_date"].to_dict() == BAD_DATES
    assert rejected["end_date"].tolist() == [dt.date(2027, 6, 30)] * len(BAD_DATES)
    kept = ["B-0"] if gone else ["B-0", "G-1", "G-2"]
    assert result.works[schema.WORK_ID].tolist() == kept
    assert result.works[schema.START].tolist() == [pd.Timestamp("2027-03-01")] * len(kept)


@pytest.mark.parametrize("count", ["stale", "low", "missing"])
def test_geopackage_whose_feature_count_is_stale_reads_every_work_once(tmp_path, count):
    # rows deleted by a tool without GDAL's triggers: gpkg_ogr_contents still says 8, and
    # GDAL's Arrow reading repeated the last rows by that count (two works then rejected
    # as duplicates of themselves)
    ids = [f"W-{i}" for i in range(8)]
    path = _plan_gpkg(tmp_path, ids)
    _write_date_texts(path, "works", "start_date", {}, gone=("W-1", "W-4"))
    with contextlib.closing(sqlite3.connect(path)) as db:
        if count in ("stale", "low"):
            db.execute(
                f"UPDATE gpkg_ogr_contents SET feature_count = {8 if count == 'stale' else 2}"
            )
        else:  # no count at all: GDAL counts the table itself
            db.execute("DELETE FROM gpkg_ogr_contents")
        db.commit()
    result = read_works(path)
    assert result.rejected.empty, result.report()
    assert result.works[schema.WORK_ID].tolist() == ["W-0", "W-2", "W-3", "W-5", "W-6", "W-7"]
