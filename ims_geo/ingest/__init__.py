"""Reading organisations' works plans from the files they upload.

:func:`read_works` reads one file, :func:`read_many` several files into ONE
common metric working CRS. Both map the columns onto the canonical works
columns (names, aliases and an optional user :class:`Mapping`), validate
every row with :func:`ims_geo.schema.validate` and return an
:class:`IngestResult` with the valid works, the rejected rows (with their
reason) and a text report.

Formats: zipped shapefile (.zip, also with the shapefile in a folder of the
archive), .shp with its sibling files, GeoPackage, GeoJSON, FlatGeobuf, GML, KML,
GeoParquet 1.0/1.1 (WKB or GeoArrow geometries; Parquet without ``geo`` metadata
with a WKB ``geometry`` column, in lon/lat unless a CRS is given, as a CSV)
and CSV with a WKT ``geometry`` column (or x/y, lon/lat columns for points).
Uploads are checked before they are read (size, content, zip paths and
expansion; see :class:`Limits`).

Examples
--------
>>> from ims_geo.ingest import read_works
>>> result = read_works("plan_2027.zip", org="Waterbedrijf")  # doctest: +SKIP
>>> print(result.report())  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from ims_geo import sanity, schema
from ims_geo.crs import check_metric, extreme_points, working_crs
from ims_geo.errors import HostileInputError, ImsGeoError, InputError, MissingCRSError
from ims_geo.ingest import _sources, _tables, _worker
from ims_geo.ingest._dates import kml_time_span_problems
from ims_geo.ingest._mapping import Mapping, load_mapping
from ims_geo.ingest._mapping import apply as _apply_mapping

__all__ = [
    "IngestResult",
    "Limits",
    "FileReport",
    "Mapping",
    "list_layers",
    "load_mapping",
    "read_many",
    "read_works",
]

#: CRS of CSV geometries when neither the file nor the caller says otherwise.
CSV_DEFAULT_CRS = "EPSG:4326"
ENGINES = ("pyogrio", "fiona")
#: The file types every upload of the app accepts (plans, progress reports), as
#: Streamlit's ``file_uploader(type=...)`` takes them: the formats the reader reads.
UPLOAD_TYPES: list[str] = [suffix.lstrip(".") for suffix in _sources.FORMATS]


#: Prefix of the environment variables that set :class:`Limits` (``IMS_GEO_MAX_ROWS``...).
LIMITS_ENV = "IMS_GEO_"
_SIZE_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _env_limit(key: str, default: float) -> Any:
    """The default of a :class:`Limits` field, or the environment's value for it."""

    def factory() -> float:
        text = os.environ.get(LIMITS_ENV + key.upper(), "").strip()
        return parse_limit(key, text) if text else default

    return field(default_factory=factory)


def parse_limit(key: str, text: str) -> float:
    """A limit's value from text: a number, ``inf``, or bytes with K/M/G/T (``4G``)."""
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    factor = _SIZE_UNITS.get(raw[-1:], 1) if key.endswith("_bytes") else 1
    try:
        value = float(raw[:-1] if factor != 1 else raw) * factor
    except ValueError:
        raise InputError(
            f"limit {key}={text!r} is not a number; give e.g. {key}=1000"
            + (" or 2G" if key.endswith("_bytes") else "")
        ) from None
    return int(value) if value.is_integer() else value


class _Growing(float):
    """The default :attr:`Limits.max_memory_bytes`: a larger file gets more (see there)."""


#: Bytes of reader address space per byte of file, per format, on top of the default
#: :attr:`Limits.max_memory_bytes`: the growth measured from 100,000 to 1,000,000 works
#: (benchmarks/generate.py; README, Limits) with a quarter more for other data. A format
#: not measured gets the largest (a compressed file expands the most).
MEMORY_PER_FILE_BYTE: dict[str, float] = {".gpkg": 5, ".fgb": 4, ".shp": 2, ".parquet": 17}
_MEMORY_PER_OTHER_BYTE = max(MEMORY_PER_FILE_BYTE.values())


