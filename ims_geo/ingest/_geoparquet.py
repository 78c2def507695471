"""Reading GeoParquet (``.parquet``) in the limited reader process.

The file's footer is checked against the limits before any data page is
read; the geometry column is found through the GeoParquet ``geo`` metadata
(WKB or a GeoArrow native encoding) or, without it, by a WKB column's name;
a row whose geometry cannot be parsed gets a reason instead of failing the
file. :func:`ims_geo.ingest._sources.resolve` opens the file, the import calls
:func:`read_parquet` as it calls the other formats' readers.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj.exceptions import CRSError

from ims_geo.errors import HostileInputError, InputError
from ims_geo.export import wkb_type_codes
from ims_geo.ingest._sources import _SMALL_MEMBER, Dataset, _not_vector

#: Reason of a row whose WKB geometry shapely cannot parse.
UNREADABLE_WKB = (
    "unreadable geometry (not valid WKB: truncated or of an unknown type); export the file "
    "again from the source system"
)
#: GeoArrow native encodings of GeoParquet 1.1, read through geopandas.
GEOARROW_ENCODINGS = (
    "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
)  # fmt: skip
#: Names a WKB column of a Parquet file without ``geo`` metadata may have (compared folded).
WKB_NAMES = ("geometry", "geom", "the_geom", "shape", "geometrie", "wkb", "wkb_geometry")
_WRITE_WKB = (
    "write the geometry as WKB (GeoPandas: to_parquet(geometry_encoding='WKB'); GDAL: "
    "-lco GEOMETRY_ENCODING=WKB)"
)


@dataclass
class _GeoColumn:
    """The geometry column of a Parquet file and what its ``geo`` metadata says of it."""

    name: str
    encoding: str  # "WKB" or a GeoArrow native encoding
    crs: Any  # PROJJSON / text, or None when the file says nothing usable
    others: list[str]  # further geometry columns, not attributes
    covering: list[str]  # the bounding box columns of the geometry column, not attributes


def read_parquet(
    dataset: Dataset, name: str, max_rows: float = float("inf")
) -> tuple[gpd.GeoDataFrame, list[str], np.ndarray | None]:
    """Read a (Geo)Parquet file with pyarrow: its attributes and one geometry column.

    The file's footer is checked before any data page is read: the row
    count against ``max_rows``, the column data's uncompressed size
    against ``max_expanded_bytes`` and each column chunk's compression
    ratio against ``max_ratio`` (of ``dataset.limits``). The geometry
    column is the ``geo`` metadata's primary column (WKB, or a GeoArrow
    native encoding read through geopandas); a file without ``geo``
    metadata needs a WKB column named ``geometry`` (or ``geom``,
    ``wkb``...) and has no CRS of its own. Covering (``bbox``) and further
    geometry columns are not attributes. Attribute types no writer takes
    (decimals, times, durations, dictionaries...) are read as text, nested
    ones as JSON text.

    Returns
    -------
    tuple
        The frame (CRS None when the file has none), notes for the user and
        why rows have no geometry in the frame though the file gives one
        (WKB that does not parse or nests too deep; None for the other rows),
        or None when every row is fine.
    """
    try:
        parquet = pq.ParquetFile(dataset.path, memory_map=False)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _not_vector(name, f" (it could not be read as Parquet: {exc})") from exc
    _check_parquet_size(parquet.metadata, name, max_rows, dataset.limits)
    geo = _geo_column(schema, name)
    notes = []
    if geo.others:
        notes.append(
            f"{name}: only the geometry column {geo.name!r} is read; the further geometry "
            f"columns {', '.join(geo.others)} are left out"
        )
    # pandas' unnamed index, when a frame was written with one, is no attribute of a work
    keep = [
        c
        for c in schema.names
        if c not in geo.others + geo.covering and not re.fullmatch(r"__index_level_\d+__", c)
    ]
    try:
        # one thread: worker threads would not start under a tight address-space limit
        table = parquet.read(columns=keep, use_pandas_metadata=False, use_threads=False)
    except MemoryError:
        raise  # the worker names the memory limit
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(
            f"{name}: the Parquet data could not be read ({type(exc).__name__}: "
            f"{str(exc)[:300]}); the file is damaged: export it again from the source system"
        ) from exc
    table = table.replace_schema_metadata(None)
    depth = dataset.limits.max_geometry_depth if dataset.limits is not None else 8
    geoms, reasons = _parquet_geometries(table.column(geo.name), geo, name, depth)
    attributes = _plain_arrow(table.drop_columns([geo.name]), name)
    frame = attributes.to_pandas(
        types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_nested(t) else None
    )
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index))
    if geo.crs is not None:
        try:
            out = out.set_crs(geo.crs)
        except (ValueError, TypeError, CRSError) as exc:
            raise InputError(
                f"{name}: the CRS in its geo metadata is not understood ({str(exc)[:200]}); "
                "export the file again with its CRS as PROJJSON, or without one and give the "
                "CRS (--crs)"
            ) from exc
    return out, notes, reasons if pd.notna(reasons).any() else None


def _check_parquet_size(meta: Any, name: str, max_rows: float, limits: Any) -> None:
    """Refuse a file whose footer declares too many rows, too much data or a bomb's ratio."""
    if meta.num_rows > max_rows:
        raise HostileInputError(
            f"{name} holds {meta.num_rows:,} features, more than the limit of {max_rows:,} "
            "(max_rows); split the file"
        )
    if limits is None:
        return
    sizes = np.array(
        [
            (chunk.total_uncompressed_size, chunk.total_compressed_size)
            for group in range(meta.num_row_groups)
            for chunk in map(meta.row_group(group).column, range(meta.num_columns))
        ],
        dtype=np.float64,
    ).reshape(-1, 2)
    expanded, packed = sizes.sum(axis=0)
    if expanded > limits.max_expanded_bytes:
        raise HostileInputError(
            f"{name} expands to {expanded:,.0f} bytes of column data, more than the limit of "
            f"{limits.max_expanded_bytes:,} bytes (max_expanded_bytes); split the file"
        )
    ratios = sizes[:, 0] / np.maximum(sizes[:, 1], 1)
    bomb = (sizes[:, 0] > _SMALL_MEMBER) & (ratios > limits.max_ratio)
    if bomb.any() or (packed and expanded / packed > limits.max_ratio):
        ratio = ratios[bomb].max() if bomb.any() else expanded / packed
        raise HostileInputError(
            f"{name} is rejected: its column data expands {ratio:,.0f} times its packed size, "
            f"more than the limit of {limits.max_ratio} (max_ratio); this is typical of "
            "compression bombs"
        )


