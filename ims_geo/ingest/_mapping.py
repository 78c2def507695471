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
import hashlib
import json
import os
import re
import tomllib
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
    "timezone",
    "decimal",
    "flags",
    "work_id_from",
)
#: Key of a ``[keywords.<column>]`` table naming the source columns its keywords search.
SEARCH_IN = "search_in"
_Scalar = str | bool | int | float | dt.date | dt.datetime


def _fold(text: str) -> str:
    return str(text).strip().casefold()


#: Non-canonical columns every mapping may fill: the conflict rules' emergency flag.
FLAGS: tuple[str, ...] = ("emergency",)
#: Hexadecimal digits of SHA-256 an id composed by ``[work_id_from]`` keeps.
ID_DIGITS = 12


@dataclass(frozen=True)
class IdFrom:
    """A ``work_id`` composed from columns, for files without an id column.

    Parameters
    ----------
    columns
        Source columns whose cells, as written, identify a work.
    prefix
        Text put before the digest, e.g. ``"NH-"``.
    """

    columns: tuple[str, ...]
    prefix: str = ""


@dataclass(frozen=True)
class KeywordRules:
    """The keyword rules of one ``[keywords.<column>]`` table.

    Parameters
    ----------
    search_in
        Source columns searched, in order; empty: the column's own source.
    rules
        ``(keyword, {column: value})`` in file order; keywords are casefolded.
    """

    search_in: tuple[str, ...] = ()
    rules: tuple[tuple[str, dict[str, _Scalar]], ...] = ()


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
        every non-empty cell, so put it last as a catch-all. A value may be
        a table ``{column: value, ...}`` that sets several columns at once,
        and the reserved key ``search_in`` names the source columns searched
        instead of the column's own (in order: a row no keyword matched in
        the first is searched in the next).
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
        ``strftime`` format(s) of date text (e.g. ``"%d.%m.%Y"``); with a
        list, each cell takes the first format that fits it. ISO and the
        common day-first forms are understood without it.
    timezone
        Time zone (e.g. ``"Europe/London"``) that date-times with a UTC
        offset (``...T23:30:00Z``) are converted to before the day is taken.
    decimal
        The decimal mark the file's numbers are written with: ``","``
        (``1.234,50``, ``98.000`` is 98000) or ``"."`` (``1,234.50``), for
        every number column, or a table per column (``{"cost_eur": ","}``).
        Undeclared columns take the style their cells show.
    flags
        Non-canonical columns the mapping may fill like canonical ones (in
        ``[columns]``, ``[values]``, ``[keywords]``, ``[defaults]``), e.g.
        the ``emergency`` flag the conflict rules read; :data:`FLAGS` always.
    work_id_from
        Compose ``work_id`` from these source columns (:func:`composed_ids`),
        for files without an id column; as TOML a table
        ``{"columns": [...], "prefix": "NH-"}``.
    source
        Where the mapping came from, for messages.
    """

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, _Scalar]] = field(default_factory=dict)
    keywords: dict[str, KeywordRules] = field(default_factory=dict)
    defaults: dict[str, _Scalar] = field(default_factory=dict)
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)
    keep_extras: bool = True
    drop: tuple[str, ...] = ()
    crs: str | None = None
    encoding: str | None = None
    date_format: tuple[str, ...] = ()
    timezone: str | None = None
    decimal: str | dict[str, str] | None = None
    flags: tuple[str, ...] = ()
    work_id_from: IdFrom | None = None
    source: str = "mapping"

    def __post_init__(self) -> None:
        where = self.source
        set_ = object.__setattr__
        flags = _names(self.flags, "flags", where) if self.flags else ()
        for flag in flags:
            if flag in MAPPABLE:
                raise RulesError(f"{where}: flags: {flag!r} is a canonical column, not a flag")
        set_(self, "flags", tuple(dict.fromkeys((*FLAGS, *flags))))
        set_(
            self,
            "columns",
            {
                k: _names(v, f"[columns] {k}", where)
                for k, v in _table(self.columns, "columns", where).items()
            },
        )
        for key in self.columns:
            self._check(key, "columns")
        values: dict[str, dict[str, _Scalar]] = {}
        for key, table in _table(self.values, "values", where).items():
            self._check(key, "values", geometry=False)
            table = _table(table, f"values.{key}", where)
            values[key] = {
                _fold(raw): _scalar(v, f"[values.{key}] {raw!r}", where) for raw, v in table.items()
            }
        set_(self, "values", values)
        keywords: dict[str, KeywordRules] = {}
        for key, table in _table(self.keywords, "keywords", where).items():
            self._check(key, "keywords", geometry=False)
            keywords[key] = self._keyword_rules(key, table)
        set_(self, "keywords", keywords)
        defaults = {}
        for key, value in _table(self.defaults, "defaults", where).items():
            self._check(key, "defaults", geometry=False)
            defaults[key] = _scalar(value, f"[defaults] {key}", where)
        set_(self, "defaults", defaults)
        extras = {}
        for key, names in _table(self.extras, "extras", where).items():
            if not str(key).strip() or key in MAPPABLE or key in self.flags:
                raise RulesError(
                    f"{where}: [extras] {key!r} is not a usable extra column name; extra "
                    f"columns must not be empty, a canonical column ({', '.join(MAPPABLE)}) "
                    "or a flag"
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
        formats = (self.date_format,) if isinstance(self.date_format, str) else self.date_format
        if not isinstance(formats, list | tuple) or not all(
            isinstance(f, str) and "%" in f for f in formats
        ):
            raise RulesError(
                f"{where}: date_format {self.date_format!r} is not a strftime format or a list "
                'of them; use e.g. "%d.%m.%Y" or ["%d.%m.%Y", "%Y%m%d"]'
            )
        set_(self, "date_format", tuple(formats))
        if self.timezone is not None:
            try:
                zoneinfo.ZoneInfo(str(self.timezone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise RulesError(
                    f'{where}: timezone {self.timezone!r} is unknown; use e.g. "Europe/London"'
                ) from exc
            set_(self, "timezone", str(self.timezone))
        if self.decimal is not None:
            set_(self, "decimal", _decimal(self.decimal, where))
        if self.work_id_from is not None:
            set_(self, "work_id_from", _id_from(self.work_id_from, where))
            if schema.WORK_ID in self.columns or schema.WORK_ID in self.defaults:
                table = "columns" if schema.WORK_ID in self.columns else "defaults"
                raise RulesError(
                    f"{where}: [{table}] work_id and [work_id_from] both give the work_id; "
                    "keep [columns] work_id when the file has an id column, else "
                    "[work_id_from] only"
                )

    def _check(self, key: str, table: str, *, geometry: bool = True) -> None:
        allowed = (*(MAPPABLE if geometry else schema.COLUMNS), *self.flags)
        if key not in allowed:
            raise RulesError(
                f"{self.source}: unknown column {key!r} in [{table}]; use one of "
                f"{', '.join(allowed)} (or declare it in flags = [...])"
            )

    def _keyword_rules(self, key: str, table: Any) -> KeywordRules:
        where = f"[keywords.{key}]"
        pairs: Iterable[tuple[Any, Any]] = table.items() if isinstance(table, dict) else table
        search: tuple[str, ...] = ()
        rules: list[tuple[str, dict[str, _Scalar]]] = []
        for keyword, value in pairs:
            if keyword == SEARCH_IN:
                search = _names(value, f"{where} {SEARCH_IN}", self.source)
                continue
            if isinstance(value, dict):
                allowed = (*schema.COLUMNS, *self.flags)
                for column in value:
                    if column not in allowed:
                        raise RulesError(
                            f"{self.source}: {where} {keyword!r} sets unknown column "
                            f"{column!r}; use one of {', '.join(allowed)}"
                        )
                sets = {
                    str(c): _scalar(v, f"{where} {keyword!r} {c}", self.source)
                    for c, v in value.items()
                }
            else:
                sets = {key: _scalar(value, f"{where} {keyword!r}", self.source)}
            rules.append((str(keyword).casefold(), sets))
        return KeywordRules(search_in=search, rules=tuple(rules))

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


def loads_mapping(text: str, source: str = "mapping") -> Mapping:
    """A mapping from TOML text (e.g. an uploaded file); errors name ``source``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source} is not a valid TOML file: {exc}") from exc
    return Mapping.from_dict(data, source=source)


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


