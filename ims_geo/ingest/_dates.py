"""Dates as the file wrote them: each format's dates checked against what GDAL read.

No date is changed on the way in. GDAL reads a date text that is no day
(``2026-02-30``, ``abc``) as the day it overflows to or as 1970-01-01, with
at most a warning; each format is checked so that such a cell keeps the text
the file holds and validation rejects its row naming the value, as for a CSV:

- GeoPackage DATE (also inside a zip): the DATE columns' texts are read
  once more through one SQL query and compared with the days GDAL read;
- shapefile DATE (``.shp``, or a zip): every cell's 8 bytes are taken from
  the .dbf's fixed-width records in one numpy pass and compared with the day
  GDAL read (blanks and ``00000000`` are no date, as shapefile writers mean);
- GeoJSON: GDAL types a field of ``YYYY-MM-DD`` texts as a date; it is read
  as the texts themselves (``DATE_AS_STRING``) and validated as a CSV's;
- FlatGeobuf date-time, KML ``timestamp``/``begin``/``end``: GDAL hands over
  the text and a column holding a text no date-time keeps all its texts;
- GML: its fields are text, unless its schema (.xsd/.gfs) types one as a
  date: then a day no calendar has stops the reading, and the file is
  refused naming it (as with the ``fiona`` engine, which reads row by row,
  for any format);
- KML: LIBKML reads a ``TimeSpan``/``TimeStamp`` text that is no date-time
  at all (``abc``) as none, as a TimeSpan without ``begin`` or ``end``: a
  required date then rejects the row as missing, and the reason names the
  placemark and what to write (:func:`kml_time_span_problems`);
- CSV and GeoParquet: read by this package itself (CSV cells are text,
  GeoParquet dates are day numbers, which cannot overflow).
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio.raw

from ims_geo import schema
from ims_geo.ingest._mapping import blank_cells

if TYPE_CHECKING:
    from ims_geo.ingest._sources import Dataset


@dataclass
class DbfDates:
    """One DATE field of a shapefile as its .dbf holds it, record by record read.

    Records marked deleted are left out, as GDAL skips them.
    """

    #: Position of the field among the .dbf's fields (GDAL keeps their order).
    position: int
    #: The raw cells, ``(records, 8)`` bytes.
    cells: np.ndarray
    #: ``YYYYMMDD`` as a number where the cell is digits in that shape (-1 elsewhere).
    number: np.ndarray
    #: True where the cell is empty: no date given.
    empty: np.ndarray


@contextlib.contextmanager
def _gpkg(dataset: Dataset) -> Iterator[tuple[sqlite3.Connection, str]]:
    """The GeoPackage read-only in SQLite, and its layer's table name quoted for SQL."""
    uri = f"file:{dataset.sqlite_path or dataset.path}?mode=ro&immutable=1"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        name = dataset.layer
        if name is None:
            (name,) = db.execute("SELECT table_name FROM gpkg_contents").fetchone()
        yield db, _sql_name(str(name))