@dataclass(frozen=True)
class Limits:
    """Safety limits for reading files; anything beyond is refused.

    Every field can also be set by an environment variable ``IMS_GEO_`` +
    its name in capitals (``IMS_GEO_MAX_MEMORY_BYTES=4G``), read when the
    Limits are made; on the command line with ``--limit name=value``.

    Attributes
    ----------
    max_upload_bytes
        Size of the uploaded file.
    max_expanded_bytes
        Total expanded size of a zip archive's members, or of a Parquet
        file's column data (uncompressed, as its footer declares).
    max_members
        Number of members of a zip archive.
    max_ratio
        Expanded / packed size of each zip member and of the whole archive,
        of each Parquet column chunk and of the whole file (zip bombs expand
        thousands of times; real plans 2 to 20 times).
    max_text_chars
        Characters of one cell; a longer text rejects its row.
    max_rows
        Features (rows) of one file.
    max_vertices
        Coordinates of one geometry; more rejects its row.
    max_geometry_depth
        Nesting of one geometry (collections in collections); deeper rejects its row.
    max_memory_bytes
        Address space of the process that parses the file. Unless set, it
        grows with the file: 3 GiB plus :data:`MEMORY_PER_FILE_BYTE` times
        the size of each file read, up to three quarters of the machine's
        memory (:meth:`memory_for`); a set value is the limit for any file.
    max_cpu_seconds
        CPU time of the process that parses the file.
    max_read_seconds
        Wall-clock time to read and check one file (or the files of one call).
    """

    max_upload_bytes: float = _env_limit("max_upload_bytes", 200 * 2**20)
    max_expanded_bytes: float = _env_limit("max_expanded_bytes", 500 * 2**20)
    max_members: float = _env_limit("max_members", 2000)
    max_ratio: float = _env_limit("max_ratio", 200)
    max_text_chars: float = _env_limit("max_text_chars", 100_000)
    max_rows: float = _env_limit("max_rows", 2_000_000)
    max_vertices: float = _env_limit("max_vertices", 250_000)
    max_geometry_depth: float = _env_limit("max_geometry_depth", 8)
    max_memory_bytes: float = _env_limit("max_memory_bytes", _Growing(3 * 2**30))
    max_cpu_seconds: float = _env_limit("max_cpu_seconds", 300)
    max_read_seconds: float = _env_limit("max_read_seconds", 300)

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if not isinstance(value, int | float) or value != value or value <= 0:
                raise InputError(f"Limits.{key} must be a positive number, not {value!r}")

    def memory_for(self, paths: Sequence[Path]) -> _worker.Memory:
        """The reader's address-space limit for reading the files ``paths``.

        Parameters
        ----------
        paths
            The files on disk (a shapefile's ``.shp`` counts its parts).

        Returns
        -------
        _worker.Memory
            :attr:`max_memory_bytes` when it was set (or nothing larger is
            needed); else grown with the files' sizes, at most
            :func:`_worker.machine_cap`.
        """
        least = self.max_memory_bytes
        if not isinstance(least, _Growing):
            return _worker.Memory(least)
        sizes = [(p.suffix.lower(), _file_bytes(p)) for p in paths]
        grown = least + sum(
            MEMORY_PER_FILE_BYTE.get(s, _MEMORY_PER_OTHER_BYTE) * b for s, b in sizes
        )
        total = sum(b for _, b in sizes)
        cap = _worker.machine_cap()
        if grown <= least:
            return _worker.Memory(least)
        if grown <= cap:
            return _worker.Memory(grown, file_bytes=total)
        if cap <= least:
            return _worker.Memory(least)
        return _worker.Memory(cap, file_bytes=total, machine_bytes=_worker.machine_memory())

    @classmethod
    def for_local_files(cls, **changes: float) -> Limits:
        """Limits for files on the user's own disk: larger sizes, the same safety checks."""
        defaults = {"max_upload_bytes": 8 * 2**30, "max_expanded_bytes": 16 * 2**30}
        own = {k: v for k, v in defaults.items() if LIMITS_ENV + k.upper() not in os.environ}
        return replace(cls(), **{**own, **changes})


@dataclass
class FileReport:
    """Counts of one input file of an import."""

    source: str
    layer: str | None
    accepted: int
    repaired: int
    rejected: int


@dataclass
class IngestResult:
    """The outcome of reading one or several works files.

    Attributes
    ----------
    works
        Valid works in canonical columns and dtypes, in the working CRS.
    rejected
        Rejected rows: the row's own (mapped) columns plus ``reason``,
        ``source_row`` (1-based) and ``source_file``.
    warnings
        Things the user should know (repaired geometries, guessed encodings...).
    repaired
        Number of accepted works whose geometry was repaired.
    source
        The file name(s) read.
    layer
        The layer read, when the file has layers.
    crs
        The working CRS of ``works`` and ``rejected``.
    source_crs
        The CRS the file declares, or the one given for a file without
        one; for several files, the first file's. The works were converted
        from it to ``crs``.
    files
        Counts per input file.
    columns
        Which of the file's columns each canonical column was read from
        (by name, alias or mapping); for several files, the first file's.
    source_columns
        The attribute columns of the (first) file as it was read.
    """

    works: gpd.GeoDataFrame
    rejected: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    repaired: int = 0
    source: str = ""
    layer: str | None = None
    crs: CRS | None = None
    source_crs: CRS | None = None
    files: list[FileReport] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    source_columns: list[str] = field(default_factory=list)

    def reasons(self) -> pd.DataFrame:
        """Rejected rows counted per kind of problem (a row may have several).

        Returns
        -------
        DataFrame
            ``problem``, ``rows`` and ``examples`` (up to three offending values).
        """
        if self.rejected.empty or schema.REASON not in self.rejected:
            return pd.DataFrame({"problem": [], "rows": [], "examples": []})
        problems = self.rejected[schema.REASON].astype("string").str.split("; ").explode().dropna()
        kind = (
            problems.str.replace(r" '[^']*'", "", regex=True)
            .str.replace(r"\s+", " ", regex=True)
            .str.strip()
        )
        value = problems.str.extract(r"'([^']*)'", expand=False)
        table = pd.DataFrame({"problem": kind.to_numpy(), "value": value.to_numpy()})
        grouped = table.groupby("problem", sort=False)
        out = grouped.size().rename("rows").reset_index()
        examples = grouped["value"].agg(lambda v: list(dict.fromkeys(v.dropna()))[:3])
        out["examples"] = out["problem"].map(examples)
        return out.sort_values(["rows", "problem"], ascending=[False, True], ignore_index=True)

    def report(self) -> str:
        """The validation report: accepted, repaired, rejected by reason, warnings."""
        where = f" (layer {self.layer})" if self.layer and len(self.files) <= 1 else ""
        crs = f" -> {self.crs.to_string()}" if self.crs is not None else ""
        lines = [f"Import of {self.source}{where}{crs}"]
        lines.append(f"  accepted: {len(self.works)}")
        lines.append(f"  repaired: {self.repaired}")
        lines.append(f"  rejected: {len(self.rejected)}")
        for row in self.reasons().itertuples(index=False):
            examples = ", ".join(repr(_short(e)) for e in row.examples)
            suffix = f" (e.g. {examples})" if examples else ""
            lines.append(f"    {row.problem}: {row.rows}{suffix}")
        if len(self.files) > 1:
            lines.append("  per file:")
            for f in self.files:
                layer = f" (layer {f.layer})" if f.layer else ""
                lines.append(
                    f"    {f.source}{layer}: accepted {f.accepted}, repaired {f.repaired}, "
                    f"rejected {f.rejected}"
                )
        if self.warnings:
            lines.append("  warnings:")
            lines.extend(f"    - {w}" for w in self.warnings)
        return "\n".join(lines)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- public functions -----------------------------------------------------------