def _decimal(value: Any, where: str) -> str | dict[str, str]:
    """A ``decimal`` declaration checked: one mark, or one mark per number column."""
    marks = " or ".join(repr(m) for m in schema.DECIMAL_MARKS)
    if isinstance(value, dict):
        for column, mark in value.items():
            if column not in schema.NUMBER_COLUMNS:
                raise RulesError(
                    f"{where}: [decimal] {column!r} is not a number column; use one of "
                    f"{', '.join(schema.NUMBER_COLUMNS)}"
                )
            if mark not in schema.DECIMAL_MARKS:
                raise RulesError(
                    f"{where}: [decimal] {column} = {mark!r} is not a decimal mark; use {marks}"
                )
        return {str(c): str(m) for c, m in value.items()}
    if value not in schema.DECIMAL_MARKS:
        raise RulesError(
            f"{where}: decimal = {value!r} is not a decimal mark; use {marks} "
            '(decimal = "," reads 1.234,50 and 98.000 as 98000), or a table per column '
            'such as [decimal] cost_eur = ","'
        )
    return str(value)


def _id_from(value: Any, where: str) -> IdFrom:
    """A ``[work_id_from]`` table checked: a list of columns and an optional prefix."""
    if isinstance(value, IdFrom):
        value = {"columns": value.columns, "prefix": value.prefix}
    if not isinstance(value, dict):
        raise RulesError(
            f"{where}: [work_id_from] must be a table such as columns = "
            f'["roads", "startDate"], not {value!r}'
        )
    unknown = [k for k in value if k not in ("columns", "prefix")]
    if unknown:
        raise RulesError(
            f"{where}: [work_id_from] has unknown key {unknown[0]!r}; use columns and prefix"
        )
    if "columns" not in value:
        raise RulesError(
            f'{where}: [work_id_from] needs columns = ["...", ...], the columns that '
            "identify a work"
        )
    columns = _names(value["columns"], "[work_id_from] columns", where)
    if len(set(columns)) != len(columns):
        raise RulesError(f"{where}: [work_id_from] columns {list(columns)!r} names a column twice")
    prefix = value.get("prefix", "")
    if not isinstance(prefix, str):
        raise RulesError(f'{where}: [work_id_from] prefix must be text, e.g. "NH-", not {prefix!r}')
    return IdFrom(columns=columns, prefix=prefix)


