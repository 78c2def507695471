"""User column mappings: which source column is which canonical column.

A mapping is a small TOML file (see ``data/mappings/README.md``) or a
:class:`Mapping` built in code (e.g. by the upload page). :func:`apply`
turns a frame as read from a file into one whose columns carry canonical
names, before :func:`ims_geo.schema.validate` checks the values.

Precedence for each canonical column: the mapping's ``[columns]`` entry,
else a source column whose name is the canonical name, else one whose name
is a known alias (:data:`ims_geo.schema.COLUMN_ALIASES`), compared
case-insensitively.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from pyproj.exceptions import CRSError

from ims_geo import schema
from ims_geo._toml import read_toml
from ims_geo.errors import InputError, RulesError

#: Canonical columns a mapping may name (the works columns and the geometry).
MAPPABLE: tuple[str, ...] = (*schema.COLUMNS, schema.GEOMETRY)
_TOP_KEYS = (
    "columns",
    "values",
    "keywords",
    "defaults",
    "extras",
    "keep_extras",
    "drop",
    "crs",
    "encoding",
    "date_format",
)
_Scalar = str | bool | int | float | dt.date | dt.datetime


def _fold(text: str) -> str:
    return str(text).strip().casefold()


@dataclass(frozen=True)
class Mapping:
    """How one organisation's files map onto the canonical works columns.

    Parameters
    ----------
    columns
        Canonical column -> source column name, or a list of names: the
        first column that has a value in a row gives that row's value.
    values
        Canonical column -> {raw value: canonical value}; raw values are
        matched case-insensitively after trimming, before the enum aliases.
    keywords
        Canonical column -> {keyword: value}; a cell that no ``values``
        entry matched gets the value of the first keyword it contains
        (case-insensitive, in the order given). The keyword ``""`` matches
        every non-empty cell, so put it last as a catch-all.
    defaults
        Canonical column -> constant used where the file has no value (the
        column is absent or the cell is empty).
    extras
        Output column -> source column (or list) for extra columns to keep
        under a new name.
    keep_extras
        Keep every source column that is not mapped, under its own name.
        ``False`` keeps only the columns listed in ``extras``.
    drop
        Source columns never kept as extra columns (e.g. personal data).
    crs
        CRS of files that carry none (e.g. ``"EPSG:28992"``).
    encoding
        Text encoding of shapefile attributes / CSV files.
    date_format
        ``strftime`` format of date text (e.g. ``"%d.%m.%Y"``); ISO and the
        common day-first forms are understood without it.
    source
        Where the mapping came from, for messages.
    """

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, _Scalar]] = field(default_factory=dict)
    keywords: dict[str, tuple[tuple[str, _Scalar], ...]] = field(default_factory=dict)
    defaults: dict[str, _Scalar] = field(default_factory=dict)
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keep_extras: bool = True
    drop: tuple[str, ...] = ()
    crs: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    source: str = "mapping"

    def __post_init__(self) -> None:
        where = self.source
        set_ = object.__setattr__
        set_(
            self,
            "columns",
            {
                k: _names(v, f"[columns] {k}", where)
                for k, v in _table(self.columns, "columns", where).items()
            },
        )
        for key in self.columns:
            _check_canonical(key, "columns", where)
        values: dict[str, dict[str, _Scalar]] = {}
        for key, table in _table(self.values, "values", where).items():
            _check_canonical(key, "values", where, geometry=False)
            table = _table(table, f"values.{key}", where)
            values[key] = {
                _fold(raw): _scalar(v, f"[values.{key}] {raw!r}", where) for raw, v in table.items()
            }
        set_(self, "values", values)
        keywords: dict[str, tuple[tuple[str, _Scalar], ...]] = {}
        for key, table in _table(self.keywords, "keywords", where).items():
            _check_canonical(key, "keywords", where, geometry=False)
            if isinstance(table, dict):
                pairs: Iterable[tuple[Any, Any]] = table.items()
            else:
                pairs = table
            keywords[key] = tuple(
                (str(kw).casefold(), _scalar(v, f"[keywords.{key}] {kw!r}", where))
                for kw, v in pairs
            )
        set_(self, "keywords", keywords)
        defaults = {}
        for key, value in _table(self.defaults, "defaults", where).items():
            _check_canonical(key, "defaults", where, geometry=False)
            defaults[key] = _scalar(value, f"[defaults] {key}", where)
        set_(self, "defaults", defaults)
        extras = {}
        for key, names in _table(self.extras, "extras", where).items():
            if not str(key).strip() or key in MAPPABLE:
                raise RulesError(
                    f"{where}: [extras] {key!r} is not a usable extra column name; extra "
                    f"columns must not be empty or a canonical column ({', '.join(MAPPABLE)})"
                )
            extras[str(key)] = _names(names, f"[extras] {key}", where)
        set_(self, "extras", extras)
        set_(self, "drop", _names(self.drop, "drop", where) if self.drop else ())
        if not isinstance(self.keep_extras, bool):
            raise RulesError(
                f"{where}: keep_extras must be true or false, not {self.keep_extras!r}"
            )
        if self.crs is not None:
            try:
                CRS.from_user_input(self.crs)
            except CRSError as exc:
                raise RulesError(
                    f'{where}: crs {self.crs!r} is not a known CRS; use e.g. "EPSG:28992"'
                ) from exc
            set_(self, "crs", str(self.crs))
        if self.encoding is not None:
            try:
                codecs.lookup(str(self.encoding))
            except LookupError as exc:
                raise RulesError(
                    f'{where}: encoding {self.encoding!r} is unknown; use e.g. "cp1252" or "utf-8"'
                ) from exc
        if self.date_format is not None and "%" not in str(self.date_format):
            raise RulesError(
                f"{where}: date_format {self.date_format!r} is not a strftime format; "
                'use e.g. "%d.%m.%Y" or "%Y%m%d"'
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "mapping") -> Mapping:
        """A mapping from a parsed TOML table; unknown keys are a :class:`RulesError`."""
        unknown = [k for k in data if k not in _TOP_KEYS]
        if unknown:
            raise RulesError(
                f"{source}: unknown key {unknown[0]!r}; a mapping file may contain "
                f"{', '.join(_TOP_KEYS)}"
            )
        return cls(**data, source=source)


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a column mapping file (TOML).

    Parameters
    ----------
    path
        The mapping file; its format is described in ``data/mappings/README.md``.

    Raises
    ------
    RulesError
        The file is not valid TOML, or has an unknown key or a value of the
        wrong kind (the message names the key and the file).
    """
    data = read_toml(path, "mapping file", RulesError)
    return Mapping.from_dict(data, source=str(path))