def list_layers(source: Any, *, name: str | None = None, limits: Limits | None = None) -> list[str]:
    """The layers of a GeoPackage, of a zip with several files, or the one layer of a file.

    Parameters
    ----------
    source
        A path, or the uploaded bytes / file-like object.
    name
        The uploaded file's name (needed for bytes; decides the format).
    limits
        Safety limits (default: :class:`Limits` from the environment).

    Returns
    -------
    list of str
        Layer names to pass as ``layer=`` to :func:`read_works`. For a zip
        with several shapefiles these are the shapefiles' names (with their
        folder when two share a name).
    """
    limits = limits or Limits()
    upload = _sources.open_source(source, name, limits.max_upload_bytes)
    with _sources.local_path(upload) as path:
        local = _sources.Upload(upload.name, upload.suffix, path=path)
        found: list[str] = _isolated(_layers_inside, (local, limits), upload.name, limits, [path])
        return found


def _layers_inside(upload: _sources.Upload, limits: Limits) -> list[str]:
    assert upload.path is not None
    try:
        return _sources.layers(upload.path, upload, limits)
    except ImsGeoError:
        raise
    except Exception as exc:  # any other failure is a refusal of the file
        raise _worker.unreadable(upload.name, exc) from exc


def _file_bytes(path: Path) -> int:
    """The size of the file ``path``; of a shapefile, of all its parts."""
    if path.suffix.lower() != ".shp":
        return path.stat().st_size
    return sum(part.stat().st_size for part in path.parent.glob(glob.escape(path.stem) + ".*"))


def _isolated(
    func: Any, args: tuple[Any, ...], name: str, limits: Limits, paths: Sequence[Path] = ()
) -> Any:
    """``func(*args)`` in the limited reader; its memory limit grown for the files ``paths``."""
    return _worker.run(
        func,
        args,
        name=name,
        memory=limits.memory_for(paths),
        cpu=limits.max_cpu_seconds,
        wall=limits.max_read_seconds,
    )


def read_works(
    source: Any,
    *,
    name: str | None = None,
    org: str | None = None,
    layer: str | None = None,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    crs: Any = None,
    encoding: str | None = None,
    target_crs: Any = None,
    engine: str = "pyogrio",
    limits: Limits | None = None,
) -> IngestResult:
    """Read and validate one works file.

    Parameters
    ----------
    source
        A path, or the uploaded bytes / file-like object (then ``name``).
    name
        The uploaded file's name; its extension decides the format.
    org
        Organisation of every work in the file (fills a missing ``org``).
    layer
        Layer of a GeoPackage or of a zip with several shapefiles.
    mapping
        A :class:`Mapping` or the path of a mapping file (TOML).
    crs
        CRS of a file that carries none (a shapefile without .prj, a CSV
        without ``SRID=``). A file's own CRS is only overridden when PROJ
        cannot convert it (a local engineering or site grid).
    encoding
        Text encoding of the attributes; default: the .cpg file, else
        UTF-8 when the text is valid UTF-8, else Windows-1252.
    target_crs
        The working CRS to return the works in (metric; never EPSG:3857);
        default: env ``IMS_GEO_CRS``, else the national grid or UTM zone
        of the data.
    engine
        ``"pyogrio"`` (default) or ``"fiona"``.
    limits
        Safety limits (default: :class:`Limits`, with the environment's values).
        The file is parsed in a separate process under the memory, CPU and
        time limits, so that no file can crash or stall the caller.

    Returns
    -------
    IngestResult

    Raises
    ------
    InputError
        Unsupported or unreadable file, unknown layer, mapping that does
        not fit the file.
    MissingCRSError
        The file has no CRS and none was given.
    HostileInputError
        The upload breaks a :class:`Limits` limit or holds unsafe paths.
    ReadLimitError
        Reading crashed, or ran out of memory or time (the file is named).
    """
    return _read([(source, name)], **_options(locals()))


def read_many(
    sources: Iterable[Any],
    *,
    org: str | Sequence[str | None] | None = None,
    layer: str | None = None,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    crs: Any = None,
    encoding: str | None = None,
    target_crs: Any = None,
    engine: str = "pyogrio",
    limits: Limits | None = None,
) -> IngestResult:
    """Read and validate several works files into ONE working CRS.

    The working CRS is chosen over all inputs together (see
    :func:`ims_geo.crs.working_crs`). A (``org``, ``work_id``) key that
    occurs in more than one file rejects every row of that key.

    Parameters
    ----------
    sources
        Paths, file-like objects with a ``name`` (e.g. uploaded files), or
        ``(name, bytes)`` pairs.
    org
        Organisation for every file, or one per file (a sequence as long as
        ``sources``, None where the file has its own ``org`` column).
    layer, mapping, crs, encoding, target_crs, engine, limits
        As for :func:`read_works`, applied to every file.

    Returns
    -------
    IngestResult
    """
    items: list[tuple[Any, str | None]] = []
    for source in sources:
        if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], str):
            items.append((source[1], source[0]))
        else:
            items.append((source, None))
    if not items:
        raise InputError("no input files given")
    return _read(items, **_options(locals()))


def _options(given: dict[str, Any]) -> dict[str, Any]:
    keys = ("org", "layer", "mapping", "crs", "encoding", "target_crs", "engine", "limits")
    return {k: given[k] for k in keys}


# --- the pipeline -----------------------------------------------------------------


@dataclass
class _Loaded:
    name: str
    layer: str | None
    frame: gpd.GeoDataFrame
    problems: list[tuple[str, np.ndarray, Any]]
    warnings: list[str]
    columns: dict[str, list[str]]
    source_columns: list[str]
    #: Columns of ``frame`` read from the file's DATE fields (as ``datetime64``).
    date_columns: list[str] = field(default_factory=list)


