"""Write works, conflicts and programmes to the files planners open.

The format is decided by the file suffix, in one place (:data:`FORMATS`):

``.csv``
    UTF-8, comma separated, header row; dates ISO ``YYYY-MM-DD``; geometry
    as WKT in the last column (QGIS "Delimited text" reads it back). A text
    cell or header that a spreadsheet would run as a formula (it begins with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
    leading single quote, as OWASP recommends against CSV injection; plain
    numbers (``-3.5``) are left alone. :func:`csv_text` undoes it exactly
    (a cell that already began with quotes before such a character gets one
    more), and ``ims-geo import`` applies it to every CSV it reads.
``.xlsx``
    one sheet per layer, frozen header row, autofilter, real Excel dates,
    geometry as WKT (a geometry longer than an Excel cell holds is written
    as its centroid, flagged in ``geometry_note``). Text is always written
    as text: never a formula or a link, whatever it begins with.
``.geojson``
    RFC 7946: EPSG:4326 longitude/latitude.
``.gpkg``
    GeoPackage, one layer per frame, real DATE columns, in the working CRS.
``.zip``
    zipped shapefile(s) with a ``.cpg`` (UTF-8); one shapefile per geometry
    family because a shapefile holds a single geometry type.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from ims_geo.errors import InputError

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shp-zip",
}
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "shp-zip": "application/zip",
}
SUFFIXES: dict[str, str] = {
    "csv": ".csv",
    "xlsx": ".xlsx",
    "geojson": ".geojson",
    "gpkg": ".gpkg",
    "shp-zip": ".zip",
}

_EXCEL_CELL_LIMIT = 32_767
_WKT_DECIMALS = 3

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


def _dates_as_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime columns as ``datetime.date`` where every value is at midnight."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
            out[col] = series
        if pd.api.types.is_datetime64_any_dtype(series):
            valid = series.dropna()
            if (valid == valid.dt.normalize()).all():
                out[col] = pd.Series(series.dt.date, index=out.index, dtype=object).where(
                    series.notna(), None
                )
    return out


def _geometry_column(frame: pd.DataFrame) -> str | None:
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        return frame.geometry.name
    return None


def _tabular(frame: pd.DataFrame, *, excel: bool = False) -> pd.DataFrame:
    """A plain table: dates as dates, geometry as WKT in the last column."""
    geom_col = _geometry_column(frame)
    out = _dates_as_date(pd.DataFrame(frame.drop(columns=geom_col) if geom_col else frame))
    if geom_col:
        geoms = frame.geometry.to_numpy()
        wkt = shapely.to_wkt(geoms, rounding_precision=_WKT_DECIMALS, trim=True)
        if excel:
            lengths = np.fromiter((len(w) if w else 0 for w in wkt), dtype=np.int64, count=len(wkt))
            too_long = lengths > _EXCEL_CELL_LIMIT
            if too_long.any():
                wkt = wkt.copy()
                wkt[too_long] = shapely.to_wkt(
                    shapely.centroid(geoms[too_long]), rounding_precision=_WKT_DECIMALS
                )
                out["geometry_note"] = np.where(
                    too_long, "centroid: geometry too long for Excel", ""
                )
        out["geometry"] = wkt
    return out


def _formula_like(values: pd.Series) -> np.ndarray:
    """Text cells a spreadsheet would evaluate (numbers and non-text cells are not)."""
    try:
        # the .str accessor skips non-text cells of a mixed column (they give NA)
        starts = values.str.match(_FORMULA_START)
    except AttributeError:  # no text at all (numbers or dates in an object column)
        return np.zeros(len(values), dtype=bool)
    starts = starts.fillna(False).to_numpy(dtype=bool)
    if not starts.any():
        return starts
    numbers = values.str.match(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
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
    table = neutralise_csv(_tabular(frame))
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed-type user columns: pandas writes anything, only slower
        table.to_csv(path, index=False, encoding="utf-8", date_format="%Y-%m-%d")
        return
    plain_header = not any(set(str(c)) & set(',"\r\n') for c in table.columns)
    options = pacsv.WriteOptions(quoting_header="none" if plain_header else "needed")
    pacsv.write_csv(arrow, path, options)  # several times faster than pandas


def _write_xlsx(layers: Mapping[str, pd.DataFrame], target: Path | io.BytesIO) -> None:
    with pd.ExcelWriter(
        target,
        engine="xlsxwriter",
        date_format="yyyy-mm-dd",
        engine_kwargs={"options": XLSX_OPTIONS},
    ) as writer:
        for name, frame in layers.items():
            sheet = _sheet_name(name)
            table = _tabular(frame, excel=True)
            table.to_excel(writer, sheet_name=sheet, index=False, freeze_panes=(1, 0))
            ws = writer.sheets[sheet]
            ncols = max(len(table.columns), 1)
            ws.autofilter(0, 0, len(table), ncols - 1)
            ws.set_column(0, ncols - 1, 16)


def _sheet_name(name: str) -> str:
    bad = "[]:*?/\\"
    clean = "".join("_" if ch in bad else ch for ch in name)[:31]
    return clean or "sheet"


def _spatial(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    if _geometry_column(frame) is None:
        raise InputError("this export needs geometries; write CSV or XLSX for a plain table")
    return gpd.GeoDataFrame(_dates_as_date(frame), geometry=frame.geometry.name, crs=frame.crs)


def _write_gpkg(layers: Mapping[str, pd.DataFrame], path: Path) -> None:
    mode = "w"
    for name, frame in layers.items():
        geom_col = _geometry_column(frame)
        if geom_col is None:
            # an attribute table (no geometry) is a plain GeoPackage table in QGIS
            table = gpd.GeoDataFrame(_dates_as_date(frame))
            table.to_file(path, layer=name, driver="GPKG", mode=mode, use_arrow=True)
        else:
            _spatial(frame).to_file(path, layer=name, driver="GPKG", mode=mode, use_arrow=True)
        mode = "a"


def _write_geojson(frame: pd.DataFrame, path: Path) -> None:
    spatial = _spatial(frame)
    if spatial.crs is not None:
        spatial = spatial.to_crs(4326)
    for col in spatial.columns:
        if spatial[col].dtype == object and col != spatial.geometry.name:
            spatial[col] = spatial[col].map(
                lambda v: v.isoformat() if hasattr(v, "isoformat") else v
            )
    spatial.to_file(path, driver="GeoJSON")


_FAMILIES = {
    "Point": "points",
    "MultiPoint": "points",
    "LineString": "lines",
    "MultiLineString": "lines",
    "Polygon": "polygons",
    "MultiPolygon": "polygons",
}


def _write_shp_zip(layers: Mapping[str, pd.DataFrame], path: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for name, frame in layers.items():
            spatial = _spatial(frame)
            families = spatial.geom_type.map(_FAMILIES).fillna("other")
            for family in sorted(families.unique()):
                part = spatial[families == family]
                stem = name if families.nunique() == 1 else f"{name}_{family}"
                if family == "other":
                    raise InputError(
                        f"layer '{name}' has geometry collections, which a shapefile cannot hold; "
                        "export it as GeoPackage instead"
                    )
                target = Path(tmp) / f"{stem}.shp"
                part.to_file(target, driver="ESRI Shapefile", encoding="UTF-8", use_arrow=True)
                for member in sorted(Path(tmp).glob(f"{stem}.*")):
                    zf.write(member, member.name)


def write(frame: pd.DataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Write one frame to ``path``; the format follows the suffix.

    Parameters
    ----------
    frame
        A GeoDataFrame (works, conflicts...) or a plain DataFrame (CSV/XLSX/GPKG).
    path
        Target file; ``.csv``, ``.xlsx``, ``.geojson``, ``.gpkg`` or ``.zip``.
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
    if fmt in ("csv", "geojson") and len(layers) != 1:
        raise InputError(f"cannot write {len(layers)} layers to '{path}'; use .gpkg or .xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        if fmt == "csv":
            _write_csv(next(iter(layers.values())), staged)
        elif fmt == "xlsx":
            _write_xlsx(layers, staged)
        elif fmt == "geojson":
            _write_geojson(next(iter(layers.values())), staged)
        elif fmt == "gpkg":
            _write_gpkg(layers, staged)
        else:
            _write_shp_zip(layers, staged)
        staged.replace(path)
    return path


def to_bytes(
    frame: pd.DataFrame | Mapping[str, pd.DataFrame], fmt: str, *, layer: str = "data"
) -> bytes:
    """The bytes of an export, for a download button.

    ``fmt`` is a format name (``csv``, ``xlsx``, ``geojson``, ``gpkg``,
    ``shp-zip``) or a suffix; ``frame`` may be a mapping of layers.
    """
    fmt = FORMATS.get(fmt if fmt.startswith(".") else f".{fmt}", fmt)
    if fmt not in SUFFIXES:
        raise InputError(f"unknown export format '{fmt}'; use one of {', '.join(SUFFIXES)}")
    layers = frame if isinstance(frame, Mapping) else {layer: frame}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}{SUFFIXES[fmt]}"
        write_layers(layers, path)
        return path.read_bytes()
