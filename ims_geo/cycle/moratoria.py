"""Moratoria as their own layer: protected new surfaces the conflict engine reads.

A moratorium protects a street surface from ``valid_from`` to ``valid_until``
(both days inclusive): an excavation of another organisation that starts in
that period within the rules' distance of its geometry is a ``moratorium``
conflict ("dig after pave"). Moratoria come from two places:

* a sealing work (road, surface) reported ``done`` with its actual end
  (:mod:`ims_geo.cycle.monitor`): protected from the day after the actual
  end until end + ``moratorium_years`` x 365 days, with the work as its
  source; a later report of the same work replaces it (same id);
* an existing register (:func:`read_moratoria`, :func:`import_moratoria`):
  ``source_org``, ``source_work_id``, ``valid_from``, ``valid_until`` and a
  geometry per row, optionally an exemption per row (``exempt_org``,
  ``exempt_work_id``, ``exemption`` = emergency or decision, ``decision``).

An exemption (:func:`add_exemption`) lets one work (or every work of one
organisation) dig in one moratorium: ``emergency`` works, or a named
decision. Works that the rules exempt altogether (e.g. an ``emergency``
column) take no part in any conflict anyway.

How the engine reads them
-------------------------
:func:`find_conflicts_with_moratoria` adds each moratorium to the works as
a sealing pseudo-work of its source organisation with a protecting status
(done), whose end is set so that the engine's own moratorium rule covers
exactly the protected period: the excavation start ``s`` is reported when
``end < s <= end + moratorium_years x 365``; a moratorium longer than that
is cut into consecutive pieces. The engine itself is unchanged and keeps its
speed (a few extra rows); its rows for the pseudo-works are then mapped back
to the moratorium (its source work, ``moratorium_id``), limited to starts
inside the protected period, one row per moratorium and work, and the
exempted pairs are dropped.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ims_geo import sanity
from ims_geo import schema as S
from ims_geo.conflicts import empty_conflicts, find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.cycle._common import day_text, days, from_hex, now_text, require_writer, to_hex
from ims_geo.errors import InputError, StoreError
from ims_geo.store.base import Store
from ims_geo.store.cycle_tables import Transaction, transaction

#: Columns of :func:`moratoria` before its extra columns.
MORATORIUM_COLUMNS: tuple[str, ...] = ("source_org", "source_work_id", "valid_from", "valid_until")
_MORATORIUM_EXTRA: tuple[str, ...] = ("moratorium_id", "org", "source", "exemptions")
#: Kinds of exemption.
EXEMPTIONS: tuple[str, ...] = ("emergency", "decision")
#: ``source`` of moratoria created by finished resurfacing starts with this.
DERIVED = "finished resurfacing"
_MARK = "\x00moratorium:"
_ALIASES = {
    "source_org": ("source_org", "org", "owner", "organisation", "organization"),
    "source_work_id": ("source_work_id", "work_id", "id", "reference"),
    "valid_from": ("valid_from", "from", "start_date", "start"),
    "valid_until": ("valid_until", "until", "end_date", "end"),
    "exempt_org": ("exempt_org",),
    "exempt_work_id": ("exempt_work_id", "exempt_work"),
    "exemption": ("exemption", "exemption_kind"),
    "decision": ("decision",),
}


# --- reading ---------------------------------------------------------------------------
def moratoria(store: Store, *, active_on: Any = None) -> gpd.GeoDataFrame:
    """Every moratorium of the store, or those active on a date.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`MORATORIUM_COLUMNS`, then moratorium_id, org (who registered
        it), source, exemptions (text: "org work_id (kind: decision); ..."),
        geometry in the store CRS; by valid_from, source_org, source_work_id.
    """
    when = None
    if active_on is not None:
        parsed, bad = S.parse_dates(pd.Series([active_on], dtype=object))
        if bad.any() or parsed.isna().all():
            raise InputError(f"--active-on {active_on!r} is not a date; write it as YYYY-MM-DD")
        when = parsed.iloc[0]
    with transaction(store) as tx:  # {v}: others' moratoria of private works anonymous
        rows = tx.rows(
            "SELECT source_org, source_work_id, valid_from, valid_until, moratorium_id, org, "
            "source, geometry_wkb FROM {v}moratoria ORDER BY moratorium_id"
        )
        exempt = tx.rows(
            "SELECT moratorium_id, exempt_org, exempt_work_id, kind, decision "
            "FROM {v}moratorium_exemptions ORDER BY exemption_id"
        )
    raw = pd.DataFrame(rows, columns=[*MORATORIUM_COLUMNS, "moratorium_id", "org", "source", "g"])
    raw = _latest_derived(raw)
    texts = _exemption_texts(exempt)
    frame = pd.DataFrame(
        {
            "source_org": raw["source_org"].astype(str),
            "source_work_id": raw["source_work_id"].astype(str),
            "valid_from": days(raw["valid_from"]),
            "valid_until": days(raw["valid_until"]),
            "moratorium_id": raw["moratorium_id"].astype("int64"),
            "org": raw["org"].astype(str),
            "source": raw["source"].astype(str),
        }
    )
    frame["exemptions"] = [texts.get(int(i), "") for i in frame["moratorium_id"]]
    geometry = from_hex(raw["g"].to_numpy())
    crs = store.crs
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)
    if when is not None:
        out = out[(out["valid_from"] <= when) & (out["valid_until"] >= when)]
    out = out.sort_values(["valid_from", "source_org", "source_work_id"], kind="stable")
    return out.reset_index(drop=True)


def _latest_derived(raw: pd.DataFrame) -> pd.DataFrame:
    """Per finished resurfacing only its latest row, under its first row's id."""
    derived = raw["source"].astype(str).str.startswith(DERIVED).to_numpy()
    if not derived.any():
        return raw
    part = raw[derived]
    key = [part["source_org"], part["source_work_id"]]
    first = part.groupby(key)["moratorium_id"].transform("min")
    latest = part["moratorium_id"] == part.groupby(key)["moratorium_id"].transform("max")
    kept = part[latest.to_numpy()].assign(moratorium_id=first[latest.to_numpy()].to_numpy())
    out = pd.concat([raw[~derived], kept]).sort_values("moratorium_id", kind="stable")
    return out.reset_index(drop=True)