@dataclass
class _Part:
    loaded: _Loaded
    valid: gpd.GeoDataFrame
    rejected: gpd.GeoDataFrame
    valid_rows: np.ndarray
    repaired: int


def _read(
    items: Sequence[tuple[Any, str | None]],
    *,
    org: str | Sequence[str | None] | None,
    layer: str | None,
    mapping: Mapping | str | os.PathLike[str] | None,
    crs: Any,
    encoding: str | None,
    target_crs: Any,
    engine: str,
    limits: Limits | None,
) -> IngestResult:
    """Check the options here; read the files in a limited worker process."""
    limits = limits or Limits()
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    given_crs = _user_crs(crs, "crs")
    wanted = _user_crs(target_crs, "target_crs")
    if wanted is not None:
        wanted = check_metric(wanted)
    orgs = [org] * len(items) if org is None or isinstance(org, str) else list(org)
    if len(orgs) != len(items):
        raise InputError(
            f"{len(orgs)} organisations given for {len(items)} files; "
            "give one organisation for all files or one per file, in the same order"
        )
    uploads = [_sources.open_source(s, n, limits.max_upload_bytes) for s, n in items]
    options = _Options(layer, mapping, given_crs, wanted, encoding, engine, limits)
    with contextlib.ExitStack() as stack:
        local = [
            _sources.Upload(u.name, u.suffix, path=stack.enter_context(_sources.local_path(u)))
            for u in uploads
        ]
        names = ", ".join(u.name for u in uploads)
        paths = [u.path for u in local if u.path is not None]
        packed: IngestResult = _isolated(_read_inside, (local, orgs, options), names, limits, paths)
    return _unpacked(packed)


