"""No date is changed on the way in: a date cell GDAL would read as another day is rejected.

Each hostile file is written by GDAL as a good file, then its bytes (or its
SQL) are patched to hold the bad text. What each row must become is
computed here from the texts themselves: a text that is a real calendar day
is kept as that day, an empty one is no date, any other is rejected naming
the text as written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ims_geo import sanity, schema
from ims_geo.cli import main
from ims_geo.errors import InputError
from ims_geo.ingest import read_works
from tests.test_ingest import BAD_DATES, _plan_gpkg, _write_date_texts

RD = 28992
ORG = "Gemeente Utrecht"
END = dt.date(2027, 6, 30)

#: Texts in a shapefile's DATE field (8 bytes), GDAL reading each silently as another day or none.
DBF_TEXTS = [
    b"20270301",
    b"20270230",  # read as 2027-03-02
    b"abcdefgh",  # read as 1970-01-01
    b"20240229",  # a leap day: kept
    b"2027 1 5",  # read as 1970-01-01; space-padded: 5 January 2027 as in a CSV
    b"        ",  # no date: missing
    b"00000000",  # the empty date shapefile writers write: missing
    b"00000101",  # year 0: read as 0000-01-02; a date before any plausible year
    b"20271301",
    b"2027  15",
    b"20270531",
    b"   10101",  # year 1 as GDAL writes it: kept, and then implausible
    b"202 0105",  # a space inside the year
]


def _day(text: bytes) -> dt.date | None:
    """The day a DBF text says (an independent model): None for no real ``YYYYMMDD`` day.

    Each part may be padded with spaces on the left: GDAL writes year 1 as
    ``   10101``; some dBase writers pad the month and day (``2027 1 5``), which
    GDAL reads as 1970-01-01 and the text as written says 5 January 2027.
    """
    parts = [text[:4].lstrip(b" "), text[4:6].lstrip(b" "), text[6:].lstrip(b" ")]
    if not all(part.isdigit() for part in parts):
        return None
    try:
        return dt.date(*(int(part) for part in parts))
    except ValueError:
        return None


def _year_zero(text: bytes) -> bool:
    """``0000MMDD`` with a real month and day: a date, before any plausible year."""
    return text[:4] == b"0000" and _day(b"2000" + text[4:]) is not None


def _empty(text: bytes) -> bool:
    return text.strip(b" ") == b"" or text == b"00000000"


def _works(n: int, crs: int = RD) -> gpd.GeoDataFrame:
    """``n`` short lines W-0.. with DATE fields, 1 March to 30 June 2027."""
    return gpd.GeoDataFrame(
        {
            "work_id": [f"W-{i}" for i in range(n)],
            "org": [ORG] * n,
            "start_date": [dt.date(2027, 3, 1)] * n,
            "end_date": [END] * n,
        },
        geometry=[
            shapely.LineString([(136000 + 200 * i, 455000), (136100 + 200 * i, 455000)])
            for i in range(n)
        ],
        crs=RD,
    ).to_crs(crs)


def _patched_shapefile(folder: Path, texts: list[bytes], deleted: int | None) -> Path:
    """A GDAL shapefile whose start_date cells hold ``texts``; record ``deleted`` marked '*'."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plan.shp"
    _works(len(texts)).to_file(path, engine="pyogrio", use_arrow=True)
    dbf = bytearray((folder / "plan.dbf").read_bytes())
    header, record = int.from_bytes(dbf[8:10], "little"), int.from_bytes(dbf[10:12], "little")
    offset, fields = 1, {}
    for start in range(32, header - 1, 32):
        name = bytes(dbf[start : start + 11]).rstrip(b"\0").decode()
        fields[name] = (offset, chr(dbf[start + 11]))
        offset += dbf[start + 16]
    at, kind = fields["start_date"]
    assert kind == "D"
    for row, text in enumerate(texts):
        dbf[header + row * record + at : header + row * record + at + 8] = text
    if deleted is not None:
        dbf[header + deleted * record] = ord("*")
    (folder / "plan.dbf").write_bytes(bytes(dbf))
    return path


def _zipped(path: Path, folder: str = "") -> Path:
    out = path.parent.parent / f"{path.stem}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in path.parent.iterdir():
            if part.stem == path.stem:
                archive.write(part, folder + part.name)
    return out


def _expected(texts: list[bytes], deleted: int | None) -> tuple[dict[str, str], dict[str, object]]:
    """work_id -> reason and work_id -> start_date shown, of the rejected rows."""
    reasons, shown = {}, {}
    for row, text in enumerate(texts):
        if row == deleted:
            continue
        work_id = f"W-{row}"
        if _empty(text):
            reasons[work_id], shown[work_id] = "missing start_date", None
        elif _year_zero(text):
            reasons[work_id] = (
                f"implausible start_date '{text.decode()}' "
                f"(before {sanity.FIRST_YEAR} or after {sanity.LAST_YEAR})"
            )
            shown[work_id] = text.decode()
        elif _day(text) is None:
            reasons[work_id] = f"unparsable start_date '{text.decode()}'"
            shown[work_id] = text.decode()
        elif not sanity.FIRST_YEAR <= _day(text).year <= sanity.LAST_YEAR:
            day = _day(text)
            reasons[work_id] = (
                f"implausible start_date '{day.isoformat()}' "
                f"(before {sanity.FIRST_YEAR} or after {sanity.LAST_YEAR})"
            )
            shown[work_id] = day
    return reasons, shown