def exemptions(store: Store) -> pd.DataFrame:
    """Every exemption: moratorium_id, exempt_org, exempt_work_id (None: all), kind, decision."""
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT moratorium_id, exempt_org, exempt_work_id, kind, decision "
            "FROM {v}moratorium_exemptions ORDER BY exemption_id"
        )
    frame = pd.DataFrame(
        rows, columns=["moratorium_id", "exempt_org", "exempt_work_id", "kind", "decision"]
    )
    return frame.astype({"moratorium_id": "int64"})


def _exemption_texts(rows: list[tuple[Any, ...]]) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    for mid, org, work, kind, decision in rows:
        who = f"{org} {work}" if work else f"{org} (all works)"
        what = f"{kind}: {decision}" if decision else str(kind)
        out.setdefault(int(mid), []).append(f"{who} ({what})")
    return {k: "; ".join(v) for k, v in out.items()}


# --- created by finished resurfacing ------------------------------------------------------
def derived_moratoria(
    reports: pd.DataFrame, known: gpd.GeoDataFrame, rules: Rules, *, source: str = ""
) -> gpd.GeoDataFrame:
    """Moratoria that accepted progress reports create (sealing works done, with an end)."""
    done = reports[(reports[S.STATUS] == "done") & reports["actual_end"].notna()]
    sealing = known[S.seals_surface(known)]
    hit = done.merge(
        pd.DataFrame({S.WORK_ID: sealing[S.WORK_ID].astype(str), "_i": np.arange(len(sealing))}),
        on=S.WORK_ID,
    )
    span = np.timedelta64(int(rules.moratorium_years * 365), "D")
    end = hit["actual_end"].to_numpy(dtype="datetime64[s]")
    label = f"{DERIVED} ({source})" if source else DERIVED
    frame = pd.DataFrame(
        {
            "source_work_id": hit[S.WORK_ID].astype(str).to_numpy(),
            "valid_from": end + np.timedelta64(1, "D"),
            "valid_until": end + span,
            "source": label,
        }
    )
    geoms = sealing.geometry.to_numpy()[hit["_i"].to_numpy(dtype=np.int64)]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=known.crs), crs=known.crs)