class _Packed:
    """A GeoDataFrame as attributes + one WKB array: pickles ~20x faster than geometries."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.name = frame.geometry.name
        self.crs = frame.crs
        self.attributes = pd.DataFrame(frame.drop(columns=[self.name]))
        self.columns = list(frame.columns)
        self.wkb = shapely.to_wkb(frame.geometry.to_numpy())

    def unpack(self) -> gpd.GeoDataFrame:
        geometry = gpd.GeoSeries(
            shapely.from_wkb(self.wkb), index=self.attributes.index, crs=self.crs
        )
        frame = gpd.GeoDataFrame(self.attributes, geometry=geometry.rename(self.name))
        return frame[self.columns]


def _packed(result: IngestResult) -> IngestResult:
    result.works = _Packed(result.works)  # type: ignore[assignment]
    result.rejected = _Packed(result.rejected)  # type: ignore[assignment]
    return result


def _unpacked(result: IngestResult) -> IngestResult:
    for key in ("works", "rejected"):
        value = getattr(result, key)
        if isinstance(value, _Packed):
            setattr(result, key, value.unpack())
    return result


@dataclass(frozen=True)
class _Options:
    layer: str | None
    mapping: Mapping | None
    crs: CRS | None
    target_crs: CRS | None
    encoding: str | None
    engine: str
    limits: Limits


def _read_inside(
    uploads: list[_sources.Upload], orgs: list[str | None], options: _Options
) -> IngestResult:
    """The reading itself (in the worker): every failure becomes a refusal naming the file."""
    loaded = []
    parts = []
    for upload, file_org in zip(uploads, orgs, strict=True):
        try:
            item = _load(upload, org=file_org, options=options)
            checked = schema.validate(
                item.frame,
                org=file_org,
                source=item.name,
                problems=item.problems,
                decimal=options.mapping.decimal if options.mapping else None,
            )
        except ImsGeoError:
            raise
        except Exception as exc:  # any other failure is a refusal of the file
            raise _worker.unreadable(upload.name, exc) from exc
        loaded.append(item)
        parts.append((item, checked))
    try:
        work_crs = _choose_crs(loaded, options.target_crs)
        out = []
        for item, checked in parts:
            bad = checked.rejected[schema.SOURCE_ROW].to_numpy(dtype=np.int64)
            valid_rows = np.setdiff1d(np.arange(1, len(item.frame) + 1), bad)
            part = _Part(
                item,
                _to(checked.valid, work_crs),
                _to(_written_dates(checked.rejected, item.date_columns), work_crs),
                valid_rows,
                checked.repaired,
            )
            # a file already in the given CRS had its coordinates checked in it (0.7 s at 1M)
            if options.target_crs is not None and _own_crs(item.frame) != work_crs:
                _reject_outside(part, options.limits)
            out.append(part)
            item.warnings.extend(checked.warnings)
        if len(out) > 1:
            _reject_cross_file_duplicates(out)
        return _packed(_result(out, work_crs))
    except ImsGeoError:
        raise
    except Exception as exc:  # any other failure is a refusal of the files
        raise _worker.unreadable(", ".join(u.name for u in uploads), exc) from exc


def _user_crs(value: Any, key: str) -> CRS | None:
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise InputError(f"{key}={value!r} is not a known CRS; use e.g. 'EPSG:28992'") from exc


def _load(upload: _sources.Upload, *, org: str | None, options: _Options) -> _Loaded:
    label = upload.name
    mapping, crs, limits = options.mapping, options.crs, options.limits
    encoding = options.encoding or (mapping.encoding if mapping else None)
    assert upload.path is not None
    path = upload.path
    dataset = _sources.resolve(path, upload, layer=options.layer, encoding=encoding, limits=limits)
    notes = list(dataset.warnings)
    unreadable = None
    if dataset.kind == "csv":
        raw, more = _tables.read_table(dataset, label)
    else:
        raw, more, unreadable = _sources.read_gdal(dataset, label, options.engine, limits.max_rows)
    notes.extend(more)
    raw = _plain_cells(raw)
    is_text = dataset.kind == "csv"
    frame, more, chosen = _apply_mapping(
        raw, mapping, name=label, text_geometry=is_text, org_given=org is not None
    )
    native_geometry = raw.geometry.name if isinstance(raw, gpd.GeoDataFrame) else None
    source_columns = [str(c) for c in raw.columns if c != native_geometry]
    notes.extend(more)
    problems: list[tuple[str, np.ndarray, Any]] = []
    if dataset.kind == "parquet" and unreadable is not None:  # a reason per row
        reasons = pd.Series(unreadable, dtype=object).fillna("")
        problems.append((schema.GEOMETRY, pd.notna(unreadable), reasons))
    elif unreadable is not None and unreadable.any():
        problems.append((schema.GEOMETRY, unreadable, _sources.UNREADABLE_GEOMETRY))
    if len(frame) > limits.max_rows:
        raise HostileInputError(
            f"{label} holds {len(frame):,} rows, more than the limit of {limits.max_rows:,} "
            "(max_rows); split the file"
        )
    # the coordinates are in a CRS the user gave (not the file's own, nor lon/lat assumed)
    crs_given = crs is not None or bool(mapping and mapping.crs)
    if is_text:
        frame, more_problems, more = _wkt_geometry(
            frame, label, crs, mapping, list(raw.columns), limits
        )
        notes.extend(more)
        problems.extend(more_problems)
        user_crs = crs_given
    else:
        user_crs = frame.crs is None and crs_given
        lonlat = dataset.kind == "parquet"  # no CRS: longitude/latitude, as for a CSV
        frame = _spatial_crs(frame, label, crs, mapping, notes, assume_lonlat=lonlat)
    problems.extend(_sane_geometries(frame, label, limits, user_crs=user_crs))
    problems.extend(sanity.date_problems(frame))
    if dataset.fmt == _sources.FORMATS[".kml"]:
        problems.extend(kml_time_span_problems(raw, frame, chosen, label))
    problems.extend(_long_text(frame, limits.max_text_chars))
    dates = [
        str(c)
        for c in frame.columns
        if (sources := chosen.get(str(c), [str(c)]))
        and set(sources) <= set(dataset.date_fields)
        and pd.api.types.is_datetime64_any_dtype(frame[c])
    ]
    return _Loaded(
        label,
        dataset.label,
        frame.reset_index(drop=True),
        problems,
        notes,
        chosen,
        source_columns,
        dates,
    )


def _written_dates(rejected: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """``rejected`` with the DATE columns as ``datetime.date``, shown as the file wrote them.

    DATE fields are read as ``datetime64`` (one array instead of an object per
    cell); a rejected row is shown, reported and exported with the date it
    holds (``2026-03-01``, not ``2026-03-01 00:00:00``). A year ``datetime.date``
    cannot hold (0 or after 9999) is shown as ISO text.
    """
    for column in columns:
        if column not in rejected or not len(rejected):
            continue
        values = rejected[column]
        if not pd.api.types.is_datetime64_any_dtype(values):
            continue
        days = values.to_numpy().astype("datetime64[D]")
        cells = np.full(len(values), None, dtype=object)
        present = ~np.isnat(days)
        years = days.astype("datetime64[Y]").astype(np.int64) + 1970
        fits = present & (years >= 1) & (years <= 9999)
        cells[fits] = days[fits].astype(object)
        cells[present & ~fits] = np.datetime_as_string(days[present & ~fits], unit="D")
        rejected[column] = pd.Series(cells, index=rejected.index, dtype=object)
    return rejected


def _plain_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested values (a GeoJSON object or list, an Arrow struct) and bytes as plain text.

    Every later writer (CSV, XLSX, GeoPackage, shapefile, the store) takes
    text, numbers and dates; one nested cell would make them all fail.
    """
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    for column in frame.columns:
        if column == geometry:
            continue
        values = frame[column]
        dtype = values.dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
            values = pd.Series(values.tolist(), index=values.index, dtype=object)
        elif not pd.api.types.is_object_dtype(dtype):
            continue
        cells = values.to_numpy(dtype=object)
        nested = np.fromiter(
            (isinstance(v, dict | list | tuple | bytes | bytearray) for v in cells),
            dtype=bool,
            count=len(cells),
        )
        if nested.any():
            cells = cells.copy()
            cells[nested] = [_as_text(v) for v in cells[nested]]
            frame[column] = pd.Series(cells, index=values.index, dtype=object)
    return frame


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return json.dumps(value, ensure_ascii=False, default=str)


def _sane_geometries(
    frame: gpd.GeoDataFrame, name: str, limits: Limits, *, user_crs: bool
) -> list[tuple[str, np.ndarray, Any]]:
    """Reject (and blank) geometries no later step could use; drop Z/M from the others."""
    geoms = frame.geometry.to_numpy()
    reasons = sanity.geometry_problems(geoms, frame.crs, max_vertices=limits.max_vertices)
    bad = pd.notna(reasons)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    outside = sanity.outside_area_of_use(reasons)
    if outside.any() and outside.sum() == present.sum():
        example = str(reasons[np.flatnonzero(outside)[0]]).split("'")[1]
        code = CRS.from_user_input(frame.crs).to_string()
        if user_crs:
            raise InputError(
                f"{name}: no coordinate lies where the given crs {code} is used (e.g. "
                f"{example}); the crs (--crs, crs=..., or crs in the mapping file) is wrong "
                "for this file: give the CRS its coordinates are really in"
            )
        raise InputError(
            f"{name} declares its CRS as {code}, but no coordinate lies where {code} is used "
            f"(e.g. {example}); the file's CRS declaration (its .prj, SRID= or crs member) is "
            "wrong: export the file again with its real CRS"
        )
    cleaned = sanity.flat(geoms)
    if bad.any():
        cleaned = cleaned.copy() if cleaned is geoms else cleaned
        cleaned[bad] = None
    if cleaned is not geoms:
        frame[frame.geometry.name] = gpd.GeoSeries(cleaned, index=frame.index, crs=frame.crs)
    if not bad.any():
        return []
    return [(schema.GEOMETRY, bad, pd.Series(reasons, dtype=object).fillna(""))]


