"""Cached reads of the store for the app's pages, and the one way pages open the store.

Every cached value is keyed by the store location, the viewer (who is
signed in: organisation and role, or nobody) and
:meth:`~ims_geo.store.Store.revision`, which changes on every commit: a new
plan version invalidates works, conflicts and map layers on the next rerun,
in every browser session, and no viewer is ever served another's view.

A GeoPackage store has no users (one person, one file). A shared PostGIS
store is read as a visitor (public works only) until the user signs in on
the login page; the sign-in's secret session token is kept in this browser
session's ``st.session_state`` only (never in a URL, a cache key or a log),
and :func:`store` resumes it on every page run, so the database applies the
user's organisation and role to every query and refuses what they may not
do. A session that expired, or whose user was disabled, sends the user back
to sign in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import time
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ims_geo import maps
from ims_geo.access.roles import Identity
from ims_geo.conflicts.rules import load_rules
from ims_geo.cycle.moratoria import store_conflicts
from ims_geo.errors import StoreError
from ims_geo.i18n import N_, _, messages
from ims_geo.ingest import IngestResult, Mapping, list_layers, read_works
from ims_geo.ingest._mapping import loads_mapping, to_dict
from ims_geo.ingest.suggest import read_raw, value_table
from ims_geo.programme import Progress, Proposal, propose
from ims_geo.schema import VISIBILITY
from ims_geo.store import Store, is_shared, open_store, store_location


def location() -> str:
    """Where the works are stored."""
    return store_location()


#: ``st.session_state`` keys of the sign-in (the token is a secret: nowhere else).
SESSION_KEY = "ims_session"
_STORE_KEY = "ims_signed_in_store"
#: Set when a sign-in ended by itself (expired, user disabled): the login page says so.
ENDED_KEY = "ims_session_ended"
_CHECKED_KEY = "ims_session_checked"
#: ``st.session_state`` key (and widget key) of the language chosen in the sidebar.
LANGUAGE_KEY = "language"
#: Query parameter that carries the language in a URL (``?lang=nl``): a shared link
#: opens in the sender's language.
LANGUAGE_PARAM = "lang"
#: Seconds between two checks that the sign-in still holds in the database.
RECHECK_SECONDS = 2.0


def shared() -> bool:
    """Whether the store is a shared PostGIS installation (with sign-in).

    A PostGIS store opened by the role that owns its schema is the
    operator's unrestricted single-user store (as a GeoPackage is): no
    sign-in, every page. Users get the application role's URL instead.
    """
    where = location()
    if not is_shared(where):
        return False
    try:
        return not getattr(_open(where), "is_owner", False)
    except StoreError:
        return True  # unreachable or not set up: the pages show why, through user_errors


@st.cache_resource(show_spinner=False)
def _open(where: str) -> Store:
    # GeoPackage: the one store; PostGIS: the visitor's (public works only)
    return open_store(where)


def _signed_in() -> Store | None:
    """This browser session's signed-in store, resumed from its session token."""
    token = st.session_state.get(SESSION_KEY)
    if token is None or not shared():
        return None
    opened = st.session_state.get(_STORE_KEY)
    try:
        if opened is None or getattr(opened, "session_token", None) != token:
            opened = open_store(location(), session=token)
            st.session_state[_STORE_KEY] = opened
        elif time.monotonic() - st.session_state.get(_CHECKED_KEY, 0.0) > RECHECK_SECONDS:
            # asked again at most every few seconds, not for every read of a page run
            if not opened.session_valid():  # type: ignore[attr-defined]
                raise StoreError("the session has ended")
        st.session_state[_CHECKED_KEY] = time.monotonic()
    except StoreError:
        _forget()
        st.session_state[ENDED_KEY] = True
        return None
    return opened


def _forget() -> None:
    opened = st.session_state.pop(_STORE_KEY, None)
    st.session_state.pop(SESSION_KEY, None)
    if opened is not None:
        opened.close()


def store() -> Store:
    """The store as this browser session may see it: every page opens it through here.

    GeoPackage: the store at :func:`location`. PostGIS: signed in as the
    user of this session (the database then applies their organisation and
    role), else as a visitor who sees public works only.
    """
    return _signed_in() or _open(location())


def visitor_store() -> Store:
    """The store as someone who is not signed in sees it (public view)."""
    return _open(location())


def identity() -> Identity | None:
    """Who is signed in (None: nobody, or a GeoPackage store)."""
    opened = _signed_in()
    return None if opened is None else opened.identity  # type: ignore[attr-defined]