def _scalar(value: Any, key: str, where: str) -> _Scalar:
    if isinstance(value, str | bool | int | float | dt.date | dt.datetime):
        return value
    raise RulesError(f"{where}: {key} must be a text, number, true/false or date, not {value!r}")


# --- applying a mapping -----------------------------------------------------


def blank_cells(series: pd.Series) -> np.ndarray:
    """Which cells hold no value: missing, empty or only spaces."""
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
        out = out.astype(object).where(~blank_cells(out), frame[name].astype(object))
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
    if mapping.work_id_from is not None:
        parts = [_resolve(n, source_columns) for n in mapping.work_id_from.columns]
        missing = [n for n, r in zip(mapping.work_id_from.columns, parts, strict=True) if r is None]
        if missing:
            raise InputError(
                f"{mapping.source}: [work_id_from] columns names {', '.join(map(repr, missing))}, "
                f"but {name} has no such column; its columns are: "
                f"{', '.join(map(str, source_columns))}"
            )
        chosen[schema.WORK_ID] = [r for r in parts if r is not None]

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

    if schema.WORK_ID not in chosen and schema.WORK_ID not in mapping.defaults:
        warnings.append(no_id_message(frame, name, source_columns, used))

    out: dict[str, pd.Series] = {}
    index = frame.index
    flags = [
        f
        for f in mapping.flags
        if f in mapping.columns or f in mapping.values or f in mapping.keywords
        or f in mapping.defaults
    ]  # fmt: skip
    own: dict[str, pd.Series] = {}  # each column's source values, before translation
    matched: dict[str, np.ndarray] = {}  # cells a [values] entry translated
    for canonical in (*targets, *flags):
        if canonical not in chosen:
            continue
        if canonical == schema.WORK_ID and mapping.work_id_from is not None:
            column, suffixed = composed_ids(frame, chosen[canonical], mapping.work_id_from.prefix)
            if suffixed:
                listed = ", ".join(chosen[canonical])
                warnings.append(
                    f"{name}: {suffixed:,} work_id{'s' if suffixed > 1 else ''} composed from "
                    f"{listed} got a suffix (-2, -3, ... in file order) because "
                    f"{'their rows repeat' if suffixed > 1 else 'its row repeats'} an earlier "
                    "row in all of those columns; such ids stay the same only while the file "
                    "keeps its row order — add a column that tells the rows apart to "
                    "[work_id_from] columns"
                )
            out[canonical] = own[canonical] = column
            continue
        column = own[canonical] = _coalesce(frame, chosen[canonical])
        if canonical in mapping.values:
            column, matched[canonical] = _translate(column, mapping.values[canonical])
        out[canonical] = column
    for canonical, rules in mapping.keywords.items():
        _apply_keywords(frame, out, canonical, rules, own, matched, mapping, name, source_columns)
    for canonical in (*targets, *flags):
        column = out.get(canonical)
        default = mapping.defaults.get(canonical)
        if canonical == schema.ORG and org_given:
            default = None
        if default is not None:
            if column is None:
                column = pd.Series([default] * len(frame), index=index, dtype=object)
            else:
                column = column.astype(object).where(~blank_cells(column), default)
        if column is not None and canonical in schema.DATE_COLUMNS:
            if mapping.date_format or mapping.timezone:
                column = _dates(column, mapping.date_format, mapping.timezone)
        if column is not None:
            out[canonical] = column
    out = {c: out[c] for c in (*targets, *mapping.flags) if c in out}

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


