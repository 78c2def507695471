"""The planned-works data model: column names, enums, aliases and validation.

Every column name and enum value of a planned work is spelled here once;
the rest of the package imports them. :func:`validate` turns a frame whose
columns already carry canonical names (see :mod:`ims_geo.ingest` for the
column mapping) into canonical dtypes, and splits it into valid rows and
rejected rows, each rejected row with every problem it has in ``reason``.
A row is rejected only when its work cannot be placed or identified; a
vocabulary value nothing maps takes its fallback (:data:`FALLBACKS`), is kept
in ``<column>_raw`` and is reported as a warning, and so is a number that
cannot be read or whose value depends on its decimal style (``98.000``: 98
or 98000, see :func:`_parse_number`): it is left empty.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from geopandas.array import GeometryArray

# --- columns ---------------------------------------------------------------
WORK_ID = "work_id"
ORG = "org"
TITLE = "title"
DISCIPLINE = "discipline"
LAYER = "layer"
START = "start_date"
END = "end_date"
EARLIEST = "earliest"
LATEST = "latest"
EXCAVATION = "excavation"
DEPTH_MIN = "depth_min"
DEPTH_MAX = "depth_max"
STATUS = "status"
COST = "cost_eur"
FUNDING = "funding"
VISIBILITY = "visibility"
GEOMETRY = "geometry"

#: Added to rejected rows: every problem of the row, separated by "; ".
REASON = "reason"
#: Added to rejected rows: 1-based position of the row in its source file.
SOURCE_ROW = "source_row"
#: Added to rejected rows: the file the row came from.
SOURCE_FILE = "source_file"

COLUMNS: tuple[str, ...] = (
    WORK_ID, ORG, TITLE, DISCIPLINE, LAYER, START, END, EARLIEST, LATEST,
    EXCAVATION, DEPTH_MIN, DEPTH_MAX, STATUS, COST, FUNDING, VISIBILITY,
)  # fmt: skip
REQUIRED: tuple[str, ...] = (WORK_ID, ORG, START, END, GEOMETRY)
DATE_COLUMNS: tuple[str, ...] = (START, END, EARLIEST, LATEST)
NUMBER_COLUMNS: tuple[str, ...] = (DEPTH_MIN, DEPTH_MAX, COST)
TEXT_COLUMNS: tuple[str, ...] = (WORK_ID, ORG, TITLE, FUNDING)
#: Extra (non-canonical) columns that name a work's street, as plans spell them
#: (matched case-insensitively); the map's search reads them when present.
STREET_COLUMNS: tuple[str, ...] = (
    "street", "street_name", "streetname", "road_name", "usrn", "address",
    "straat", "straatnaam", "adres", "strasse", "straße", "strassenname", "adresse",
    "katu", "kadunnimi", "gata", "gatunamn", "rue", "via", "calle",
)  # fmt: skip
#: Extra columns that name a work's municipality or area (the map's "zoom to area").
AREA_COLUMNS: tuple[str, ...] = (
    "municipality", "area", "district", "gemeente", "wijk", "gemeinde", "bezirk",
    "stadtteil", "kunta", "kommun", "commune",
)  # fmt: skip

# --- enums -----------------------------------------------------------------
DISCIPLINES: tuple[str, ...] = (
    "road", "sewer", "water", "gas", "electricity", "telecom",
    "heat", "lighting", "green", "transit", "other",
)  # fmt: skip
SUBSURFACE_DISCIPLINES: frozenset[str] = frozenset(
    {"sewer", "water", "gas", "electricity", "telecom", "heat"}
)
LAYERS: tuple[str, ...] = ("surface", "subsurface")
STATUSES: tuple[str, ...] = ("idea", "planned", "committed", "in_progress", "done", "cancelled")
VISIBILITIES: tuple[str, ...] = ("public", "partners", "private")
#: Statuses whose dates a programme may still change.
CHANGEABLE_STATUSES: frozenset[str] = frozenset({"idea", "planned", "committed"})

DEFAULT_STATUS = "planned"
DEFAULT_VISIBILITY = "partners"
DEFAULT_DISCIPLINE = "other"

#: Depth order of subsurface disciplines, deepest first (used when depths are absent).
DEPTH_ORDER: tuple[str, ...] = ("sewer", "water", "heat", "gas", "electricity", "telecom")

# --- aliases ---------------------------------------------------------------
#: Column-name aliases (English, Dutch, German), compared case-insensitively
#: after spaces, dashes and dots become underscores.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    WORK_ID: (
        "id",
        "workid",
        "work",
        "works_id",
        "project_id",
        "projectid",
        "project_nr",
        "projectnummer",
        "project",
        "werk_id",
        "werkid",
        "kenmerk",
        "maatregel_id",
        "massnahme_id",
        "massnahmen_id",
        "maßnahme_id",
        "vorhaben_id",
        "baustelle_id",
        "work_ref",
        "works_ref",
        "permit_ref",
        "reference",
    ),
    ORG: (
        "organisation",
        "organization",
        "owner",
        "promoter",
        "operator",
        "utility",
        "organisatie",
        "beheerder",
        "eigenaar",
        "netbeheerder",
        "opdrachtgever",
        "träger",
        "traeger",
        "traeger_name",
        "betreiber",
        "versorger",
        "bauherr",
        "org_name",
    ),
    TITLE: (
        "name",
        "description",
        "omschrijving",
        "naam",
        "titel",
        "bezeichnung",
        "beschreibung",
        "projektname",
        "projectnaam",
        "works_desc",
    ),
    DISCIPLINE: (
        "sector",
        "asset_type",
        "vakdiscipline",
        "discipline_",
        "sparte",
        "gewerk",
        "netz",
        "netzart",
        "utility_type",
        "type_net",
    ),
    LAYER: ("level", "laag", "ebene", "surface_layer"),
    START: (
        "start",
        "startdate",
        "start_dt",
        "begin",
        "begindatum",
        "startdatum",
        "aanvang",
        "beginn",
        "baubeginn",
        "start_datum",
        "from",
        "von",
        "date_from",
        "proposed_start",
        "startdat",
    ),
    END: (
        "end",
        "enddate",
        "end_dt",
        "einde",
        "einddatum",
        "ende",
        "bauende",
        "end_datum",
        "enddatum",
        "to",
        "bis",
        "date_to",
        "proposed_end",
        "enddat",
    ),
    EARLIEST: ("earliest_start", "vroegst", "vroegste_start", "fruehestens", "frühestens"),
    LATEST: ("latest_end", "uiterlijk", "uiterste_einde", "spaetestens", "spätestens"),
    EXCAVATION: ("excavate", "opens_street", "ontgraving", "graafwerk", "aufbruch", "tiefbau"),
    DEPTH_MIN: ("depthmin", "min_depth", "diepte_min", "tiefe_min", "depth_from"),
    DEPTH_MAX: ("depthmax", "max_depth", "diepte_max", "tiefe_max", "depth_to", "depth"),
    STATUS: ("state", "stand", "fase", "phase", "zustand", "projectstatus"),
    COST: ("cost", "costs", "kosten", "budget", "cost_estimate", "kosten_eur", "kosten_euro"),
    FUNDING: ("funding_source", "budget_line", "financiering", "dekking", "finanzierung"),
    VISIBILITY: ("sichtbarkeit", "zichtbaarheid", "access"),
    GEOMETRY: ("geom", "wkt", "the_geom", "shape", "geometrie", "geometry_wkt"),
}

DISCIPLINE_ALIASES: dict[str, str] = {
    # English
    "roads": "road",
    "highway": "road",
    "highways": "road",
    "street": "road",
    "carriageway": "road",
    "pavement": "road",
    "sewerage": "sewer",
    "drainage": "sewer",
    "wastewater": "sewer",
    "waste water": "sewer",
    "storm water": "sewer",
    "drinking water": "water",
    "water supply": "water",
    "electric": "electricity",
    "electrical": "electricity",
    "power": "electricity",
    "telecommunications": "telecom",
    "telecoms": "telecom",
    "telecommunication": "telecom",
    "fibre": "telecom",
    "fiber": "telecom",
    "district heating": "heat",
    "district heat": "heat",
    "heating": "heat",
    "street lighting": "lighting",
    "public lighting": "lighting",
    "greenery": "green",
    "trees": "green",
    "landscape": "green",
    "rail": "transit",
    "tram": "transit",
    "public transport": "transit",
    "bus": "transit",
    # Dutch
    "weg": "road",
    "wegen": "road",
    "verharding": "road",
    "riool": "sewer",
    "riolering": "sewer",
    "drinkwater": "water",
    "elektriciteit": "electricity",
    "elektra": "electricity",
    "laagspanning": "electricity",
    "middenspanning": "electricity",
    "glasvezel": "telecom",
    "warmte": "heat",
    "stadsverwarming": "heat",
    "warmtenet": "heat",
    "openbare verlichting": "lighting",
    "ov": "transit",
    "verlichting": "lighting",
    "groen": "green",
    "openbaar vervoer": "transit",
    "overig": "other",
    "overige": "other",
    # German
    "straße": "road",
    "strasse": "road",
    "straßenbau": "road",
    "strassenbau": "road",
    "verkehr": "road",
    "kanal": "sewer",
    "kanalisation": "sewer",
    "abwasser": "sewer",
    "entwässerung": "sewer",
    "wasser": "water",
    "trinkwasser": "water",
    "strom": "electricity",
    "elektrizität": "electricity",
    "telekommunikation": "telecom",
    "fernwärme": "heat",
    "fernwaerme": "heat",
    "wärme": "heat",
    "beleuchtung": "lighting",
    "straßenbeleuchtung": "lighting",
    "grün": "green",
    "gruen": "green",
    "grünflächen": "green",
    "tramway": "transit",
    "öpnv": "transit",
    "sonstige": "other",
    "sonstiges": "other",
    "andere": "other",
}
LAYER_ALIASES: dict[str, str] = {
    "above": "surface",
    "above ground": "surface",
    "bovengronds": "surface",
    "maaiveld": "surface",
    "oberfläche": "surface",
    "oberirdisch": "surface",
    "below": "subsurface",
    "underground": "subsurface",
    "below ground": "subsurface",
    "ondergronds": "subsurface",
    "ondergrond": "subsurface",
    "untergrund": "subsurface",
    "unterirdisch": "subsurface",
    "sub-surface": "subsurface",
    "sub surface": "subsurface",
}
STATUS_ALIASES: dict[str, str] = {
    "proposed": "idea",
    "concept": "idea",
    "idee": "idea",
    "initiatief": "idea",
    "gepland": "planned",
    "geplant": "planned",
    "planning": "planned",
    "forward plan": "planned",
    "advance": "planned",
    "vastgesteld": "committed",
    "approved": "committed",
    "beschlossen": "committed",
    "genehmigt": "committed",
    "in planung": "planned",
    "zukünftig": "planned",
    "in progress": "in_progress",
    "aktiv": "in_progress",
    "in bau": "in_progress",
    "in uitvoering": "in_progress",
    "in ausführung": "in_progress",
    "started": "in_progress",
    "ongoing": "in_progress",
    "in_uitvoering": "in_progress",
    "completed": "done",
    "finished": "done",
    "afgerond": "done",
    "gereed": "done",
    "abgeschlossen": "done",
    "fertig": "done",
    "closed": "done",
    "geannuleerd": "cancelled",
    "vervallen": "cancelled",
    "storniert": "cancelled",
    "abgesagt": "cancelled",
    "canceled": "cancelled",
    "withdrawn": "cancelled",
}
VISIBILITY_ALIASES: dict[str, str] = {
    "openbaar": "public",
    "öffentlich": "public",
    "partner": "partners",
    "internal": "partners",
    "privat": "private",
    "vertrouwelijk": "private",
    "confidential": "private",
    "vertraulich": "private",
}
BOOL_ALIASES: dict[str, bool] = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "ja": True,
    "j": True,
    "x": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
    "nee": False,
    "nein": False,
    "": False,
}

ENUMS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    DISCIPLINE: (DISCIPLINES, DISCIPLINE_ALIASES),
    LAYER: (LAYERS, LAYER_ALIASES),
    STATUS: (STATUSES, STATUS_ALIASES),
    VISIBILITY: (VISIBILITIES, VISIBILITY_ALIASES),
}

_DAYFIRST_DATES = ("%d-%m-%Y", "%d.%m.%Y", "%d/%m/%Y", "%Y/%m/%d")
#: Date text understood without a mapping's date_format, tried in this order per cell
#: after ISO 8601 (never a format guessed from the data: that depends on the row order).
_DAYFIRST_FORMATS = (
    *_DAYFIRST_DATES,
    "%Y%m%d",
    *(f"{d} {t}" for d in _DAYFIRST_DATES for t in ("%H:%M", "%H:%M:%S")),
)
# a time of day followed by "Z" or a UTC offset such as +01:00 / -0500
_OFFSET = r"([T\s]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def normalise_name(name: str) -> str:
    """Column name as compared with aliases: lower case, ``_`` for separators."""
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def canonical_column(name: str) -> str | None:
    """The canonical column a user's column name stands for, or None."""
    key = normalise_name(name)
    if key in COLUMNS or key == GEOMETRY:
        return key
    for canonical, aliases in COLUMN_ALIASES.items():
        if key in aliases:
            return canonical
    return None


