"""Opening uploaded files safely: format, size limits, archives, layers, encodings.

Everything here happens before a single attribute is parsed: the upload's
size, its first bytes (is it what its name says?), a zip archive's headers
(member paths, expanded size, compression ratio, member count) and which
layer and text encoding to read. Files are never extracted: an upload held
in memory is written once into a private temporary directory and archives
are read in place through GDAL's ``/vsizip/`` (SQLite cannot: a GeoPackage
member is copied, within the archive's checked sizes, to a private temporary
file for SQLite's checks only).

The GDAL read (:func:`read_gdal`) checks what it read against the file: the
text is in its declared encoding, the feature count is the one the file's
parts declare, and each date is the one the file wrote
(:mod:`ims_geo.ingest._dates`). Tables without a GIS format (CSV, JSON
record lists, Excel workbooks) are read by :mod:`ims_geo.ingest._tables`,
GeoParquet by :mod:`ims_geo.ingest._geoparquet`.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import shutil
import sqlite3
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
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
from ims_geo.ingest._dates import DbfDates, _dbf_dates, _gpkg, _written_bad_dates

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
    members = [i.filename for i in infos if not i.is_dir()]
    if not members:
        raise InputError(
            f"{name} is an empty archive (it holds no files); put the plan's files in it "
            "(for a shapefile its .shp, .shx, .dbf and .prj) and upload it again"
        )
    return members


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
    #: A shapefile's DATE cells as its .dbf holds them (:func:`ims_geo.ingest._dates._dbf_dates`).
    dbf_dates: list[DbfDates] = field(default_factory=list)
    #: The zip archive and member of a GeoPackage inside a zip (SQLite needs a file).
    archive: tuple[Path, str] | None = None
    #: The GeoPackage file SQLite reads: the file itself, or a private copy of the member.
    sqlite_path: str = ""
    #: The records of a JSON record list (:func:`ims_geo.ingest._tables.json_tables`), parsed once.
    records: list[Any] = field(default_factory=list)


def _gdal_layers(path: str, name: str, fmt: str) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = pyogrio.list_layers(path)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _not_vector(name, f" (it could not be opened as {fmt}: {exc})") from exc
    spatial = [str(row[0]) for row in found if row[1] is not None]
    return spatial or [str(row[0]) for row in found]


def _pick(
    layers: list[str], layer: str | None, name: str, *, container: bool = True, first: bool = False
) -> str:
    """The layer to read; a single-layer file (not a GeoPackage or zip) ignores ``layer``.

    With ``first``, no ``layer`` given reads the first of several layers instead of
    asking for one.
    """
    if layer is None and first and layers:
        return layers[0]
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
    from ims_geo.ingest._tables import json_tables, sheets  # they read this module's Dataset

    check_content(path, upload.suffix, upload.name)
    if upload.suffix == ".zip":
        members = _vector_members(check_zip(path, upload.name, limits))
        if not members:
            raise _not_vector(upload.name, " (the archive holds no vector file)")
        if len(members) == 1 and not members[0].lower().endswith(".shp"):
            inner = members[0]
            if inner.lower().endswith(".csv"):
                return [PurePosixPath(inner).stem]
            if _suffix(inner) == ".json" and (
                tables := json_tables(path, upload.name, limits, member=inner)
            ):
                return list(tables)
            return _gdal_layers(
                f"/vsizip/{path.resolve()}/{inner}", upload.name, FORMATS[_suffix(inner)]
            )
        return list(_labels(members))
    if upload.suffix in (".csv", ".parquet"):
        return [Path(upload.name).stem]
    if upload.suffix == ".xlsx":
        return sheets(path, upload.name, limits)
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
    first: bool = False,
) -> Dataset:
    """Choose the layer and text encoding to read from ``path``.

    With ``first`` and no ``layer``, the first layer :func:`layers` lists is read
    instead of a file of several layers being refused.
    """
    from ims_geo.ingest._tables import json_tables, sheets  # they read this module's Dataset

    check_content(path, upload.suffix, upload.name)
    name = upload.name
    if upload.suffix == ".csv":
        return Dataset("csv", FORMATS[".csv"], csv_data=path.read_bytes(), encoding=encoding)
    if upload.suffix == ".parquet":
        return Dataset("parquet", FORMATS[".parquet"], path=str(path), limits=limits)
    if upload.suffix == ".xlsx":
        found = sheets(path, name, limits)
        sheet = found[0] if layer is None else _pick(found, layer, name)
        fmt = FORMATS[".xlsx"]
        return Dataset("csv", fmt, path=str(path), layer=sheet, label=sheet, limits=limits)
    if upload.suffix == ".json" and (
        records := _json_records(path, name, layer, limits, first=first)
    ):
        return records
    if upload.suffix == ".shp":
        missing = [s for s in _SHAPEFILE_PARTS if not _sibling(path, s)]
        if missing:
            raise InputError(
                f"{name}: the shapefile's {' and '.join(missing)} file is missing next to it; "
                "upload the shapefile as a .zip with all its parts (.shp, .shx, .dbf, .prj, .cpg)"
            )
        label = _pick(
            _gdal_layers(str(path), name, "shapefile"), layer, name, container=False, first=first
        )
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
        label = _pick(
            _gdal_layers(str(path), name, fmt), layer, name, container=container, first=first
        )
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
        if _suffix(inner) == ".json" and (
            records := _json_records(path, name, layer, limits, first=first, member=inner)
        ):
            return records
        if _suffix(inner) == ".gpkg":
            _check_geopackage_member(path, inner, name)
        inner_layers = _gdal_layers(f"{root}/{inner}", name, fmt)
        label = _pick(inner_layers, layer, name, container=_suffix(inner) == ".gpkg", first=first)
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
    label = _pick(list(labels), layer, name, first=first)
    member = labels[label]
    suffix = _suffix(member)
    if suffix == ".csv":
        data = read_member(path, member, name)
        return Dataset("csv", FORMATS[".csv"], csv_data=data, encoding=encoding, label=label)
    if suffix != ".shp":
        fmt = FORMATS[suffix]
        if suffix == ".gpkg":
            _check_geopackage_member(path, member, name)
        tables = json_tables(path, name, limits, member=member) if suffix == ".json" else None
        inner_layers = list(tables or {}) or _gdal_layers(f"{root}/{member}", name, fmt)
        if len(inner_layers) > 1:
            raise InputError(
                f"{name}: {member} holds {len(inner_layers)} layers; upload it on its own "
                "to choose one of them"
            )
        if tables:
            rows = tables[inner_layers[0]]
            return Dataset(
                "csv", JSON_RECORDS, path=str(path), label=label, records=rows, limits=limits
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


def _json_records(
    path: Path,
    name: str,
    layer: str | None,
    limits: Any,
    *,
    first: bool,
    member: str | None = None,
) -> Dataset | None:
    """The record list to read from a ``.json`` (or the archive's ``member``); None for GeoJSON."""
    from ims_geo.ingest._tables import json_tables  # it reads this module's Dataset

    tables = json_tables(path, name, limits, member=member)
    if tables is None:
        return None
    label = _pick(list(tables), layer, name, container=False, first=first)
    return Dataset(
        "csv", JSON_RECORDS, path=str(path), label=label, records=tables[label], limits=limits
    )


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


def _gpkg_rows(dataset: Dataset) -> int | None:
    """Rows of a GeoPackage layer's table; None when SQLite cannot open or count it."""
    with contextlib.suppress(sqlite3.Error, ValueError, TypeError):
        with _gpkg(dataset) as (db, table):
            (rows,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            return int(rows)
    return None


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