def composed_ids(
    frame: pd.DataFrame, columns: list[str], prefix: str = ""
) -> tuple[pd.Series, int]:
    """Stable work ids composed from the cells of ``columns``, as written.

    Each row's id is ``prefix`` and the first :data:`ID_DIGITS` hexadecimal
    digits of the SHA-256 of its cells, each written as ``<length>:<text>``
    and joined by ``:`` (UTF-8; an empty cell is ``0:``), so no two
    different rows share an input. The id depends on the row's own cells only, never on the other
    rows or their order. The 2nd, 3rd... row whose cells repeat an earlier
    row's in every one of ``columns`` gets ``-2``, ``-3``... in file order.
    A row blank in all of ``columns`` gets no id (it is rejected as missing
    ``work_id``).

    Parameters
    ----------
    frame
        The rows, in file order.
    columns
        Columns of ``frame`` that identify a work.
    prefix
        Text put before each digest.

    Returns
    -------
    (ids, suffixed)
        The ids (text, missing where every cell is blank), on the index of
        ``frame``; and how many of them got a suffix.
    """
    parts: list[pa.Array] = []
    blank = np.ones(len(frame), dtype=bool)
    for column in columns:
        cells = frame[column]
        blank &= blank_cells(cells)
        text = pa.array(id_cells(cells), pa.string())
        parts += [pc.cast(pc.utf8_length(text), pa.string()), text]
    key = pc.binary_join_element_wise(*parts, ":")  # length:text:length:text...
    digests = [hashlib.sha256(k.encode("utf-8")).hexdigest()[:ID_DIGITS] for k in key.to_pylist()]
    ids = pd.Series(digests, index=frame.index, dtype=object)
    if prefix:
        ids = prefix + ids
    codes = pc.dictionary_encode(key).indices.to_numpy(zero_copy_only=False)
    repeat = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1
    repeat[blank] = 1
    later = repeat > 1
    ids[later] = ids[later] + "-" + repeat[later].astype(str).astype(object)
    ids[blank] = None
    return ids, int(later.sum())


def id_cells(cells: pd.Series) -> np.ndarray:
    """A column's cells as :func:`composed_ids` reads them: text as written, empty for none."""
    return cells.astype("string").fillna("").to_numpy(dtype=object)