def _geo_column(schema: pa.Schema, name: str) -> _GeoColumn:
    """The geometry column, from the ``geo`` metadata or, without it, a WKB column's name."""
    raw = (schema.metadata or {}).get(b"geo")
    if raw is None:
        folded = {str(c).casefold(): str(c) for c in schema.names}
        found = next((folded[n] for n in WKB_NAMES if n in folded), None)
        if found is None:
            raise InputError(
                f"{name} is Parquet without GeoParquet 'geo' metadata and has no WKB column "
                f"named {' or '.join(WKB_NAMES[:2])}; its columns are: "
                f"{', '.join(schema.names[:30])}; write it as GeoParquet (GeoPandas: "
                "to_parquet; GDAL: ogr2ogr -f Parquet)"
            )
        _check_binary(schema, found, name)
        return _GeoColumn(found, "WKB", None, [], [])
    try:
        geo = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{name}: its GeoParquet 'geo' metadata is not JSON ({exc}); the file is damaged: "
            "export it again from the source system"
        ) from exc
    columns = geo.get("columns") if isinstance(geo, dict) else None
    primary = geo.get("primary_column") if isinstance(geo, dict) else None
    if not isinstance(columns, dict) or not isinstance(primary, str):
        raise InputError(
            f"{name}: its GeoParquet 'geo' metadata has no 'primary_column' and 'columns'; "
            "the file does not follow GeoParquet 1.0/1.1: export it again from the source system"
        )
    if primary not in schema.names or not isinstance(columns.get(primary), dict):
        raise InputError(
            f"{name}: its GeoParquet 'geo' metadata names the geometry column {primary!r}, "
            f"which the file does not have (its columns are: {', '.join(schema.names[:30])}); "
            "export it again from the source system"
        )
    column = columns[primary]
    encoding = str(column.get("encoding", ""))
    if encoding.upper() == "WKB":
        encoding = "WKB"
        _check_binary(schema, primary, name)
    elif encoding.lower() not in GEOARROW_ENCODINGS:
        raise InputError(
            f"{name}: its geometry column {primary!r} is encoded as {encoding[:40]!r}, which is "
            f"not read (WKB and the GeoArrow encodings {', '.join(GEOARROW_ENCODINGS)} are); "
            f"{_WRITE_WKB}"
        )
    # GeoParquet: no "crs" key means OGC:CRS84, "crs": null an unknown CRS
    crs = column.get("crs", "OGC:CRS84")
    others = [str(c) for c in columns if c != primary and c in schema.names]
    covering = column.get("covering")
    box = covering.get("bbox") if isinstance(covering, dict) else None
    path = box.get("xmin") if isinstance(box, dict) else None
    covers = isinstance(path, list) and path and path[0] in schema.names and path[0] != primary
    covering = [str(path[0])] if covers and isinstance(path, list) else []
    kind = encoding if encoding == "WKB" else encoding.lower()
    return _GeoColumn(primary, kind, crs, [c for c in others if c not in covering], covering)