@dataclass
class Validated:
    """Result of :func:`validate`."""

    valid: gpd.GeoDataFrame
    rejected: gpd.GeoDataFrame
    #: Human-readable warnings (repaired geometries, defaults applied...).
    warnings: list[str] = field(default_factory=list)
    #: Number of valid rows whose geometry was repaired with make_valid.
    repaired: int = 0
    #: Values nothing mapped, per column and raw value: ``column``, ``value``,
    #: ``rows`` (accepted rows that had it) and ``read_as`` (the fallback taken).
    unknown_values: pd.DataFrame = field(default_factory=lambda: _unknown_frame([]))


_NOT_TEXT = frozenset(
    {"date", "datetime", "datetime64", "integer", "floating", "boolean", "decimal"}
)


def _may_hold_text(series: pd.Series) -> bool:
    """False for columns that cannot hold (blank) strings, e.g. native dates or numbers."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    if not pd.api.types.is_object_dtype(series):
        return False
    return pd.api.types.infer_dtype(series, skipna=True) not in _NOT_TEXT


def _blank(series: pd.Series) -> np.ndarray:
    """True where a value is missing or an empty / whitespace-only string."""
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if _may_hold_text(series):
        text = series.astype("string").str.strip()
        missing |= (text == "").fillna(True).to_numpy(dtype=bool)
    return missing


def _as_text(series: pd.Series, *, as_object: bool = True) -> pd.Series:
    """Ids and names as text; a float that is a whole number loses its '.0'.

    Missing values are None in an object column, or ``<NA>`` in a ``string``
    column with ``as_object=False`` (ids and organisations stay Arrow text
    through validation: a million Python strings made and read back cost
    seconds).
    """
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2**53)
        text = series.astype("string")
        ints = pd.Series(np.where(whole, values, 0), index=series.index).astype("int64")
        series = text.where(~whole, ints.astype("string"))
    elif not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        series = series.astype("string")
    out = series.astype("string").str.strip()
    if not as_object:
        return out
    return pd.Series(_python_strings(out), index=out.index, dtype=object)


#: Rows :func:`_python_strings` looks at to judge whether a column repeats its values.
_HEAD_ROWS = 1024


def _python_strings(text: pd.Series) -> np.ndarray:
    """The cells of a ``string`` column as Python strings, None where missing.

    A long column whose first rows repeat their values (a programme's titles,
    its funding lines) makes one Python string per distinct value and spreads
    them over the rows (one hashing pass instead of a million strings made);
    any other column is converted cell by cell. Both give the same values.
    """
    if len(text) > 4 * _HEAD_ROWS and text.iloc[:_HEAD_ROWS].nunique() <= _HEAD_ROWS // 8:
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        names = np.empty(len(uniques) + 1, dtype=object)  # the last for the missing (code -1)
        names[:-1] = np.asarray(uniques, dtype=object)
        return names[codes]
    return text.to_numpy(dtype=object, na_value=None)


def _cell_text(value: object) -> str:
    """A cell as it reads in a message; missing values read as ''."""
    return "" if value is None or value is pd.NA or pd.isna(value) else str(value)  # type: ignore[arg-type]


class _Lazy:
    """Per-row messages formatted only for the rows that are looked up."""

    def __init__(self, template: str, columns: list[pd.Series]) -> None:
        self.template = template
        self.columns = [c.reset_index(drop=True) for c in columns]

    def __getitem__(self, i: int) -> str:
        return self.template.format(*(_cell_text(c.iloc[i]) for c in self.columns))


#: A mask of rows, or a getter of one (computed on another thread).
_Mask = np.ndarray | Callable[[], np.ndarray]


@dataclass(frozen=True)
class _Geometries:
    """What :func:`validate` found of the geometries (:func:`_checked_geometries`)."""

    #: The geometries, those repaired replaced (a copy when any was repaired).
    geoms: np.ndarray
    missing: np.ndarray
    empty: np.ndarray
    invalid: np.ndarray
    #: Invalid geometries the repair leaves empty or invalid.
    unrepairable: np.ndarray


def _checked_geometries(geoms: np.ndarray) -> _Geometries:
    """Missing, empty and invalid geometries found, and the invalid ones repaired.

    GEOS work outside the GIL: :func:`validate` runs it on a second thread.
    """
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    fixed, invalid, unrepairable = _repaired(geoms, ~missing & ~empty)
    return _Geometries(fixed, missing, empty, invalid, unrepairable)


def _duplicated(ids: pd.Series, orgs: pd.Series, keyed: np.ndarray) -> np.ndarray:
    """Keyed rows whose (org, work_id) key another row has too.

    The key is the pair of codes of the two texts (Arrow's hashing, outside
    the GIL); rows without either (``keyed`` False) are never marked.
    """
    org_codes = pd.factorize(orgs, use_na_sentinel=True)[0].astype(np.int64)
    id_codes = pd.factorize(ids, use_na_sentinel=True)[0].astype(np.int64)
    key = pd.Series(org_codes * (int(id_codes.max(initial=0)) + 2) + id_codes)
    return key.duplicated(keep=False).to_numpy() & keyed


def _repaired(geoms: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Invalid geometries repaired (``make_valid``).

    Returns the geometries (a copy when any was repaired), the mask of the
    invalid ones and the mask of those the repair leaves empty or invalid.
    """
    invalid = present & ~shapely.is_valid(geoms)
    unrepairable = np.zeros(len(geoms), dtype=bool)
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        unrepairable[invalid] = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
    return geoms, invalid, unrepairable


