"""A starter column mapping for a file: what a planner edits instead of writes.

:func:`suggest_mapping` reads a file (in the same limited worker as every
upload), matches its columns to the canonical works columns — by name and
alias first, then by name hints checked against the values (ids unique,
dates that parse, few distinct organisations) — and lists, for every
vocabulary column, each raw value with its count and a proposed canonical
value (a known value or alias, else an alias or canonical word found in the
text, else the fallback). :meth:`Suggestion.to_toml` writes it as a mapping
file (``data/mappings/README.md``) with a comment on every line saying why.

Examples
--------
>>> from ims_geo.ingest.suggest import suggest_mapping
>>> s = suggest_mapping("htdd_ashford_2018-06.gpkg")  # doctest: +SKIP
>>> open("ashford.toml", "w").write(s.to_toml())  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from ims_geo import schema
from ims_geo.errors import ImsGeoError
from ims_geo.ingest import Limits, _isolated, _sources, _tables, coordinate_numbers
from ims_geo.ingest._mapping import ID_DIGITS, Mapping, blank_cells, dump_toml, id_cells
from ims_geo.ingest._mapping import apply as apply_mapping

__all__ = [
    "Suggestion",
    "id_columns",
    "id_from_columns",
    "propose_value",
    "read_raw",
    "suggest_mapping",
    "value_table",
]

#: Distinct raw values listed per vocabulary column (the most frequent first).
MAX_VALUES = 200
#: Share of a column's non-empty cells that must fit for a guessed column to be taken.
FIT = 0.8

#: Name hints per canonical column, best first; a hint matches a run of whole
#: name tokens (``i__start_date`` has the tokens i, start, date; ``startDate``
#: start, date).
HINTS: dict[str, tuple[str, ...]] = {
    schema.WORK_ID: ("item id", "work id", "works id", "rec id", "nummer", "number", "id", "ref"),
    schema.ORG: (
        "responsible org name", "promoter", "org name", "organisation", "organization",
        "owner", "operator", "company", "org",
    ),
    schema.TITLE: ("description", "title", "name", "beschrieb", "bezeichnung"),
    schema.DISCIPLINE: (
        "sector", "discipline", "sparte", "gewerk", "utility", "work type", "works type",
        "asset type", "type",
    ),
    schema.STATUS: ("works state", "status", "state", "zustand", "phase", "fase"),
    schema.START: ("start date", "start", "begin", "beginn", "baubeginn", "from", "von"),
    schema.END: ("end date", "end", "ende", "bauende", "until", "to", "bis"),
}  # fmt: skip
#: Name tokens that mark a derived or side column (``start_date_estimated``, ``org_ref``).
_SIDE_TOKENS = frozenset(
    {"estimated", "derived", "ref", "orgref", "section", "sector", "id", "created", "updated",
     "archive", "type", "code", "x", "y", "easting", "northing"}
)  # fmt: skip
#: Date formats tried on date text that ISO and the day-first forms do not read.
DATE_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%d %B %Y",
    "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%d.%m.%y", "%d/%m/%y", "%Y.%m.%d",
)  # fmt: skip
#: Time zone of date-times with a UTC offset, guessed from a national grid.
CRS_TIMEZONES: dict[int, str] = {
    27700: "Europe/London", 29903: "Europe/Dublin", 2157: "Europe/Dublin",
    28992: "Europe/Amsterdam", 31370: "Europe/Brussels", 3812: "Europe/Brussels",
    2056: "Europe/Zurich", 21781: "Europe/Zurich", 2154: "Europe/Paris",
    3879: "Europe/Helsinki", 3067: "Europe/Helsinki", 3006: "Europe/Stockholm",
    25833: "Europe/Berlin", 25832: "Europe/Berlin", 31287: "Europe/Vienna",
}  # fmt: skip
#: Name tokens of a point's x and y coordinate columns, in pairs, the most telling first: an
#: x column's token (or a token it begins) swapped for its pair names the y column
#: (centreEasting / centreNorthing, x_coord / y_coord, lon / lat).
AXIS_TOKENS: tuple[tuple[str, str], ...] = (
    ("easting", "northing"), ("longitude", "latitude"), ("rechtswert", "hochwert"),
    ("lengtegraad", "breedtegraad"), ("laenge", "breite"), ("east", "north"), ("lon", "lat"),
    ("lng", "lat"), ("long", "lat"), ("ost", "nord"), ("x", "y"),
)  # fmt: skip
_WKT = re.compile(
    r"^\s*(SRID=\d+\s*;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|"
    r"MULTIPOLYGON|GEOMETRYCOLLECTION)\b",
    re.IGNORECASE,
)
_BOOL_WORDS: dict[str, bool] = {
    "with excavation": True, "excavation": True, "excavate": True, "dig": True,
    "trench": True, "no excavation": False, "without excavation": False, "no dig": False,
    "trenchless": False,
}  # fmt: skip


#: The flag column the conflict rules read to leave emergency works out.
EMERGENCY = "emergency"
#: Words of a category value that mark an emergency (as the rules' default exempt values).
EMERGENCY_WORDS: tuple[str, ...] = ("emergency", "immediate", "urgent", "notfall", "spoed")
#: A column with more distinct values is free text, not a category.
MAX_FLAG_VALUES = 50
_CATEGORY_TOKENS = frozenset({"category", "type", "priority", "class", "urgency", "kategorie"})

#: Most columns a proposed ``[work_id_from]`` composes a work id from.
MAX_ID_PARTS = 4
#: Columns tried for a composed id, the most reference-like first (bounds the sets tried).
MAX_ID_CANDIDATES = 12
#: A name token of a reference column: ``ref``, ``objectid``, ``Baunummer``, ``site_code``.
_REFERENCE = re.compile(r"^(?:ref.*|no|num|.*(?:id|nr|ref|number|nummer|code))$")


@dataclass
class Suggestion:
    """A starter mapping for one file.

    Attributes
    ----------
    source, layer
        The file (and layer) read.
    rows
        Number of rows of the file.
    columns
        Canonical column -> source columns (first non-empty wins per row).
    how
        Canonical column -> why that column was taken.
    values
        Vocabulary column -> ``raw``, ``rows``, ``proposed``, ``why`` per
        distinct raw value (most rows first).
    date_format
        Formats that read date text ISO and the day-first forms do not.
    timezone
        Time zone for date-times with a UTC offset (guessed from the CRS).
    crs
        The file's CRS (None when it has none: a mapping ``crs`` is needed).
    source_columns
        The file's attribute columns, in order.
    undecided
        Number column -> its cells that read differently with a decimal
        point or comma, when no cell shows the style (``decimal`` is needed).
    work_id_from
        For a file without an id column: the columns a work id is composed
        from (``[work_id_from]``), and ``work_id_why`` says how well they
        tell the rows apart.
    coordinates
        For a table without WKT: its x and y coordinate columns, read as
        points (``[extras] x``, ``y``).
    crs_why
        Why ``crs`` was guessed from the coordinates (empty when the file
        declares it).
    """

    source: str
    layer: str | None
    rows: int
    columns: dict[str, list[str]] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    values: dict[str, pd.DataFrame] = field(default_factory=dict)
    date_format: tuple[str, ...] = ()
    timezone: str | None = None
    crs: str | None = None
    source_columns: list[str] = field(default_factory=list)
    text_geometry: bool = False
    undecided: dict[str, list[str]] = field(default_factory=dict)
    work_id_from: list[str] = field(default_factory=list)
    work_id_why: str = ""
    coordinates: list[str] = field(default_factory=list)
    crs_why: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The mapping as a TOML table (what :meth:`Mapping.from_dict` reads)."""
        data: dict[str, Any] = {}
        if self.date_format:
            data["date_format"] = list(self.date_format)
        if self.timezone:
            data["timezone"] = self.timezone
        if self.crs_why and self.crs:
            data["crs"] = self.crs
        data["columns"] = {
            k: (v[0] if len(v) == 1 else list(v)) for k, v in self.columns.items() if v
        }
        if self.work_id_from:
            data["work_id_from"] = {"columns": list(self.work_id_from)}
        if self.coordinates:
            data["extras"] = dict(zip(("x", "y"), self.coordinates, strict=True))
        tables = {
            column: {str(r.raw): r.proposed for r in table.itertuples(index=False)}
            for column, table in self.values.items()
            if len(table)
        }
        if tables:
            data["values"] = tables
        return data

    def mapping(self) -> Mapping:
        """The suggestion as a :class:`Mapping`, as the file it writes would load."""
        return Mapping.from_dict(self.to_dict(), source=f"mapping suggested for {self.source}")

    def to_toml(self) -> str:
        """The mapping file, every line with a comment saying why."""
        where = f" (layer {self.layer})" if self.layer else ""
        points = self.text_geometry and not self.coordinates
        wanted = (*schema.COLUMNS, *((schema.GEOMETRY,) if points else ()))
        composed = (schema.WORK_ID,) if self.work_id_from else ()
        missing = [c for c in wanted if c not in self.columns and c not in composed]
        header = [
            f"Starter mapping for {self.source}{where}, {self.rows} rows, written by",
            "`ims-geo mapping suggest`. Check every line (the comments say why it was",
            "chosen), then import with --mapping. Format: data/mappings/README.md",
        ]
        if self.crs is None and not self.text_geometry:
            header.append('The file has no CRS: add e.g. crs = "EPSG:28992"')
        if self.crs is None and self.coordinates:
            header.append(
                f"The points ({', '.join(self.coordinates)}) are read as lon/lat (EPSG:4326) "
                'unless you add e.g. crs = "EPSG:28992"'
            )
        elif self.crs is None and self.text_geometry:
            header.append(
                "The WKT has no SRID=...; prefix: it is read as lon/lat (EPSG:4326) unless "
                'you add e.g. crs = "EPSG:28992"'
            )
        if schema.ORG not in self.columns:
            header.append(
                'No organisation column found: give --org on import, or add [defaults] org = "..."'
            )
        for column, cells in self.undecided.items():
            shown = ", ".join(repr(c) for c in cells[:3])
            header.append(
                f"{column}: {shown} read differently with a decimal point or comma and the "
                'column shows no one style: add decimal = "," or "." (else they are read as '
                "empty and warned about)"
            )
        header.append(
            "Not found in the file (defaults apply): " + ", ".join(missing)
            if missing
            else "Every canonical column was found."
        )
        comments = {f"columns.{k}": v for k, v in self.how.items()}
        if self.work_id_from:
            comments["work_id_from"] = self.work_id_why
        if self.date_format:
            comments["date_format"] = "date text ISO and dd.mm.yyyy forms do not read"
        if self.crs_why and self.crs:
            comments["crs"] = self.crs_why
        if self.coordinates:
            comments["extras"] = "no WKT column: the points' x and y coordinate columns"
        if self.timezone:
            comments["timezone"] = (
                f"date-times carry a UTC offset; zone guessed from the CRS {self.crs}"
            )
        for column, table in self.values.items():
            comments[f"values.{column}"] = "raw value = canonical value (rows, why)"
            for r in table.itertuples(index=False):
                comments[f"values.{column}.{r.raw}"] = f"{_rows(r.rows)}; {r.why}"
        return dump_toml(self.to_dict(), header="\n".join(header), comments=comments)