@pytest.mark.parametrize("deleted", [None, 2, 4])
@pytest.mark.parametrize("container", ["shp", "zip", "zip-folder"])
def test_shapefile_date_texts_that_are_no_day_are_rejected_as_written(tmp_path, container, deleted):
    path = _patched_shapefile(tmp_path / "parts", DBF_TEXTS, deleted)
    if container != "shp":
        path = _zipped(path, "plan/" if container == "zip-folder" else "")
    result = read_works(path)

    reasons, shown = _expected(DBF_TEXTS, deleted)
    rejected = result.rejected.set_index("work_id")
    assert rejected[schema.REASON].to_dict() == reasons
    assert {w: (None if pd.isna(v) else v) for w, v in rejected["start_date"].items()} == shown
    assert rejected["end_date"].tolist() == [END] * len(reasons)
    # every other row is kept with exactly the day its text says, in the file's order
    kept = [
        (f"W-{row}", pd.Timestamp(_day(text)))
        for row, text in enumerate(DBF_TEXTS)
        if row != deleted and f"W-{row}" not in reasons
    ]
    assert list(zip(result.works[schema.WORK_ID], result.works[schema.START], strict=True)) == kept
    assert (result.works[schema.END] == pd.Timestamp(END)).all()


def test_a_shapefile_with_only_good_dates_is_read_unchanged(tmp_path):
    texts = [b"20270301", b"20240229", b"20270531", b"19991231"]
    path = _patched_shapefile(tmp_path / "parts", texts, None)
    result = read_works(path)
    assert result.rejected.empty, result.report()
    assert result.works[schema.START].tolist() == [pd.Timestamp(_day(t)) for t in texts]


@pytest.mark.parametrize("members", ["alone", "with-another"])
def test_a_geopackage_in_a_zip_is_checked_as_on_its_own(tmp_path, members):
    ids = ["B-0", "G-1", *BAD_DATES]
    gpkg = _plan_gpkg(tmp_path, ids)
    _write_date_texts(gpkg, "works", "start_date", BAD_DATES, gone=("G-1",))
    files = {"plan.gpkg": gpkg.read_bytes()}
    if members == "with-another":
        other = tmp_path / "other"
        other.mkdir()
        _works(1).to_file(other / "other.gpkg", layer="other")
        files["other.gpkg"] = (other / "other.gpkg").read_bytes()
    path = tmp_path / "plan.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)

    alone = read_works(gpkg)
    result = read_works(path, layer="plan" if members == "with-another" else None)
    rejected = result.rejected.set_index("work_id")
    assert rejected["start_date"].to_dict() == BAD_DATES
    assert rejected[schema.REASON].to_dict() == (
        alone.rejected.set_index("work_id")[schema.REASON].to_dict()
    )
    assert "unparsable start_date 'abc'" == rejected.loc["B-1", schema.REASON]
    assert result.works[schema.WORK_ID].tolist() == ["B-0"]
    assert result.works[schema.START].tolist() == [pd.Timestamp("2027-03-01")]


def test_a_geopackage_in_a_zip_whose_feature_count_is_stale_reads_every_work_once(tmp_path):
    # the count check needs SQLite, as the dates do: it too runs on the member's copy
    ids = [f"W-{i}" for i in range(8)]
    gpkg = _plan_gpkg(tmp_path, ids)
    _write_date_texts(gpkg, "works", "start_date", {}, gone=("W-1", "W-4"))
    with contextlib.closing(sqlite3.connect(gpkg)) as db:
        db.execute("UPDATE gpkg_ogr_contents SET feature_count = 8")
        db.commit()
    path = tmp_path / "plan.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("plan.gpkg", gpkg.read_bytes())
    result = read_works(path)
    assert result.rejected.empty, result.report()
    assert result.works[schema.WORK_ID].tolist() == ["W-0", "W-2", "W-3", "W-5", "W-6", "W-7"]