#: Cell types of a column of plain calendar dates, as a GeoPackage DATE is read through Arrow.
_PLAIN_DATE_TYPES = frozenset({dt.date, type(None)})
_NAT_SECONDS = np.iinfo(np.int64).min


def _plain_dates(series: pd.Series) -> pd.Series | None:
    """``series`` as ``datetime64[s]`` when it holds only ``datetime.date`` objects and None.

    The fast path of :func:`parse_dates` for a column of native dates: the
    days are read by Arrow in one pass instead of each cell being converted
    and floored by pandas. Any other column (text, numbers, NaT, datetimes,
    with or without a time zone, numpy datetimes, a column with no date)
    returns None and takes the general path. ``datetime.date`` spans years
    1-9999, all of which ``datetime64[s]`` holds.
    """
    if not pd.api.types.is_object_dtype(series) or not len(series):
        return None
    values = series.to_numpy()
    kinds = set(map(type, values))
    if dt.date not in kinds or not kinds <= _PLAIN_DATE_TYPES:
        return None
    days = pa.array(values, type=pa.date32())
    seconds = days.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64) * 86_400
    if days.null_count:
        seconds[days.is_null().to_numpy(zero_copy_only=False)] = _NAT_SECONDS
    return pd.Series(seconds.view("datetime64[s]"), index=series.index)