def suggest_mapping(
    source: Any,
    *,
    name: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    limits: Limits | None = None,
) -> Suggestion:
    """Suggest a column mapping for a works file.

    Parameters
    ----------
    source
        A path, or the uploaded bytes / file-like object (then ``name``).
    name
        The uploaded file's name; its extension decides the format.
    layer
        Layer of a GeoPackage or of a zip with several files (default: the first).
    encoding
        Text encoding of the attributes (default: detected).
    limits
        Upload safety limits (default: :class:`~ims_geo.ingest.Limits`).

    Returns
    -------
    Suggestion
    """
    raw, is_text, label = read_raw(source, name=name, layer=layer, encoding=encoding, limits=limits)
    shown = name or getattr(source, "name", None) or str(source)
    return suggest_for_frame(raw, name=Path(str(shown)).name, layer=label, text_geometry=is_text)


def read_raw(
    source: Any,
    *,
    name: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    limits: Limits | None = None,
    first_layer: bool = True,
) -> tuple[pd.DataFrame, bool, str | None]:
    """A file's own columns and values, unmapped (read in the limited worker).

    ``first_layer`` False refuses a GeoPackage or zip of several layers when
    ``layer`` is not given, instead of reading its first one (for readers
    whose file must be one table, e.g. progress reports and registers).

    Returns
    -------
    (frame, text_geometry, layer)
        The attributes (with the native geometry, if any), whether the file
        has no native geometry (CSV), and the layer read.
    """
    limits = limits or Limits()
    upload = _sources.open_source(source, name, limits.max_upload_bytes)
    with _sources.local_path(upload) as path:
        local = _sources.Upload(upload.name, upload.suffix, path=path)
        found: tuple[pd.DataFrame, bool, str | None] = _isolated(
            _read_raw, (local, layer, encoding, limits, first_layer), upload.name, limits, [path]
        )
    return found


