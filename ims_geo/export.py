"""Write works, conflicts and programmes to the files planners open.

The format is decided by the file suffix, in one place (:data:`FORMATS`):

``.csv``
    UTF-8, comma separated, header row; dates ISO ``YYYY-MM-DD``, a date
    with a time of day ``YYYY-MM-DD HH:MM:SS.ffffff`` (in every column beside
    any other); a column of mixed numbers and text as its text; geometry
    as WKT in EPSG:4326 (longitude/latitude) in the last column, which is
    what QGIS "Delimited text" and ``ims-geo import`` assume. A text
    cell or header that a spreadsheet would run as a formula (it begins with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
    leading single quote, as OWASP recommends against CSV injection; plain
    numbers (``-3.5``) are left alone. :func:`csv_text` undoes it exactly
    (a cell that already began with quotes before such a character gets one
    more), and ``ims-geo import`` applies it to every CSV it reads.
``.xlsx``
    one sheet per layer, frozen header row, autofilter, real Excel dates,
    geometry as WKT in EPSG:4326 (a geometry longer than an Excel cell holds is written
    as its centroid, flagged in ``geometry_note``). Text is always written
    as text: never a formula or a link, whatever it begins with.
``.geojson``
    RFC 7946: EPSG:4326 longitude/latitude. GeoJSON has no schema: the
    columns are only the properties of its features (GDAL reads its fields
    from them and ignores any other member), so an export of no rows is an
    empty FeatureCollection that reads back with no column; CSV, XLSX and
    GeoPackage keep the columns of an empty table.
``.gpkg``
    GeoPackage, one layer per frame, real DATE columns, in the working CRS
    (stored in the file).
``.zip``
    zipped shapefile(s) with a ``.cpg`` (UTF-8) and ``.prj``; one shapefile
    per geometry family (points, multipoints, lines, polygons) because a
    shapefile holds a single geometry type.
``.parquet``
    GeoParquet 1.1, in the working CRS (stored in the file's metadata), with
    the ``bbox`` covering column and row groups of :data:`PARQUET_ROW_GROUP`
    rows (the partitions :mod:`ims_geo.distributed` reads);
    :func:`write_parquet_by_org` writes a store one organisation per file.

Every writer takes any geometry the store can hold: points, lines,
polygons and their multis, with or without heights. Heights (Z) are kept
where a geometry has them; measures (M) are dropped.

Column names are made safe for every format by one rule
(:func:`safe_names`): names that equal an earlier one apart from case
(``street``, ``Street``) or a name the format uses itself (``geometry``,
``geometry_note``, ``fid``, ``geom``, ``ogc_fid``) get the first free
suffix ``_2``, ``_3``...; in a shapefile, names are cut to 10 characters
first and a colliding one is cut shorter to fit its suffix
(``description_a``, ``description_b`` -> ``descriptio``, ``descript_2``).
"""

from __future__ import annotations

import glob
import io
import json
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from ims_geo.errors import InputError
from ims_geo.schema import ORG, TITLE, WORK_ID

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shp-zip",
    ".parquet": "parquet",
}
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp-zip": "application/zip",
    "parquet": "application/vnd.apache.parquet",
}
SUFFIXES: dict[str, str] = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "geojson": ".geojson",
    "gpkg": ".gpkg",
    "shp-zip": ".zip",
    "parquet": ".parquet",
}

_EXCEL_CELL_LIMIT = 32_767
_EXCEL_SHEET_NAME = 31
#: Decimals of WKT coordinates: degrees (about 1 mm) and metres (1 mm).
_WKT_DECIMALS_DEG = 8
_WKT_DECIMALS = 3
#: CRS of the WKT in CSV and XLSX files.
TABLE_CRS = "EPSG:4326"

#: Column names the writers use themselves (compared without case).
RESERVED_NAMES: tuple[str, ...] = ("fid", "geom", "ogc_fid")
#: ... and, in a frame with geometries, the geometry's own columns.
GEOMETRY_NAMES: tuple[str, ...] = ("geometry", "geometry_note")
#: Longest column name of a format (a shapefile's .dbf holds 10 bytes).
MAX_NAME_LENGTH: dict[str, int] = {"shp-zip": 10}

