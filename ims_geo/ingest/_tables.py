"""Tables without a GIS format: CSV, JSON record lists and Excel workbooks.

Their geometry is text (a WKT column, or x/y columns) and their cells are
read as text, as written (ids keep their leading zeros): a CSV's cells as
they are, a JSON record's numbers and booleans as their JSON text, an Excel
sheet's cells with their kind (dates, numbers, text). The upload was opened
and its zip checked before (:mod:`ims_geo.ingest._sources`);
:func:`read_table` reads the table a :class:`~ims_geo.ingest._sources.Dataset`
names.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from ims_geo.errors import HostileInputError, InputError
from ims_geo.export import csv_text
from ims_geo.ingest._sources import (
    _ZIP_ERRORS,
    FORMATS,
    JSON_RECORDS,
    Dataset,
    _damaged,
    _not_vector,
    check_zip,
    read_member,
    test_zip,
)


def read_csv(dataset: Dataset, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV as text (ids keep their leading zeros); delimiter sniffed."""
    data = dataset.csv_data or b""
    notes: list[str] = []
    if dataset.encoding is not None:
        try:
            text = data.decode(dataset.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{name} cannot be decoded as {dataset.encoding}: {exc}") from exc
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
            notes.append(
                f"{name} is not UTF-8; read as Windows-1252 (pass encoding=... / --encoding "
                "if it is another code page)"
            )
    first = text.split("\n", 1)[0]
    unquoted = re.sub(r'"[^"]*"', "", first)
    sep = max([",", ";", "\t", "|"], key=unquoted.count)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str)
    except pd.errors.EmptyDataError as exc:
        raise InputError(
            f"{name} has no header line; the first line must name the columns"
        ) from exc
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise InputError(f"{name} could not be read as CSV: {exc}") from exc
    # text our CSV export protected against formula injection reads back as written
    frame = frame.apply(csv_text)
    frame.columns = csv_text(pd.Series(frame.columns, dtype=object)).tolist()
    return frame, notes