def _read_raw(
    upload: _sources.Upload,
    layer: str | None,
    encoding: str | None,
    limits: Limits,
    first_layer: bool = True,
) -> tuple[pd.DataFrame, bool, str | None]:
    """The file's own columns and values (in the worker); the first layer unless told."""
    assert upload.path is not None
    try:
        if first_layer and layer is None and upload.suffix in (".gpkg", ".zip"):
            found = _sources.layers(upload.path, upload, limits)
            layer = found[0] if found else None
        dataset = _sources.resolve(
            upload.path,
            upload,
            layer=layer,
            encoding=encoding,
            limits=limits,
            # a JSON file's first table chosen as it is parsed, not in a parse of its own
            first=first_layer and upload.suffix == ".json",
        )
        if dataset.kind == "csv":
            return _tables.read_table(dataset, upload.name)[0], True, dataset.label
        return _sources.read_gdal(dataset, upload.name, "pyogrio")[0], False, dataset.label
    except ImsGeoError:
        raise
    except Exception as exc:  # any other failure is a refusal of the file
        from ims_geo.ingest import _worker

        raise _worker.unreadable(upload.name, exc) from exc


def suggest_for_frame(
    frame: pd.DataFrame, *, name: str, layer: str | None = None, text_geometry: bool = False
) -> Suggestion:
    """Suggest a mapping for a frame as read from a file (see :func:`suggest_mapping`)."""
    geometry = (
        frame.geometry.name
        if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame
        else None
    )
    columns = [str(c) for c in frame.columns if c != geometry]
    attributes = pd.DataFrame(frame[[c for c in frame.columns if c != geometry]])
    attributes.columns = pd.Index(columns)
    _, _, automatic = apply_mapping(attributes, None, name=name, text_geometry=text_geometry)
    chosen: dict[str, list[str]] = {}
    how: dict[str, str] = {}
    for canonical, found in automatic.items():
        if canonical == schema.GEOMETRY:
            continue
        if _fits(canonical, attributes[found[0]]):
            chosen[canonical] = found
            how[canonical] = (
                "by name" if schema.normalise_name(found[0]) == canonical else ("by alias")
            )
    used = {c for found in chosen.values() for c in found}
    for canonical, hints in HINTS.items():
        if canonical in chosen:
            continue
        for column in _ranked(columns, hints, used):
            if _fits(canonical, attributes[column]):
                chosen[canonical] = [column]
                how[canonical] = "guessed from the name, checked on the values"
                used.add(column)
                break
    if text_geometry:
        wkt = _wkt_columns(attributes, used)
        if wkt:
            chosen[schema.GEOMETRY] = wkt
            how[schema.GEOMETRY] = "WKT text (lines and polygons before points)"
    coordinates = _coordinate_columns(attributes, used) if text_geometry and not wkt else []
    flag = _emergency_column(attributes)
    if flag is not None:
        chosen[EMERGENCY] = [flag]
        how[EMERGENCY] = "its values name emergency / urgent works (the conflict rules skip them)"
    ordered = {c: chosen[c] for c in (*schema.COLUMNS, schema.GEOMETRY, EMERGENCY) if c in chosen}
    crs = frame.crs if isinstance(frame, gpd.GeoDataFrame) and geometry else None
    crs_text = CRS.from_user_input(crs).to_string() if crs is not None else None
    formats, offset = _date_formats(attributes, ordered)
    epsg = CRS.from_user_input(crs).to_epsg() if crs is not None else None
    timezone = CRS_TIMEZONES.get(epsg) if offset and epsg is not None else None
    values = {
        column: value_table(column, _values_of(attributes, ordered[column]))
        for column in (*schema.VOCABULARY, EMERGENCY)
        if column in ordered
    }
    undecided = {
        column: cells
        for column in schema.NUMBER_COLUMNS
        if column in ordered
        and (cells := schema.undecided_numbers(_values_of(attributes, ordered[column]), column))
    }
    id_from: list[str] = []
    id_why = ""
    if schema.WORK_ID not in ordered and len(attributes):
        id_from, id_why = id_from_columns(attributes, ordered)
    crs_why = ""
    if coordinates:
        crs_text, crs_why = _points_crs(attributes, coordinates)
    elif text_geometry:
        crs_text = _wkt_srid(attributes, ordered)
    return Suggestion(
        source=name,
        layer=layer,
        rows=len(frame),
        columns=ordered,
        how={c: how[c] for c in ordered},
        values=values,
        date_format=formats,
        timezone=timezone,
        crs=crs_text,
        source_columns=columns,
        text_geometry=text_geometry,
        undecided=undecided,
        work_id_from=id_from,
        work_id_why=id_why,
        coordinates=coordinates,
        crs_why=crs_why,
    )