#: What a CSV cell that a spreadsheet would evaluate is prefixed with (OWASP).
CSV_ESCAPE = "'"
#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# also cells already written with the quote: doubling it keeps the round trip exact
_FORMULA_START = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
# a plain number is data, not a formula, even with a sign ("-3.5", "+1e3")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")
#: xlsxwriter options: strings are text, never formulas, links or numbers.
XLSX_OPTIONS: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def format_of(path: str | Path) -> str:
    """The export format for ``path``, from its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot write '{path}': unknown file type '{suffix}'; "
            f"use one of {', '.join(sorted(set(FORMATS)))}"
        )
    return FORMATS[suffix]


def _cut(name: str, length: int | None) -> str:
    """``name`` cut to ``length`` UTF-8 bytes without splitting a character."""
    if length is None:
        return name
    return name.encode("utf-8")[: max(length, 0)].decode("utf-8", errors="ignore")


def safe_names(
    names: Sequence[object],
    *,
    max_length: int | None = None,
    reserved: Sequence[str] = RESERVED_NAMES,
) -> list[str]:
    """Column names that no format can confuse, renamed by one deterministic rule.

    In order, each name is kept when it differs, ignoring case, from every
    name kept before it and from ``reserved``; otherwise it gets the first
    suffix ``_2``, ``_3``... that is free and is not another column's own
    name. With ``max_length`` (bytes) names are cut first, and cut shorter
    to make room for a suffix.

    Examples
    --------
    >>> safe_names(["street", "Street", "geometry"], reserved=["geometry"])
    ['street', 'Street_2', 'geometry_2']
    >>> safe_names(["description_a", "description_b"], max_length=10)
    ['descriptio', 'descript_2']
    """
    texts = [str(n).strip() or "column" for n in names]
    own = {t.casefold() for t in texts}
    taken = {r.casefold() for r in reserved}
    out: list[str] = []
    for text in texts:
        name = _cut(text, max_length)
        number = 1
        while name.casefold() in taken or (number > 1 and name.casefold() in own):
            number += 1
            suffix = f"_{number}"
            length = None if max_length is None else max_length - len(suffix)
            name = _cut(text, length) + suffix
        taken.add(name.casefold())
        out.append(name)
    return out


def _safe_frame(frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """``frame`` with safe column names and M dropped; the geometry column is ``geometry``."""
    geom_col = _geometry_column(frame)
    max_length = MAX_NAME_LENGTH.get(fmt)
    # pandas copies on write: renaming and replacing columns never touches ``frame``
    if geom_col is None:
        out = pd.DataFrame(frame).copy(deep=False)
        out.columns = safe_names(list(out.columns), max_length=max_length)
        return out
    table = _attributes(frame, geom_col)
    table.columns = safe_names(
        list(table.columns), max_length=max_length, reserved=RESERVED_NAMES + GEOMETRY_NAMES
    )
    geoms = _without_measures(frame.geometry.to_numpy())
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=frame.crs)


def _attributes(frame: pd.DataFrame, geom_col: str) -> pd.DataFrame:
    """The columns of ``frame`` but its geometry, sharing their data with it.

    Selecting them with a list would copy every column of a frame whose
    columns were inserted one by one (pandas merges its blocks).
    """
    keep = [i for i, name in enumerate(frame.columns) if name != geom_col]
    if not keep:
        return pd.DataFrame(index=frame.index)
    table = pd.DataFrame({i: frame.iloc[:, i] for i in keep}, copy=False)
    table.columns = frame.columns[keep]
    return table


def _without_measures(geoms: np.ndarray) -> np.ndarray:
    """Geometries without M values (heights kept): no format writes M reliably."""
    measured = shapely.has_m(geoms)
    if not measured.any():
        return geoms
    out = geoms.copy()
    with_z = measured & shapely.has_z(geoms)
    if with_z.any():
        out[with_z] = shapely.from_wkb(shapely.to_wkb(geoms[with_z], output_dimension=3))
    flat = measured & ~with_z
    out[flat] = shapely.force_2d(geoms[flat])
    return out


def _layer_names(names: Sequence[str], max_length: int | None = None) -> list[str]:
    """Layer / sheet / file names, distinct without case (GeoPackage and Excel ignore it)."""
    return safe_names(names, max_length=max_length, reserved=())


def _dates_as_date(frame: pd.DataFrame, *, arrow: bool = False) -> pd.DataFrame:
    """Datetime columns as dates where every value is at midnight.

    The dates are ``datetime.date`` objects, or with ``arrow`` Arrow dates
    (``date32``, cast in one pass, no object per value) for the writers that
    hand the table to Arrow, which turns the objects into the same dates.
    A column without any date stays a column of ``None`` either way.
    """
    out = frame.copy(deep=False)
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
            out[col] = series
        if pd.api.types.is_datetime64_any_dtype(series):
            valid = series.dropna()
            if not (valid == valid.dt.normalize()).all():
                continue
            if arrow and len(valid):
                dates = pa.array(series, from_pandas=True).cast(pa.date32())
                out[col] = pd.Series(pd.arrays.ArrowExtensionArray(dates), index=out.index)
            else:
                out[col] = pd.Series(series.dt.date, index=out.index, dtype=object).where(
                    series.notna(), None
                )
    return out


def _is_duration(values: pd.Series) -> bool:
    dtype = values.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return bool(pa.types.is_duration(dtype.pyarrow_dtype))
    if pd.api.types.is_object_dtype(dtype):
        return pd.api.types.infer_dtype(values, skipna=True) == "timedelta"
    return pd.api.types.is_timedelta64_dtype(dtype)


def _durations_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Duration columns as their text (``3 days``), as every format but GeoParquet writes them.

    Excel would take them as day numbers, GeoJSON not at all and the plain
    formats (CSV, GeoPackage, shapefiles: :func:`_column`) not as one text.
    """
    out = frame
    for col in frame.columns:
        values = frame[col]
        if isinstance(values, pd.Series) and _is_duration(values):
            if out is frame:
                out = frame.copy(deep=False)
            # one text whatever the values' type: 3 days, 1 days 12:00:00
            durations = pd.Series(pd.to_timedelta(values.to_numpy()), index=values.index)
            out[col] = _as_text(durations)
    return out