def _spatial_crs(
    frame: gpd.GeoDataFrame,
    name: str,
    crs: CRS | None,
    mapping: Mapping | None,
    notes: list[str],
    *,
    assume_lonlat: bool = False,
) -> gpd.GeoDataFrame:
    """``frame`` with its CRS: its own, else the given one; else lon/lat when assumed."""
    fallback = crs or (CRS.from_user_input(mapping.crs) if mapping and mapping.crs else None)
    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        return gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=fallback)
    if frame.crs is None:
        if fallback is None and assume_lonlat:
            _check_lonlat(frame.geometry.to_numpy(), name)
            return frame.set_crs(CSV_DEFAULT_CRS)
        if fallback is None:
            raise MissingCRSError(
                f"{name} has no coordinate reference system (for a shapefile: no .prj file). "
                "Add the .prj file to the upload, or say which CRS the coordinates are in: "
                "crs='EPSG:28992' in Python, --crs EPSG:28992 on the command line, or "
                'crs = "EPSG:28992" in the mapping file'
            )
        return frame.set_crs(fallback)
    own = CRS.from_user_input(frame.crs)
    if not _convertible(own):
        if fallback is None:
            grid = " (a local engineering or site grid)" if own.is_engineering else ""
            raise MissingCRSError(
                f"{name} declares its CRS as '{own.name}'{grid}, which cannot be converted to "
                "a map CRS; export the file in an EPSG CRS (e.g. EPSG:28992), or if its "
                "coordinates are in one, say which: crs='EPSG:28992' in Python, --crs "
                'EPSG:28992 on the command line, or crs = "EPSG:28992" in the mapping file'
            )
        notes.append(
            f"{name} declares its CRS as '{own.name}', which cannot be converted to a map "
            f"CRS; its coordinates are read in the given crs {fallback.to_string()}"
        )
        return frame.set_crs(fallback, allow_override=True)
    if crs is not None and own != crs:
        notes.append(
            f"{name} declares its CRS as {own.to_string()}; "
            f"the given crs {crs.to_string()} is only used for files without one"
        )
    return frame


def _convertible(crs: CRS) -> bool:
    """Whether PROJ can convert coordinates in ``crs`` to longitude/latitude.

    A local engineering or site grid has no link to the earth: every
    conversion of it fails, and the works could not be placed on a map.
    """
    try:
        Transformer.from_crs(crs, 4326, always_xy=True)
    except ProjError:
        return False
    return True


_SRID = re.compile(r"^\s*SRID=(\d+)\s*;\s*", re.IGNORECASE)


def _wkt_geometry(
    frame: pd.DataFrame,
    name: str,
    crs: CRS | None,
    mapping: Mapping | None,
    source_columns: list[str],
    limits: Limits,
) -> tuple[gpd.GeoDataFrame, list[tuple[str, np.ndarray, Any]], list[str]]:
    """Geometries from the WKT / EWKT text of a CSV (or its x/y columns), in one CRS."""
    problems: list[tuple[str, np.ndarray, Any]] = []
    if schema.GEOMETRY in frame:
        text = frame[schema.GEOMETRY].astype("string").str.strip()
        srid = text.str.extract(_SRID, expand=False)
        wkt = text.str.replace(_SRID, "", regex=True)
        given = ~(text.isna() | (text == "")).to_numpy(dtype=bool)
        # GEOS parses nesting recursively: a deep enough text crashes it, so measure first
        depth = sanity.bracket_depth(wkt)
        deep = given & (depth > limits.max_geometry_depth)
        if deep.any():
            problems.append(
                (
                    schema.GEOMETRY,
                    deep,
                    pd.Series(
                        [f"geometry nested '{d}' brackets deep, more than max_geometry_depth"
                         for d in depth]
                    ),
                )
            )  # fmt: skip
            given &= ~deep
        geoms = np.full(len(frame), None, dtype=object)
        geoms[given] = shapely.from_wkt(wkt[given].to_numpy(dtype=object), on_invalid="ignore")
        unparsable = given & shapely.is_missing(geoms)
        if unparsable.any():
            quoted = "unparsable geometry '" + text.str.slice(0, 60).fillna("") + "' (not WKT)"
            problems.append((schema.GEOMETRY, unparsable, quoted.reset_index(drop=True)))
    else:
        geoms, problem = _coordinate_points(frame, name, source_columns)
        if problem is not None:
            problems.append(problem)
        srid = pd.Series(pd.NA, index=frame.index, dtype="string")
    notes: list[str] = []
    fallback = crs or (CRS.from_user_input(mapping.crs) if mapping and mapping.crs else None)
    codes = srid.dropna().unique()
    if fallback is None and len(codes):
        fallback = _srid_crs(pd.Series(srid.dropna()).mode().iloc[0], name)
    assumed = fallback is None
    base = fallback or CRS.from_user_input(CSV_DEFAULT_CRS)
    has_srid = srid.notna().to_numpy(dtype=bool)
    for code in codes:
        rows = has_srid & (srid == code).fillna(False).to_numpy(dtype=bool)
        rows &= ~shapely.is_missing(geoms)
        own = _srid_crs(code, name)
        if own != base and rows.any():
            # checked in their own CRS before PROJ sees them; bad ones are rejected later
            reasons = sanity.geometry_problems(geoms[rows], own, max_vertices=limits.max_vertices)
            fine = np.flatnonzero(rows)[pd.isna(reasons)]
            broken = np.flatnonzero(rows)[pd.notna(reasons)]
            if broken.size:
                mask = np.zeros(len(frame), dtype=bool)
                mask[broken] = True
                texts = pd.Series("", index=range(len(frame)), dtype=object)
                texts.iloc[broken] = [f"{r} (SRID={code})" for r in reasons[pd.notna(reasons)]]
                problems.append((schema.GEOMETRY, mask, texts))
                geoms[broken] = None
            if fine.size:
                geoms[fine] = gpd.GeoSeries(geoms[fine], crs=own).to_crs(base).to_numpy()
    if assumed:
        _check_lonlat(geoms, name, ", or SRID=28992; before the WKT")
    out = gpd.GeoDataFrame(
        frame.drop(columns=[schema.GEOMETRY], errors="ignore"),
        geometry=gpd.GeoSeries(geoms, index=frame.index, crs=base),
    )
    return out, problems, notes