# --- matching columns ----------------------------------------------------------------


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^0-9a-zA-Zäöüß]+", spaced.lower()) if t]


def _ranked(columns: list[str], hints: tuple[str, ...], used: set[str]) -> list[str]:
    """Columns whose name holds a hint, by the hint's rank, then fewest side tokens."""
    scored = []
    for position, column in enumerate(columns):
        if column in used:
            continue
        tokens = _tokens(column)
        text = f" {' '.join(tokens)} "
        # a compound word ending in a long hint counts too (Baunummer, Projektnummer)
        ranks = [
            i
            for i, hint in enumerate(hints)
            if f" {hint} " in text or (len(hint) >= 5 and any(t.endswith(hint) for t in tokens))
        ]
        if not ranks:
            continue
        hint_tokens = set(hints[min(ranks)].split())
        side = sum(t in _SIDE_TOKENS and t not in hint_tokens for t in tokens)
        scored.append((min(ranks), side, len(tokens), position, column))
    return [c for *_, c in sorted(scored)]


def id_columns(frame: pd.DataFrame, columns: list[str], used: set[str]) -> list[str]:
    """Columns that look like a work id: an id-like name (``rec_id``, ``Projektnummer``)
    and unique values, best first.

    Parameters
    ----------
    frame
        The file's own columns.
    columns
        The names of ``frame``'s attribute columns (not its geometry).
    used
        Columns already read as another canonical column.
    """
    ranked = _ranked(columns, HINTS[schema.WORK_ID], used)
    return [c for c in ranked if _fits(schema.WORK_ID, frame[c])]