def read_table(dataset: Dataset, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Read a table whose geometry is text (WKT or x/y columns): CSV, JSON records or Excel."""
    if dataset.fmt == JSON_RECORDS:
        return records_frame(dataset.records, name), []
    if dataset.fmt == FORMATS[".xlsx"]:
        return read_xlsx(dataset, name), []
    return read_csv(dataset, name)


# --- JSON record lists ----------------------------------------------------------------

#: GeoJSON ``type`` values: an object with one of them (or ``features``) is GeoJSON.
_GEOJSON_TYPES = (
    "FeatureCollection", "Feature", "Point", "MultiPoint", "LineString", "MultiLineString",
    "Polygon", "MultiPolygon", "GeometryCollection",
)  # fmt: skip
#: The start of a GeoJSON object, looked for in a file's first bytes before parsing it whole.
_GEOJSON_HEAD = re.compile(
    rb'"type"\s*:\s*"(' + "|".join(_GEOJSON_TYPES).encode() + rb')"|"features"\s*:\s*\['
)
#: Bytes of a ``.json`` looked at for a GeoJSON start.
_JSON_HEAD = 1 << 16


def json_tables(
    path: Path, name: str, limits: Any, *, member: str | None = None
) -> dict[str, list[Any]] | None:
    """The record lists of a ``.json`` that is no GeoJSON (name -> records); None for GeoJSON.

    A file whose top level is a list is one table named after the file; an
    object that is no GeoJSON holds one table per member whose value is a
    list of objects. A file nested deeper than Python's parser goes is
    refused (:class:`HostileInputError`), as is one with more than
    ``limits.max_rows`` records. With ``member``, the file is that member
    of the zip archive ``path`` (checked by
    :func:`~ims_geo.ingest._sources.check_zip`), read in the same way.
    """
    if member is None:
        with open(path, "rb") as f:
            head = f.read(_JSON_HEAD)
    else:
        head = _member_head(path, member, name)
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"\x1e") or (head.startswith(b"{") and _GEOJSON_HEAD.search(head)):
        return None  # GeoJSON (a text sequence, or an object that starts as GeoJSON does)
    if member is None:
        own, text = name, path.read_bytes()
    else:  # named in messages as "plans.zip: plan.json"
        own = PurePosixPath(member.replace("\\", "/")).name
        text, name = read_member(path, member, name), f"{name}: {own}"
    try:
        data = json.loads(text)
    except RecursionError:
        raise HostileInputError(
            f"{name} nests its values more deeply than can be read safely (lists or objects "
            "inside each other about a thousand times); a plan's records are flat: export "
            "them again from the source system"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _not_vector(name, f" (it is no valid JSON: {exc})") from exc
    if isinstance(data, dict):
        if data.get("type") in _GEOJSON_TYPES or "features" in data:
            return None
        tables = {
            str(key): value
            for key, value in data.items()
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        }
        if not tables:
            raise _not_vector(
                name,
                " (a JSON object that is no GeoJSON and holds no list of records: give the "
                "records as a list of objects, one per work)",
            )
    elif isinstance(data, list):
        tables = {Path(own).stem: data}
    else:
        raise _not_vector(name, f" (its JSON is a single {type(data).__name__}, no records)")
    for key, records in tables.items():
        if len(records) > limits.max_rows:
            raise HostileInputError(
                f"{name}: {key} holds {len(records):,} records, more than the limit of "
                f"{limits.max_rows:,} (max_rows); split the file"
            )
    return tables


def _member_head(path: Path, member: str, name: str) -> bytes:
    """The first bytes of an archive member (a GeoJSON is told apart without reading it all)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            return stream.read(_JSON_HEAD)
    except _ZIP_ERRORS as exc:
        raise _damaged(name, member, exc) from exc


def records_frame(records: list[Any], name: str) -> pd.DataFrame:
    """A list of JSON records as a table of text, as a CSV is read.

    Strings are kept as written (ids keep their leading zeros), numbers and
    ``true``/``false`` become their JSON text and are validated like a CSV's
    cells, ``null`` is no value and a nested object or list is kept as its
    JSON text. Their number was checked against ``max_rows`` by
    :func:`json_tables`, which found them.
    """
    if not records:
        raise InputError(f"{name} holds no records; a plan needs one object per work")
    flat = np.fromiter((isinstance(r, dict) for r in records), dtype=bool, count=len(records))
    if not flat.all():
        at = int(np.flatnonzero(~flat)[0])
        raise InputError(
            f"{name}: record {at + 1} is a JSON {type(records[at]).__name__}, not an object of "
            "named values; a table needs one object per row, e.g. "
            '[{"work_id": "A1", "start_date": "2027-03-01"}, ...]'
        )
    frame = pd.DataFrame.from_records(records, coerce_float=False)
    for column in frame.columns:
        cells = frame[column].to_numpy(dtype=object)
        frame[column] = pd.Series([_json_cell(v) for v in cells], index=frame.index, dtype=object)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _json_cell(value: Any) -> str | None:
    """One JSON value as the text a CSV would hold (None for ``null`` or an absent key)."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


# --- Excel workbooks -----------------------------------------------------------------


def _workbook(path: Path, name: str, *, data_only: bool) -> Any:
    """The workbook opened read-only by openpyxl (its zip was checked before)."""
    import openpyxl

    try:
        return openpyxl.load_workbook(
            path, read_only=True, data_only=data_only, keep_links=False, keep_vba=False
        )
    except Exception as exc:  # a damaged workbook: any error of the parser is a refusal
        raise _not_vector(name, f" (it could not be opened as an Excel workbook: {exc})") from exc


def sheets(path: Path, name: str, limits: Any) -> list[str]:
    """The sheet names of a workbook, in their order, once its zip is checked whole.

    The archive's headers are checked against ``limits`` and every member's
    CRC (:func:`~ims_geo.ingest._sources.check_zip`,
    :func:`~ims_geo.ingest._sources.test_zip`) before openpyxl reads it.
    """
    check_zip(path, name, limits)
    test_zip(path, name)
    book = _workbook(path, name, data_only=True)
    try:
        return [str(s) for s in book.sheetnames]
    finally:
        book.close()


def read_xlsx(dataset: Dataset, name: str) -> pd.DataFrame:
    """One sheet of a workbook as a table: row 1 names the columns, each row below a work.

    Cells keep their kind: dates as dates (a date-time at midnight as its
    day), numbers as numbers, text as text (an id ``0042`` stays text). A
    formula is read as the value the spreadsheet saved with it, never
    evaluated; a formula saved without its value is refused naming its cell.
    Empty rows after the last row with a value are ignored.
    """
    limits = dataset.limits
    top = int(limits.max_rows) + 1 if limits is not None and limits.max_rows < 2**62 else None
    sheet = dataset.layer
    where = f"{name}, sheet {sheet!r}"
    limit = top + 1 if top is not None else None  # one row past the limit tells it apart
    book = _workbook(Path(dataset.path), name, data_only=True)
    try:
        worksheet = book[sheet]
        member = getattr(worksheet, "_worksheet_path", None)  # its XML inside the archive
        rows = list(itertools.islice(worksheet.iter_rows(values_only=True), limit))
    finally:
        book.close()
    if top is not None and len(rows) > top:
        raise HostileInputError(
            f"{where} holds more than {top - 1:,} rows, the limit (max_rows); split the sheet"
        )
    while rows and all(v is None or v == "" for v in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(
            f"{where} is empty; row 1 must name the columns and each row below hold one work"
        )
    width = max(len(r) for r in rows)
    table = pd.DataFrame([tuple(r) + (None,) * (width - len(r)) for r in rows], dtype=object)
    used = table.notna().any(axis=0).to_numpy()  # the last row holds a value: some column is used
    table = table.iloc[:, : int(np.flatnonzero(used)[-1]) + 1]
    header = _xlsx_header(table.iloc[0].tolist(), table.iloc[1:].notna().any(axis=0), where)
    body = table.iloc[1:].reset_index(drop=True)
    body.columns = header
    if body.isna().to_numpy().any() and _has_formulas(Path(dataset.path), member):
        _check_formulas(dataset, name, body)
    for column in header:
        body[column] = pd.Series(
            [_excel_cell(v) for v in body[column].to_numpy(dtype=object)], dtype=object
        )
    return body


def _xlsx_header(cells: list[Any], has_values: pd.Series, where: str) -> list[str]:
    """The column names of row 1; raise when it holds values or repeats or lacks a name."""
    from openpyxl.utils import get_column_letter

    for i, cell in enumerate(cells):
        if cell is not None and not isinstance(cell, str):
            raise InputError(
                f"{where}: row 1 must name the columns, but cell {get_column_letter(i + 1)}1 "
                f"holds the value {cell!r}; insert a header row with the column names"
            )
    names = [str(c).strip() if c is not None else "" for c in cells]
    for i, (column, filled) in enumerate(zip(names, has_values.tolist(), strict=True)):
        if not column and filled:
            raise InputError(
                f"{where}: column {get_column_letter(i + 1)} holds values but has no name in "
                "row 1; write its name in the header row"
            )
    seen: dict[str, list[str]] = {}
    for i, column in enumerate(names):
        if column:
            seen.setdefault(column.casefold(), []).append(f"{get_column_letter(i + 1)}1")
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    if twice:
        shown = "; ".join(
            f"{names[_column_index(v[0])]!r} in {', '.join(v)}" for v in twice.values()
        )
        raise InputError(
            f"{where}: the header row names a column more than once ({shown}); give each "
            "column its own name"
        )
    return [n or f"column_{i + 1}" for i, n in enumerate(names)]


def _column_index(cell: str) -> int:
    from openpyxl.utils import column_index_from_string

    return column_index_from_string(cell.rstrip("0123456789")) - 1


#: A formula element of a worksheet's XML (``<f>``, ``<f t="shared" .../>``, ``<x:f>``).
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _has_formulas(path: Path, member: str | None) -> bool:
    """Whether the worksheet ``member`` of the workbook holds a formula (True when unknown).

    The XML is streamed once, looking for a formula element, so that a sheet
    without formulas is not read a second time by :func:`_check_formulas`.
    """
    if not member:
        return True
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member.lstrip("/")) as stream:
            tail = b""
            while chunk := stream.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-64:]
    except (KeyError, *_ZIP_ERRORS):
        return True
    return False


def _check_formulas(dataset: Dataset, name: str, body: pd.DataFrame) -> None:
    """Raise naming the first formula cell the workbook holds without its saved value."""
    book = _workbook(Path(dataset.path), name, data_only=False)
    empty = body.isna().to_numpy()
    try:
        for r, row in enumerate(book[dataset.layer].iter_rows(min_row=2)):
            if r >= len(empty):
                break
            for c, cell in enumerate(row[: empty.shape[1]]):
                if empty[r, c] and getattr(cell, "data_type", None) == "f":
                    raise InputError(
                        f"{name}, sheet {dataset.layer!r}: cell {cell.coordinate} holds the "
                        f"formula {str(cell.value)[:80]!r} without its value (the workbook was "
                        "written by a program that does not calculate); open it in a "
                        "spreadsheet program and save it again, or write the value itself"
                    )
    finally:
        book.close()


def _excel_cell(value: Any) -> Any:
    """A cell's value: a date-time at midnight as its day, a time of day as text."""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, dt.time):
        return value.isoformat()
    return value