def store_derived(tx: Transaction, created: gpd.GeoDataFrame, org: str) -> gpd.GeoDataFrame:
    """Write derived moratoria of ``org``.

    Rows are only ever added (the shared store lets no one change them): a
    later report of the same work adds a row that supersedes the earlier
    one, and :func:`moratoria` shows it under the first row's id, so
    exemptions granted on it stay attached.
    """
    if created.empty:
        return created
    first_ids = {
        str(w): int(i)
        for i, w in tx.rows(
            "SELECT MIN(moratorium_id), source_work_id FROM {t}moratoria WHERE source_org = :o "
            f"AND source LIKE '{DERIVED}%' GROUP BY source_work_id",
            {"o": org},
        )
    }
    start = tx.next_id("moratoria", "moratorium_id", view=True)
    row_ids = np.arange(start, start + len(created), dtype=np.int64)
    _insert(tx, created.assign(moratorium_id=row_ids, source_org=org), org)
    shown = [
        first_ids.get(str(w), int(i))
        for w, i in zip(created["source_work_id"], row_ids, strict=True)
    ]
    return created.assign(moratorium_id=shown, source_org=org)


def _insert(tx: Transaction, frame: gpd.GeoDataFrame, org: str) -> None:
    stamp = now_text()
    tx.many(
        "INSERT INTO {t}moratoria (moratorium_id, org, source_org, source_work_id, valid_from, "
        "valid_until, source, created_at, geometry_wkb) VALUES (:id, :org, :so, :sw, :vf, :vu, "
        ":src, :at, :g)",
        [
            {
                "id": int(i),
                "org": org,
                "so": str(so),
                "sw": str(sw),
                "vf": day_text(vf),
                "vu": day_text(vu),
                "src": str(src),
                "at": stamp,
                "g": g,
            }  # fmt: skip
            for i, so, sw, vf, vu, src, g in zip(
                frame["moratorium_id"],
                frame["source_org"],
                frame["source_work_id"],
                frame["valid_from"],
                frame["valid_until"],
                frame["source"],
                to_hex(frame.geometry.to_numpy()),
                strict=True,
            )  # fmt: skip
        ],
    )


# --- registers ---------------------------------------------------------------------------
def read_moratoria(
    path: str | os.PathLike[str], *, layer: str | None = None, crs: Any = None
) -> gpd.GeoDataFrame:
    """Read a moratoria register (any spatial format the ingest reads; CSV with WKT).

    Columns are found by name (:data:`_ALIASES`: e.g. ``org`` for
    ``source_org``, ``from``/``until`` for the validity); the result has
    those canonical names, a ``source_row``, the geometry and
    ``geometry_problem``: why a row's geometry was blanked (WKT nested more
    than ``max_geometry_depth`` brackets, not WKT, or failing the checks of
    :func:`ims_geo.sanity.geometry_problems`), which :func:`import_moratoria`
    gives as the row's rejection reason.

    The file is parsed in the limited worker process like every upload
    (:mod:`ims_geo.ingest._worker`): a file that cannot be read is an
    :class:`~ims_geo.errors.InputError` naming it, never a crash.
    """
    from ims_geo.ingest import Limits
    from ims_geo.ingest.suggest import read_raw

    limits = Limits(max_upload_bytes=float("inf"), max_expanded_bytes=float("inf"))
    label = Path(path).name
    # parsed in the limited worker like every upload: a hostile file cannot crash this process
    raw, _, _ = read_raw(Path(path), layer=layer, limits=limits, first_layer=False)
    problem = np.full(len(raw), None, dtype=object)
    if not isinstance(raw, gpd.GeoDataFrame):
        if "geometry" not in raw:
            raise InputError(f"{label}: a moratoria register needs a WKT geometry column")
        if crs is None:
            raise InputError(f"{label}: a CSV register needs its CRS, e.g. --crs EPSG:28992")
        geoms, problem = read_wkt(raw["geometry"], limits.max_geometry_depth)
        raw = gpd.GeoDataFrame(raw.drop(columns="geometry"), geometry=geoms, crs=crs)
    elif raw.crs is None:
        if crs is None:
            raise InputError(f"{label} has no CRS; give it, e.g. --crs EPSG:28992")
        raw = raw.set_crs(crs)
    raw = raw.set_geometry(_sane_register_geometries(raw, problem, limits.max_vertices))
    folded = {str(c).strip().lower().replace(" ", "_"): c for c in raw.columns}
    out = gpd.GeoDataFrame(index=raw.index, geometry=raw.geometry.to_numpy(), crs=raw.crs)
    for name, aliases in _ALIASES.items():
        found = next((folded[a] for a in aliases if a in folded), None)
        out[name] = raw[found].astype(object).where(raw[found].notna(), None) if found else None
    out[S.SOURCE_ROW] = np.arange(1, len(out) + 1)
    out[GEOMETRY_PROBLEM] = problem
    out.attrs["source"] = label
    return out