def id_from_columns(frame: pd.DataFrame, chosen: dict[str, list[str]]) -> tuple[list[str], str]:
    """The fewest columns whose cells together tell every row apart, for ``[work_id_from]``.

    Columns with a reference-like name (``ref``, ``id``, ``nr``, ``number``,
    ``code``) are tried first, then those not read as a works column, then
    the others (a changed title or date would change a work's id); sets of
    up to :data:`MAX_ID_PARTS` of the first :data:`MAX_ID_CANDIDATES`,
    smallest first. Their cells are read as :func:`~ims_geo.ingest._mapping.composed_ids`
    reads them. When no set tells every row apart, the one that leaves the
    fewest rows without an id (empty in all of them), then the fewest
    repeated records (which get suffixes), is proposed.

    Parameters
    ----------
    frame
        The file's attribute columns (not its native geometry).
    chosen
        Works column -> the file's columns read as it (WKT geometry is never an id part).

    Returns
    -------
    (columns, why)
        The columns (none when the file has no usable column), and the
        comment that says why.
    """
    candidates = _id_candidates(frame, chosen)
    if not candidates:
        return [], ""
    codes = [pd.factorize(id_cells(frame[c]))[0] for c in candidates]
    blanks = [blank_cells(frame[c]) for c in candidates]
    rows = len(frame)
    empty, repeated, combo = _fewest_alike(codes, blanks, MAX_ID_PARTS)
    columns = [candidates[i] for i in combo]
    digest = f"an id is {ID_DIGITS} hex digits of SHA-256 of their cells"
    if not empty and not repeated:
        these = "this column tells" if len(columns) == 1 else f"these {len(columns)} columns tell"
        return columns, (
            f"no id column: {these} all {rows} rows apart (reference-like names tried first); "
            f"{digest}"
        )
    lost = f"; rows empty in all of them are rejected as missing work_id ({_rows(empty)})"
    return columns, (
        f"no id column, and no set of up to {MAX_ID_PARTS} columns tells all {rows} rows apart: "
        f"these leave the fewest alike; {digest}; repeated records get suffixes -2, -3, ... in "
        f"file order ({_rows(repeated)}){lost if empty else ''} — add a column that tells them "
        "apart"
    )