def _sql_name(name: str) -> str:
    """``name`` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _dbf_dates(dbf: bytes, records: int, header_size: int, record_size: int) -> list[DbfDates]:
    """Every DATE (type ``D``) field of a .dbf, read from its fixed-width records at once.

    GDAL reads a DATE text that is no date (``abcdefgh``, ``2026 1 5``) as
    1970-01-01 or another day and an impossible day (``20260230``) as the day
    it overflows to, without a warning. Here each cell's 8 bytes are taken
    from the records directly (one numpy view, no loop over records): the
    reader compares them with what GDAL read (:func:`_written_bad_dates`).
    An empty cell (spaces, or the zeros shapefile writers and GDAL write for
    no date) is no date given.
    """
    fields: list[tuple[int, int]] = []  # (position among the fields, offset in the record)
    offset, position = 1, 0  # a record starts with its deletion flag
    for start in range(32, header_size - 31, 32):
        descriptor = dbf[start : start + 32]
        if descriptor[:1] == b"\r" or len(descriptor) < 32:
            break
        width = descriptor[16]
        if descriptor[11:12] == b"D" and width == 8:
            fields.append((position, offset))
        offset += width
        position += 1
    complete = min(records, max(len(dbf) - header_size, 0) // record_size)
    if not fields or offset > record_size:
        return []
    table = np.frombuffer(
        dbf, dtype=np.uint8, count=complete * record_size, offset=header_size
    ).reshape(complete, record_size)
    kept = table[:, 0] != 0x2A  # GDAL skips the records marked deleted
    out = []
    for position, start in fields:
        cells = table[:, start : start + 8]  # a view: only the kept cells are copied
        cells = cells if kept.all() else cells[kept]
        blank = (cells == 0x20) | (cells == 0)
        zeros = cells == 0x30
        # spaces or NULs, "00000000", or spaces and one 0: shapelib's and GDAL's empty date
        empty = blank.all(axis=1) | zeros.all(axis=1) | (blank[:, :7].all(axis=1) & zeros[:, 7])
        values = cells - np.uint8(0x30)
        digit = values <= 9
        # year, month and day each digits, right-aligned (GDAL writes year 1 as "   10101")
        space = cells == 0x20
        starts = np.isin(np.arange(8), [0, 4, 6])
        inside = space[:, 1:] & digit[:, :-1] & ~starts[1:]  # a space after a digit of its part
        digits = (digit | space).all(axis=1) & digit[:, [3, 5, 7]].all(axis=1) & ~inside.any(axis=1)
        number = np.where(digits, _number(np.where(digit, values, 0), range(8)), -1)
        out.append(DbfDates(position, cells, number, empty))
    return out


def _written_bad_dates(
    frame: gpd.GeoDataFrame, dataset: Dataset, fields: list[str]
) -> gpd.GeoDataFrame:
    """``frame`` with each DATE cell GDAL did not read as written put back as its text.

    GDAL reads a DATE text that is no date (``abc``, ``2026-13-01``, an empty text)
    as 1970-01-01 and an impossible day (``2026-02-30``) as the day it overflows to
    (2026-03-02), with at most a warning. Those cells get the text the file holds
    (the other cells of the column become ``datetime.date``), so that validation
    rejects the row as an unparsable date naming the value, as for a CSV. Every
    layer is checked whatever its size (an impossible day is read without a
    warning): each DATE cell's text is compared with the day GDAL read, a
    GeoPackage's texts read by one more query of its table
    (:func:`_gpkg_bad_dates`, about 0.5 s at a million features), a
    shapefile's taken from its .dbf (:func:`_dbf_dates`; ``fields``: the
    layer's fields, in the .dbf's order).
    """
    if not len(frame):
        return frame
    if dataset.fmt == "GeoPackage":
        found = _gpkg_bad_dates(frame, dataset)
    else:
        found = _dbf_bad_dates(frame, dataset, fields)
    for f, written in found.items():
        good = pd.notna(frame[f]).to_numpy().copy()
        good[list(written)] = False
        cells = np.full(len(frame), None, dtype=object)
        cells[good] = frame[f][good].dt.date.to_numpy(dtype=object)
        cells[list(written)] = list(written.values())
        frame[f] = pd.Series(cells, index=frame.index, dtype=object)
    return frame


def _read_dates(frame: pd.DataFrame, fields: list[str]) -> list[str]:
    """Those of ``fields`` read into ``frame`` as ``datetime64`` (the others are text)."""
    return [
        f for f in fields if f in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[f])
    ]


def _dbf_bad_dates(
    frame: gpd.GeoDataFrame, dataset: Dataset, fields: list[str]
) -> dict[str, dict[int, str]]:
    """Column -> {row position: text} of the .dbf DATE cells GDAL read as another day."""
    found: dict[str, dict[int, str]] = {}
    dated = set(_read_dates(frame, fields))
    for column in dataset.dbf_dates:
        if column.position >= len(fields) or fields[column.position] not in dated:
            continue
        f = fields[column.position]
        read = frame[f].to_numpy().astype("datetime64[D]")
        if len(read) != len(column.cells):
            continue  # :func:`._sources._check_count` refused such a file already
        same = np.where(column.empty, np.isnat(read), _same_day(column.number, read))
        rows = np.flatnonzero(~same)
        if len(rows):
            encoding = dataset.encoding or "UTF-8"
            found[f] = {
                int(row): column.cells[row].tobytes().decode(encoding, "replace") for row in rows
            }
    return found


def _gpkg_bad_dates(frame: gpd.GeoDataFrame, dataset: Dataset) -> dict[str, dict[int, str]]:
    """Column -> {row position: text} of the GeoPackage DATE cells that are no real date.

    The DATE columns are read once more as the texts the table holds (one SQL
    query through GDAL's Arrow reading, in rowid order: GDAL's order of the
    features) and checked in numpy: a cell is good when it is a real
    ``YYYY-MM-DD`` day of years 1-9999 and GDAL read that day.
    """
    fields = _read_dates(frame, dataset.date_fields)
    if not fields:
        return {}
    texts = ", ".join(f"CAST({_sql_name(f)} AS TEXT)" for f in fields)
    try:
        with _gpkg(dataset) as (_db, table), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _meta, arrow = pyogrio.raw.read_arrow(
                dataset.sqlite_path or dataset.path,
                sql=f"SELECT {texts} FROM {table} ORDER BY rowid",
                return_fids=False,
            )
    except (sqlite3.Error, RuntimeError, ValueError, TypeError):
        return {}  # a layer that is no table (a view): its dates are as GDAL read them
    if arrow.num_rows != len(frame):  # refused before (:func:`._sources._check_count`)
        return {}
    found: dict[str, dict[int, str]] = {}
    for f, column in zip(fields, arrow.columns, strict=True):
        text = pa.chunked_array(column).combine_chunks()
        cells, fits = _fixed_width(text, 10)
        values = cells - np.uint8(0x30)
        shaped = fits & (cells[:, 4] == 0x2D) & (cells[:, 7] == 0x2D)
        for at in _ISO_DIGITS:
            shaped &= values[:, at] <= 9
        number = np.where(shaped, _number(values, _ISO_DIGITS), -1)
        read = frame[f].to_numpy().astype("datetime64[D]")
        given = text.is_valid().to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(given & ~_same_day(number, read))
        if len(rows):
            values_written = text.take(pa.array(rows)).to_pylist()
            found[f] = dict(zip(rows.tolist(), values_written, strict=True))
    return found


#: Where the digits of ``YYYY-MM-DD`` are.
_ISO_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9)


def _fixed_width(text: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each text of ``width`` bytes, ``(len, width)``, and which texts have it.

    When every other text is missing or empty (a DATE column of a sound file), the
    texts of ``width`` bytes follow each other in Arrow's buffer: they are viewed
    in place; otherwise each is gathered from its offset.
    """
    binary = text.cast(pa.large_binary())
    offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[
        binary.offset : binary.offset + len(binary) + 1
    ]
    lengths = np.diff(offsets)
    fits = binary.is_valid().to_numpy(zero_copy_only=False) & (lengths == width)
    buffer = binary.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    count = int(fits.sum())
    if (fits | (lengths == 0)).all():
        inline = data[offsets[0] : offsets[0] + count * width].reshape(count, width)
        if count == len(binary):
            return inline, fits
        cells = np.zeros((len(binary), width), dtype=np.uint8)
        cells[fits] = inline
        return cells, fits
    cells = np.zeros((len(binary), width), dtype=np.uint8)
    cells[fits] = data[offsets[:-1][fits][:, None] + np.arange(width)]
    return cells, fits


