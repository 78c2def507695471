"""Opening uploaded files safely: format, size limits, archives, layers, encodings.

Everything here happens before a single attribute is parsed: the upload's
size, its first bytes (is it what its name says?), a zip archive's headers
(member paths, expanded size, compression ratio, member count) and which
layer and text encoding to read. Files are never extracted: an upload held
in memory is written once into a private temporary directory and archives
are read in place through GDAL's ``/vsizip/`` (SQLite cannot: a GeoPackage
member is copied, within the archive's checked sizes, to a private temporary
file for SQLite's checks only).

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
  at all (``abc``) as none: a required date then rejects the row as missing;
- CSV and GeoParquet: read by this package itself (CSV cells are text,
  GeoParquet dates are day numbers, which cannot overflow).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import re
import shutil
import sqlite3
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pyogrio.raw
import shapely

from ims_geo.errors import HostileInputError, InputError
from ims_geo.export import csv_text

#: File name endings read, and what they are.
FORMATS: dict[str, str] = {
    ".zip": "zipped shapefile",
    ".shp": "shapefile",
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".csv": "CSV with a WKT geometry column",
    ".gml": "GML",
    ".kml": "KML",
    ".parquet": "GeoParquet",
    ".xlsx": "Excel workbook",
}
#: What a ``.json`` that holds a list of flat records (no GeoJSON) is read as.
JSON_RECORDS = "JSON records"
#: Spreadsheet files not read, and what to do instead.
_SAVE_AS = (".xls", ".xlsm", ".xlsb", ".ods")
#: Fields GDAL's LIBKML driver adds to every placemark for drawing it, dropped on reading.
KML_DISPLAY_FIELDS = ("altitudeMode", "tessellate", "extrude", "visibility", "drawOrder", "icon")
#: Formats not read from inside a zip archive, and what to do instead.
_NOT_IN_ZIP = {
    ".zip": " (a zip inside the zip is not opened: unpack it)",
    ".parquet": " (a .parquet inside the zip is not opened: upload it on its own)",
    ".xlsx": " (a .xlsx inside the zip is not opened: upload it on its own)",
}
#: Members smaller than this cannot hurt, whatever their compression ratio.
_SMALL_MEMBER = 1 << 20
#: Shapefile parts that must sit next to the .shp.
_SHAPEFILE_PARTS = (".dbf", ".shx")
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"SQLite format 3\x00", "an SQLite database / GeoPackage"),
    (b"fgb\x03", "a FlatGeobuf file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"\x00\x00\x27\x0a", "a shapefile .shp"),
    (b"PAR1", "a Parquet file"),
)


def supported_formats() -> str:
    """The supported formats as one line for messages."""
    by_kind: dict[str, list[str]] = {}
    for suffix, kind in FORMATS.items():
        by_kind.setdefault(kind, []).append(suffix)
    by_kind[JSON_RECORDS] = [".json"]
    return "; ".join(f"{kind} ({', '.join(s)})" for kind, s in by_kind.items())


def _not_vector(name: str, detail: str = "") -> InputError:
    return InputError(
        f"{name} is not a vector data file{detail}; supported formats are {supported_formats()}"
    )


@dataclass
class Upload:
    """One input: a file on disk or bytes in memory, with the name it came with."""

    name: str
    suffix: str
    path: Path | None = None
    data: bytes | None = None


def open_source(source: Any, name: str | None, max_upload_bytes: float) -> Upload:
    """Check the size and name of ``source`` (a path, bytes or a file-like object)."""
    if isinstance(source, str | Path):
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            raise InputError(f"{label}: no such file ({path})")
        size = path.stat().st_size
        upload = Upload(name=label, suffix=_suffix(label), path=path)
    else:
        label = name or Path(str(getattr(source, "name", "") or "")).name
        if not label:
            raise InputError(
                "an upload given as bytes needs its file name (name=...) so that its "
                f"format can be recognised; supported formats are {supported_formats()}"
            )
        data = _read_bytes(source, label, max_upload_bytes)
        size = len(data)
        upload = Upload(name=label, suffix=_suffix(label), data=data)
    if size > max_upload_bytes:
        raise HostileInputError(
            f"{label} is {size:,} bytes, more than the upload limit of "
            f"{max_upload_bytes:,} bytes (max_upload_bytes); split the file or raise the limit"
        )
    if size == 0:
        raise InputError(f"{label} is empty (0 bytes); upload the file again")
    if upload.suffix in _SAVE_AS:
        raise InputError(
            f"{label}: {upload.suffix} spreadsheets are not read; open it in the spreadsheet "
            "program and save it as an Excel workbook (.xlsx) or as .csv, then upload that file"
        )
    if upload.suffix not in FORMATS:
        raise InputError(
            f"{label}: files ending in {upload.suffix or '(no extension)'!r} are not read; "
            f"supported formats are {supported_formats()}"
        )
    return upload


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _read_bytes(source: Any, name: str, limit: float) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if hasattr(source, "read"):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            source.seek(0)
        # one byte past the limit tells a too-large upload apart; no limit reads all
        data = source.read(int(limit) + 1 if limit != float("inf") else -1)
        if isinstance(data, str):
            raise InputError(f"{name}: open the file in binary mode ('rb')")
        return bytes(data)
    raise InputError(
        f"{name}: cannot read a {type(source).__name__}; give a path, bytes or a file object"
    )


@contextlib.contextmanager
def local_path(upload: Upload) -> Iterator[Path]:
    """The upload as a file on disk (a private temporary copy for bytes)."""
    if upload.path is not None:
        yield upload.path
        return
    with tempfile.TemporaryDirectory(prefix="ims_geo_") as tmp:
        stem = re.sub(r"[^\w.\- ]", "_", Path(upload.name).stem)[:100] or "upload"
        path = Path(tmp) / f"{stem}{upload.suffix}"
        path.write_bytes(upload.data or b"")
        yield path


def check_content(path: Path, suffix: str, name: str) -> None:
    """Raise when the first bytes of ``path`` are not what ``suffix`` promises."""
    with open(path, "rb") as f:
        head = f.read(4096)
    found = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    ok = {
        ".zip": head.startswith((b"PK\x03\x04", b"PK\x05\x06")),
        ".gpkg": head.startswith(b"SQLite format 3\x00"),
        ".fgb": head.startswith(b"fgb\x03"),
        ".shp": head.startswith(b"\x00\x00\x27\x0a"),
        ".geojson": text.startswith((b"{", b"\x1e")),
        ".json": text.startswith((b"{", b"\x1e", b"[")),
        ".gml": text.startswith(b"<"),
        ".kml": text.startswith(b"<"),
        ".csv": found is None and b"\x00" not in head,
        ".parquet": head.startswith(b"PAR1"),
        ".xlsx": head.startswith(b"PK\x03\x04"),
    }[suffix]
    if not ok:
        raise _not_vector(name, f" (it looks like {found})" if found else "")


# --- zip archives -------------------------------------------------------------


def check_zip(path: Path, name: str, limits: Any) -> list[str]:
    """Member names of a safe archive; raise for hostile or unreadable ones.

    Only the central directory is read: member paths (no ``..``, no
    absolute paths), member count, expanded size and compression ratio are
    checked before any member is decompressed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise _not_vector(name, f" (a damaged or unreadable zip archive: {exc})") from exc
    if len(infos) > limits.max_members:
        raise HostileInputError(
            f"{name} holds {len(infos):,} files, more than the limit of {limits.max_members:,} "
            "(max_members); upload only the plan's files"
        )
    for info in infos:
        parts = re.split(r"[\\/]", info.filename)
        if (
            info.filename.startswith(("/", "\\"))
            or re.match(r"^[A-Za-z]:", info.filename)
            or ".." in parts
        ):
            raise HostileInputError(
                f"{name} is rejected: member {info.filename!r} points outside the archive "
                "(absolute path or '..'); re-create the zip from the files themselves"
            )
    expanded = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    for info in infos:
        # each member on its own: one bomb among honest members must not hide in the sum
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _SMALL_MEMBER and ratio > limits.max_ratio:
            raise HostileInputError(
                f"{name} is rejected: its member {info.filename!r} expands {ratio:,.0f} times "
                f"its packed size, more than the limit of {limits.max_ratio} (max_ratio); this "
                "is typical of zip bombs"
            )
    if expanded > limits.max_expanded_bytes:
        raise HostileInputError(
            f"{name} expands to {expanded:,} bytes, more than the limit of "
            f"{limits.max_expanded_bytes:,} bytes (max_expanded_bytes)"
        )
    if packed and expanded / packed > limits.max_ratio:
        raise HostileInputError(
            f"{name} is rejected: it expands {expanded / packed:,.0f} times its packed size, "
            f"more than the limit of {limits.max_ratio} (max_ratio); this is typical of "
            "zip bombs"
        )
    if any(i.flag_bits & 0x1 for i in infos):
        raise InputError(f"{name} is password-protected; upload an archive without a password")
    return [i.filename for i in infos if not i.is_dir()]


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError)