def _fewest_alike(
    codes: list[np.ndarray], blanks: list[np.ndarray], parts: int
) -> tuple[int, int, tuple[int, ...]]:
    """The set of up to ``parts`` columns that leaves the fewest rows alike.

    Of every set, the one with the fewest rows blank in all its columns, then
    the fewest rows repeating an earlier row's cells, then the fewest columns,
    then the first in the order of ``codes`` (a branch-and-bound search, so
    this is the set a comparison of every set would pick).

    A set's row codes are built from its prefix's (combined integer codes,
    factorised again). Rows its prefix already tells apart from every other
    row stay apart in any larger set, so only the others are carried down.
    A set and all its supersets leave at least as many rows alike as the set
    joined with every later column: when that is worse than the best set
    found, the set, its supersets and its later siblings are not tried.
    Sets are tried by size, so the search stops at the smallest size where
    some set tells every row apart.

    Parameters
    ----------
    codes
        Per column, an integer code per row (equal cells, equal codes; >= 0).
    blanks
        Per column, whether each row's cell is blank.
    parts
        Most columns in a set.

    Returns
    -------
    (empty, repeated, columns)
        Rows blank in every column of the set, rows repeating an earlier
        row's cells, and the set's positions in ``codes``.
    """
    count, rows = len(codes), len(codes[0])
    # the codes of every column from i on: a set joined with all later columns
    later = [np.zeros(rows, dtype=np.int64)] * (count + 1)
    later_blank = [np.ones(rows, dtype=bool)] * (count + 1)
    for i in reversed(range(count)):
        later[i] = _joined(codes[i], later[i + 1])
        later_blank[i] = blanks[i] & later_blank[i + 1]
    bounds: dict[tuple[int, ...], tuple[int, int]] = {}
    best: tuple[int, int, int, tuple[int, ...]] | None = None

    def visit(
        combo: tuple[int, ...], size: int, at: np.ndarray, key: np.ndarray, blank: np.ndarray
    ) -> None:
        """Try the sets of ``size`` columns that begin with ``combo`` (rows ``at`` only)."""
        nonlocal best
        for i in range(combo[-1] + 1 if combo else 0, count - (size - len(combo) - 1)):
            here = (*combo, i)
            joined = _joined(key, codes[i][at])
            both = blank & blanks[i][at]
            if len(here) == size:
                score = (*_alike(joined, both), size, here)
                best = score if best is None or score < best else best
                continue
            if here not in bounds:
                bounds[here] = _alike(_joined(key, later[i][at]), blank & later_blank[i][at])
            if best is not None and (*bounds[here], size, here) > best:
                break  # nor can any later sibling (it is joined with fewer columns)
            # rows told apart from every other here (and not blank) stay so below
            shared = (np.bincount(joined)[joined] > 1) | both
            visit(here, size, at[shared], joined[shared], both[shared])

    everything = np.arange(rows)
    for size in range(1, min(parts, count) + 1):
        visit((), size, everything, np.zeros(rows, dtype=np.int64), np.ones(rows, dtype=bool))
        assert best is not None
        if best[:2] == (0, 0):
            break
    assert best is not None
    return best[0], best[1], best[3]