def _text_file(tmp_path: Path, fmt: str, bad: dict[int, str]) -> Path:
    """A GDAL-written file whose start dates of the rows ``bad`` hold other text."""
    driver = {"geojson": "GeoJSON", "fgb": "FlatGeobuf"}[fmt]
    path = tmp_path / f"plan.{fmt}"
    crs = 4326 if fmt == "geojson" else RD
    options = {"SPATIAL_INDEX": "NO"} if fmt == "fgb" else {}
    frame = _works(4, crs).assign(
        start_date=[dt.date(2027, 3, 1), dt.date(2027, 3, 2), dt.date(2027, 3, 3), None]
    )
    frame.to_file(path, driver=driver, engine="pyogrio", use_arrow=True, layer_options=options)
    data = path.read_bytes()
    for row, text in bad.items():
        written = f"2027-03-0{row + 1}".encode()
        assert data.count(written) == 1
        data = data.replace(written, text.encode())
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("fmt", "bad", "shown"),
    [
        # GDAL types the field as a date and reads 2027-02-30 as 2027-03-02
        ("geojson", {0: "2027-02-30", 2: "2027-02-29"}, {0: "2027-02-30", 2: "2027-02-29"}),
        # a date-time column: the texts GDAL holds come back whole
        (
            "fgb",
            {1: "2027-02-30", 2: "2027-13-01"},
            {1: "2027-02-30T00:00:00", 2: "2027-13-01T00:00:00"},
        ),
    ],
)
def test_text_formats_keep_a_date_text_that_is_no_day(tmp_path, fmt, bad, shown):
    path = _text_file(tmp_path, fmt, bad)
    result = read_works(path)
    rejected = result.rejected.set_index("work_id")
    want = {f"W-{row}": f"unparsable start_date '{text}'" for row, text in shown.items()}
    want["W-3"] = "missing start_date"
    assert rejected[schema.REASON].to_dict() == want
    assert rejected.loc[[f"W-{row}" for row in shown], "start_date"].tolist() == list(
        shown.values()
    )
    good = [row for row in range(3) if row not in bad]
    assert result.works[schema.WORK_ID].tolist() == [f"W-{row}" for row in good]
    assert result.works[schema.START].tolist() == [
        pd.Timestamp(f"2027-03-0{row + 1}") for row in good
    ]
    assert not [w for w in result.warnings if "parsing datetimes" in w]


def test_a_gml_whose_schema_types_an_impossible_day_as_a_date_is_refused(tmp_path):
    path = tmp_path / "plan.gml"
    _works(2).to_file(path, driver="GML", engine="pyogrio")
    xsd = path.with_suffix(".xsd")
    # the schema says the field is a date, as a GML from a source system can
    xsd.write_text(
        re.sub(
            r'(name="start_date".*?base=")xs:string',
            r"\1xs:date",
            xsd.read_text(),
            flags=re.S,
        )
    )
    assert read_works(path).works[schema.START].tolist() == [pd.Timestamp("2027-03-01")] * 2
    path.write_text(path.read_text().replace("2027-03-01", "2027-02-30", 1))
    with pytest.raises(InputError) as refused:
        read_works(path)
    assert str(refused.value) == (
        "plan.gml: a date in it is no real calendar date (day is out of range for month), and "
        "the file cannot be read past it; correct the date in the source system, or export the "
        "dates as text"
    )
    from ims_geo import i18n
    from ims_geo.i18n import messages

    for lang in ("nl", "de"):
        i18n.use(lang)
        shown = messages.translate(str(refused.value))
        assert shown != str(refused.value) and "plan.gml" in shown
    i18n.use("en")


def _run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", ["import", "conflicts"])
def test_the_command_line_writes_the_rejected_dates_as_written(tmp_path, command):
    path = _zipped(_patched_shapefile(tmp_path / "parts", DBF_TEXTS, 4))
    rejects = tmp_path / "rejects.csv"
    if command == "import":
        args = ["import", path, "--cycle", "2027", "--store", tmp_path / "store.gpkg"]
    else:
        args = ["conflicts", path, "--out", tmp_path / "conflicts.csv"]
    result = _run(*args, "--rejects", rejects)
    assert result.exit_code == 0, result.output

    reasons, shown = _expected(DBF_TEXTS, 4)
    table = pd.read_csv(rejects, dtype=str, keep_default_na=False).set_index("work_id")
    assert table[schema.REASON].to_dict() == reasons
    assert table["start_date"].to_dict() == {
        w: "" if v is None else str(v) for w, v in shown.items()
    }
    if command == "import":  # the validation report, with the stored works
        assert f"accepted: {len(DBF_TEXTS) - 1 - len(reasons)}" in result.stdout
        unparsable = sum(r.startswith("unparsable") for r in reasons.values())
        assert f"unparsable start_date: {unparsable} (e.g. " in result.stdout


def test_the_fiona_engine_refuses_a_shapefile_date_no_calendar_has(tmp_path):
    # fiona builds a date object per cell and stops at the first impossible one
    path = _patched_shapefile(tmp_path / "parts", [b"20270301", b"abcdefgh"], None)
    assert read_works(path).rejected[schema.REASON].tolist() == ["unparsable start_date 'abcdefgh'"]
    with pytest.raises(InputError) as refused:
        read_works(path, engine="fiona")
    assert str(refused.value).startswith(
        "plan.shp: a date in it is no real calendar date (year 0 is out of range)"
    )