def no_id_message(frame: pd.DataFrame, name: str, columns: list[str], used: set[str]) -> str:
    """Why every row of a file without a ``work_id`` column is rejected, and the fix.

    Names the columns that look like an id (:func:`ims_geo.ingest.suggest.id_columns`)
    and the command that writes a starter mapping.
    """
    from ims_geo.ingest.suggest import id_columns  # (suggest builds on this module)

    found = id_columns(frame, columns, used)
    command = f"ims-geo mapping suggest {name} --out mapping.toml"
    if found:
        shown = ", ".join(repr(c) for c in found[:3])
        looks = f"{shown} look{'s' if len(found) == 1 else ''} like an id"
        example = found[0]
    else:
        looks = f"its columns are: {', '.join(map(str, columns))}"
        example = "<the id column>"
    return (
        f"{name} has no work_id column, so every row is rejected as missing work_id; {looks} "
        f"— `{command}` writes a starter mapping (or set [columns] work_id = "
        f"{json.dumps(example, ensure_ascii=False)} in a mapping file, or compose one from "
        "columns with [work_id_from] there), then import with --mapping mapping.toml"
    )


def _translate(column: pd.Series, table: dict[str, _Scalar]) -> tuple[pd.Series, np.ndarray]:
    """``[values]`` matches (case-insensitive, trimmed); returns the column and the hits."""
    mapped = column.astype("string").str.strip().str.casefold().map(table)
    hit = ~blank_cells(column) & mapped.notna().to_numpy(dtype=bool)
    out = column.astype(object).copy()
    out[hit] = mapped[hit]
    return out, hit


def _apply_keywords(
    frame: pd.DataFrame,
    out: dict[str, pd.Series],
    canonical: str,
    rules: KeywordRules,
    own: dict[str, pd.Series],
    matched: dict[str, np.ndarray],
    mapping: Mapping,
    name: str,
    source_columns: list[str],
) -> None:
    """Set ``out`` columns where a keyword of ``rules`` is found (rows [values] left open)."""
    n = len(frame)
    open_rows = ~matched.get(canonical, np.zeros(n, dtype=bool))
    if rules.search_in:
        found = [r for r in (_resolve(c, source_columns) for c in rules.search_in) if r]
        if not found:
            listed = ", ".join(repr(c) for c in rules.search_in)
            raise InputError(
                f"{mapping.source}: [keywords.{canonical}] {SEARCH_IN} = {listed}, but {name} "
                f"has no such column; its columns are: {', '.join(map(str, source_columns))}"
            )
        searched = [frame[c] for c in dict.fromkeys(found)]
    elif canonical in own:
        searched = [own[canonical]]
    else:
        return
    for series in searched:
        text = series.astype("string").str.casefold()
        todo = open_rows & ~blank_cells(series)
        for keyword, sets in rules.rules:
            if not todo.any():
                break
            hit = todo & text.str.contains(keyword, regex=False, na=False).to_numpy(dtype=bool)
            if not hit.any():
                continue
            for column, value in sets.items():
                current = out.get(column)
                if current is None:
                    current = pd.Series([None] * n, index=frame.index, dtype=object)
                out[column] = current.astype(object).where(~hit, value)
            todo &= ~hit
            open_rows &= ~hit