#: Column of :func:`read_moratoria` output: why a row's geometry was blanked (else None).
GEOMETRY_PROBLEM = "geometry_problem"


def read_wkt(
    texts: pd.Series, max_depth: float, *, unparsable: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Geometries of a WKT column and, per row, why one could not be used (else None).

    GEOS parses nesting recursively: a deep enough text crashes it, so the
    brackets are counted first and deeper texts are never parsed.
    ``unparsable`` False leaves text that is not WKT without a reason (a
    missing geometry).
    """
    text = texts.astype("string").str.strip()
    given = ~(text.isna() | (text == "")).to_numpy(dtype=bool)
    problem = np.full(len(text), None, dtype=object)
    depth = sanity.bracket_depth(text)
    deep = given & (depth > max_depth)
    problem[deep] = [
        f"geometry nested '{d}' brackets deep, more than max_geometry_depth" for d in depth[deep]
    ]
    given &= ~deep
    geoms = np.full(len(text), None, dtype=object)
    geoms[given] = shapely.from_wkt(text[given].to_numpy(dtype=object), on_invalid="ignore")
    broken = given & shapely.is_missing(geoms) & unparsable
    problem[broken] = [f"unparsable geometry '{t[:60]}' (not WKT)" for t in text[broken].tolist()]
    return geoms, problem


def _sane_register_geometries(
    frame: gpd.GeoDataFrame, problem: np.ndarray, max_vertices: float
) -> gpd.GeoSeries:
    """The frame's geometries 2D, those no later step could use blanked (reason in ``problem``)."""
    geoms = frame.geometry.to_numpy()
    reasons = sanity.geometry_problems(geoms, frame.crs, max_vertices=max_vertices)
    bad = pd.notna(reasons)
    fresh = bad & pd.isna(problem)
    problem[fresh] = reasons[fresh]
    cleaned = np.array(sanity.flat(geoms), dtype=object, copy=True)
    cleaned[bad] = None
    return gpd.GeoSeries(cleaned, index=frame.index, crs=frame.crs)


def import_moratoria(
    store: Store, register: gpd.GeoDataFrame, *, org: str, source: str = ""
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Store the moratoria of an existing register (and its exemptions).

    Parameters
    ----------
    register
        :func:`read_moratoria` output (or a frame with those columns and a CRS).
    org
        The organisation registering them (the default ``source_org``).
    source
        Where they came from (register name), kept with each moratorium.

    Returns
    -------
    (stored, rejected)
        The stored moratoria with their ids; the rows that could not be
        used with their ``reason`` (no geometry, unreadable or reversed
        validity, unknown exemption kind).
    """
    org = str(org or "").strip()
    if not org:
        raise InputError("a register import needs the organisation: --org ORG")
    require_writer(store, "register moratoria")
    if store.acting_org is not None and org != store.acting_org:
        raise StoreError(f"organisation {store.acting_org!r} may not register for {org!r}")
    if register.crs is None:
        raise InputError("the register has no CRS; set it before importing")
    if store.crs is None:
        raise InputError(
            "the store holds no plans yet, so it has no CRS to keep the moratoria in; "
            "import the organisations' plans first"
        )
    frame = register.reset_index(drop=True).copy()
    for name in _ALIASES:
        if name not in frame:
            frame[name] = None
    if S.SOURCE_ROW not in frame:
        frame[S.SOURCE_ROW] = np.arange(1, len(frame) + 1)
    reason = pd.Series(pd.NA, index=frame.index, dtype=object)

    def reject(mask: np.ndarray, text: str) -> None:
        mask = mask & reason.isna().to_numpy()
        reason[mask] = text

    geoms = frame.geometry.to_numpy()
    # the reader's reasons (nested, unparsable, ...) first, then the same checks for a frame
    # built in code: no geometry a later step cannot use (e.g. a coordinate of 1e200) is stored
    from ims_geo.ingest import Limits

    checked = sanity.geometry_problems(geoms, register.crs, max_vertices=Limits().max_vertices)
    problem = pd.Series(checked, index=frame.index, dtype=object)
    if GEOMETRY_PROBLEM in frame:
        problem = (
            frame[GEOMETRY_PROBLEM].astype(object).where(frame[GEOMETRY_PROBLEM].notna(), problem)
        )
    reason[problem.notna()] = problem[problem.notna()]
    reject(shapely.is_missing(geoms) | shapely.is_empty(geoms), "missing geometry")
    start, bad_start = S.parse_dates(frame["valid_from"])
    until, bad_until = S.parse_dates(frame["valid_until"])
    reject(bad_start | start.isna().to_numpy(), "valid_from missing or not a date (YYYY-MM-DD)")
    reject(bad_until | until.isna().to_numpy(), "valid_until missing or not a date (YYYY-MM-DD)")
    reject((until < start).to_numpy(), "valid_until is before valid_from")
    kind = frame["exemption"].astype("string").str.strip().str.lower()
    has_exempt = frame["exempt_org"].astype("string").str.strip().fillna("") != ""
    reject(
        (has_exempt & ~kind.fillna("decision").isin(EXEMPTIONS)).to_numpy(),
        f"exemption must be one of {', '.join(EXEMPTIONS)}",
    )
    ok = reason.isna().to_numpy()
    kept = frame.drop(columns=[frame.geometry.name, GEOMETRY_PROBLEM], errors="ignore")
    rejected = pd.DataFrame(kept[~ok]).assign(reason=reason[~ok].to_numpy())
    good = frame[ok]
    source_org = good["source_org"].astype("string").str.strip().fillna(org).replace("", org)
    work = good["source_work_id"].astype("string").str.strip()
    rows = good[S.SOURCE_ROW].astype(str)
    work = work.where(work.notna() & (work != ""), "register row " + rows)
    label = str(source or register.attrs.get("source") or "register")
    crs = store.crs
    geo = good.geometry
    if CRS.from_user_input(geo.crs) != crs:
        geo = geo.to_crs(crs)
    stored = gpd.GeoDataFrame(
        {
            "source_org": source_org.astype(str).to_numpy(),
            "source_work_id": work.astype(str).to_numpy(),
            "valid_from": start[ok].to_numpy(),
            "valid_until": until[ok].to_numpy(),
            "source": f"register {label}",
        },
        geometry=geo.to_numpy(),
        crs=crs,
    )
    with transaction(store, write=True) as tx:
        first = tx.next_id("moratoria", "moratorium_id", view=True)
        stored["moratorium_id"] = np.arange(first, first + len(stored), dtype=np.int64)
        _insert(tx, stored, org)
        wanted = has_exempt[ok].to_numpy()
        if wanted.any():
            _insert_exemptions(
                tx,
                stored["moratorium_id"].to_numpy()[wanted],
                good["exempt_org"].astype(str).str.strip().to_numpy()[wanted],
                good["exempt_work_id"].to_numpy()[wanted],
                kind[ok].fillna("decision").to_numpy()[wanted],
                good["decision"].to_numpy()[wanted],
                org,
            )
    return stored, rejected.reset_index(drop=True)


def add_exemption(
    store: Store,
    moratorium_id: int,
    *,
    org: str,
    work_id: str | None = None,
    kind: str = "decision",
    decision: str | None = None,
) -> None:
    """Allow a work (``work_id``) or every work of ``org`` to dig in a moratorium.

    ``kind`` is ``emergency`` or ``decision``; a ``decision`` names the
    decision that granted it.
    """
    kind = str(kind).strip().lower()
    if kind not in EXEMPTIONS:
        raise InputError(f"exemption kind {kind!r}: use one of {', '.join(EXEMPTIONS)}")
    if kind == "decision" and not str(decision or "").strip():
        raise InputError("an exemption by decision names the decision, e.g. 'Council 2027/14'")
    if not str(org or "").strip():
        raise InputError("an exemption names the organisation whose work may dig")
    require_writer(store, "grant a moratorium exemption")
    with transaction(store, write=True) as tx:
        rows = tx.rows(
            "SELECT org FROM {t}moratoria WHERE moratorium_id = :id", {"id": int(moratorium_id)}
        )
        if not rows:
            raise InputError(f"no moratorium {moratorium_id}; see 'ims-geo moratoria'")
        owner = str(rows[0][0])
        if store.acting_org is not None and store.acting_org != owner:
            raise StoreError(
                f"moratorium {moratorium_id} belongs to {owner!r}; only it grants exemptions"
            )
        _insert_exemptions(
            tx, np.array([int(moratorium_id)]), np.array([str(org).strip()]),
            np.array([work_id], dtype=object), np.array([kind]),
            np.array([decision], dtype=object), owner,
        )  # fmt: skip


def _insert_exemptions(
    tx: Transaction,
    ids: np.ndarray,
    orgs: np.ndarray,
    works: np.ndarray,
    kinds: np.ndarray,
    decisions: np.ndarray,
    owner: str,
) -> None:
    first = tx.next_id("moratorium_exemptions", "exemption_id", view=True)
    stamp = now_text()

    def text(value: Any) -> str | None:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        return str(value).strip() or None

    tx.many(
        "INSERT INTO {t}moratorium_exemptions (exemption_id, moratorium_id, org, exempt_org, "
        "exempt_work_id, kind, decision, granted_at) VALUES (:id, :mid, :org, :eo, :ew, :k, "
        ":d, :at)",
        [
            {
                "id": first + n,
                "mid": int(i),
                "org": owner,
                "eo": str(o),
                "ew": text(w),
                "k": str(k),
                "d": text(d),
                "at": stamp,
            }  # fmt: skip
            for n, (i, o, w, k, d) in enumerate(
                zip(ids, orgs, works, kinds, decisions, strict=True)
            )
        ],
    )


# --- the engine with the layer ---------------------------------------------------------------
def find_conflicts_with_moratoria(
    works: gpd.GeoDataFrame,
    layer: gpd.GeoDataFrame | None,
    rules: Rules | None = None,
    *,
    exempt: pd.DataFrame | None = None,
    internal: bool | None = None,
    finder: Any = None,
) -> gpd.GeoDataFrame:
    """Conflicts of ``works`` with the moratoria layer read like sealing works.

    Parameters
    ----------
    works
        Planned works (canonical columns, a CRS).
    layer
        Moratoria (:func:`moratoria`); None or empty: the engine alone.
    rules
        Conflict rules; ``moratorium_years`` also sets how far the engine
        looks, the layer's own validity decides what is protected (also
        when ``moratorium_years`` is 0 and the works' own new surfaces are
        not protected).
    exempt
        Exemptions (:func:`exemptions`): the pairs they name are dropped.
    internal
        As in :func:`ims_geo.conflicts.find_conflicts`.
    finder
        The engine, called as ``finder(works, rules, internal=...)``: None is
        :func:`~ims_geo.conflicts.find_conflicts`; e.g. a partial of
        :func:`ims_geo.distributed.find_conflicts_dask` runs it on a cluster.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`ims_geo.conflicts.CONFLICT_COLUMNS`, then ``moratorium_id``
        (the moratorium a row comes from; NA for the works' own conflicts).
    """
    rules = rules or Rules()
    search = finder or find_conflicts  # one engine for every search below
    if layer is None or len(layer) == 0:
        found = search(works, rules, internal=internal)
        found["moratorium_id"] = pd.array([pd.NA] * len(found), dtype="Int64")
        return _exempted(found, layer, exempt)
    span = int(rules.moratorium_years * 365)
    reading = rules
    if span < 1:  # the works' own surfaces unprotected; the layer's validity still holds
        span = 365
        reading = replace(rules, moratorium_years=1)
    pseudo = _pseudo_works(works, layer, span, reading)
    combined = pd.concat([works, pseudo], ignore_index=True)
    combined = gpd.GeoDataFrame(combined, geometry=works.geometry.name, crs=works.crs)
    found = search(combined, reading, internal=internal)
    in_a = found["work_id_a"].str.startswith(_MARK).to_numpy()
    in_b = found["work_id_b"].str.startswith(_MARK).to_numpy()
    if reading is rules:
        own = found[~in_a & ~in_b].copy()
    else:  # the works' own pairs under the caller's rules (no moratorium among them)
        own = search(works, rules, internal=internal)
    own["moratorium_id"] = pd.array([pd.NA] * len(own), dtype="Int64")
    layered = found[(in_a | in_b) & (found["kind"] == "moratorium").to_numpy()].copy()
    if len(layered):
        layered = _map_back(layered, layer)
    out = pd.concat([own, layered], ignore_index=True) if len(layered) else own
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=found.crs)
    out = out.sort_values(
        ["score", "org_a", "work_id_a", "org_b", "work_id_b"],
        ascending=[False, True, True, True, True],
        kind="stable",
    ).reset_index(drop=True)
    return _exempted(out, layer, exempt)


def store_conflicts(
    store: Store,
    works: gpd.GeoDataFrame | None = None,
    rules: Rules | None = None,
    *,
    internal: bool | None = None,
    finder: Any = None,
) -> gpd.GeoDataFrame:
    """Conflicts of a store's works with its moratoria layer and exemptions.

    The one way the CLI (``ims-geo conflicts`` on the store), the app's pages
    and the cycle's KPIs find a store's conflicts, so they always agree.

    Parameters
    ----------
    store
        The store whose moratoria and exemptions apply.
    works
        Its works as read by the caller (e.g. cached); None reads
        :meth:`~ims_geo.store.Store.works`.
    rules
        Conflict rules (default :class:`ims_geo.conflicts.rules.Rules`).
    internal
        As in :func:`ims_geo.conflicts.find_conflicts`.
    finder
        The engine (as in :func:`find_conflicts_with_moratoria`).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`find_conflicts_with_moratoria`.
    """
    works = store.works() if works is None else works
    if works.empty:  # nothing can dig in a moratorium: no conflict, also without a CRS yet
        found = empty_conflicts(works.crs)
        found["moratorium_id"] = pd.array([], dtype="Int64")
        return found
    return find_conflicts_with_moratoria(
        works, moratoria(store), rules, exempt=exemptions(store), internal=internal, finder=finder
    )


def _pseudo_works(
    works: gpd.GeoDataFrame, layer: gpd.GeoDataFrame, span: int, rules: Rules
) -> gpd.GeoDataFrame:
    """Sealing pseudo-works whose moratorium rule covers each moratorium's validity."""
    start = layer["valid_from"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    until = layer["valid_until"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    pieces = np.maximum(1, -(-(until - start + 1) // span))
    which = np.repeat(np.arange(len(layer)), pieces)
    k = np.arange(len(which)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    end = until[which] - span * (k + 1)
    status = "done" if "done" in rules.protecting_status else (
        sorted(rules.protecting_status)[0] if rules.protecting_status else "planned"
    )  # fmt: skip
    ends = end.astype("datetime64[D]").astype("datetime64[s]")
    geo = layer.geometry
    if (
        works.crs is not None
        and geo.crs is not None
        and CRS.from_user_input(geo.crs) != CRS.from_user_input(works.crs)
    ):
        geo = geo.to_crs(works.crs)
    ids = layer["moratorium_id"].to_numpy()[which]
    frame = pd.DataFrame(
        {
            S.WORK_ID: (
                _MARK + pd.Series(ids).astype(str) + ":" + pd.Series(k).astype(str)
            ).to_numpy(),
            S.ORG: layer["source_org"].astype(str).to_numpy()[which],
            S.DISCIPLINE: "road",
            S.LAYER: "surface",
            S.START: ends,
            S.END: ends,
            S.EXCAVATION: False,
            S.STATUS: status,
        }
    )
    out = gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geo.to_numpy()[which], crs=works.crs), crs=works.crs
    )
    name = works.geometry.name
    return out if name == "geometry" else out.rename_geometry(name)


def _map_back(found: pd.DataFrame, layer: gpd.GeoDataFrame) -> pd.DataFrame:
    """Rows of pseudo-works as rows of their moratorium; inside its validity, once."""
    in_a = found["work_id_a"].str.startswith(_MARK).to_numpy()
    pseudo_id = np.where(in_a, found["work_id_a"], found["work_id_b"])
    mid = (pd.Series(pseudo_id, dtype=str).str.slice(len(_MARK)).str.split(":").str[0]).to_numpy(
        dtype=np.int64
    )
    info = layer.set_index("moratorium_id")
    other_start = np.where(in_a, found["start_b"], found["start_a"]).astype("datetime64[s]")
    valid_from = info["valid_from"].reindex(mid).to_numpy(dtype="datetime64[s]")
    valid_until = info["valid_until"].reindex(mid).to_numpy(dtype="datetime64[s]")
    inside = (other_start >= valid_from) & (other_start <= valid_until)
    out = found.copy()
    out["moratorium_id"] = pd.array(mid, dtype="Int64")
    side = np.where(in_a, "a", "b")
    sealed = valid_from - np.timedelta64(1, "D")
    for s in ("a", "b"):
        mine = side == s
        out.loc[mine, f"work_id_{s}"] = info["source_work_id"].reindex(mid[mine]).to_numpy()
        out.loc[mine, f"start_{s}"] = sealed[mine]
        out.loc[mine, f"end_{s}"] = sealed[mine]
    day = np.timedelta64(1, "D")
    out["gap_days"] = ((other_start - sealed) / day).astype(np.int64)
    out = out[inside]
    other = np.where(side[inside] == "a", out["work_id_b"], out["work_id_a"])
    other_org = np.where(side[inside] == "a", out["org_b"], out["org_a"])
    key = pd.DataFrame({"m": out["moratorium_id"].to_numpy(), "o": other_org, "w": other})
    keep = ~key.duplicated().to_numpy()
    return out[keep]


def _exempted(
    found: gpd.GeoDataFrame, layer: gpd.GeoDataFrame | None, exempt: pd.DataFrame | None
) -> gpd.GeoDataFrame:
    """``found`` without the moratorium pairs an exemption allows.

    An exemption names a moratorium; it applies to the moratorium's own row
    and, when the source work is among the works, to the engine's row between
    that work and the exempted one.
    """
    if exempt is None or exempt.empty or layer is None or len(layer) == 0 or found.empty:
        return found
    info = layer.set_index("moratorium_id")
    ex = exempt.merge(
        pd.DataFrame(
            {
                "moratorium_id": info.index.to_numpy(),
                "so": info["source_org"].to_numpy(),
                "sw": info["source_work_id"].to_numpy(),
            }
        ),
        on="moratorium_id",
    )
    if ex.empty:
        return found
    is_m = (found["kind"] == "moratorium").to_numpy()
    drop = np.zeros(len(found), dtype=bool)
    for a, b in (("a", "b"), ("b", "a")):
        pair = pd.DataFrame(
            {
                "so": found[f"org_{a}"].to_numpy(),
                "sw": found[f"work_id_{a}"].to_numpy(),
                "eo": found[f"org_{b}"].to_numpy(),
                "ew": found[f"work_id_{b}"].to_numpy(),
                "mid": found["moratorium_id"].to_numpy(),
                "row": np.arange(len(found)),
            }
        )
        hits = pair.merge(
            ex.rename(columns={"exempt_org": "eo"}), on=["so", "sw", "eo"], how="inner"
        )
        match = hits["exempt_work_id"].isna() | (hits["exempt_work_id"] == hits["ew"])
        same = hits["mid"].isna() | (hits["mid"].astype("Int64") == hits["moratorium_id"])
        rows = hits.loc[match & same.fillna(False).to_numpy(dtype=bool), "row"].to_numpy()
        drop[rows] = True
    return found[~(drop & is_m)].reset_index(drop=True)