def _geometry_column(frame: pd.DataFrame) -> str | None:
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        return frame.geometry.name
    return None


def _tabular(frame: pd.DataFrame, *, excel: bool = False) -> pd.DataFrame:
    """A plain table: dates as dates, geometry as WKT in EPSG:4326 in the last column."""
    geom_col = _geometry_column(frame)
    # a CSV is written by Arrow (dates as Arrow dates); Excel takes ``datetime.date``
    plain = pd.DataFrame(frame.drop(columns=geom_col) if geom_col else frame)
    out = _dates_as_date(_durations_as_text(plain), arrow=not excel)
    if geom_col:
        geoms, decimals = _table_geometries(frame)
        wkt = shapely.to_wkt(geoms, rounding_precision=decimals, trim=True)
        if excel:
            lengths = np.fromiter((len(w) if w else 0 for w in wkt), dtype=np.int64, count=len(wkt))
            too_long = lengths > _EXCEL_CELL_LIMIT
            if too_long.any():
                wkt = wkt.copy()
                wkt[too_long] = shapely.to_wkt(
                    shapely.centroid(geoms[too_long]), rounding_precision=decimals
                )
                out["geometry_note"] = np.where(
                    too_long, "centroid: geometry too long for Excel", ""
                )
        out["geometry"] = wkt
    return out