def sign_in(user: str, password: str) -> Identity:
    """Sign in to the shared store; :class:`StoreError` when refused (reason audited)."""
    opened = open_store(location(), user=user, password=password)
    _forget()
    st.session_state[SESSION_KEY] = opened.session_token  # type: ignore[attr-defined]
    st.session_state[_STORE_KEY] = opened
    st.session_state.pop(ENDED_KEY, None)
    ident = opened.identity  # type: ignore[attr-defined]
    assert ident is not None
    return ident


def sign_out() -> None:
    """End the sign-in in the database and forget it here."""
    opened = st.session_state.get(_STORE_KEY)
    try:
        if opened is not None:
            opened.logout()
    except StoreError:
        pass  # the session ends on its own when it expires
    _forget()


def may(action: str) -> bool:
    """Whether this session may ``write`` (plans, progress), ``coordinate`` or ``admin``.

    Always true for a GeoPackage store (one user, no roles). Used to hide
    buttons; the database refuses the same actions anyway.
    """
    if not shared():
        return True
    ident = identity()
    if ident is None:
        return False
    return {"write": ident.can_write, "coordinate": ident.can_coordinate,
            "admin": ident.is_admin}[action]  # fmt: skip


def refusal(action: str, what: str) -> str | None:
    """Why this session may not ``action`` (None when it may), in the language in use.

    ``what`` is English marked with ``N_()`` (e.g. ``N_("import plans")``), shown translated.
    """
    if may(action):
        return None
    ident = identity()
    if ident is None:
        return _("You are not signed in: you may not {what}.").format(what=_(what))
    return _("A {role} of {org}: you may not {what}.").format(
        role=_(messages.ROLE_NAMES.get(ident.role, ident.role)), org=ident.org, what=_(what)
    )


def refuse_unless(action: str, what: str) -> None:
    """Stop the page with a clear message when this session may not ``action``.

    ``what`` is English marked with ``N_()`` (e.g. ``N_("import plans")``), shown translated.
    """
    text = refusal(action, what)
    if text is None:
        return
    st.warning(text, icon=":material/lock:")
    st.stop()


def viewer() -> str:
    """Cache key part: whose view of the store this session reads (never a secret)."""
    if not shared():
        return ""
    ident = identity()
    return "visitor" if ident is None else f"{ident.org}\x1f{ident.role}"


def allowed_pages(pages: list[Any]) -> list[Any]:
    """The app's pages this session may use (``st.Page`` objects, by ``url_path``).

    A store without sign-in (GeoPackage, or PostGIS opened by its owner):
    every page (the app hides the login from its menu there; the page says
    sign-in is for shared stores). PostGIS without sign-in: the public
    view and the login. Signed in: every page, but Upload only for roles that
    may write (the database refuses their imports anyway).
    """
    if not shared():
        return list(pages)
    ident = identity()
    if ident is None:
        return [p for p in pages if p.url_path in ("public", "login")]
    return [p for p in pages if p.url_path != "upload" or ident.can_write]


def _busy(message: str) -> Any:
    """A spinner in the session's language (``message`` marked with ``N_``).

    The cached readers below show no spinner of their own: st.cache_data's spinner
    text is fixed when the module is imported, before any language is chosen.
    Like theirs, it appears only when the work takes longer than half a second.
    """
    return st.spinner(_(message))


def revision() -> str:
    """The store's current revision (read on every rerun; cheap)."""
    return store().revision()


@st.cache_data(show_spinner=False, max_entries=4)
def _works(where: str, who: str, rev: str, _store: Store) -> gpd.GeoDataFrame:
    return _store.works()


def works() -> gpd.GeoDataFrame:
    """Current works of every organisation (as this session may see them)."""
    with _busy(N_("Reading the works…")):
        return _works(location(), viewer(), revision(), store())


@st.cache_data(show_spinner=False, max_entries=4)
def _public(where: str, rev: str) -> gpd.GeoDataFrame:
    every = _open(where).works()
    return every[every[VISIBILITY] == "public"].reset_index(drop=True)


def public_works() -> gpd.GeoDataFrame:
    """The works anyone may see (visibility public), read as a visitor."""
    return _public(location(), visitor_store().revision())