def parse_dates(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse dates from native dates, datetimes or text.

    Returns the dates as ``datetime64[s]`` at midnight (time zones are
    dropped keeping the local wall-clock date) and a mask of values that
    were given but could not be parsed.
    """
    plain = _plain_dates(series)
    if plain is not None:
        return plain, np.zeros(len(series), dtype=bool)
    given = ~_blank(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        parsed = series.dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    elif pd.api.types.infer_dtype(series, skipna=True) in ("date", "datetime"):
        # native date / datetime objects (e.g. GeoPackage DATE read through Arrow)
        parsed = pd.to_datetime(series, errors="coerce", utc=True).dt.tz_localize(None)
        # any aware value, wherever it is: each keeps its own wall-clock date
        if any(getattr(v, "tzinfo", None) is not None for v in series.dropna()):
            local = [v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in series]
            parsed = pd.to_datetime(pd.Series(local, index=series.index), errors="coerce")
    else:
        text = series.astype("string").str.strip()
        # drop a UTC offset so that the local wall-clock date is kept
        offset = text.str.contains(_OFFSET.replace("(", "(?:", 1), regex=True, na=False)
        if offset.any():
            text = text.where(~offset, text[offset].str.replace(_OFFSET, r"\1", regex=True))
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
        parsed = parsed.dt.tz_convert(None) if parsed.dt.tz is not None else parsed
        for fmt in _DAYFIRST_FORMATS:
            missing = parsed.isna() & given
            if not missing.any():
                break
            parsed = parsed.where(
                ~missing, pd.to_datetime(text.where(missing), errors="coerce", format=fmt)
            )
        # date objects among text; text no format fits stays unparsed (never guessed)
        missing = parsed.isna() & given
        if missing.any() and pd.api.types.is_object_dtype(series):
            native = missing.copy()
            native[missing] = series[missing].map(lambda v: isinstance(v, dt.date)).astype(bool)
            if native.any():
                retry = pd.to_datetime(series.where(native), errors="coerce", utc=True)
                parsed = parsed.where(~native, retry.dt.tz_convert(None))
    parsed = pd.to_datetime(parsed).dt.floor("D").astype("datetime64[s]")
    bad = parsed.isna().to_numpy() & given
    return parsed, bad


def _parse_enum(
    series: pd.Series,
    values: tuple[str, ...],
    aliases: dict[str, str],
    fill: str | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Map enum text to canonical values; returns values and a mask of unknown ones.

    A column of text holds few distinct values: each is trimmed, lowered and
    looked up once, and the answers are spread over the rows by their codes.
    Values that are missing or map to nothing are None, or ``fill``.
    """
    names, slots, bad = _enum_slots(series, values, aliases, fill)
    return pd.Series(names[slots], index=series.index, dtype=object), bad


def _enum_text(
    series: pd.Series, values: tuple[str, ...], aliases: dict[str, str], fill: str | None
) -> tuple[pd.Series, np.ndarray]:
    """:func:`_parse_enum` as a ``str`` column (Arrow text), built from the distinct values.

    Missing values are NaN. The valid frame's vocabulary columns are ``str``;
    spreading the few canonical names over the rows in Arrow saves making a
    million Python strings and finding their distinct values again.
    """
    names, slots, bad = _enum_slots(series, values, aliases, fill)
    text = pd.array(names, dtype=str).take(slots)
    return pd.Series(text, index=series.index), bad


def _enum_slots(
    series: pd.Series, values: tuple[str, ...], aliases: dict[str, str], fill: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical names of the distinct values (a last slot for missing cells), each row's slot
    among them and the mask of unknown values (see :func:`_parse_enum`)."""
    lookup = {v: v for v in values} | aliases | {v.replace("_", " "): v for v in values}
    if _is_text_column(series):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        text = pd.Series(uniques, dtype=object).astype("string").str.strip().str.lower()
    else:  # numbers, dates or mixed cells (1 and 1.0 factorize alike): each row as it reads
        codes, text = np.arange(len(series)), series.astype("string").str.strip().str.lower()
    mapped = text.map(lookup)
    bad = (mapped.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    # one slot past the distinct values for the missing cells (code -1): None, never bad
    names = np.empty(len(mapped) + 1, dtype=object)
    names[:-1] = mapped.astype(object).where(mapped.notna(), None).to_numpy()
    if fill is not None:
        names[pd.isna(names)] = fill
    slots = np.where(codes >= 0, codes, len(names) - 1)
    return names, slots, np.append(bad, False)[slots]


def _is_text_column(series: pd.Series) -> bool:
    """True when every present value of a column is a Python or Arrow string."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    return pd.api.types.is_object_dtype(series) and (
        pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    )


def _as_str_column(series: pd.Series) -> pd.Series:
    """``series.astype(str)`` of a column without missing values, by its distinct values."""
    if not pd.api.types.is_object_dtype(series) or not _is_text_column(series):
        return series.astype(str)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if (codes < 0).any():
        return series.astype(str)
    return pd.Series(
        pd.array(np.asarray(uniques, dtype=object), dtype=str).take(codes), index=series.index
    )


def _parse_bool(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(object), np.zeros(len(series), dtype=bool)
    text = series.astype("string").str.strip().str.lower()
    text = text.str.replace(r"\.0$", "", regex=True)
    text = text.where(text != "")  # blank: not given, the layer's default applies
    mapped = text.map(BOOL_ALIASES)
    bad = (mapped.isna() & text.notna()).to_numpy(dtype=bool)
    return mapped.astype(object).where(mapped.notna(), None), bad


#: Decimal marks a number column can be declared with: ``","`` (1.234,50) or ``"."`` (1,234.50).
DECIMAL_MARKS: tuple[str, ...] = (",", ".")
_MARK_NAMES = {",": "decimal comma", ".": "decimal point"}
#: Spaces that group thousands (1 234,50): plain, no-break and narrow no-break.
_GROUP_SPACES = "[ \u00a0\u202f]"


def _number_pattern(point: str) -> str:
    """A number written with the decimal mark ``point`` and the other mark (or a space)
    grouping thousands in groups of three: ``1.234.567,5``, ``1 234,5``, ``1234,5``, ``-,5``."""
    group = re.escape("," if point == "." else ".")
    mark = re.escape(point)
    whole = rf"(?:\d+|[1-9]\d{{0,2}}(?:{group}\d{{3}})+|[1-9]\d{{0,2}}(?:{_GROUP_SPACES}\d{{3}})+)"
    return rf"^[+-]?(?:{whole}(?:{mark}\d*)?|{mark}\d+)(?:[eE][+-]?\d+)?$"


_NUMBER_PATTERNS = {point: _number_pattern(point) for point in DECIMAL_MARKS}


def _read_as(text: pd.Series, point: str) -> pd.Series:
    """The numbers of ``text`` written with the decimal mark ``point`` (cells already checked)."""
    group = re.escape("," if point == "." else ".")
    plain = text.str.replace(f"{_GROUP_SPACES}|{group}", "", regex=True)
    if point == ",":
        plain = plain.str.replace(",", ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype("float64")


def _number_text(values: pd.Series) -> pd.Series:
    """Numbers as a message shows them, without a thousands separator: 98000, 1234.5."""
    return values.astype("string").str.replace(r"\.0$", "", regex=True)


@dataclass(frozen=True)
class _Doubt:
    """Cells of one number column whose number depends on the decimal style, left empty."""

    #: The cells concerned.
    rows: np.ndarray
    #: The column's cells as text.
    cells: pd.Series
    #: The warning, ``{file}`` and ``{values}`` left to fill (see :func:`_doubt_warning`).
    template: str
    #: The readings each value is shown with, in the order the template names them.
    readings: list[pd.Series]


@dataclass(frozen=True)
class _Numbers:
    """One number column as :func:`_parse_number` read it."""

    #: The numbers (NaN where empty, unreadable or depending on the style).
    values: pd.Series
    #: Cells that are no number in either style (the column's fallback applies).
    unreadable: np.ndarray
    #: Cells left empty because their number depends on the style, to warn about.
    doubts: list[_Doubt] = field(default_factory=list)
    #: What is worth knowing about the column as a whole.
    notes: list[str] = field(default_factory=list)

    @property
    def doubtful(self) -> np.ndarray:
        """Cells left empty because their number depends on the style (any of :attr:`doubts`)."""
        doubtful = np.zeros(len(self.values), dtype=bool)
        for doubt in self.doubts:
            doubtful |= doubt.rows
        return doubtful


def _parse_number(series: pd.Series, column: str = "", decimal: str | None = None) -> _Numbers:
    """Read one number column, deciding its decimal mark from all its cells.

    A cell such as ``1.234,50``, ``1234,5`` or ``1.234.567`` can only be
    written with a decimal comma, ``1,234.50``, ``1,234,567``, ``12.5`` or
    ``0.75`` only with a decimal point (thousands are grouped by three);
    ``98.000`` or ``1,500`` fit either style and take the column's. The
    column's style is ``decimal`` when declared, else the one its cells show.
    A cell whose number still depends on the style is never guessed but left
    empty and warned about: the column shows both styles or none, or the cell
    contradicts ``decimal``.

    Parameters
    ----------
    series
        The column's cells: numbers, or text as the file wrote it.
    column
        Column name for messages.
    decimal
        The declared decimal mark, ``","`` or ``"."`` (a mapping's ``decimal``).

    Returns
    -------
    _Numbers
    """
    if decimal is not None and decimal not in DECIMAL_MARKS:
        raise ValueError(f"decimal {decimal!r} for {column} is not one of {DECIMAL_MARKS}")
    n = len(series)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return _Numbers(series.astype("float64"), np.zeros(n, dtype=bool))
    values = pd.Series(np.full(n, np.nan), index=series.index)
    text = series.astype("string").str.strip()
    if pd.api.types.is_object_dtype(series) and pd.api.types.infer_dtype(
        series, skipna=True
    ) not in ("string", "empty"):
        # numbers among the texts (a frame built in code, a JSON file) are numbers already
        native = series.map(
            lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool)
        ).to_numpy(dtype=bool)
        values[native] = series[native].astype("float64")
        text = text.where(~native)
    fits = {
        point: text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
        for point, pattern in _NUMBER_PATTERNS.items()
    }
    comma, point = fits[","], fits["."]
    # a mark in a cell that fits both styles reads differently in each (98.000: 98 or 98000)
    marked = (text.str.contains(".", regex=False) | text.str.contains(",", regex=False)).to_numpy(
        dtype=bool, na_value=False
    )
    either = comma & point & marked
    only = {",": comma & ~point, ".": point & ~comma}
    shown = [mark for mark in DECIMAL_MARKS if only[mark].any()]
    style = decimal or (shown[0] if len(shown) == 1 else None)
    doubts: list[_Doubt] = []
    raw = raw_column(column)
    notes: list[str] = []
    readings = {mark: pd.Series(np.full(n, np.nan), index=series.index) for mark in DECIMAL_MARKS}
    plain = comma & point & ~marked  # 1234, -5, 1 234, 1e6: the same in either style
    # with a style, every cell that fits it; without, each cell that fits one style only
    read = {style: fits[style]} if style else {",": only[","], ".": only["."] | plain}
    for mark, rows in read.items():
        if rows.any():
            readings[mark][rows] = _read_as(text if rows.all() else text[rows], mark)
            values[rows] = readings[mark][rows]
    if either.any() and style is None:
        for mark in DECIMAL_MARKS:
            readings[mark][either] = _read_as(text[either], mark)
        why = "the column shows both styles" if shown else "no cell of the column shows which"
        doubts.append(
            _Doubt(
                either,
                text,
                f"{{file}}: ambiguous {column} {{values}} (with a decimal point | with a decimal "
                f"comma), and {why} — read as empty, see {raw}; write it without a thousands "
                'separator or declare decimal = "," or "." in a mapping file',
                [readings["."], readings[","]],
            )
        )
    if decimal is not None:
        other = "," if decimal == "." else "."
        wrong = only[other]
        if wrong.any():
            readings[other][wrong] = _read_as(text[wrong], other)
            doubts.append(
                _Doubt(
                    wrong,
                    text,
                    f"{{file}}: {column} {{values}} not written with the declared "
                    f"{_MARK_NAMES[decimal]} (as read with a {_MARK_NAMES[other]}) — read as "
                    f"empty, see {raw}; correct the cells or the mapping's decimal",
                    [readings[other]],
                )
            )
    elif len(shown) > 1:
        examples = " and ".join(
            f"{_MARK_NAMES[mark]}s such as '{text[only[mark]].iloc[0]}'" for mark in DECIMAL_MARKS
        )
        notes.append(
            f"{column} mixes {examples}: a cell that fits one style only is read in it, "
            "one that fits both is read as empty — declare decimal in a mapping file if a style "
            "is wrong"
        )
    finite = np.isfinite(values.to_numpy(dtype="float64"))
    values[~finite] = np.nan
    numbers = _Numbers(values, np.zeros(n, dtype=bool), doubts, notes)
    return replace(numbers, unreadable=~finite & ~numbers.doubtful & ~_blank(series))


def _doubt_warning(doubt: _Doubt, accepted: np.ndarray, source: str = "") -> str | None:
    """The warning for one column's cells whose number depends on the decimal style.

    Each distinct value (most rows first, at most :data:`WARNED_VALUES`) with
    its readings and rows, e.g. ``'98.000' = 98 | 98000 (3 rows)``; the rest
    summed up as ``+4 (7 rows)``. ``None`` when no accepted row has such a cell.
    """
    shown = doubt.rows & accepted
    if not shown.any():
        return None
    table = pd.DataFrame(
        {"value": doubt.cells[shown].astype(object)}
        | {f"read{i}": _number_text(r[shown]).astype(object) for i, r in enumerate(doubt.readings)}
    )
    counts = table.value_counts(sort=False, dropna=False).rename("rows").reset_index()
    counts = counts.sort_values(["rows", "value"], ascending=[False, True])
    listed = counts.head(WARNED_VALUES)
    readings = listed[[f"read{i}" for i in range(len(doubt.readings))]].agg(" | ".join, axis=1)
    items = [
        f"'{value}' = {read} ({_rows(int(count))})"
        for value, read, count in zip(listed["value"], readings, listed["rows"], strict=True)
    ]
    rest = counts.iloc[WARNED_VALUES:]
    if len(rest):
        items.append(f"+{len(rest)} ({_rows(int(rest['rows'].sum()))})")
    return doubt.template.format(file=source or "input", values=", ".join(items))


def undecided_numbers(series: pd.Series, column: str = "") -> list[str]:
    """The cells of a number column that fit both decimal styles when it shows neither or both.

    ``98.000`` reads 98 or 98000: :func:`validate` leaves such a number empty
    (and warns) unless the style is declared (a mapping's ``decimal``). Distinct cells, the
    most frequent first; empty when every cell reads one way.
    """
    cells = series[_parse_number(series, column).doubtful].astype("string").str.strip()
    return [str(c) for c in cells.value_counts(sort=True).index]


def default_layer(discipline: pd.Series) -> pd.Series:
    """Layer implied by the discipline: subsurface for networks, surface otherwise."""
    sub = discipline.isin(list(SUBSURFACE_DISCIPLINES)).to_numpy(dtype=bool)
    return pd.Series(np.where(sub, "subsurface", "surface"), index=discipline.index, dtype=object)


#: Columns whose unknown values take a fallback instead of rejecting the work.
VOCABULARY: tuple[str, ...] = (DISCIPLINE, LAYER, STATUS, VISIBILITY, EXCAVATION)
#: Suffix of the extra column that keeps a value nothing mapped (``status_raw``).
RAW_SUFFIX = "_raw"
#: What a value nothing maps is read as, per column.
FALLBACKS: dict[str, str] = {
    DISCIPLINE: DEFAULT_DISCIPLINE,
    LAYER: "the discipline's layer",
    STATUS: DEFAULT_STATUS,
    VISIBILITY: DEFAULT_VISIBILITY,
    EXCAVATION: "the layer's default",
    **{c: "empty" for c in NUMBER_COLUMNS},
}
#: Unknown values listed one by one per column in the warnings; the rest are summed up.
WARNED_VALUES = 10


def raw_column(column: str) -> str:
    """The extra column that keeps ``column``'s values nothing mapped, e.g. ``status_raw``."""
    return f"{column}{RAW_SUFFIX}"


def _unknown_frame(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["column", "value", "rows", "read_as"])
    return frame.astype({"column": object, "value": object, "rows": "int64", "read_as": object})


def _unknown_values(
    raw: pd.DataFrame, unknown: list[tuple[str, np.ndarray]], accepted: np.ndarray
) -> pd.DataFrame:
    """Accepted rows' unknown values counted per column and raw value, most rows first."""
    rows: list[tuple[str, str, int, str]] = []
    for col, mask in unknown:
        shown = mask & accepted
        if not shown.any():
            continue
        text = raw[col].astype("string").str.strip()[shown]
        counts = text.value_counts(sort=False).reset_index()
        counts.columns = pd.Index(["value", "rows"])
        counts = counts.sort_values(["rows", "value"], ascending=[False, True])
        rows.extend(
            (col, str(v), int(k), FALLBACKS[col])
            for v, k in zip(counts["value"], counts["rows"], strict=True)
        )
    return _unknown_frame(rows)


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def unknown_warnings(unknown: pd.DataFrame, source: str = "") -> list[str]:
    """One warning per column and raw value nothing mapped, with the mapping line that fixes it.

    Parameters
    ----------
    unknown
        :attr:`Validated.unknown_values`.
    source
        File name the warnings start with.

    Returns
    -------
    list of str
        e.g. ``"plan.csv: status 'in preparation' (362 rows) read as planned — add it
        to [values.status]"``; past :data:`WARNED_VALUES` values of one column, the
        rest in one line.
    """
    where = f"{source or 'input'}: "
    out: list[str] = []
    for col, group in unknown.groupby("column", sort=False):
        col = str(col)
        fix = f"add it to [values.{col}] in a mapping file"
        for value, count, read_as in (
            group[["value", "rows", "read_as"]].head(WARNED_VALUES).itertuples(index=False)
        ):
            out.append(f"{where}{col} {value!r} ({_rows(count)}) read as {read_as} — {fix}")
        rest = group.iloc[WARNED_VALUES:]
        if len(rest):
            out.append(
                f"{where}{col}: {len(rest)} more unknown values ({_rows(int(rest['rows'].sum()))})"
                f" read as {FALLBACKS[col]} — see {raw_column(col)}; add them to [values.{col}]"
            )
    return out


def validate(
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    org: str | None = None,
    source: str = "",
    problems: Iterable[tuple[str, np.ndarray, str | Sequence[str]]] = (),
    decimal: str | dict[str, str] | None = None,
) -> Validated:
    """Check planned works and split them into valid and rejected rows.

    Parameters
    ----------
    frame
        Works whose columns carry canonical names (see :data:`COLUMNS`);
        other columns are kept as they are.
    org
        Organisation for the whole file; fills ``org`` where it is missing.
    source
        File name used in reasons and in ``source_file`` of rejected rows.
    problems
        Problems the reader found before validation, as ``(column, mask,
        message)``: ``message`` is one text or one text per row (only the
        masked rows' texts are used). A geometry problem (``column ==
        "geometry"``, e.g. unparsable WKT) replaces "missing geometry".
    decimal
        The decimal mark numbers are written with, ``","`` (``1.234,50``) or
        ``"."`` (``1,234.50``), for every number column or per column
        (``{"cost_eur": ","}``); a column not declared takes the style its
        cells show, and a cell whose number depends on the style is left empty,
        kept in ``<column>_raw`` and warned about.

    Returns
    -------
    Validated
        ``valid`` in canonical dtypes (dates ``datetime64[s]``; ``earliest``
        and ``latest`` default to the planned dates) and ``rejected`` with the
        row's own values plus ``reason``, ``source_row`` and ``source_file``.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=GEOMETRY if GEOMETRY in frame else None)
    raw = frame.reset_index(drop=True)
    n = len(raw)
    found: dict[int, list[str]] = {}
    # the checks' (mask, message) in the order their reasons are listed; a mask may be
    # computed on another thread (a getter), so the rows are only marked at the end
    flags: list[tuple[_Mask, str | Sequence[str] | pd.Series]] = []

    def flag(mask: _Mask, message: str | Sequence[str] | pd.Series) -> None:
        """Add ``message`` (one text, or one per row) to the masked rows only (see ``mark``)."""
        flags.append((mask, message))

    def mark(mask: np.ndarray, message: str | Sequence[str] | pd.Series) -> None:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        if isinstance(message, str):
            texts: Sequence[str] = [message] * len(rows)
        elif isinstance(message, pd.Series):
            texts = message.iloc[rows].tolist()
        else:
            texts = [message[i] for i in rows.tolist()]
        for i, text in zip(rows.tolist(), texts, strict=True):
            found.setdefault(i, []).append(text)

    def quoted(template: str, *columns: pd.Series) -> _Lazy:
        """``template`` filled per row, built lazily by :func:`flag` for bad rows."""
        return _Lazy(template, list(columns))

    out = raw.copy(deep=False)  # (copy on write: columns are replaced, never changed in place)
    warnings: list[str] = []

    # geometry
    has_geometry = raw.active_geometry_name is not None and raw.active_geometry_name in raw
    crs = raw.crs if has_geometry else None
    if not has_geometry:
        geoms = np.full(n, None, dtype=object)
    else:
        geoms = raw.geometry.to_numpy()
    problems = list(problems)
    geometry_problem = np.zeros(n, dtype=bool)
    for column, mask, message in problems:
        flag(np.asarray(mask, dtype=bool), message)
        if column == GEOMETRY:
            geometry_problem |= np.asarray(mask, dtype=bool)
    # the geometries (GEOS, outside the GIL) and, once the ids are known, the duplicate keys
    # (Arrow, outside the GIL) are checked on other threads while this one checks the columns
    pool = ThreadPoolExecutor(2)
    try:
        checked = pool.submit(_checked_geometries, geoms)
        flag(lambda: checked.result().missing & ~geometry_problem, "missing geometry")
        flag(lambda: checked.result().empty, "empty geometry")
        flag(lambda: checked.result().unrepairable, "invalid geometry that cannot be repaired")

        # required text
        for col in (WORK_ID, ORG):
            if col not in out:
                out[col] = None
        out[WORK_ID] = _as_text(out[WORK_ID], as_object=False)
        no_id = _blank(out[WORK_ID])
        flag(no_id, "missing work_id")
        out[ORG] = _as_text(out[ORG], as_object=False)
        no_org = _blank(out[ORG])
        if org is not None and no_org.any():
            out[ORG] = out[ORG].where(~pd.Series(no_org), org)
            no_org = _blank(out[ORG])
        flag(no_org, "missing org (add an org column or give the organisation for the file)")
        duplicated = pool.submit(_duplicated, out[WORK_ID], out[ORG], ~no_id & ~no_org)
    finally:
        pool.shutdown(wait=False)
    for col in (TITLE, FUNDING):
        out[col] = _as_text(out[col]) if col in out else None

    # dates
    for col in DATE_COLUMNS:
        if col not in out:
            out[col] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[s]")
            if col in (START, END):
                flag(np.ones(n, dtype=bool), f"missing {col}")
            continue
        parsed, bad = parse_dates(out[col])
        flag(bad, quoted(f"unparsable {col} '{{}}'", raw[col]))
        if col in (START, END):
            flag(parsed.isna().to_numpy() & ~bad, f"missing {col}")
        out[col] = parsed
    start, end = out[START], out[END]
    flag((end < start).to_numpy(dtype=bool), "end_date before start_date")
    out[EARLIEST] = out[EARLIEST].fillna(start)
    out[LATEST] = out[LATEST].fillna(end)
    flag((out[EARLIEST] > start).to_numpy(dtype=bool), "earliest after start_date")
    flag((out[LATEST] < end).to_numpy(dtype=bool), "latest before end_date")

    # vocabulary and numbers: a value nothing maps never drops the work; it takes the
    # fallback, its raw text is kept in ``<column>_raw`` and it is reported as a warning
    unknown: list[tuple[str, np.ndarray]] = []
    doubts: list[tuple[str, _Doubt]] = []
    defaults = {
        DISCIPLINE: DEFAULT_DISCIPLINE,
        STATUS: DEFAULT_STATUS,
        VISIBILITY: DEFAULT_VISIBILITY,
    }
    for col, (values, aliases) in ENUMS.items():
        if col not in out:
            out[col] = None
        parsed_enum, bad = _enum_text(out[col], values, aliases, defaults.get(col))
        if col in raw and bad.any():
            unknown.append((col, bad))
        out[col] = parsed_enum
    no_layer = out[LAYER].isna().to_numpy()
    if no_layer.any():
        out[LAYER] = out[LAYER].where(~no_layer, default_layer(out[DISCIPLINE]))

    if EXCAVATION not in out or out[EXCAVATION].dtype != np.bool_:
        # (plain booleans have no missing value: nothing to read or fill)
        if EXCAVATION in out:
            exc, bad = _parse_bool(out[EXCAVATION])
            if bad.any():
                unknown.append((EXCAVATION, bad))
        else:
            exc = pd.Series([None] * n, dtype=object)
        out[EXCAVATION] = exc.where(exc.notna(), out[LAYER] == "subsurface").astype(bool)
    for col in NUMBER_COLUMNS:
        if col not in out:
            out[col] = np.nan
            continue
        declared = decimal.get(col) if isinstance(decimal, dict) else decimal
        numbers = _parse_number(out[col], col, declared)
        if numbers.unreadable.any():
            unknown.append((col, numbers.unreadable))
        doubts.extend((col, doubt) for doubt in numbers.doubts)
        warnings.extend(f"{source or 'input'}: {note}" for note in numbers.notes)
        out[col] = numbers.values
    flag((out[DEPTH_MIN] > out[DEPTH_MAX]).to_numpy(dtype=bool), "depth_min greater than depth_max")
    flag((out[DEPTH_MIN] < 0).to_numpy(dtype=bool) | (out[DEPTH_MAX] < 0).to_numpy(dtype=bool),
         "negative depth (depths are metres below the surface)")  # fmt: skip

    # duplicates: every row of a duplicated key is rejected
    flag(duplicated.result, quoted("duplicate work_id '{}' for org '{}'", out[WORK_ID], out[ORG]))

    geoms, invalid = checked.result().geoms, checked.result().invalid
    for which, message in flags:
        mark(which() if callable(which) else which, message)
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[list(found)] = True
    reasons = np.full(n, "", dtype=object)
    for i, texts in found.items():
        reasons[i] = "; ".join(texts)
    accepted = ~bad_rows
    kept: dict[str, np.ndarray] = {}  # per column, the cells whose text is kept in <column>_raw
    for col, mask in [*unknown, *((col, doubt.rows) for col, doubt in doubts)]:
        kept[col] = kept.get(col, np.zeros(n, dtype=bool)) | mask
    for col, mask in kept.items():
        shown = mask & accepted
        if shown.any():
            text = raw[col].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
            out[raw_column(col)] = np.where(shown, text, None)
    unknown_values = _unknown_values(raw, unknown, accepted)
    warnings.extend(unknown_warnings(unknown_values, source))
    warnings.extend(w for _, d in doubts if (w := _doubt_warning(d, accepted, source)) is not None)
    repaired = int((invalid & ~bad_rows).sum())
    if repaired:
        warnings.append(f"{source or 'input'}: {repaired} invalid geometries repaired (make_valid)")

    out = out.set_geometry(gpd.GeoSeries(GeometryArray(geoms, crs=crs), index=out.index), crs=crs)
    if out.geometry.name != GEOMETRY:
        out = out.rename_geometry(GEOMETRY)
    ordered = (
        [c for c in COLUMNS if c in out]
        + [c for c in out.columns if c not in COLUMNS and c != GEOMETRY]
        + [GEOMETRY]
    )
    valid = (out.loc[~bad_rows, ordered] if bad_rows.any() else out[ordered]).reset_index(drop=True)
    for col in (WORK_ID, ORG, DISCIPLINE, LAYER, STATUS, VISIBILITY):
        valid[col] = _as_str_column(valid[col])

    rejected = raw.loc[bad_rows].copy() if bad_rows.any() else raw.iloc[:0].copy()
    if not has_geometry:
        rejected = gpd.GeoDataFrame(
            rejected, geometry=gpd.GeoSeries([None] * len(rejected), index=rejected.index), crs=None
        )
    if org is not None and ORG not in rejected:
        rejected.insert(0, ORG, org)
    elif org is not None:
        rejected[ORG] = rejected[ORG].where(rejected[ORG].notna(), org)
    rejected[REASON] = reasons[bad_rows]
    rejected[SOURCE_ROW] = np.flatnonzero(bad_rows) + 1
    rejected[SOURCE_FILE] = source
    rejected = rejected.reset_index(drop=True)
    return Validated(
        valid=valid,
        rejected=rejected,
        warnings=warnings,
        repaired=repaired,
        unknown_values=unknown_values,
    )


def empty_works(crs: object = None) -> gpd.GeoDataFrame:
    """An empty works frame with every canonical column."""
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    for c in DATE_COLUMNS:
        frame[c] = frame[c].astype("datetime64[s]")
    for c in NUMBER_COLUMNS:
        frame[c] = frame[c].astype("float64")
    frame[EXCAVATION] = frame[EXCAVATION].astype(bool)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def seals_surface(works: pd.DataFrame) -> np.ndarray:
    """True for works that seal the surface: road works on the surface layer."""
    return ((works[DISCIPLINE] == "road") & (works[LAYER] == "surface")).to_numpy(dtype=bool)


def excavates(works: pd.DataFrame) -> np.ndarray:
    """True for works that open the street."""
    return works[EXCAVATION].to_numpy(dtype=bool)