def _table(value: Any, key: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RulesError(f"{where}: [{key}] must be a table of key = value lines, not {value!r}")
    return value


def _names(value: Any, key: str, where: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if (
        not isinstance(names, list | tuple)
        or not names
        or not all(isinstance(n, str) and n.strip() for n in names)
    ):
        raise RulesError(
            f"{where}: {key} must be a column name or a list of column names, not {value!r}"
        )
    return tuple(names)


def _scalar(value: Any, key: str, where: str) -> _Scalar:
    if isinstance(value, str | bool | int | float | dt.date | dt.datetime):
        return value
    raise RulesError(f"{where}: {key} must be a text, number, true/false or date, not {value!r}")


def _check_canonical(key: str, table: str, where: str, *, geometry: bool = True) -> None:
    allowed = MAPPABLE if geometry else schema.COLUMNS
    if key not in allowed:
        raise RulesError(
            f"{where}: unknown column {key!r} in [{table}]; use one of {', '.join(allowed)}"
        )


# --- applying a mapping -----------------------------------------------------


def _blank(series: pd.Series) -> np.ndarray:
    text = series.astype("string").str.strip()
    return (series.isna() | text.isna() | (text == "")).to_numpy(dtype=bool)


def _resolve(name: str, columns: list[str]) -> str | None:
    """The source column ``name`` means: exact, then case-insensitive, then normalised."""
    if name in columns:
        return name
    for folded in (_fold, schema.normalise_name):
        for column in columns:
            if folded(column) == folded(name):
                return column
    return None


def _coalesce(frame: pd.DataFrame, names: list[str]) -> pd.Series:
    """First non-blank value of ``names`` per row."""
    out = frame[names[0]]
    for name in names[1:]:
        out = out.astype(object).where(~_blank(out), frame[name].astype(object))
    return out


def apply(
    frame: pd.DataFrame,
    mapping: Mapping | None,
    *,
    name: str,
    text_geometry: bool,
    org_given: bool = False,
) -> tuple[pd.DataFrame, list[str], dict[str, list[str]]]:
    """Rename and translate the columns of ``frame`` to canonical ones.

    Parameters
    ----------
    frame
        Attributes as read from the file; for a spatial file, its active
        geometry column is passed through untouched.
    mapping
        The user mapping, or None for names and aliases only.
    name
        File name for messages.
    text_geometry
        The file has no native geometry: the ``geometry`` column is looked
        up like the others (WKT text, e.g. in a CSV).
    org_given
        The organisation was given for the whole file; a mapping default
        for ``org`` then does not apply.

    Returns
    -------
    (frame, warnings, chosen)
        Canonical columns (those the file has), then the extra columns,
        then the native geometry if any; and which source columns each
        canonical column was read from.
    """
    mapping = mapping or Mapping()
    geometry_name = None
    if isinstance(frame, gpd.GeoDataFrame) and not text_geometry:
        geometry_name = frame._geometry_column_name
        if geometry_name not in frame:
            geometry_name = None
    source_columns = [c for c in frame.columns if c != geometry_name]
    warnings: list[str] = []
    chosen: dict[str, list[str]] = {}
    used: set[str] = set()
    targets = [c for c in MAPPABLE if text_geometry or c != schema.GEOMETRY]

    # 1. the mapping file's own choices
    for canonical, names in mapping.columns.items():
        if canonical == schema.GEOMETRY and not text_geometry:
            continue  # a spatial file brings its own geometry
        found = [r for r in (_resolve(n, source_columns) for n in names) if r is not None]
        if not found:
            if canonical in mapping.defaults or (canonical == schema.ORG and org_given):
                continue
            listed = ", ".join(repr(n) for n in names)
            raise InputError(
                f"{mapping.source}: [columns] {canonical} = {listed}, but {name} has no such "
                f"column; its columns are: {', '.join(map(str, source_columns))}"
            )
        chosen[canonical] = list(dict.fromkeys(found))
        used.update(found)

    # 2. canonical names, then aliases, for what the mapping left open
    open_targets = [c for c in targets if c not in chosen and c not in mapping.columns]
    for canonical in open_targets:
        exact = [
            c for c in source_columns if c not in used and schema.normalise_name(c) == canonical
        ]
        if exact:
            chosen[canonical] = [exact[0]]
            used.add(exact[0])
    for canonical in open_targets:
        if canonical in chosen:
            continue
        aliases = schema.COLUMN_ALIASES.get(canonical, ())
        hits = [c for c in source_columns if c not in used and schema.normalise_name(c) in aliases]
        if not hits:
            continue
        hits.sort(key=lambda c: aliases.index(schema.normalise_name(c)))
        chosen[canonical] = [hits[0]]
        used.add(hits[0])
        if len(hits) > 1:
            others = ", ".join(repr(h) for h in hits[1:])
            warnings.append(
                f"{name}: column {hits[0]!r} read as {canonical}; {others} could also be "
                f"{canonical} (set [columns] {canonical} in a mapping file to choose)"
            )

    out: dict[str, pd.Series] = {}
    index = frame.index
    for canonical in targets:
        column = _coalesce(frame, chosen[canonical]) if canonical in chosen else None
        if column is not None and (canonical in mapping.values or canonical in mapping.keywords):
            column = _translate(
                column, mapping.values.get(canonical, {}), mapping.keywords.get(canonical, ())
            )
        default = mapping.defaults.get(canonical)
        if canonical == schema.ORG and org_given:
            default = None
        if default is not None:
            if column is None:
                column = pd.Series([default] * len(frame), index=index, dtype=object)
            else:
                column = column.astype(object).where(~_blank(column), default)
        if column is not None and mapping.date_format and canonical in schema.DATE_COLUMNS:
            column = _dates(column, mapping.date_format)
        if column is not None:
            out[canonical] = column

    # 3. extra columns
    taken = set(out)
    extras: dict[str, pd.Series] = {}
    dropped = {r for r in (_resolve(n, source_columns) for n in mapping.drop) if r is not None}
    renamed: dict[str, list[str]] = {}
    for label, names in mapping.extras.items():
        found = [r for r in (_resolve(n, source_columns) for n in names) if r is not None]
        if found:  # a mapping may serve files of several layouts: absent extras are skipped
            renamed[label] = found
            taken.add(label)
    moved = {column for found in renamed.values() for column in found}
    if mapping.keep_extras:
        for column in source_columns:
            if column in used or column in dropped or column in moved:
                continue
            label = str(column)
            while label in taken or label in MAPPABLE:
                label = f"{label}_1"
            extras[label] = frame[column]
            taken.add(label)
    for label, found in renamed.items():
        extras[label] = _coalesce(frame, found)
    result = pd.DataFrame({**out, **extras}, index=index)
    if geometry_name is not None:
        geometry = frame[geometry_name]
        if geometry_name != schema.GEOMETRY:
            geometry = geometry.rename(schema.GEOMETRY)
        result = gpd.GeoDataFrame(result, geometry=geometry, crs=frame.crs)
    return result, warnings, {k: [str(c) for c in v] for k, v in chosen.items()}


def _translate(
    column: pd.Series, table: dict[str, _Scalar], keywords: tuple[tuple[str, _Scalar], ...]
) -> pd.Series:
    """Exact ``[values]`` matches first, then the first ``[keywords]`` hit."""
    text = column.astype("string").str.casefold()
    out = column.astype(object).copy()
    todo = ~_blank(column)
    if table:
        mapped = text.str.strip().map(table)
        hit = todo & mapped.notna().to_numpy(dtype=bool)
        out[hit] = mapped[hit]
        todo &= ~hit
    for keyword, value in keywords:
        if not todo.any():
            break
        hit = todo & text.str.contains(keyword, regex=False, na=False).to_numpy(dtype=bool)
        out[hit] = value
        todo &= ~hit
    return out


def _dates(column: pd.Series, fmt: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    parsed = pd.to_datetime(column.astype("string").str.strip(), format=fmt, errors="coerce")
    ok = parsed.notna().to_numpy(dtype=bool)
    if ok.all():
        return parsed
    return column.astype(object).where(~ok, parsed.astype(object))