def _check_lonlat(geoms: np.ndarray, name: str, more: str = "") -> None:
    """Raise :class:`MissingCRSError` unless a file without a CRS holds longitude/latitude.

    Such a file (a CSV without ``SRID=``, Parquet without GeoParquet
    metadata) is read as :data:`CSV_DEFAULT_CRS` when every coordinate fits.
    """
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not present.any():
        return
    with np.errstate(invalid="ignore"):
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[present])
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise MissingCRSError(
            f"{name} says nothing about its CRS and its coordinates (e.g. "
            f"{xmin:.0f} {ymin:.0f}) are not longitude/latitude; say which CRS they are "
            "in: crs='EPSG:28992' in Python, --crs EPSG:28992 on the command line, "
            f'crs = "EPSG:28992" in the mapping file{more}'
        )


def _srid_crs(code: str, name: str) -> CRS:
    try:
        return CRS.from_epsg(int(code))
    except (CRSError, ValueError, OverflowError):
        raise InputError(
            f"{name}: SRID={code} is not a known EPSG code; write the WKT with the right "
            "SRID (e.g. SRID=28992;POINT (...)) or without one and give the CRS (--crs)"
        ) from None


#: Column pairs a CSV may give point coordinates in (compared as normalised names).
COORDINATE_PAIRS: tuple[tuple[str, str], ...] = (
    ("x", "y"), ("lon", "lat"), ("lng", "lat"), ("long", "lat"), ("longitude", "latitude"),
    ("easting", "northing"), ("x_coord", "y_coord"), ("rd_x", "rd_y"), ("rechtswert", "hochwert"),
    ("lengtegraad", "breedtegraad"), ("laenge", "breite"),
)  # fmt: skip


def _coordinate_points(
    frame: pd.DataFrame, name: str, source_columns: list[str]
) -> tuple[np.ndarray, tuple[str, np.ndarray, Any] | None]:
    """Points from a pair of coordinate columns of a CSV without WKT geometry."""
    by_name = {schema.normalise_name(c): c for c in frame.columns}
    pair = next(((by_name[x], by_name[y]) for x, y in COORDINATE_PAIRS
                 if x in by_name and y in by_name), None)  # fmt: skip
    if pair is None:
        aliases = ", ".join(schema.COLUMN_ALIASES[schema.GEOMETRY])
        pairs = ", ".join(f"{x}/{y}" for x, y in COORDINATE_PAIRS)
        raise InputError(
            f"{name} has no geometry column: add a column 'geometry' with WKT text "
            f"(or one of {aliases}), or a pair of point coordinate columns named {pairs}, "
            "or name them in a mapping file ([columns] geometry = ... for WKT, [extras] "
            "x = ... and y = ... for coordinates); "
            f"its columns are: {', '.join(map(str, source_columns))}"
        )
    x, y = (coordinate_numbers(frame[column]) for column in pair)
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    problem = None
    given = ~(frame[pair[0]].isna() & frame[pair[1]].isna()).to_numpy(dtype=bool)
    if (given & ~ok).any():
        values = (
            frame[pair[0]].astype("string").fillna("")
            + " "
            + frame[pair[1]].astype("string").fillna("")
        )
        message = f"unparsable coordinates {pair[0]}/{pair[1]} '" + values + "'"
        problem = (schema.GEOMETRY, given & ~ok, message.reset_index(drop=True))
    return geoms, problem


def coordinate_numbers(series: pd.Series) -> np.ndarray:
    """A coordinate column's cells as numbers (a decimal comma read as a point; NaN where none)."""
    text = series.astype("string").str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)


def _long_text(frame: pd.DataFrame, limit: float) -> list[tuple[str, np.ndarray, Any]]:
    """Cells longer than ``limit`` characters: cut to the limit, and their rows flagged."""
    problems = []
    for column in frame.columns:
        dtype = frame[column].dtype
        if column == schema.GEOMETRY:
            continue
        if isinstance(dtype, pd.StringDtype):
            text = frame[column]  # measured as it is: no copy
        elif pd.api.types.is_object_dtype(dtype):
            text = frame[column].astype("string")
        else:
            continue
        long = (text.str.len() > limit).fillna(False).to_numpy(dtype=bool)
        if long.any():
            cut = text.str.slice(0, limit)
            frame[column] = frame[column].astype(object).where(~long, cut.astype(object))
            problems.append(
                (str(column), long, f"text in column {column} longer than {limit:,} characters")
            )
    return problems


def _choose_crs(loaded: list[_Loaded], target_crs: CRS | None) -> CRS | None:
    if target_crs is not None:
        return target_crs
    # each input's extreme points: reprojecting them costs the same for any size
    located = []
    for item in loaded:
        if item.frame.crs is None:
            continue
        points = extreme_points(item.frame.geometry.to_numpy())
        if not len(points):
            continue
        corners = shapely.points(points[:, 0], points[:, 1])
        located.append(gpd.GeoDataFrame(geometry=corners, crs=item.frame.crs))
    try:
        return working_crs(located)
    except InputError:
        # no geometry anywhere (every row will be rejected): keep a file's own CRS
        return next((c for item in loaded if (c := _own_crs(item.frame)) is not None), None)