def _check_binary(schema: pa.Schema, column: str, name: str) -> None:
    kind = schema.field(column).type
    if isinstance(kind, pa.ExtensionType):
        kind = kind.storage_type
    if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or kind == pa.binary_view()):
        raise InputError(
            f"{name}: its geometry column {column!r} holds {kind}, not WKB bytes; {_WRITE_WKB}"
        )


class _GeoArrowArray:
    """A GeoArrow array with its extension type named, as geopandas' ``from_arrow`` takes it."""

    def __init__(self, array: pa.Array, extension: str) -> None:
        self.array = array
        self.field = pa.field("geometry", array.type, metadata={
            "ARROW:extension:name": f"geoarrow.{extension}"
        })  # fmt: skip

    def __arrow_c_array__(self, requested_schema: Any = None) -> tuple[Any, Any]:
        return self.field.__arrow_c_schema__(), self.array.__arrow_c_array__()[1]


def _parquet_geometries(
    column: pa.ChunkedArray, geo: _GeoColumn, name: str, max_depth: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shapely geometries of the geometry column, and why a row has none (None: it is fine).

    WKB nesting collections deeper than ``max_depth`` is not parsed (GEOS
    reads WKB recursively: deep enough, it crashes); WKB that does not
    parse is :data:`UNREADABLE_WKB`.
    """
    array = column.combine_chunks()
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    reasons = np.full(len(array), None, dtype=object)
    if geo.encoding == "WKB":
        wkb = array.to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(_collection_headers(array) > max_depth):
            depth = _wkb_depth(bytes(wkb[row]), int(max_depth))
            if depth > max_depth:
                reasons[row] = f"geometry nesting collections {depth}+ deep, more than "
                reasons[row] += "max_geometry_depth"
                wkb[row] = None
        geoms = shapely.from_wkb(wkb, on_invalid="ignore")
        bad = ~np.asarray(array.is_null(), dtype=bool) & shapely.is_missing(geoms)
        reasons[bad & pd.isna(reasons)] = UNREADABLE_WKB
        return np.asarray(geoms, dtype=object), reasons
    try:
        geoms = gpd.GeoSeries.from_arrow(_GeoArrowArray(array, geo.encoding)).to_numpy()
    except (ValueError, TypeError, IndexError, pa.ArrowException) as exc:
        raise InputError(
            f"{name}: its {geo.encoding} geometries could not be read ({str(exc)[:200]}); "
            f"{_WRITE_WKB}"
        ) from exc
    return np.asarray(geoms, dtype=object), reasons


#: WKB type codes of multi-part geometries and collections (ISO with Z/M/ZM, and EWKB flags).
_COLLECTION_CODES = np.array(
    [base + dims for base in (4, 5, 6, 7) for dims in (0, 1000, 2000, 3000)]
    + [base | flags for base in (4, 5, 6, 7) for flags in range(0x20000000, 1 << 32, 0x20000000)],
    dtype=np.uint32,
)


_COLLECTION_LOW_BYTES = np.zeros(256, dtype=bool)
_COLLECTION_LOW_BYTES[_COLLECTION_CODES & 0xFF] = True


def _collection_headers(array: pa.Array) -> np.ndarray:
    """Per WKB value, how many of its byte positions start a collection's header.

    An upper bound of how deep collections nest in it, counted over the
    values' bytes in slices of :data:`_WKB_SLICE` without parsing them.
    """
    values = array.cast(pa.large_binary())
    _validity, offset_buffer, buffer = values.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    found = [np.zeros(0, dtype=np.int64)]
    first, last = int(offsets[0]), int(offsets[-1]) - 4
    for low in range(first, max(last, first), _WKB_SLICE):
        high = min(low + _WKB_SLICE, last)
        order = data[low:high]
        # the type's least significant byte first sorts out nearly every position
        little = np.flatnonzero((order == 1) & _COLLECTION_LOW_BYTES[data[low + 1 : high + 1]])
        big = np.flatnonzero((order == 0) & _COLLECTION_LOW_BYTES[data[low + 4 : high + 4]])
        at = low + np.concatenate([little, big])
        found.append(at[np.isin(wkb_type_codes(data, at), _COLLECTION_CODES)])
    rows = np.searchsorted(offsets, np.concatenate(found), side="right") - 1
    return np.bincount(rows, minlength=len(values))


_WKB_SLICE = 1 << 24


def _wkb_depth(blob: bytes, limit: int) -> int:
    """How deep collections nest in one WKB value, counted up to ``limit + 1``; 0 if malformed.

    Walked without recursion (a stack of the children each open collection
    still has); only for the few values :func:`_collection_headers` flags.
    """
    open_children: list[int] = []
    deepest, pos = 0, 0
    try:
        while True:
            order = "<" if blob[pos] == 1 else ">"
            (code,) = struct.unpack_from(order + "I", blob, pos + 1)
            pos += 5 + (4 if code & 0x20000000 else 0)  # EWKB: an SRID follows
            base = code & 0x1FFFFFFF
            dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
            if base >= 1000:
                dims, base = 2 + (0, 1, 1, 2)[min(base // 1000, 3)], base % 1000
            if base == 1:
                pos += 8 * dims
            elif base == 2:
                pos += 4 + 8 * dims * struct.unpack_from(order + "I", blob, pos)[0]
            elif base == 3:
                (rings,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4
                for _ in range(rings):
                    pos += 4 + 8 * dims * struct.unpack_from(order + "I", blob, pos)[0]
            elif 4 <= base <= 7:
                (parts,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4
                deepest = max(deepest, len(open_children) + 1)
                if deepest > limit:
                    return deepest
                if parts:
                    open_children.append(parts)
                    continue
            else:
                return 0
            while open_children:  # one geometry done: close the collections it completes
                open_children[-1] -= 1
                if open_children[-1]:
                    break
                open_children.pop()
            if not open_children:
                return deepest
    except (IndexError, struct.error):
        return 0


def _plain_arrow(table: pa.Table, name: str) -> pa.Table:
    """Attribute columns as types every writer takes: odd ones as text, nested ones kept.

    Dictionary and extension columns are read as their values; decimals,
    times, durations, half floats and views as text (exact); nested types
    stay for :func:`ims_geo.ingest` to write as JSON text.
    """
    for index, given in enumerate(table.schema):
        column = table.column(index)
        kind = given.type
        while isinstance(kind, pa.ExtensionType) or pa.types.is_dictionary(kind):
            if isinstance(kind, pa.ExtensionType):
                kind = kind.storage_type
                column = pa.chunked_array([c.storage for c in column.chunks], kind)
            else:
                kind = kind.value_type
                column = column.cast(kind)
        plain = (
            pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_integer(kind) or pa.types.is_boolean(kind)
            or pa.types.is_float32(kind) or pa.types.is_float64(kind)
            or pa.types.is_date(kind) or pa.types.is_timestamp(kind)
            or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
            or pa.types.is_null(kind) or pa.types.is_nested(kind)
        )  # fmt: skip
        if not plain:
            try:
                column = column.cast(pa.large_string())
            except (pa.ArrowException, ValueError) as exc:
                raise InputError(
                    f"{name}: column {given.name!r} holds {kind}, which cannot be read as "
                    "text; write it as text or numbers, or leave it out of the file"
                ) from exc
        if column is not table.column(index):
            table = table.set_column(index, pa.field(given.name, column.type), column)
    return table