def _damaged(name: str, member: str, exc: BaseException) -> InputError:
    return InputError(
        f"{name}: the archive's member {member!r} is damaged ({type(exc).__name__}: {exc}); "
        "create the zip again from the original files"
    )


def test_zip(path: Path, name: str) -> None:
    """Decompress every member once and check its CRC: a damaged archive is refused whole.

    GDAL's ``/vsizip/`` would stop reading a damaged member early and
    return the features before the damage, losing the rest silently.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except _ZIP_ERRORS as exc:
        raise _not_vector(name, f" (a damaged zip archive: {type(exc).__name__}: {exc})") from exc
    if bad is not None:
        raise _damaged(name, bad, ValueError("CRC check failed"))


def read_member(path: Path, member: str, name: str) -> bytes:
    """The bytes of one archive member (its size was checked by :func:`check_zip`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    except _ZIP_ERRORS as exc:
        raise _damaged(name, member, exc) from exc


def _vector_members(members: list[str]) -> list[str]:
    out = []
    for member in members:
        pure = PurePosixPath(member.replace("\\", "/"))
        if any(p.startswith((".", "__MACOSX")) for p in pure.parts):
            continue
        if pure.suffix.lower() in FORMATS and pure.suffix.lower() not in _NOT_IN_ZIP:
            out.append(member)
    return out


def _labels(members: list[str]) -> dict[str, str]:
    """Layer name per member: the file name without suffix, or its path when ambiguous."""
    stems = [PurePosixPath(m.replace("\\", "/")).stem for m in members]
    out = {}
    for member, stem in zip(members, stems, strict=True):
        label = stem if stems.count(stem) == 1 else str(PurePosixPath(member).with_suffix(""))
        out[label] = member
    return out


# --- datasets -----------------------------------------------------------------


@dataclass
class Dataset:
    """What exactly to read: a GDAL path and layer, or CSV bytes."""

    kind: str  # "gdal", "csv" or "parquet"
    fmt: str
    path: str = ""
    layer: str | None = None
    label: str | None = None
    encoding: str | None = None
    csv_data: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    #: Feature counts the file's own parts declare (checked against what was read).
    declared: dict[str, int] = field(default_factory=dict)
    #: Records the reader skips on purpose (a shapefile's deleted records).
    skipped: int = 0
    #: The safety limits (:class:`ims_geo.ingest.Limits`) a Parquet file is checked against.
    limits: Any = None
    #: Fields the file declares as calendar dates (a GeoPackage or shapefile DATE), set
    #: by :func:`read_gdal`; they are read as ``datetime64``.
    date_fields: list[str] = field(default_factory=list)
    #: A shapefile's DATE cells as its .dbf holds them (:func:`_dbf_dates`).
    dbf_dates: list[DbfDates] = field(default_factory=list)
    #: The zip archive and member of a GeoPackage inside a zip (SQLite needs a file).
    archive: tuple[Path, str] | None = None
    #: The GeoPackage file SQLite reads: the file itself, or a private copy of the member.
    sqlite_path: str = ""
    #: The records of a JSON record list (:func:`json_tables`), parsed once.
    records: list[Any] = field(default_factory=list)


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


def _gdal_layers(path: str, name: str, fmt: str) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = pyogrio.list_layers(path)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _not_vector(name, f" (it could not be opened as {fmt}: {exc})") from exc
    spatial = [str(row[0]) for row in found if row[1] is not None]
    return spatial or [str(row[0]) for row in found]


def _pick(layers: list[str], layer: str | None, name: str, *, container: bool = True) -> str:
    """The layer to read; a single-layer file (not a GeoPackage or zip) ignores ``layer``."""
    if layer is None or (not container and len(layers) == 1):
        if len(layers) == 1:
            return layers[0]
        if not layers:
            raise _not_vector(name, " (it holds no layers)")
        raise InputError(
            f"{name} holds {len(layers)} layers: {', '.join(layers)}; choose one with "
            "layer=... (--layer on the command line)"
        )
    if layer in layers:
        return layer
    folded = [candidate for candidate in layers if candidate.casefold() == layer.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InputError(f"{name} has no layer {layer!r}; its layers are: {', '.join(layers)}")


def layers(path: Path, upload: Upload, limits: Any) -> list[str]:
    """Layer names of the upload (for a zip: its vector files, or the layers of its one file)."""
    check_content(path, upload.suffix, upload.name)
    if upload.suffix == ".zip":
        members = _vector_members(check_zip(path, upload.name, limits))
        if not members:
            raise _not_vector(upload.name, " (the archive holds no vector file)")
        if len(members) == 1 and not members[0].lower().endswith(".shp"):
            inner = members[0]
            if inner.lower().endswith(".csv"):
                return [PurePosixPath(inner).stem]
            return _gdal_layers(
                f"/vsizip/{path.resolve()}/{inner}", upload.name, FORMATS[_suffix(inner)]
            )
        return list(_labels(members))
    if upload.suffix in (".csv", ".parquet"):
        return [Path(upload.name).stem]
    if upload.suffix == ".xlsx":
        check_zip(path, upload.name, limits)
        test_zip(path, upload.name)
        return _sheets(path, upload.name)
    if upload.suffix == ".json":
        tables = json_tables(path, upload.name, limits)
        if tables is not None:
            return list(tables)
    return _gdal_layers(str(path), upload.name, FORMATS[upload.suffix])


def resolve(
    path: Path,
    upload: Upload,
    *,
    layer: str | None,
    encoding: str | None,
    limits: Any,
) -> Dataset:
    """Choose the layer and text encoding to read from ``path``."""
    check_content(path, upload.suffix, upload.name)
    name = upload.name
    if upload.suffix == ".csv":
        return Dataset("csv", FORMATS[".csv"], csv_data=path.read_bytes(), encoding=encoding)
    if upload.suffix == ".parquet":
        return Dataset("parquet", FORMATS[".parquet"], path=str(path), limits=limits)
    if upload.suffix == ".xlsx":
        check_zip(path, name, limits)
        test_zip(path, name)
        sheets = _sheets(path, name)
        sheet = sheets[0] if layer is None else _pick(sheets, layer, name)
        fmt = FORMATS[".xlsx"]
        return Dataset("csv", fmt, path=str(path), layer=sheet, label=sheet, limits=limits)
    if upload.suffix == ".json" and (tables := json_tables(path, name, limits)) is not None:
        label = _pick(list(tables), layer, name, container=False)
        return Dataset(
            "csv", JSON_RECORDS, path=str(path), label=label, records=tables[label], limits=limits
        )
    if upload.suffix == ".shp":
        missing = [s for s in _SHAPEFILE_PARTS if not _sibling(path, s)]
        if missing:
            raise InputError(
                f"{name}: the shapefile's {' and '.join(missing)} file is missing next to it; "
                "upload the shapefile as a .zip with all its parts (.shp, .shx, .dbf, .prj, .cpg)"
            )
        label = _pick(_gdal_layers(str(path), name, "shapefile"), layer, name, container=False)
        dataset = Dataset("gdal", "shapefile", path=str(path), label=label)
        cpg, dbf = _sibling(path, ".cpg"), _sibling(path, ".dbf")
        assert dbf is not None  # checked above
        _shapefile_encoding(dataset, encoding, cpg is not None, lambda: open(dbf, "rb"), name)
        shx = _sibling(path, ".shx")
        shx_size = shx.stat().st_size if shx is not None else 100
        _declare_shapefile(dataset, dbf.read_bytes(), shx_size)
        return dataset
    if upload.suffix != ".zip":
        fmt = FORMATS[upload.suffix]
        container = upload.suffix == ".gpkg"
        if container:
            check_geopackage(path, name)
        label = _pick(_gdal_layers(str(path), name, fmt), layer, name, container=container)
        return Dataset("gdal", fmt, path=str(path), layer=label, label=label, encoding=encoding)

    members = check_zip(path, name, limits)
    test_zip(path, name)
    vector = _vector_members(members)
    if not vector:
        nested = next(
            (
                why
                for suffix, why in _NOT_IN_ZIP.items()
                if any(m.lower().endswith(suffix) for m in members)
            ),
            "",
        )
        raise _not_vector(
            name, f" (the archive holds no .shp, .gpkg, .geojson, .fgb, .csv, .gml or .kml{nested})"
        )
    root = f"/vsizip/{path.resolve()}"
    if len(vector) == 1 and not vector[0].lower().endswith(".shp"):
        inner = vector[0]
        fmt = FORMATS[_suffix(inner)]
        if inner.lower().endswith(".csv"):
            data = read_member(path, inner, name)
            return Dataset("csv", fmt, csv_data=data, encoding=encoding)
        if _suffix(inner) == ".gpkg":
            _check_geopackage_member(path, inner, name)
        inner_layers = _gdal_layers(f"{root}/{inner}", name, fmt)
        label = _pick(inner_layers, layer, name, container=_suffix(inner) == ".gpkg")
        in_zip = (path, inner) if _suffix(inner) == ".gpkg" else None
        return Dataset(
            "gdal",
            fmt,
            path=f"{root}/{inner}",
            layer=label,
            label=label,
            encoding=encoding,
            archive=in_zip,
        )
    labels = _labels(vector)
    label = _pick(list(labels), layer, name)
    member = labels[label]
    suffix = _suffix(member)
    if suffix == ".csv":
        data = read_member(path, member, name)
        return Dataset("csv", FORMATS[".csv"], csv_data=data, encoding=encoding, label=label)
    if suffix != ".shp":
        fmt = FORMATS[suffix]
        if suffix == ".gpkg":
            _check_geopackage_member(path, member, name)
        inner_layers = _gdal_layers(f"{root}/{member}", name, fmt)
        if len(inner_layers) > 1:
            raise InputError(
                f"{name}: {member} holds {len(inner_layers)} layers; upload it on its own "
                "to choose one of them"
            )
        in_zip = (path, member) if suffix == ".gpkg" else None
        return Dataset(
            "gdal", fmt, path=f"{root}/{member}", label=label, encoding=encoding, archive=in_zip
        )
    by_name = {m.lower(): m for m in members}
    stem = member[: -len(".shp")]
    missing = [s for s in _SHAPEFILE_PARTS if (stem + s).lower() not in by_name]
    if missing:
        raise InputError(
            f"{name}: {member} has no {' or '.join(missing)} file next to it in the archive; "
            "zip every part of the shapefile (.shp, .shx, .dbf, .prj, .cpg)"
        )
    dataset = Dataset("gdal", "zipped shapefile", path=f"{root}/{member}", label=label)
    dbf_member = by_name[(stem + ".dbf").lower()]

    @contextlib.contextmanager
    def open_dbf() -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(path) as archive, archive.open(dbf_member) as stream:
            yield stream

    has_cpg = (stem + ".cpg").lower() in by_name
    _shapefile_encoding(dataset, encoding, has_cpg, open_dbf, name)
    with zipfile.ZipFile(path) as archive:
        shx_size = archive.getinfo(by_name[(stem + ".shx").lower()]).file_size
    with open_dbf() as stream:
        _declare_shapefile(dataset, stream.read(), shx_size)
    return dataset


def _declare_shapefile(dataset: Dataset, dbf: bytes, shx_size: int) -> None:
    """The feature counts a shapefile's .dbf and .shx declare, less deleted records.

    GDAL skips records marked deleted (``*``) in the .dbf but counts them in
    the layer's feature count, as the .shx does.
    """
    if len(dbf) < 32:
        dataset.declared[".dbf"] = -1
        return
    records = int.from_bytes(dbf[4:8], "little")
    header_size = int.from_bytes(dbf[8:10], "little")
    record_size = max(int.from_bytes(dbf[10:12], "little"), 1)
    flags = np.frombuffer(dbf, dtype=np.uint8)[header_size::record_size][:records]
    dataset.skipped = int((flags == 0x2A).sum())
    dataset.declared[".dbf"] = records - dataset.skipped
    dataset.declared[".shx"] = max((shx_size - 100) // 8, 0) - dataset.skipped
    dataset.dbf_dates = _dbf_dates(dbf, records, header_size, record_size)


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


def check_geopackage(path: Path, name: str) -> None:
    """Refuse a GeoPackage that SQLite finds damaged (``PRAGMA quick_check``).

    SQLite reads a damaged database up to the damage and stops without an
    error, so that a layer would come back with only part of its features.
    """
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        ) as db:
            found = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.Error as exc:
        raise _not_vector(name, f" (SQLite cannot open it as a GeoPackage: {exc})") from exc
    if found != ["ok"]:
        raise InputError(
            f"{name} is a damaged GeoPackage (SQLite: {'; '.join(found)[:300]}); its features "
            "cannot all be read: export it again from the source system"
        )


@contextlib.contextmanager
def _member_copy(path: Path, member: str, name: str) -> Iterator[Path]:
    """A private temporary copy of an archive member (its size was checked by :func:`check_zip`)."""
    with tempfile.TemporaryDirectory(prefix="ims_geo_check_") as tmp:
        copy = Path(tmp) / f"member{_suffix(member)}"
        try:
            with zipfile.ZipFile(path) as archive, archive.open(member) as src:
                with open(copy, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except _ZIP_ERRORS as exc:
            raise _damaged(name, member, exc) from exc
        yield copy


def _check_geopackage_member(path: Path, member: str, name: str) -> None:
    with _member_copy(path, member, name) as copy:
        check_geopackage(copy, name)


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in path.parent.glob(f"{glob_escape(path.stem)}.*"):
        if candidate.suffix.lower() == suffix and candidate.stem == path.stem:
            return candidate
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _shapefile_encoding(
    dataset: Dataset,
    encoding: str | None,
    has_cpg: bool,
    open_dbf: Callable[[], contextlib.AbstractContextManager[IO[bytes]]],
    name: str,
) -> None:
    """The attribute encoding: given > .cpg > DBF language id > UTF-8 if valid > cp1252."""
    if encoding is not None:
        dataset.encoding = encoding
        return
    if has_cpg:
        return
    with open_dbf() as dbf:
        header = dbf.read(32)
        if len(header) < 32 or header[29] != 0:
            return  # GDAL reads the code page from the DBF's language driver id
        header_size = int.from_bytes(header[8:10], "little")
        dbf.read(max(header_size - 32, 0))
        decoder = codecs.getincrementaldecoder("utf-8")()
        non_ascii = False
        try:
            while chunk := dbf.read(1 << 20):
                non_ascii = non_ascii or max(chunk) > 0x7F
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            dataset.encoding = "cp1252"
            dataset.warnings.append(
                f"{name}: no .cpg file says how {dataset.label}'s text is encoded; read as "
                "Windows-1252 (pass encoding=... / --encoding if it is another code page)"
            )
            return
    if non_ascii:
        dataset.encoding = "UTF-8"


# --- reading ------------------------------------------------------------------


def gdal_encoding(encoding: str, name: str) -> str:
    """``encoding`` spelled the way GDAL's iconv knows it (``latin-1`` -> ``ISO-8859-1``)."""
    try:
        python_name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputError(
            f"{name}: unknown text encoding {encoding!r}; use e.g. cp1252, UTF-8 or ISO-8859-15"
        ) from exc
    if python_name.startswith("iso8859-"):
        return "ISO-8859-" + python_name.removeprefix("iso8859-")
    return {"mac-roman": "MACINTOSH", "utf-8": "UTF-8"}.get(python_name, python_name.upper())


#: How pyogrio reads through Arrow (:func:`read_gdal`): DATE columns as ``datetime64``,
#: one array each instead of a ``datetime.date`` object per cell.
ARROW_READ: dict[str, Any] = {
    "use_arrow": True,
    "arrow_to_pandas_kwargs": {"date_as_object": False},
}

#: Reason of a row whose geometry GDAL returned but shapely cannot parse.
UNREADABLE_GEOMETRY = (
    "unreadable geometry (a type such as TIN or a curve, or broken coordinates such as an "
    "unclosed ring); export it as points, lines or polygons"
)


def read_gdal(
    dataset: Dataset, name: str, engine: str, max_rows: float = float("inf")
) -> tuple[gpd.GeoDataFrame, list[str], np.ndarray | None]:
    """Read a GDAL dataset with pyogrio or fiona.

    Returns the frame, GDAL's warnings and, when some geometries could not
    be parsed, which rows (their geometry is missing in the frame). A file
    that declares more than ``max_rows`` features is refused before it is read.
    A GeoParquet dataset is read by :func:`ims_geo.ingest._geoparquet.read_parquet`.
    """
    if dataset.kind == "parquet":
        from ims_geo.ingest._geoparquet import read_parquet  # it reads this module's Dataset

        return read_parquet(dataset, name, max_rows)
    fields: list[str] = []
    with contextlib.suppress(Exception):
        info = pyogrio.read_info(dataset.path, layer=dataset.layer)
        fields = [str(f) for f in info["fields"]]
        dataset.date_fields = [
            f for f, t in zip(fields, info["dtypes"], strict=True) if t == "datetime64[D]"
        ]
        if int(info.get("features", -1)) >= 0:
            features = int(info["features"]) - dataset.skipped
            dataset.declared[f"its {dataset.fmt} header"] = features
    declared = max(dataset.declared.values(), default=-1)
    if declared > max_rows:
        raise HostileInputError(
            f"{name} holds {declared:,} features, more than the limit of {max_rows:,} "
            "(max_rows); split the file"
        )
    with contextlib.ExitStack() as stack:
        dataset.sqlite_path = dataset.path
        if dataset.fmt == "GeoPackage" and dataset.archive is not None:
            # SQLite cannot open a zip member in place: a private copy, as for its check
            dataset.sqlite_path = str(stack.enter_context(_member_copy(*dataset.archive, name)))
        return _read_gdal(dataset, name, engine, fields)


def _read_gdal(
    dataset: Dataset, name: str, engine: str, fields: list[str]
) -> tuple[gpd.GeoDataFrame, list[str], np.ndarray | None]:
    """:func:`read_gdal` once the file's fields and counts are known (``fields``: its fields)."""
    kwargs: dict[str, Any] = {}
    if dataset.layer is not None:
        kwargs["layer"] = dataset.layer
    if dataset.encoding is not None:
        kwargs["encoding"] = gdal_encoding(dataset.encoding, name)
    if dataset.path.lower().endswith(".gml"):
        kwargs["WRITE_GFS"] = "NO"  # never write a .gfs next to the user's file
    elif engine == "pyogrio":
        # several times faster for large files (GML may hold curves, which
        # the Arrow path does not read)
        kwargs.update(ARROW_READ)
    if dataset.path.lower().endswith((".geojson", ".json")):
        # GDAL reads a DATE text such as 2026-02-30 as the day it overflows to: the
        # dates are read as the text written, and validated as a CSV's
        kwargs["DATE_AS_STRING"] = "YES"
    header = f"its {dataset.fmt} header"
    if dataset.fmt == "GeoPackage" and header in dataset.declared:
        rows = _gpkg_rows(dataset)
        if rows is not None and rows != dataset.declared[header]:
            # a stale feature count (rows deleted or written without GDAL's triggers): the
            # table, which PRAGMA quick_check found sound, decides (:func:`_check_count`).
            # Above the table's, GDAL's Arrow reading repeats rows up to the count, reading
            # row by row does not; below it, reading row by row stops at the count, Arrow's
            # does not
            if kwargs.get("use_arrow") and rows < dataset.declared[header]:
                kwargs = {k: v for k, v in kwargs.items() if k not in ARROW_READ}
            dataset.declared[header] = rows
    unreadable: np.ndarray | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = gpd.read_file(dataset.path, engine=engine, **kwargs)
        except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
            if isinstance(exc, pa.ArrowInvalid) and "utf8" not in str(exc).lower():
                raise _not_vector(name, f" (it could not be read as {dataset.fmt}: {exc})") from exc
            raise _bad_text(dataset, name) from exc
        except shapely.errors.ShapelyError:
            frame, unreadable = _geometries_one_by_one(dataset, name, kwargs)
        except ValueError as exc:
            if _IMPOSSIBLE_DAY.search(str(exc)):
                raise InputError(
                    f"{name}: a date in it is no real calendar date ({exc}), and the file "
                    "cannot be read past it; correct the date in the source system, or "
                    "export the dates as text"
                ) from exc
            raise _not_vector(name, f" (it could not be read as {dataset.fmt}: {exc})") from exc
        except (RuntimeError, OSError, LookupError) as exc:
            raise _not_vector(name, f" (it could not be read as {dataset.fmt}: {exc})") from exc
    messages = list(
        dict.fromkeys(
            f"{name}: {w.message}"
            for w in caught
            if "non conformant file extension" not in str(w.message)
            and not str(w.message).startswith(_TEXT_KEPT)
        )
    )
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame)
    if dataset.path.lower().endswith(".kml"):
        # how Google Earth draws a placemark, not attributes of a work ("visibility"
        # is whether it is shown, not who may see it)
        frame = frame.drop(columns=[c for c in KML_DISPLAY_FIELDS if c in frame.columns])
    _check_text(frame, dataset, name)
    _check_count(frame, dataset, name)
    frame = _written_bad_dates(frame, dataset, fields)
    return frame, messages, unreadable


#: Python's refusal of a date read row by row (GML whose schema types a field as a date,
#: the fiona engine): a day, month or year no calendar has.
_IMPOSSIBLE_DAY = re.compile(
    r"^(day is out of range for month|month must be in|year -?\d+ is out of range)"
)

#: The start of pyogrio's warning that a date-time column holds a text no date-time: the
#: column keeps the texts written, and validation rejects each such row naming its value.
_TEXT_KEPT = "Error parsing datetimes, original strings are returned"


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


def _gpkg_rows(dataset: Dataset) -> int | None:
    """Rows of a GeoPackage layer's table; None when SQLite cannot open or count it."""
    with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
        with _gpkg(dataset) as (db, table):
            (rows,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            return int(rows)
    return None


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
            continue  # :func:`_check_count` refused such a file already
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
    if arrow.num_rows != len(frame):  # refused before (:func:`_check_count`)
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


def _check_count(frame: pd.DataFrame, dataset: Dataset, name: str) -> None:
    """Refuse a file whose reading returned fewer or more features than it declares."""
    wrong = {part: n for part, n in dataset.declared.items() if n >= 0 and n != len(frame)}
    if wrong:
        said = ", ".join(f"{part} declares {n:,}" for part, n in wrong.items())
        raise InputError(
            f"{name}: {len(frame):,} features were read but {said}; the file is damaged or "
            "its parts come from different exports, so features would be lost: export it "
            "again from the source system"
        )


def _check_text(frame: pd.DataFrame, dataset: Dataset, name: str) -> None:
    """Raise when an Arrow text column holds bytes that are not UTF-8 (a wrong .cpg).

    GDAL hands such bytes through; Arrow fails only when they are used,
    somewhere later, so every text column is validated here, at once.
    """
    for column in frame.columns:
        values = frame[column].array
        if not hasattr(values, "__arrow_array__"):
            continue
        arrow = values.__arrow_array__()
        if not pa.types.is_string(arrow.type) and not pa.types.is_large_string(arrow.type):
            continue
        try:
            arrow.validate(full=True)
        except pa.ArrowInvalid:
            data = arrow.cast(pa.large_binary()) if hasattr(arrow, "cast") else arrow
            for row, value in enumerate(data.to_pylist(), start=1):
                if value is None:
                    continue
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise _bad_text(dataset, name, (column, row, value)) from None
            raise _bad_text(dataset, name) from None


def _geometries_one_by_one(
    dataset: Dataset, name: str, kwargs: dict[str, Any]
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read the attributes and the raw WKB; a geometry shapely cannot parse is None."""
    options = {k: v for k, v in kwargs.items() if k not in ARROW_READ}
    try:
        attributes = pyogrio.read_dataframe(dataset.path, read_geometry=False, **options)
        meta, _fids, wkb, _fields = pyogrio.raw.read(dataset.path, columns=[], **options)
    except (RuntimeError, ValueError, OSError, LookupError) as exc:
        raise _not_vector(name, f" (it could not be read as {dataset.fmt}: {exc})") from exc
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    unreadable = np.asarray(pd.notna(wkb), dtype=bool) & shapely.is_missing(geoms)
    frame = gpd.GeoDataFrame(attributes, geometry=geoms, crs=meta.get("crs"))
    return frame, unreadable


def _bad_text(
    dataset: Dataset, name: str, found: tuple[str, int, bytes] | None = None
) -> InputError:
    """Where the attribute text is not in its declared encoding, and the fix."""
    declared = dataset.encoding or "UTF-8"
    said = "the encoding given says" if dataset.encoding else "its .cpg file or the format says"
    if found is None:
        found = _first_bad_text(dataset, declared)
    where, suggestion = "", "cp1252"
    if found is not None:
        column, row, data = found
        where = f" in column {column}, row {row} ({data[:40]!r})"
        for candidate in ("cp1252", "ISO-8859-15", "cp850"):
            try:
                data.decode(candidate)
            except UnicodeDecodeError:
                continue
            suggestion = candidate
            break
    return InputError(
        f"{name}: the attribute text{where} is not {declared}, as {said}; "
        f'set encoding = "{suggestion}" in the mapping file (--encoding {suggestion} on the '
        "command line, the text encoding under Reading options on the upload page)"
    )


def _first_bad_text(dataset: Dataset, declared: str) -> tuple[str, int, bytes] | None:
    """(column, row, bytes) of the first text that is not ``declared``, read byte for byte."""
    options = {"layer": dataset.layer} if dataset.layer else {}
    try:
        raw = pyogrio.read_dataframe(
            dataset.path, read_geometry=False, encoding="ISO-8859-1", **options
        )
    except (RuntimeError, ValueError, OSError, LookupError):
        return None
    for column in raw.columns:
        for row, value in enumerate(raw[column].tolist(), start=1):
            if not isinstance(value, str):
                continue
            data = value.encode("latin-1", "replace")
            try:
                data.decode(declared)
            except (UnicodeDecodeError, LookupError):
                return str(column), row, data
    return None


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
        return records_frame(dataset.records, name, dataset.limits), []
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


def json_tables(path: Path, name: str, limits: Any) -> dict[str, list[Any]] | None:
    """The record lists of a ``.json`` that is no GeoJSON (name -> records); None for GeoJSON.

    A file whose top level is a list is one table named after the file; an
    object that is no GeoJSON holds one table per member whose value is a
    list of objects. A file nested deeper than Python's parser goes is
    refused (:class:`HostileInputError`), as is one with more than
    ``limits.max_rows`` records.
    """
    with open(path, "rb") as f:
        head = f.read(_JSON_HEAD).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"\x1e") or (head.startswith(b"{") and _GEOJSON_HEAD.search(head)):
        return None  # GeoJSON (a text sequence, or an object that starts as GeoJSON does)
    try:
        data = json.loads(path.read_bytes())
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
        tables = {Path(name).stem: data}
    else:
        raise _not_vector(name, f" (its JSON is a single {type(data).__name__}, no records)")
    for key, records in tables.items():
        if len(records) > limits.max_rows:
            raise HostileInputError(
                f"{name}: {key} holds {len(records):,} records, more than the limit of "
                f"{limits.max_rows:,} (max_rows); split the file"
            )
    return tables


def records_frame(records: list[Any], name: str, limits: Any = None) -> pd.DataFrame:
    """A list of JSON records as a table of text, as a CSV is read.

    Strings are kept as written (ids keep their leading zeros), numbers and
    ``true``/``false`` become their JSON text and are validated like a CSV's
    cells, ``null`` is no value and a nested object or list is kept as its
    JSON text.
    """
    if not records:
        raise InputError(f"{name} holds no records; a plan needs one object per work")
    if limits is not None and len(records) > limits.max_rows:
        raise HostileInputError(
            f"{name} holds {len(records):,} records, more than the limit of "
            f"{limits.max_rows:,} (max_rows); split the file"
        )
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


def _sheets(path: Path, name: str) -> list[str]:
    """The sheet names of a workbook, in their order."""
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
