"""Cached reads of the store for the app's pages.

Every cached value is keyed by the store location and
:meth:`~ims_geo.store.Store.revision`, which changes on every commit: a new
plan version invalidates works, conflicts and map layers on the next rerun,
in every browser session.
"""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ims_geo import maps
from ims_geo._mapping import loads_mapping, to_dict
from ims_geo.conflicts import find_conflicts
from ims_geo.ingest import IngestResult, Mapping, list_layers, read_works
from ims_geo.programme import Progress, Proposal, propose
from ims_geo.rules import load_rules
from ims_geo.store import DEFAULT_STORE, STORE_ENV, Store, open_store
from ims_geo.suggest import read_raw, value_table


def location() -> str:
    """Where the works are stored."""
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


@st.cache_resource(show_spinner=False)
def _open(where: str) -> Store:
    return open_store(where)


def store() -> Store:
    """The store at :func:`location` (one connection per location and process)."""
    return _open(location())


def revision() -> str:
    """The store's current revision (read on every rerun; cheap)."""
    return store().revision()


@st.cache_data(show_spinner="Reading the works…", max_entries=4)
def _works(where: str, rev: str) -> gpd.GeoDataFrame:
    return _open(where).works()


def works() -> gpd.GeoDataFrame:
    """Current works of every organisation."""
    return _works(location(), revision())


@st.cache_data(show_spinner=False, max_entries=4)
def _summary(where: str, rev: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    opened = _open(where)
    return opened.summary(), opened.plan_versions()


def summary() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per organisation summary and every plan version."""
    return _summary(location(), revision())


@st.cache_data(show_spinner="Finding conflicts…", max_entries=8)
def _conflicts(where: str, rev: str, overrides: tuple[tuple[str, float], ...]) -> gpd.GeoDataFrame:
    return find_conflicts(_works(where, rev), load_rules(None, **dict(overrides)))


def conflicts(**overrides: float | None) -> gpd.GeoDataFrame:
    """Conflicts between the current works, ranked by score.

    ``overrides`` replace default rules (``distance``, ``window_days``,
    ``moratorium_years``); None keeps the default.
    """
    chosen = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    return _conflicts(location(), revision(), chosen)


@st.cache_resource(show_spinner=False)
def _proposals() -> dict[tuple[object, ...], Proposal]:
    return {}


#: Proposals kept per process (the newest ones).
PROPOSALS_KEPT = 4


def proposal(
    *, time_limit: float, max_parallel: int | None = None, progress: Progress | None = None
) -> Proposal:
    """The combined programme proposed for the current works (computed once per revision).

    Kept in a process-wide dict rather than ``st.cache_data``: the solver
    reports ``progress`` to a progress bar of the page, and st.cache_data
    cannot replay calls on a block created outside the cached function.
    """
    where = location()
    rev = revision()
    key = (where, rev, time_limit, max_parallel)
    kept = _proposals()
    if key not in kept:
        result = propose(
            _works(where, rev),
            _conflicts(where, rev, ()),
            time_limit=time_limit,
            max_parallel=max_parallel,
            progress=progress,
        )
        while len(kept) >= PROPOSALS_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = result
    return kept[key]


@st.cache_data(show_spinner="Drawing the map…", max_entries=16)
def _works_layers(
    where: str,
    rev: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    layers: tuple[str, ...] | None,
    orgs: tuple[str, ...] | None,
    disciplines: tuple[str, ...] | None,
) -> tuple[maps.MapData, maps.MapData]:
    every = _works(where, rev)
    shown = maps.filter_works(
        every, start=start, end=end, layers=layers, orgs=orgs, disciplines=disciplines
    )
    return maps.prepare(shown), maps.context_layer(every.drop(index=shown.index))


def works_layers(
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    layers: tuple[str, ...] | None = None,
    orgs: tuple[str, ...] | None = None,
    disciplines: tuple[str, ...] | None = None,
) -> tuple[maps.MapData, maps.MapData]:
    """The chosen works as a map layer, and every other work as the grey context."""
    return _works_layers(location(), revision(), start, end, layers, orgs, disciplines)


@st.cache_data(show_spinner=False, max_entries=4)
def _context(where: str, rev: str) -> maps.MapData:
    return maps.context_layer(_works(where, rev))


def context() -> maps.MapData:
    """Every work as the grey context layer."""
    return _context(location(), revision())


# --- uploads ----------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _layers(file_id: str, name: str, _data: bytes) -> list[str]:
    return list_layers(_data, name=name)


def upload_layers(upload: UploadedFile) -> list[str]:
    """Layers of an uploaded GeoPackage or zip (one name for single-layer files)."""
    return _layers(upload.file_id, upload.name, upload.getvalue())


@st.cache_data(show_spinner="Reading and checking the file…", max_entries=4)
def _read(
    file_id: str,
    name: str,
    org: str | None,
    layer: str | None,
    columns: tuple[tuple[str, str], ...],
    crs: str | None,
    encoding: str | None,
    _data: bytes,
    mapping_toml: str | None = None,
) -> IngestResult:
    mapping = loads_mapping(mapping_toml, "the mapping") if mapping_toml else None
    if columns:
        mapping = mapping or Mapping()
        data = to_dict(mapping)
        data["columns"] = {**data.get("columns", {}), **dict(columns)}
        mapping = Mapping.from_dict(data, source=mapping.source)
    return read_works(
        _data, name=name, org=org, layer=layer, mapping=mapping, crs=crs, encoding=encoding
    )


def read_upload(
    upload: UploadedFile,
    *,
    org: str | None,
    layer: str | None = None,
    columns: dict[str, str] | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    mapping: str | None = None,
) -> IngestResult:
    """Read and validate an uploaded works file.

    ``org`` None takes the organisations from the file; ``columns``
    (canonical -> source column) override ``mapping`` (TOML text).
    """
    chosen = tuple(sorted((columns or {}).items()))
    return _read(
        upload.file_id, upload.name, org, layer, chosen, crs, encoding, upload.getvalue(), mapping
    )


@st.cache_data(show_spinner="Reading the file's columns…", max_entries=4)
def _raw(
    file_id: str, name: str, layer: str | None, encoding: str | None, _data: bytes
) -> tuple[pd.DataFrame, bool]:
    frame, text_geometry, _ = read_raw(_data, name=name, layer=layer, encoding=encoding)
    return frame, text_geometry


def upload_frame(
    upload: UploadedFile, *, layer: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, bool]:
    """The uploaded file's own columns and values, and whether its geometry is WKT text."""
    return _raw(upload.file_id, upload.name, layer, encoding, upload.getvalue())


@st.cache_data(show_spinner=False, max_entries=64)
def _values(
    file_id: str,
    name: str,
    layer: str | None,
    encoding: str | None,
    column: str,
    sources: tuple[str, ...],
    _data: bytes,
) -> pd.DataFrame:
    frame, _ = _raw(file_id, name, layer, encoding, _data)
    values = frame[sources[0]]
    for source in sources[1:]:
        text = values.astype("string").str.strip()
        values = values.astype(object).where(text.notna() & (text != ""), frame[source])
    return value_table(column, values)


def upload_values(
    upload: UploadedFile,
    column: str,
    sources: list[str],
    *,
    layer: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Distinct raw values of the file's ``sources`` for a vocabulary column, with proposals."""
    return _values(
        upload.file_id, upload.name, layer, encoding, column, tuple(sources), upload.getvalue()
    )