def _joined(key: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """One code per distinct pair of ``key`` and ``codes`` (kept below the rows' count)."""
    if not len(key):
        return key
    width = int(codes.max()) + 1
    pairs = key * width + codes
    span = (int(key.max()) + 1) * width
    if span > 4 * len(key):
        return pd.factorize(pairs)[0]
    # few possible pairs: a table of those present ranks them, faster than hashing
    present = np.zeros(span, dtype=bool)
    present[pairs] = True
    return (np.cumsum(present) - 1)[pairs]


def _alike(key: np.ndarray, blank: np.ndarray) -> tuple[int, int]:
    """Rows blank in the set, and rows repeating an earlier row's codes (of these rows)."""
    empty = int(blank.sum())
    distinct = int(np.count_nonzero(np.bincount(key[~blank]))) if empty < len(key) else 0
    return empty, len(key) - empty - distinct


def _id_candidates(frame: pd.DataFrame, chosen: dict[str, list[str]]) -> list[str]:
    """Columns an id may be composed from: reference-like names, then unread, then read ones."""
    read = {c for canonical, found in chosen.items() if canonical != schema.GEOMETRY for c in found}
    geometry = set(chosen.get(schema.GEOMETRY, []))
    ranked = []
    for position, column in enumerate(frame.columns):
        if column in geometry or _present(frame[column]).empty:
            continue
        reference = any(_REFERENCE.match(t) for t in _tokens(str(column)))
        ranked.append((not reference, column in read, position, str(column)))
    return [c for *_, c in sorted(ranked)][:MAX_ID_CANDIDATES]


def _present(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return series[(text.notna() & (text != "")).to_numpy(dtype=bool)]


def _fits(canonical: str, series: pd.Series) -> bool:
    """Whether a column's values can be ``canonical`` (empty columns never are)."""
    given = _present(series)
    if given.empty:
        return False
    if canonical in schema.DATE_COLUMNS:
        parsed, _ = schema.parse_dates(given)
        ok = parsed.notna().to_numpy(dtype=bool, copy=True)
        text = given.astype("string").str.strip()
        for fmt in DATE_FORMATS:  # what a date_format line could read
            if ok.all():
                break
            ok |= pd.to_datetime(text, format=fmt, errors="coerce").notna().to_numpy(dtype=bool)
        return bool(ok.mean() >= FIT)
    if canonical == schema.WORK_ID:
        return bool(
            given.astype("string").str.strip().is_unique and len(given) >= FIT * len(series)
        )
    if canonical in (schema.ORG, schema.DISCIPLINE, schema.STATUS):
        text = given.astype("string").str.strip()
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            return False
        return bool(text.nunique() <= max(30, 0.5 * len(text)))
    return True


def _wkt_columns(frame: pd.DataFrame, used: set[str]) -> list[str]:
    """Text columns holding WKT / EWKT: lines and polygons first, then points."""
    found = []
    for column in frame.columns:
        if column in used or not (
            pd.api.types.is_string_dtype(frame[column])
            or pd.api.types.is_object_dtype(frame[column])
        ):
            continue
        given = _present(frame[column]).astype("string")
        if given.empty or given.str.match(_WKT).mean() < FIT:
            continue
        points = given.str.contains(r"^\s*(?:SRID=\d+\s*;\s*)?(?:MULTI)?POINT", case=False).mean()
        found.append((points, -len(given), column))
    return [c for *_, c in sorted(found)]


def _coordinate_columns(frame: pd.DataFrame, used: set[str]) -> list[str]:
    """The x and y columns of a table of points, named as a pair (:data:`AXIS_TOKENS`).

    Both must hold a number in every row that has one of them, and in most rows.
    """
    columns = [str(c) for c in frame.columns if str(c) not in used]
    by_tokens = {tuple(_tokens(c)): c for c in columns}
    for x_word, y_word in AXIS_TOKENS:
        for column in columns:
            tokens = _tokens(column)
            for i, token in enumerate(tokens):
                if not token.startswith(x_word):
                    continue
                twin = (*tokens[:i], y_word + token[len(x_word) :], *tokens[i + 1 :])
                other = by_tokens.get(twin)
                if other is None or other == column:
                    continue
                x, y = coordinate_numbers(frame[column]), coordinate_numbers(frame[other])
                given = np.isfinite(x) | np.isfinite(y)
                both = np.isfinite(x) & np.isfinite(y)
                if len(x) and (both == given).all() and both.mean() >= FIT:
                    return [column, other]
    return []


def _points_crs(frame: pd.DataFrame, coordinates: list[str]) -> tuple[str | None, str]:
    """The CRS of a table's point coordinates, when they tell it, and why.

    Longitude/latitude need none (the reader's default). Else the one
    national grid (:data:`CRS_TIMEZONES`) whose area of use holds every
    point; several or none: no guess.
    """
    x, y = (coordinate_numbers(frame[c]) for c in coordinates)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None, ""
    box = (x[ok].min(), y[ok].min(), x[ok].max(), y[ok].max())
    if -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90:
        return None, ""
    fits = [code for code in CRS_TIMEZONES if _holds(code, box)]
    if len(fits) != 1:
        return None, ""
    return f"EPSG:{fits[0]}", (
        f"guessed from the coordinates: every point lies where EPSG:{fits[0]} is used, and no "
        "other national grid's; check it"
    )


@functools.lru_cache(maxsize=64)
def _used_area(code: int) -> tuple[float, float, float, float]:
    """Where the CRS ``code`` is used, in its own coordinates."""
    crs = CRS.from_epsg(code)
    area = crs.area_of_use
    assert area is not None  # every CRS of CRS_TIMEZONES has one
    to_crs = Transformer.from_crs(4326, crs, always_xy=True)
    return to_crs.transform_bounds(area.west, area.south, area.east, area.north)


def _holds(code: int, box: tuple[float, float, float, float]) -> bool:
    west, south, east, north = _used_area(code)
    return west <= box[0] and box[2] <= east and south <= box[1] and box[3] <= north


def _wkt_srid(frame: pd.DataFrame, chosen: dict[str, list[str]]) -> str | None:
    """The CRS the WKT text names with ``SRID=``, if any."""
    if schema.GEOMETRY not in chosen:
        return None
    text = _present(_values_of(frame, chosen[schema.GEOMETRY])).astype("string")
    codes = text.str.extract(r"^\s*SRID=(\d+)", expand=False).dropna()
    return f"EPSG:{codes.mode().iloc[0]}" if len(codes) else None


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _values_of(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    out = frame[columns[0]]
    for column in columns[1:]:
        text = out.astype("string").str.strip()
        out = out.astype(object).where(text.notna() & (text != ""), frame[column].astype(object))
    return out


def _date_formats(
    frame: pd.DataFrame, chosen: dict[str, list[str]]
) -> tuple[tuple[str, ...], bool]:
    """Formats for date text the built-in forms miss, and whether date-times carry offsets."""
    cells = []
    for column in schema.DATE_COLUMNS:
        if column in chosen:
            cells.append(_present(_values_of(frame, chosen[column])))
    if not cells:
        return (), False
    values = pd.concat(cells, ignore_index=True)
    if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
        return (), False
    text = values.astype("string").str.strip()
    offset = bool(
        text.str.contains(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$").any()
    )
    parsed, bad = schema.parse_dates(text)
    todo = text[bad]
    formats: list[str] = []
    while len(todo):
        counts = {
            fmt: int(pd.to_datetime(todo, format=fmt, errors="coerce").notna().sum())
            for fmt in DATE_FORMATS
            if fmt not in formats
        }
        best = max(counts, key=lambda f: counts[f], default=None)
        if best is None or counts[best] == 0:
            break
        formats.append(best)
        todo = todo[pd.to_datetime(todo, format=best, errors="coerce").isna().to_numpy()]
    return tuple(formats), offset


# --- translating values ---------------------------------------------------------------


def propose_value(column: str, raw: str) -> tuple[Any, str]:
    """The canonical value proposed for one raw value of a vocabulary column, and why.

    A known value or alias (case-insensitive) is taken as it is; else the
    longest alias or canonical value found as whole words in the text (so
    "Highway Authority" is road, "Work in progress" in_progress); else the
    column's fallback.
    """
    text = str(raw).strip().casefold()
    if column == EMERGENCY:
        hits = [w for w in EMERGENCY_WORDS if w in text]
        return (True, f"contains {hits[0]!r}") if hits else (False, "names no emergency")
    words: dict[str, Any]
    if column == schema.EXCAVATION:
        if text in schema.BOOL_ALIASES:
            return schema.BOOL_ALIASES[text], "known value"
        words = _BOOL_WORDS
    else:
        values, aliases = schema.ENUMS[column]
        lookup = {v: v for v in values} | aliases | {v.replace("_", " "): v for v in values}
        if text in lookup:
            return lookup[text], "known value"
        words = lookup
    hits = [k for k in words if k and re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text)]
    if hits:
        key = max(hits, key=len)
        return words[key], f"contains {key!r}"
    fallback: Any = schema.FALLBACKS[column] if column != schema.EXCAVATION else None
    if column == schema.LAYER or column == schema.EXCAVATION:
        return "", "no match: leave empty for the default"
    return fallback, "no match: the fallback"


def _emergency_column(frame: pd.DataFrame) -> str | None:
    """The category column (few distinct values) some of whose values name emergencies.

    Of several, one whose name says category / type / priority, then the one
    with the fewest distinct values.
    """
    found = []
    for position, column in enumerate(frame.columns):
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        text = _present(series).astype("string").str.strip().str.casefold()
        distinct = text.nunique()
        if text.empty or distinct > MAX_FLAG_VALUES:
            continue
        if text.str.contains("|".join(EMERGENCY_WORDS), regex=True).any():
            named = bool(set(_tokens(str(column))) & _CATEGORY_TOKENS)
            found.append((not named, distinct, position, str(column)))
    return min(found)[-1] if found else None


def value_table(column: str, series: pd.Series) -> pd.DataFrame:
    """Distinct raw values of a vocabulary column: ``raw``, ``rows``, ``proposed``, ``why``.

    Values are grouped trimmed and without case (as a mapping matches them),
    shown in their most frequent spelling, most rows first (at most
    :data:`MAX_VALUES`).
    """
    text = _present(series).astype("string").str.strip()
    if text.empty:
        return pd.DataFrame({"raw": [], "rows": [], "proposed": [], "why": []})
    folded = text.str.casefold()
    counts = folded.value_counts()
    spelling = text.groupby(folded.to_numpy()).agg(lambda v: v.value_counts().index[0])
    table = pd.DataFrame(
        {"raw": spelling.reindex(counts.index).to_numpy(), "rows": counts.to_numpy()}
    )
    table = table.sort_values(["rows", "raw"], ascending=[False, True], ignore_index=True)
    table = table.head(MAX_VALUES)
    proposed = [propose_value(column, r) for r in table["raw"]]
    table["proposed"] = [p for p, _ in proposed]
    table["why"] = [w for _, w in proposed]
    keep = np.array([p != "" for p in table["proposed"]], dtype=bool)
    return table[keep].reset_index(drop=True)