def _own_crs(frame: gpd.GeoDataFrame) -> CRS | None:
    return None if frame.crs is None else CRS.from_user_input(frame.crs)


def _to(frame: gpd.GeoDataFrame, crs: CRS | None) -> gpd.GeoDataFrame:
    if crs is None or frame.crs is None:
        return frame if crs is None else frame.set_crs(crs, allow_override=True)
    if CRS.from_user_input(frame.crs) == crs:
        return frame
    return frame.to_crs(crs)


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    if schema.ORG not in frame or schema.WORK_ID not in frame:
        return pd.DataFrame({"org": pd.Series(dtype="string"), "id": pd.Series(dtype="string")})
    org = frame[schema.ORG].astype("string").str.strip()
    work_id = frame[schema.WORK_ID].astype("string").str.strip()
    keyed = org.notna() & (org != "") & work_id.notna() & (work_id != "")
    return pd.DataFrame({"org": org.where(keyed), "id": work_id.where(keyed)})


def _reject_cross_file_duplicates(parts: list[_Part]) -> None:
    """Every row of an (org, work_id) key found in more than one file is rejected."""
    tables = []
    for i, part in enumerate(parts):
        for kind, frame in (("valid", part.valid), ("rejected", part.rejected)):
            keys = _keys(frame)
            keys["file"], keys["kind"], keys["pos"] = i, kind, np.arange(len(frame))
            tables.append(keys.dropna(subset=["org", "id"]))
    keys = pd.concat(tables, ignore_index=True)
    files = keys.groupby(["org", "id"])["file"].transform("nunique")
    dup = keys[files > 1].copy()
    if dup.empty:
        return
    names = pd.Series([p.loaded.name for p in parts])
    where = (
        dup.assign(name=names.iloc[dup["file"]].to_numpy())
        .groupby(["org", "id"])["name"]
        .agg(lambda v: ", ".join(dict.fromkeys(v)))
    )
    dup["message"] = [
        f"duplicate work_id '{w}' for org '{o}' in several files ({where[(o, w)]})"
        for o, w in zip(dup["org"], dup["id"], strict=True)
    ]
    for i, part in enumerate(parts):
        mine = dup[dup["file"] == i]
        if mine.empty:
            continue
        bad = mine[mine["kind"] == "rejected"]
        if not bad.empty:
            reasons = part.rejected[schema.REASON].copy()
            pos = bad["pos"].to_numpy()
            reasons.iloc[pos] = reasons.iloc[pos].to_numpy() + "; " + bad["message"].to_numpy()
            part.rejected[schema.REASON] = reasons
        moved = mine[mine["kind"] == "valid"]
        if not moved.empty:
            _reject_valid(part, moved["pos"].to_numpy(), moved["message"].to_numpy())


def _reject_outside(part: _Part, limits: Limits) -> None:
    """Reject the works the given working CRS cannot place: outside its area of use.

    The file's coordinates were checked in the file's own CRS; converted into
    a CRS chosen for another place (a store's), they may lie far outside it,
    where no distance is measured right, or so far that the conversion gives no
    finite coordinate at all. The geometries' types and vertices are the file's,
    already checked: every problem found now comes from where the works lie.
    """
    geoms = part.valid.geometry.to_numpy()
    reasons = sanity.geometry_problems(geoms, part.valid.crs, max_vertices=limits.max_vertices)
    bad = pd.notna(reasons)
    if not bad.any():
        return
    # a coordinate the conversion made infinite or huge: said as where it went wrong
    unplaced = bad & ~sanity.outside_area_of_use(reasons)
    where = sanity.area_name(CRS.from_user_input(part.valid.crs))
    reasons[unplaced] = f"coordinates outside the area of use of {where}"
    _reject_valid(part, np.flatnonzero(bad), reasons[bad])


def _reject_valid(part: _Part, pos: np.ndarray, reasons: np.ndarray) -> None:
    """Move the valid works at positions ``pos`` to the rejected rows, with their ``reasons``."""
    out = part.valid.iloc[pos].copy()
    out[schema.REASON] = reasons
    out[schema.SOURCE_ROW] = part.valid_rows[pos]
    out[schema.SOURCE_FILE] = part.loaded.name
    keep = np.ones(len(part.valid), dtype=bool)
    keep[pos] = False
    part.valid = part.valid.loc[keep].reset_index(drop=True)
    part.valid_rows = part.valid_rows[keep]
    rejected = pd.concat([part.rejected, out], ignore_index=True)
    part.rejected = rejected.sort_values(schema.SOURCE_ROW, kind="stable", ignore_index=True)


def _concat(frames: list[gpd.GeoDataFrame], crs: CRS | None) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return schema.empty_works(crs)
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)


def _result(parts: list[_Part], crs: CRS | None) -> IngestResult:
    works = _concat([p.valid for p in parts], crs)
    rejected_frames = [p.rejected for p in parts if len(p.rejected)]
    if rejected_frames:
        rejected = gpd.GeoDataFrame(pd.concat(rejected_frames, ignore_index=True), crs=crs)
    else:
        rejected = parts[0].rejected.iloc[:0]
    warnings = [w for p in parts for w in p.loaded.warnings]
    files = [
        FileReport(p.loaded.name, p.loaded.layer, len(p.valid), p.repaired, len(p.rejected))
        for p in parts
    ]
    repaired = sum(p.repaired for p in parts)
    layers = {p.loaded.layer for p in parts}
    return IngestResult(
        works=works,
        rejected=rejected,
        warnings=list(dict.fromkeys(warnings)),
        repaired=repaired,
        source=", ".join(p.loaded.name for p in parts),
        layer=layers.pop() if len(layers) == 1 else None,
        crs=crs,
        source_crs=_own_crs(parts[0].loaded.frame) if parts else None,
        files=files,
        columns=parts[0].loaded.columns if parts else {},
        source_columns=parts[0].loaded.source_columns if parts else [],
    )