# a time of day followed by "Z" or a UTC offset such as +01:00 / -0500
_OFFSET = r"[T\s]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _text_cells(column: pd.Series) -> np.ndarray:
    """True for cells that hold text (not native dates / numbers)."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.notna().to_numpy(dtype=bool)
    if not pd.api.types.is_object_dtype(column):
        return np.zeros(len(column), dtype=bool)
    return column.map(type).eq(str).to_numpy(dtype=bool)


def _dates(column: pd.Series, formats: tuple[str, ...], timezone: str | None) -> pd.Series:
    """Date text parsed cell by cell: each cell takes the first of ``formats`` that fits it.

    Date-times with a UTC offset are converted to ``timezone`` first. Cells
    no format fits pass through unchanged, for the built-in ISO and
    day-first forms of :func:`ims_geo.schema.parse_dates` (or a rejection).
    Nothing depends on the order of the rows.
    """
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert(timezone).dt.tz_localize(None) if timezone else column
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    text = column.astype("string").str.strip()
    todo = _text_cells(column) & ~blank_cells(column)
    out = column.astype(object).copy()

    def take(parsed: pd.Series, rows: np.ndarray) -> None:
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert(timezone or "UTC").dt.tz_localize(None)
        ok = rows & parsed.notna().to_numpy(dtype=bool)
        out[ok] = parsed[ok]
        todo[ok] = False

    if timezone is not None:
        offset = todo & text.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
        if offset.any():
            take(
                pd.to_datetime(text.where(offset), format="ISO8601", utc=True, errors="coerce"),
                offset,
            )
    for fmt in formats:
        if not todo.any():
            break
        zoned = "%z" in fmt or "%Z" in fmt
        take(pd.to_datetime(text.where(todo), format=fmt, errors="coerce", utc=zoned), todo)
    return out


# --- writing a mapping ------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def to_dict(mapping: Mapping) -> dict[str, Any]:
    """The TOML table of ``mapping`` (what :meth:`Mapping.from_dict` reads back)."""

    def names(value: tuple[str, ...]) -> str | list[str]:
        return value[0] if len(value) == 1 else list(value)

    data: dict[str, Any] = {}
    for key in ("crs", "encoding", "timezone"):
        if getattr(mapping, key) is not None:
            data[key] = getattr(mapping, key)
    if mapping.date_format:
        data["date_format"] = names(mapping.date_format)
    if isinstance(mapping.decimal, str):
        data["decimal"] = mapping.decimal
    if not mapping.keep_extras:
        data["keep_extras"] = False
    if mapping.drop:
        data["drop"] = list(mapping.drop)
    flags = [f for f in mapping.flags if f not in FLAGS]
    if flags:
        data["flags"] = flags
    if mapping.columns:
        data["columns"] = {k: names(v) for k, v in mapping.columns.items()}
    if mapping.work_id_from is not None:
        data["work_id_from"] = {"columns": list(mapping.work_id_from.columns)}
        if mapping.work_id_from.prefix:
            data["work_id_from"]["prefix"] = mapping.work_id_from.prefix
    if mapping.values:
        data["values"] = {k: dict(v) for k, v in mapping.values.items()}
    if mapping.keywords:
        keywords: dict[str, Any] = {}
        for key, rules in mapping.keywords.items():
            table: dict[str, Any] = {}
            if rules.search_in:
                table[SEARCH_IN] = names(rules.search_in)
            for keyword, sets in rules.rules:
                table[keyword] = sets[key] if list(sets) == [key] else dict(sets)
            keywords[key] = table
        data["keywords"] = keywords
    if mapping.defaults:
        data["defaults"] = dict(mapping.defaults)
    if mapping.extras:
        data["extras"] = {k: names(v) for k, v in mapping.extras.items()}
    if isinstance(mapping.decimal, dict):
        data["decimal"] = dict(mapping.decimal)
    return data


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    return json.dumps(str(value), ensure_ascii=False)


def dump_toml(
    data: dict[str, Any], *, header: str = "", comments: dict[str, str] | None = None
) -> str:
    """A mapping table as TOML text, with optional ``# comments``.

    Parameters
    ----------
    data
        As :func:`to_dict` returns it: top-level keys, tables (``columns``,
        ``defaults``...) and tables of tables (``values``, ``keywords``).
    header
        Comment lines written first (without ``#``).
    comments
        End-of-line comments keyed by the dotted path of a line
        (``"columns.work_id"``, ``"values.status.Forward planning"``) or of a
        table header (``"values.status"``).
    """
    comments = comments or {}

    def line(text: str, path: str) -> str:
        note = comments.get(path)
        return f"{text}  # {note}" if note else text

    out = [f"# {h}".rstrip() for h in header.splitlines()]
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    out += [line(f"{_toml_key(k)} = {_toml_value(v)}", k) for k, v in scalars.items()]
    for name, table in tables.items():
        nested = name in ("values", "keywords")
        groups = table.items() if nested else [(None, table)]
        for sub, entries in groups:
            path = name if sub is None else f"{name}.{sub}"
            title = name if sub is None else f"{name}.{_toml_key(str(sub))}"
            out += ["", line(f"[{title}]", path)]
            out += [
                line(f"{_toml_key(str(k))} = {_toml_value(v)}", f"{path}.{k}")
                for k, v in entries.items()
            ]
    return "\n".join(out).lstrip("\n") + "\n"