@st.cache_data(show_spinner=False, max_entries=4)
def _summary(where: str, who: str, rev: str, _store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _store.summary(), _store.plan_versions()


def summary() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per organisation summary and every plan version."""
    return _summary(location(), viewer(), revision(), store())


@st.cache_data(show_spinner=False, max_entries=8)
def _conflicts(
    where: str, who: str, rev: str, overrides: tuple[tuple[str, float], ...], _store: Store
) -> gpd.GeoDataFrame:
    # with the store's moratoria layer and exemptions, as the CLI and the cycle's KPIs
    rules = load_rules(None, **dict(overrides))
    return store_conflicts(_store, _works(where, who, rev, _store), rules)


def conflicts(**overrides: float | None) -> gpd.GeoDataFrame:
    """Conflicts between the current works and with active moratoria, ranked by score.

    Computed by :func:`ims_geo.cycle.store_conflicts`: a protected new surface
    of the moratoria layer counts like a sealing work (rows with a
    ``moratorium_id``); exempted pairs are left out. Recording progress or
    importing moratoria changes the store's revision, so these are found again.

    ``overrides`` replace default rules (``distance``, ``window_days``,
    ``moratorium_years``); None keeps the default.
    """
    chosen = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    with _busy(N_("Finding conflicts…")):
        return _conflicts(location(), viewer(), revision(), chosen, store())


@st.cache_resource(show_spinner=False)
def _proposals() -> dict[tuple[object, ...], Proposal]:
    return {}


#: Proposals kept per process (the newest ones).
PROPOSALS_KEPT = 6


def _fingerprint(value: object) -> object:
    """A hashable stand-in for one proposal input (tables by their content)."""
    if isinstance(value, pd.DataFrame):
        text = pd.DataFrame(value).to_csv(index=False).encode("utf-8")
        return ("table", tuple(map(str, value.columns)), hashlib.sha256(text).hexdigest())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, dataclasses.astuple(value))
    if isinstance(value, dict):
        return tuple(sorted((str(k), _fingerprint(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_fingerprint(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _proposal_key(
    time_limit: float,
    max_parallel: int | None,
    rules: dict[str, float | None] | None,
    not_before: dt.date | None,
    options: dict[str, Any],
) -> tuple[tuple[object, ...], tuple[tuple[str, float], ...], dt.date]:
    where, who = location(), viewer()
    # nothing is scheduled in the past: the same default as ims-geo propose
    floor = not_before if not_before is not None else dt.date.today()
    overrides = tuple(sorted((k, float(v)) for k, v in (rules or {}).items() if v is not None))
    extra = tuple(sorted((k, _fingerprint(v)) for k, v in options.items()))
    key = (where, who, revision(), time_limit, max_parallel, overrides, extra, floor)
    return key, overrides, floor


def proposal(
    *,
    time_limit: float,
    max_parallel: int | None = None,
    progress: Progress | None = None,
    rules: dict[str, float | None] | None = None,
    not_before: dt.date | None = None,
    **options: Any,
) -> Proposal:
    """The combined programme proposed for the current works (computed once per input).

    Kept in a process-wide dict rather than ``st.cache_data``: the solver
    reports ``progress`` to a progress bar of the page, and st.cache_data
    cannot replay calls on a block created outside the cached function.
    The key is the store revision, the viewer and every input: ``rules``
    (overrides of ``distance``, ``window_days``, ``moratorium_years``; the
    conflicts are found with the same rules), ``not_before`` (default today)
    and ``options``, the other keyword arguments of
    :func:`ims_geo.programme.propose` (tables by their content).
    """
    key, overrides, floor = _proposal_key(time_limit, max_parallel, rules, not_before, options)
    kept = _proposals()
    if key not in kept:
        where, who, opened, rev = location(), viewer(), store(), str(key[2])
        result = propose(
            _works(where, who, rev, opened),
            _conflicts(where, who, rev, overrides, opened),
            rules=load_rules(None, **dict(overrides)),
            time_limit=time_limit,
            max_parallel=max_parallel,
            not_before=floor,
            progress=progress,
            **options,
        )
        while len(kept) >= PROPOSALS_KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = result
    return kept[key]


def kept_proposal(
    *,
    time_limit: float,
    max_parallel: int | None = None,
    rules: dict[str, float | None] | None = None,
    not_before: dt.date | None = None,
    **options: Any,
) -> Proposal | None:
    """The proposal :func:`proposal` made for these inputs, if it is still kept (else None)."""
    key, _, _ = _proposal_key(time_limit, max_parallel, rules, not_before, options)
    return _proposals().get(key)


@st.cache_data(show_spinner=False, max_entries=16)
def _works_layers(
    where: str,
    who: str,
    rev: str,
    _store: Store,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    layers: tuple[str, ...] | None,
    orgs: tuple[str, ...] | None,
    disciplines: tuple[str, ...] | None,
) -> tuple[maps.MapData, maps.MapData]:
    every = _works(where, who, rev, _store)
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
    with _busy(N_("Drawing the map…")):
        return _works_layers(
            location(), viewer(), revision(), store(), start, end, layers, orgs, disciplines
        )


@st.cache_data(show_spinner=False, max_entries=4)
def _context(where: str, who: str, rev: str, _store: Store) -> maps.MapData:
    return maps.context_layer(_works(where, who, rev, _store))


def context() -> maps.MapData:
    """Every work as the grey context layer."""
    return _context(location(), viewer(), revision(), store())


# the map page's layers and lookups, each computed once per store revision and filters
@st.cache_data(show_spinner=False, max_entries=16)
def _conflict_layer(
    where: str,
    who: str,
    rev: str,
    _store: Store,
    kinds: tuple[str, ...] | None,
    orgs: tuple[str, ...] | None,
    disciplines: tuple[str, ...] | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> tuple[maps.MapData, int]:
    found = maps.filter_conflicts(
        _conflicts(where, who, rev, (), _store),
        kinds=kinds, orgs=orgs, disciplines=disciplines, start=start, end=end,
    )  # fmt: skip
    # the highest scores, lowest first: the worst conflicts are drawn on top
    drawn = found.head(maps.MAX_DRAWN_CONFLICTS).iloc[::-1]
    layer = maps.prepare(
        drawn,
        maps.CONFLICT_FIELDS,
        light_fields=maps.LIGHT_CONFLICT_FIELDS,
        fast_threshold=maps.HALO_FAST_THRESHOLD,
    )
    return layer, len(found)


def conflict_layer(
    *,
    kinds: tuple[str, ...] | None = None,
    orgs: tuple[str, ...] | None = None,
    disciplines: tuple[str, ...] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[maps.MapData, int]:
    """The filtered conflicts drawn on a map, and how many there are."""
    with _busy(N_("Drawing the conflicts…")):
        return _conflict_layer(
            location(), viewer(), revision(), store(), kinds, orgs, disciplines, start, end
        )


@st.cache_data(show_spinner=False, max_entries=8)
def _moratoria_layer(
    where: str, who: str, rev: str, _store: Store, start: pd.Timestamp, end: pd.Timestamp
) -> maps.MapData:
    from ims_geo.cycle import moratoria as cycle_moratoria

    protected = cycle_moratoria(_store)
    protected = protected[(protected["valid_from"] <= end) & (protected["valid_until"] >= start)]
    return maps.prepare(protected, maps.MORATORIUM_FIELDS, light_fields=None)


def moratoria_layer(start: pd.Timestamp, end: pd.Timestamp) -> maps.MapData:
    """The moratoria (protected new surfaces) in force at some time in ``[start, end]``."""
    return _moratoria_layer(location(), viewer(), revision(), store(), start, end)


@st.cache_data(show_spinner=False, max_entries=4)
def _areas(where: str, who: str, rev: str, _store: Store) -> pd.DataFrame:
    return maps.areas(_works(where, who, rev, _store))


def areas() -> pd.DataFrame:
    """The areas the works are in (:func:`ims_geo.maps.areas`)."""
    return _areas(location(), viewer(), revision(), store())


@st.cache_data(show_spinner=False, max_entries=4)
def _search_index(where: str, who: str, rev: str, _store: Store) -> pd.DataFrame:
    from ims_geo.search import build_index

    return build_index(_works(where, who, rev, _store))


def search_index() -> pd.DataFrame:
    """The works' normalised search text (:func:`ims_geo.search.build_index`)."""
    return _search_index(location(), viewer(), revision(), store())


# --- page-level results, computed once per store revision and inputs ---------------------
def _chosen(values: Any) -> tuple[Any, ...] | None:
    """A filter's choice as a cache key part (None: no filter)."""
    return None if values is None else tuple(values)


@st.cache_data(show_spinner=False, max_entries=16)
def _conflict_list(
    where: str,
    who: str,
    rev: str,
    overrides: tuple[tuple[str, float], ...],
    filters: tuple[tuple[str, Any], ...],
    _store: Store,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    from ims_geo.export import conflict_table

    found = maps.filter_conflicts(_conflicts(where, who, rev, overrides, _store), **dict(filters))
    return found, conflict_table(found, _works(where, who, rev, _store))


def conflict_list(
    *,
    rules: dict[str, float | None],
    kinds: Any = None,
    severities: Any = None,
    orgs: Any = None,
    disciplines: Any = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The conflicts the filters keep, and the same rows as the table people read.

    :func:`conflicts` under ``rules`` (``distance``, ``window_days``,
    ``moratorium_years``), filtered by :func:`ims_geo.maps.filter_conflicts`,
    and :func:`ims_geo.export.conflict_table` of them (titles, readable
    units; same index). Computed once per store revision, rules and filters:
    a rerun that changes neither (a row picked, a column chosen) reuses them.
    """
    chosen = tuple(sorted((k, v) for k, v in rules.items() if v is not None))
    filters = (
        ("kinds", _chosen(kinds)), ("severities", _chosen(severities)), ("orgs", _chosen(orgs)),
        ("disciplines", _chosen(disciplines)), ("start", start), ("end", end),
    )  # fmt: skip
    with _busy(N_("Finding conflicts…")):
        return _conflict_list(location(), viewer(), revision(), chosen, filters, store())


@st.cache_data(show_spinner=False, max_entries=16)
def _layer(
    where: str,
    who: str,
    rev: str,
    key: tuple[Any, ...],
    fields: tuple[str, ...] | None,
    light_fields: tuple[str, ...] | None,
    _frame: gpd.GeoDataFrame,
) -> maps.MapData:
    if fields is None:
        return maps.prepare(_frame)
    return maps.prepare(_frame, list(fields), light_fields=_chosen(light_fields))


def layer(
    frame: gpd.GeoDataFrame,
    fields: Any = None,
    *,
    light_fields: Any = None,
    key: tuple[Any, ...],
) -> maps.MapData:
    """:func:`ims_geo.maps.prepare` of ``frame``, once per store revision, viewer and ``key``.

    ``key`` must name everything besides the store that ``frame`` was made
    from (rules, filters, order, the rows drawn): two calls with the same
    revision and key get the first call's layer, so a rerun that changes
    nothing on the map does not serialise its features again.
    """
    return _layer(
        location(), viewer(), revision(), key, _chosen(fields), _chosen(light_fields), frame
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _cycle_status(where: str, who: str, rev: str, year: int, today: dt.date, _store: Store) -> Any:
    from ims_geo import cycle

    return cycle.status(_store, year)


def cycle_status(year: int) -> Any:
    """:func:`ims_geo.cycle.status` of ``year`` (every cycle write changes the revision)."""
    return _cycle_status(location(), viewer(), revision(), year, dt.date.today(), store())


@st.cache_data(show_spinner=False, max_entries=8)
def _cycle_baseline(
    where: str, who: str, rev: str, year: int, today: dt.date, _store: Store
) -> Any:
    from ims_geo import cycle

    return cycle.baseline(_store, year)


def cycle_baseline(year: int) -> Any:
    """:func:`ims_geo.cycle.baseline` of ``year``, once per store revision."""
    return _cycle_baseline(location(), viewer(), revision(), year, dt.date.today(), store())


#: Reads of :mod:`ims_geo.cycle` that :func:`cycle_read` caches (each takes the store first).
CYCLE_READS = frozenset(
    {"is_full_revision", "targets", "stored_targets", "revisions", "projects", "programme",
     "progress_sheet", "moratoria"}
)  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=32)
def _cycle_read(
    where: str, who: str, rev: str, name: str, args: tuple[Any, ...], today: dt.date, _store: Store
) -> Any:
    from ims_geo import cycle

    return getattr(cycle, name)(_store, *args)


def cycle_read(name: str, *args: Any) -> Any:
    """``ims_geo.cycle.<name>(store, *args)``, once per store revision (one of :data:`CYCLE_READS`).

    Every write of the planning cycle (targets, adoption, progress, moratoria,
    the full-revision switch) commits and so changes the revision: a page run
    after a write reads again, a rerun that wrote nothing does not.
    """
    if name not in CYCLE_READS:
        raise ValueError(f"not a cached planning cycle read: {name}")
    return _cycle_read(location(), viewer(), revision(), name, args, dt.date.today(), store())


# --- uploads ----------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=4)
def _layers(file_id: str, name: str, _data: bytes) -> list[str]:
    return list_layers(_data, name=name)


def upload_layers(upload: UploadedFile) -> list[str]:
    """Layers of an uploaded GeoPackage or zip (one name for single-layer files)."""
    return _layers(upload.file_id, upload.name, upload.getvalue())


@st.cache_data(show_spinner=False, max_entries=4)
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
    with _busy(N_("Reading and checking the file…")):
        return _read(
            upload.file_id, upload.name, org, layer, chosen, crs, encoding, upload.getvalue(),
            mapping,
        )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=4)
def _raw(
    file_id: str, name: str, layer: str | None, encoding: str | None, _data: bytes
) -> tuple[pd.DataFrame, bool]:
    frame, text_geometry, _ = read_raw(_data, name=name, layer=layer, encoding=encoding)
    return frame, text_geometry


def upload_frame(
    upload: UploadedFile, *, layer: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, bool]:
    """The uploaded file's own columns and values, and whether its geometry is WKT text."""
    with _busy(N_("Reading the file's columns…")):
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