def _number(values: np.ndarray, at: Sequence[int]) -> np.ndarray:
    """``YYYYMMDD`` as one number from digit values ``(n, width)`` in the 8 columns ``at``."""
    number = np.zeros(len(values), dtype=np.int32)
    for column in at:
        number = number * 10 + values[:, column]
    return number


def _same_day(number: np.ndarray, read: np.ndarray) -> np.ndarray:
    """Where the text's ``YYYYMMDD`` ``number`` is the day GDAL ``read`` (``datetime64[D]``).

    The day GDAL read is a real day: a text that says it is one, and no text
    GDAL read as another day (2026-02-30 as 2026-03-02) or as none. Year 0,
    which GDAL reads as a day of year 0, is no day. The days read span a few
    years: each day of the span is converted once, and the rows look theirs up.
    """
    present = ~np.isnat(read)
    if not present.any():
        return np.zeros(len(read), dtype=bool)
    ints = read.view(np.int64)
    first, last = int(ints[present].min()), int(ints[present].max())
    span = np.arange(first, last + 1).astype("datetime64[D]")
    years, months = span.astype("datetime64[Y]"), span.astype("datetime64[M]")
    year = years.astype(np.int64) + 1970
    month = months.astype(np.int64) - years.astype("datetime64[M]").astype(np.int64) + 1
    day = (span - months.astype("datetime64[D]")).astype(np.int64) + 1
    numbers = np.where(year >= 1, year * 10_000 + month * 100 + day, -2)
    said = numbers[np.where(present, ints - first, 0)]
    return present & (number == said)