def _table_geometries(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """Geometries in :data:`TABLE_CRS` and the WKT decimals for them.

    A frame without a CRS keeps its coordinates (nothing to convert from).
    """
    geoms = frame.geometry.to_numpy()
    if frame.crs is None:
        return geoms, _WKT_DECIMALS
    if frame.crs.equals(TABLE_CRS):
        return geoms, _WKT_DECIMALS_DEG
    return frame.geometry.to_crs(TABLE_CRS).to_numpy(), _WKT_DECIMALS_DEG


def _formula_like(values: pd.Series) -> np.ndarray:
    """Text cells a spreadsheet would evaluate (numbers and non-text cells are not)."""
    try:
        # the .str accessor skips non-text cells of a mixed column (they give NA)
        starts = values.str.match(_FORMULA_START)
    except AttributeError:  # no text at all (numbers or dates in an object column)
        return np.zeros(len(values), dtype=bool)
    # NaN (object) or NA (text dtypes) where a cell is not text or is missing
    starts = starts.eq(True).to_numpy(dtype=bool, na_value=False)
    if not starts.any():
        return starts
    numbers = values.str.match(_PLAIN_NUMBER).eq(True).to_numpy(dtype=bool, na_value=False)
    return starts & ~numbers


def neutralise_csv(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells and headers that would run as formulas, prefixed with :data:`CSV_ESCAPE`.

    Only text is touched: numeric, boolean and date columns, and plain
    numbers written as text, keep their values.
    """
    out = table.copy()
    for col in out.columns:
        values = out[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        hit = _formula_like(values)
        if hit.any():
            values = values.astype(object)
            values[hit] = CSV_ESCAPE + values[hit].astype(str)
            out[col] = values
    header = pd.Series([str(c) for c in out.columns], dtype=object)
    hit = _formula_like(header)
    if hit.any():
        out.columns = np.where(hit, CSV_ESCAPE + header, header).tolist()
    return out


def csv_text(values: pd.Series) -> pd.Series:
    """Undo :func:`neutralise_csv` on text read back from a CSV this module wrote."""
    text = values.astype(object)
    try:
        escaped = text.str.match(_ESCAPED).fillna(False).to_numpy(dtype=bool)
    except AttributeError:  # no text in the column
        return values
    if not escaped.any():
        return values
    out = text.copy()
    out[escaped] = text[escaped].str.slice(len(CSV_ESCAPE))
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    table = neutralise_csv(_tabular(_safe_frame(frame, "csv")))
    plain_header = not any(set(str(c)) & set(',"\r\n') for c in table.columns)
    options = pacsv.WriteOptions(quoting_header="none" if plain_header else "needed")
    pacsv.write_csv(_csv_columns(table), path, options)  # several times faster than pandas


def _csv_columns(table: pd.DataFrame) -> pa.Table:
    """``table`` as the Arrow table the CSV writer takes, one conversion per column.

    Each column is written by Arrow whatever its neighbours (datetimes
    included), so a value is always written as the same text; what a CSV
    cannot hold goes as its text (:func:`_column`).
    """
    arrays = [_arrow(_column(table[col], plain=True)) for col in table.columns]
    return pa.Table.from_arrays(arrays, names=[str(c) for c in table.columns])


def _column(values: pd.Series, *, plain: bool) -> pa.Array | pa.ChunkedArray | pd.Series:
    """``values`` as Arrow, or as their text where Arrow or the format cannot hold them.

    A column Arrow cannot type (numbers mixed with text) always goes as its
    text, the way pandas writes it. A ``plain`` format (CSV, GeoPackage,
    shapefile: one plain value per field) also takes as text what it would
    flatten or garble: lists and records (``[1, 2]``, ``{'a': 1}``) and
    extension types (periods ``2027-01``, intervals ``(0, 1]``); durations
    come as text already (:func:`_durations_as_text`). GeoParquet holds all
    of them as they are.

    Parameters
    ----------
    values
        One column.
    plain
        Whether the format holds only plain values.

    Returns
    -------
    pyarrow.Array or pandas.Series
        The Arrow array of a column the format holds as it is; else the
        column's text, an object Series of ``str`` (``None`` where missing)
        on the index of ``values``.
    """
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return _text_column(_as_text(values))
    kind = array.type
    if plain and pa.types.is_nested(kind):
        # the values as Python lists and dicts: the text Excel's writer gives them too
        listed = [None if v is None else str(v) for v in array.to_pylist()]
        return pd.Series(listed, index=values.index, dtype=object)
    if plain and isinstance(kind, pa.BaseExtensionType):
        return _text_column(_as_text(values))
    return array


def _arrow(column: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array | pa.ChunkedArray:
    """A column of :func:`_column` as Arrow (its text as Arrow strings)."""
    if isinstance(column, pd.Series):
        return pa.array(column, type=pa.string(), from_pandas=True)
    return column


def _as_text(values: pd.Series) -> pd.Series:
    """Each value's text (``str``), missing values kept missing."""
    return values.astype(str).where(values.notna(), None)


def _text_column(text: pd.Series) -> pd.Series:
    """``text`` as an object column: ``str`` values, ``None`` where missing."""
    return text.astype(object).where(text.notna(), None)


def _write_xlsx(layers: Mapping[str, pd.DataFrame], target: Path | io.BytesIO) -> None:
    sheets = _layer_names([_sheet_name(n) for n in layers], _EXCEL_SHEET_NAME)
    with pd.ExcelWriter(
        target,
        engine="xlsxwriter",
        date_format="yyyy-mm-dd",
        engine_kwargs={"options": XLSX_OPTIONS},
    ) as writer:
        for sheet, frame in zip(sheets, layers.values(), strict=True):
            table = _tabular(_safe_frame(frame, "xlsx"), excel=True)
            table.to_excel(writer, sheet_name=sheet, index=False, freeze_panes=(1, 0))
            ws = writer.sheets[sheet]
            ncols = max(len(table.columns), 1)
            ws.autofilter(0, 0, len(table), ncols - 1)
            ws.set_column(0, ncols - 1, 16)


def _sheet_name(name: str) -> str:
    bad = "[]:*?/\\"
    clean = "".join("_" if ch in bad else ch for ch in name).strip("'")[:_EXCEL_SHEET_NAME]
    return clean or "sheet"


def _arrow_safe(frame: pd.DataFrame, *, plain: bool) -> pd.DataFrame:
    """``frame`` with each column the format cannot hold as its text (:func:`_column`)."""
    out = frame
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, gpd.array.GeometryDtype):
            continue
        column = _column(values, plain=plain)
        if isinstance(column, pd.Series):  # its text: taken as it is, not through Arrow again
            if out is frame:
                out = frame.copy()
            out[col] = column
    return out


#: Formats written through Arrow: their dates go as Arrow dates (:func:`_dates_as_date`).
_ARROW_DATES = frozenset({"gpkg", "parquet"})
#: Formats of plain values only (:func:`_column`).
_PLAIN = frozenset({"csv", "gpkg", "shp-zip"})


def _spatial(frame: pd.DataFrame, fmt: str) -> gpd.GeoDataFrame:
    if _geometry_column(frame) is None:
        raise InputError("this export needs geometries; write CSV or XLSX for a plain table")
    safe = _safe_frame(frame, fmt)
    dated = _dates_as_date(_durations_as_text(safe), arrow=fmt in _ARROW_DATES)
    attrs = _arrow_safe(dated, plain=fmt in _PLAIN)
    return gpd.GeoDataFrame(attrs, geometry=safe.geometry.name, crs=safe.crs)


def _write_gpkg(layers: Mapping[str, pd.DataFrame], path: Path) -> None:
    mode = "w"
    for name, frame in zip(_layer_names(list(layers)), layers.values(), strict=True):
        if _geometry_column(frame) is None:
            # an attribute table (no geometry) is a plain GeoPackage table in QGIS
            plain = _dates_as_date(_durations_as_text(_safe_frame(frame, "gpkg")), arrow=True)
            table = gpd.GeoDataFrame(_arrow_safe(plain, plain=True))
            table.to_file(path, layer=name, driver="GPKG", mode=mode, use_arrow=True)
        else:
            spatial = _spatial(frame, "gpkg")
            spatial.to_file(path, layer=name, driver="GPKG", mode=mode, use_arrow=True)
        mode = "a"


def _write_geojson(frame: pd.DataFrame, path: Path) -> None:
    spatial = _spatial(frame, "geojson")
    if spatial.crs is not None:
        spatial = spatial.to_crs(4326)
    for col in spatial.columns:
        if spatial[col].dtype == object and col != spatial.geometry.name:
            spatial[col] = spatial[col].map(
                lambda v: v.isoformat() if hasattr(v, "isoformat") else v
            )
    spatial.to_file(path, driver="GeoJSON")


#: Rows per Parquet row group: the unit a Dask worker reads (ims_geo.distributed).
PARQUET_ROW_GROUP = 100_000


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    _write_table(geoparquet_table(frame), path)


def _write_table(table: pa.Table, path: Path) -> None:
    # GeoParquet 1.1 with the bbox covering column: readers skip row groups by extent
    pq.write_table(table, path, compression="snappy", row_group_size=PARQUET_ROW_GROUP)


def write_geoparquet(
    frame: pd.DataFrame, path: str | Path, *, bounds: np.ndarray, crs: CRS | None
) -> Path:
    """Write a frame whose ``geometry`` column holds 2D ISO WKB as GeoParquet, as :func:`write`.

    For an answer whose geometries were written as WKB by the search
    (:func:`ims_geo.conflicts.find_conflict_rows`): the file is the one
    :func:`write` writes for the same geometries, ``bounds`` their
    envelopes (n, 4), ``crs`` their CRS.
    """
    path = Path(path)
    if format_of(path) != "parquet":
        raise InputError(f"'{path}' is not a .parquet file")
    return write_geoparquet_table(geoparquet_table(frame, bounds=bounds, crs=crs), path)


def write_geoparquet_table(table: pa.Table, path: str | Path) -> Path:
    """A :func:`geoparquet_table` written to ``path`` as :func:`write` writes ``.parquet``
    (row groups, compression; written next to it and moved into place)."""
    path = Path(path)
    with _staged(path) as staged:
        _write_table(table, staged)
    return path


#: Version of the GeoParquet specification the files follow.
GEOPARQUET_VERSION = "1.1.0"
#: Names of shapely's geometry type ids 0..7 (+ 8: the same with heights), as GeoParquet lists them.
_GEOMETRY_TYPES = [
    "Point", "LineString", "LineString", "Polygon", "MultiPoint", "MultiLineString",
    "MultiPolygon", "GeometryCollection",
]  # fmt: skip
_GEOMETRY_TYPES += [f"{name} Z" for name in _GEOMETRY_TYPES]
_BBOX = ("xmin", "ymin", "xmax", "ymax")


def geoparquet_table(
    frame: pd.DataFrame, *, bounds: np.ndarray | None = None, crs: CRS | None = None
) -> pa.Table:
    """``frame`` as the Arrow table of a GeoParquet 1.1 file with the ``bbox`` covering column.

    The table, its schema and its metadata (``geo`` and ``pandas``) are
    those geopandas' ``to_parquet(write_covering_bbox=True,
    schema_version="1.1.0")`` writes for the frame the export makes of
    ``frame`` (safe names, no measures, dates as dates), so any GeoParquet
    reader reads the file as before. It is built in one pass per step: the
    geometries' bounds once for the covering column and the extent, their
    WKB once, dates cast by Arrow, no copy of any column.

    Parameters
    ----------
    frame
        A GeoDataFrame; or, with ``bounds``, a plain frame whose ``geometry``
        column holds the rows' geometries already written as 2D ISO WKB
        (``bytes``, as :mod:`ims_geo.conflicts.wkb` writes them).
    bounds, crs
        The envelopes (n, 4) and the CRS of those WKB geometries (no
        geometry is decoded); without ``bounds``, ``frame``'s own.

    Returns
    -------
    pyarrow.Table
        The columns (safe names), then ``geometry`` (WKB) and ``bbox``.
    """
    geom_col = _geometry_column(frame) if bounds is None else "geometry"
    if geom_col is None:
        raise InputError("this export needs geometries; write CSV or XLSX for a plain table")
    given = _attributes(frame, geom_col)  # copied on write, never here
    names = safe_names(list(given.columns), reserved=RESERVED_NAMES + GEOMETRY_NAMES)
    if "bbox" in names:
        raise InputError(
            "cannot write GeoParquet: the column 'bbox' is the file's own bounding boxes; "
            "rename that column"
        )
    given.columns = names
    attrs = _arrow_safe(_dates_as_date(given, arrow=True), plain=False)
    dated = [
        c
        for c in names
        if isinstance(attrs[c].dtype, pd.ArrowDtype) and attrs[c].dtype != given[c].dtype
    ]
    attrs["geometry"] = None  # an Arrow null column: the WKB takes its place
    table = pa.Table.from_pandas(attrs, preserve_index=False)

    if bounds is None:
        geoms = _without_measures(frame.geometry.to_numpy())
        crs = frame.crs
        wkb = shapely.to_wkb(geoms, flavor="iso")
        bounds = shapely.bounds(geoms)
    else:
        wkb = frame["geometry"].to_numpy()
    field = pa.field(
        "geometry",
        pa.binary(),
        nullable=True,
        metadata={
            "ARROW:extension:name": "geoarrow.wkb",
            "ARROW:extension:metadata": json.dumps({"crs": crs.to_json_dict()}) if crs else "{}",
        },
    )
    values = pa.array(wkb, pa.binary())
    table = table.set_column(table.schema.get_field_index("geometry"), field, values)

    boxes = [pa.array(bounds[:, i], from_pandas=True) for i in range(4)]  # NaN: no box
    table = table.append_column("bbox", pa.StructArray.from_arrays(boxes, names=list(_BBOX)))

    metadata = dict(table.schema.metadata)
    if dated:  # pandas reads the dates back as datetime.date objects, as before
        described = json.loads(metadata[b"pandas"])
        for column in described["columns"]:
            if column["name"] in dated:
                column["numpy_type"] = "object"
        metadata[b"pandas"] = json.dumps(described).encode("utf-8")
    types = _wkb_types(values)
    metadata[b"geo"] = json.dumps(_geo_metadata(types, bounds, crs)).encode("utf-8")
    return table.replace_schema_metadata(metadata)


def _wkb_types(wkb: pa.BinaryArray | pa.ChunkedArray) -> np.ndarray:
    """The geometry types of ISO WKB as in :data:`_GEOMETRY_TYPES` (``-1``: no geometry).

    Read from each value's header (byte order, then the type: 1..7, plus
    1000 with heights), so the geometries are not visited once more.
    """
    if isinstance(wkb, pa.ChunkedArray):  # more than 2 GiB of WKB
        return np.concatenate([np.zeros(0, np.int64)] + [_wkb_types(c) for c in wkb.chunks])
    present = ~np.asarray(wkb.is_null(), dtype=bool)
    if not present.any():
        return np.full(len(wkb), -1, dtype=np.int64)
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32)[wkb.offset : wkb.offset + len(wkb)]
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
    code = wkb_type_codes(data, offsets[present])
    # WKB 1..7 are Point, LineString, Polygon, Multi..., GeometryCollection: ids 0, 1, 3..7
    base = code % 1000
    types = np.full(len(wkb), -1, dtype=np.int64)
    types[present] = np.where(base == 1, 0, np.where(base == 2, 1, base)) + 8 * (code // 1000 == 1)
    return types


def wkb_type_codes(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The type codes (uint32) of the WKB headers at byte positions ``starts`` of ``data``.

    A header is the byte order (1: little endian, 0: big endian) and the
    type code in that order; ``data`` holds at least 5 bytes from each start.
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if not len(starts):
        return np.zeros(0, dtype=np.uint32)
    # the 4 bytes after each position read as one number in either byte order (views of
    # unaligned words, one per byte position: a gather of one value per header)
    words = len(data) - 4
    little = np.ndarray((words,), dtype="<u4", buffer=data, offset=1, strides=(1,))
    big = np.ndarray((words,), dtype=">u4", buffer=data, offset=1, strides=(1,))
    return np.where(data[starts] == 1, little[starts], big[starts]).astype(np.uint32)


def _geo_metadata(types: np.ndarray, bounds: np.ndarray, crs: Any) -> dict[str, Any]:
    """GeoParquet's ``geo`` metadata of the ``geometry`` column (as geopandas writes it).

    ``types`` are the geometries' type ids (:func:`_wkb_types`).
    """
    present = sorted(_GEOMETRY_TYPES[t] for t in np.unique(types) if t >= 0)
    column: dict[str, Any] = {"encoding": "WKB", "crs": None, "geometry_types": present}
    if crs:
        column["crs"] = _without_member_ids(crs.to_json_dict())
    with_extent(column, bounds)
    return {
        "primary_column": "geometry",
        "columns": {"geometry": column},
        "version": GEOPARQUET_VERSION,
        "creator": {"library": "geopandas", "version": gpd.__version__},
    }


def with_extent(column: dict[str, Any], bounds: np.ndarray) -> None:
    """Set the ``bbox`` (extent of the rows of ``bounds``) and ``covering`` of a ``geo`` column.

    ``bounds`` are rows of minx, miny, maxx, maxy (NaN: no geometry); no
    finite extent, no ``bbox``. The keys come in the order geopandas
    writes them: ``bbox``, then ``covering``.
    """
    column.pop("bbox", None)
    column.pop("covering", None)
    with warnings.catch_warnings():  # only missing or empty geometries: no extent
        warnings.filterwarnings("ignore", r"All-NaN slice encountered", RuntimeWarning)
        extent = [
            float(np.nanmin(bounds[:, 0])) if len(bounds) else np.nan,
            float(np.nanmin(bounds[:, 1])) if len(bounds) else np.nan,
            float(np.nanmax(bounds[:, 2])) if len(bounds) else np.nan,
            float(np.nanmax(bounds[:, 3])) if len(bounds) else np.nan,
        ]
    if np.isfinite(extent).all():
        column["bbox"] = extent
    column["covering"] = {"bbox": {name: ["bbox", name] for name in _BBOX}}


def _without_member_ids(crs: dict[str, Any]) -> dict[str, Any]:
    """PROJJSON without the ids of datum ensemble members (older PROJ cannot read them)."""
    for key, value in crs.items():
        if isinstance(value, dict):
            _without_member_ids(value)
        elif key == "members" and isinstance(value, list):
            for member in value:
                member.pop("id", None)
    return crs


def write_parquet_by_org(store: Any, path: str | Path) -> list[Path]:
    """The store's current works as one GeoParquet file per organisation.

    Never holds more than one organisation's works in memory, so a national
    store can be handed to the distributed conflict search
    (:class:`ims_geo.distributed.Works` reads the files in partitions). The
    files are ``<stem>.00000.parquet``, ``<stem>.00001.parquet``... next to
    ``path``, in the order of the organisations' names (numbers, not names,
    in the file names: an organisation's name is never part of a path).

    Parameters
    ----------
    store
        A works store (:class:`ims_geo.store.Store`).
    path
        ``.parquet`` path whose folder and stem name the files.

    Returns
    -------
    list of pathlib.Path
        The files written (an organisation without current works writes none).
    """
    target = Path(path)
    if format_of(target) != "parquet":
        raise InputError(f"cannot write '{path}' per organisation: give a .parquet path")
    versions = store.plan_versions()
    orgs = sorted(set(versions.loc[versions["is_current"], ORG].astype(str)))
    if getattr(store, "database_anonymises", False):
        orgs.append("private")  # others' private works come as anonymous signals
    written: list[Path] = []
    for org in orgs:
        works = store.works(orgs=[org])
        if works.empty:
            continue
        part = target.with_name(f"{target.stem}.{len(written):05d}.parquet")
        write(works, part, layer="works")
        written.append(part)
    return written


#: Shapefile per geometry type: a shapefile holds points OR multipoints OR
#: lines (single or multi) OR polygons (single or multi).
_FAMILIES = {
    "Point": "points",
    "MultiPoint": "multipoints",
    "LineString": "lines",
    "LinearRing": "lines",
    "MultiLineString": "lines",
    "Polygon": "polygons",
    "MultiPolygon": "polygons",
}
_SHAPE_TYPES = {
    "points": "Point",
    "multipoints": "MultiPoint",
    "lines": "MultiLineString",
    "polygons": "MultiPolygon",
}


def _write_shp_zip(layers: Mapping[str, pd.DataFrame], path: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        stems: list[str] = []
        parts: list[tuple[gpd.GeoDataFrame, str]] = []
        for name, frame in layers.items():
            spatial = _spatial(frame, "shp-zip")
            geoms = spatial.geometry
            missing = (geoms.isna() | geoms.is_empty).to_numpy()
            families = geoms.geom_type.map(_FAMILIES).where(~missing, None)
            if families[~missing].isna().any():
                raise InputError(
                    f"layer '{name}' has geometry collections, which a shapefile cannot hold; "
                    "export it as GeoPackage instead"
                )
            present = sorted(families.dropna().unique()) or ["points"]
            # a row without geometry is a null shape: it goes with the first family
            families = families.fillna(present[0])
            for family in present:
                stems.append(name if len(present) == 1 else f"{name}_{family}")
                parts.append((spatial[(families == family).to_numpy()], family))
        for stem, (part, family) in zip(_layer_names(stems), parts, strict=True):
            target = Path(tmp) / f"{stem}.shp"
            has_z = bool(shapely.has_z(part.geometry.to_numpy()).any())
            shape = _SHAPE_TYPES[family] + (" Z" if has_z else "")
            part.to_file(
                target,
                driver="ESRI Shapefile",
                encoding="UTF-8",
                use_arrow=True,
                geometry_type=shape,
            )
            for member in sorted(Path(tmp).glob(f"{glob.escape(stem)}.*")):
                zf.write(member, member.name)


def write(frame: pd.DataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Write one frame to ``path``; the format follows the suffix.

    Parameters
    ----------
    frame
        A GeoDataFrame (works, conflicts...) or a plain DataFrame (CSV/XLSX/GPKG).
    path
        Target file; ``.csv``, ``.xlsx``, ``.geojson``, ``.gpkg``, ``.zip``
        (shapefiles) or ``.parquet`` (GeoParquet).
    layer
        Layer or sheet name; defaults to the file's stem.
    """
    path = Path(path)
    return write_layers({layer or path.stem: frame}, path)


def write_layers(layers: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write several frames as layers of one ``.gpkg`` / ``.zip`` or sheets of one ``.xlsx``.

    A failed write leaves no half-written file behind: the file is written
    next to the target and moved into place at the end.
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt in ("csv", "geojson", "parquet") and len(layers) != 1:
        raise InputError(f"cannot write {len(layers)} layers to '{path}'; use .gpkg or .xlsx")
    with _staged(path) as staged:
        if fmt == "csv":
            _write_csv(next(iter(layers.values())), staged)
        elif fmt == "xlsx":
            _write_xlsx(layers, staged)
        elif fmt == "geojson":
            _write_geojson(next(iter(layers.values())), staged)
        elif fmt == "gpkg":
            _write_gpkg(layers, staged)
        elif fmt == "parquet":
            _write_parquet(next(iter(layers.values())), staged)
        else:
            _write_shp_zip(layers, staged)
    return path


@contextmanager
def _staged(path: Path) -> Iterator[Path]:
    """A file next to ``path`` to write, moved into place when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        yield staged
        staged.replace(path)


def to_bytes(
    frame: pd.DataFrame | Mapping[str, pd.DataFrame], fmt: str, *, layer: str = "data"
) -> bytes:
    """The bytes of an export, for a download button.

    ``fmt`` is a format name (``csv``, ``xlsx``, ``geojson``, ``gpkg``,
    ``shp-zip``, ``parquet``) or a suffix; ``frame`` may be a mapping of layers.
    """
    fmt = FORMATS.get(fmt if fmt.startswith(".") else f".{fmt}", fmt)
    if fmt not in SUFFIXES:
        raise InputError(f"unknown export format '{fmt}'; use one of {', '.join(SUFFIXES)}")
    layers = frame if isinstance(frame, Mapping) else {layer: frame}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}{SUFFIXES[fmt]}"
        write_layers(layers, path)
        return path.read_bytes()


#: Conflict columns measured in metres, written to the centimetre.
CONFLICT_METRES: tuple[str, ...] = ("distance_m", "overlap_m")


def conflict_table(conflicts: pd.DataFrame, works: pd.DataFrame | None = None) -> pd.DataFrame:
    """Conflicts as they are exported: both works' titles, metres to the centimetre.

    Parameters
    ----------
    conflicts
        From :func:`ims_geo.conflicts.find_conflicts` (both works' periods
        are already in it).
    works
        The works the conflicts were found in: ``title_a`` / ``title_b`` are
        taken from them (empty for a work without a title, e.g. another
        organisation's private work).

    Returns
    -------
    A copy of ``conflicts`` with ``title_a`` after ``org_a`` and ``title_b``
    after ``org_b``, and ``distance_m`` / ``overlap_m`` rounded to 2 decimals.
    """
    # pandas copies on write: the rounded columns are new, no other column is copied
    out = conflicts.copy(deep=False)
    for col in CONFLICT_METRES:
        if col in out.columns:
            out[col] = out[col].round(2)
    if works is None or TITLE not in works.columns:
        return out
    sides = [[out[f"org_{side}"], out[f"work_id_{side}"]] for side in ("a", "b")]
    rows = first_rows([works[ORG], works[WORK_ID]], sides)
    titles = _titles(works[TITLE])
    for side, at_works in zip(("a", "b"), rows, strict=True):
        found = titles.array.take(at_works, allow_fill=True)
        name = f"title_{side}"
        if name in out.columns:
            out = out.drop(columns=name)
        at = out.columns.get_loc(f"org_{side}") + 1 if f"org_{side}" in out.columns else 0
        if found.dtype != _TEXT or found.isna().all():
            found = np.asarray(found)  # the column gets the type its values give
        out.insert(int(at), name, found)
    return out


#: The dtype pandas gives a column of text.
_TEXT = pd.Series(np.array(["text"], dtype=object)).dtype


def _titles(titles: pd.Series) -> pd.Series:
    """The works' titles, text as :data:`_TEXT` (Arrow): no Python string is made per pair."""
    if titles.dtype == object:
        return pd.Series(titles.to_numpy())  # typed as a column of these values is
    return titles


def first_rows(
    keys: Sequence[pd.Series | np.ndarray], sought: Sequence[Sequence[pd.Series | np.ndarray]]
) -> list[np.ndarray]:
    """Position of the first row with each sought key, ``-1`` where no row has it.

    The same as a left merge on the key columns after dropping duplicate
    keys (first kept), missing values matching missing values, but by
    integer codes: each key column is factorised once over the rows and
    every sought key, the columns' codes combined into one integer per key
    and factorised again; codes in the order of first appearance make the
    rows' keys the smallest codes, so a sought key's code is a position in
    the rows' first occurrences.

    Parameters
    ----------
    keys
        The rows' key columns, equally long.
    sought
        Sets of key columns to look up, each with as many columns as ``keys``.

    Returns
    -------
    list of numpy.ndarray
        One int64 array of positions in the rows per set in ``sought``.
    """
    sizes = [len(keys[0])] + [len(columns[0]) for columns in sought]
    code = np.zeros(sum(sizes), dtype=np.int64)
    for i, column in enumerate(keys):
        values = pd.concat(
            [pd.Series(column, copy=False)] + [pd.Series(c[i], copy=False) for c in sought],
            ignore_index=True,
        )
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        code = code * max(len(uniques), 1) + codes
    code, _ = pd.factorize(code)
    mine = code[: sizes[0]]
    seen = np.maximum.accumulate(np.concatenate(([-1], mine[:-1]))) if len(mine) else mine
    # codes in order of first appearance: the first rows of codes 0, 1, 2...
    first = np.append(np.flatnonzero(mine > seen), -1)
    out = []
    start = sizes[0]
    for size in sizes[1:]:
        part = code[start : start + size]
        out.append(first[np.minimum(part, len(first) - 1)])  # the last one: -1
        start += size
    return out