#: The fields GDAL reads a KML placemark's ``TimeSpan`` into, and the works column each gives.
KML_TIME_SPAN = {"begin": schema.START, "end": schema.END}


def kml_time_span_problems(
    raw: pd.DataFrame, frame: pd.DataFrame, chosen: dict[str, list[str]], name: str
) -> list[tuple[str, np.ndarray, Any]]:
    """Placemarks whose ``TimeSpan`` gave no date the works need, each named, with the fix.

    GDAL reads a ``TimeSpan`` without ``begin`` or ``end``, or with a text
    that is no date-time, as no value, and the row would only say "missing
    start_date". Rows whose missing date was to come from the TimeSpan get a
    reason naming the file, the placemark (its name, else its position) and
    what to write instead.

    Parameters
    ----------
    raw
        The placemarks as read (``Name``, ``begin``, ``end``...).
    frame
        The same rows in works columns (after the mapping).
    chosen
        Works column -> the file's columns it was read from.
    name
        The file's name.
    """
    lacking = {
        field: blank_cells(frame[column]) if column in frame else np.ones(len(frame), dtype=bool)
        for field, column in KML_TIME_SPAN.items()
        if field in chosen.get(column, [])
    }
    begin = lacking.get("begin", np.zeros(len(frame), dtype=bool))
    end = lacking.get("end", np.zeros(len(frame), dtype=bool))
    missing = begin | end
    if not missing.any():
        return []
    what = np.where(begin & end, "neither a <begin> nor an <end>", "no <end>")
    what[begin & ~end] = "no <begin>"
    titles = raw["Name"] if "Name" in raw else pd.Series(None, index=raw.index, dtype=object)
    title = titles.astype("string").str.strip().fillna("").to_numpy(dtype=object)
    position = np.char.add("no. ", np.arange(1, len(raw) + 1).astype(str)).astype(object)
    who = np.where(title != "", title, position)
    reasons = np.full(len(raw), None, dtype=object)
    reasons[missing] = [
        f"{name}: placemark '{w}' has {x} date in its TimeSpan that can be read (write "
        "<TimeSpan><begin>2027-03-01</begin><end>2027-06-30</end></TimeSpan> in it, dates "
        "as YYYY-MM-DD, or take the dates from other fields with a mapping file)"
        for w, x in zip(who[missing], what[missing], strict=True)
    ]
    return [(schema.START if begin.any() else schema.END, missing, reasons)]
