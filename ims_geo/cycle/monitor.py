"""Implementation and monitoring: progress reports and deviations from the adopted programme.

Organisations report progress like they upload plans: a file (any format
the ingest reads, geometry optional) with ``work_id``, ``status``,
``actual_start``, ``actual_end`` and an optional ``remark``
(:func:`read_progress`, :func:`record_progress`). A row is rejected, with
its reason, when its work id is missing, repeated in the file, or names no
work of the organisation's current plan or of the adopted programme; when
a date cannot be read or the end is before the start; when the status is
not one of :data:`ims_geo.schema.STATUSES` (aliases such as "fertig" or
"gereed" are understood); when a work is ``done`` without its actual end; when its (otherwise unused)
geometry is one no import would accept (nested too deep, a coordinate of 1e200).
A blank status is ``done`` with an actual end, ``in_progress`` with only an
actual start. The latest report of a work counts (:func:`progress`).

A sealing work (road, surface) reported ``done`` with its actual end
creates a moratorium (:mod:`ims_geo.cycle.moratoria`).

Deviations from the adopted programme
-------------------------------------
The programme monitored in a cycle is the one in force
(:func:`ims_geo.cycle.adopt.in_force`): the cycle's own adopted programme
and the works of earlier adopted programmes that still run in the cycle
(``adopted_in`` names the cycle that adopted each). A work's progress
reports count from the cycle that adopted it onwards (its latest report),
and the "not yet updated" check below compares with that cycle's adoption.
For every work of the programme in force, its *expected* period is its
actual dates where reported, otherwise its dates in the organisation's
current plan (an actual start without an actual end keeps the adopted
duration). Classes (:data:`DEVIATIONS`), the first that applies:

``dropped``
    reported ``cancelled``; or not started and gone from the current plan
    or ``cancelled`` there. ``days`` is empty.
``not_combined``
    a member of a combined project that started (actual start reported)
    and whose period lies outside the project's joint period; ``days`` is
    how far outside (days before the joint start or after the joint end).
``moved``
    start or end changed by more than ``moved_days`` (default
    :data:`MOVED_DAYS`) either way; ``days`` is the start shift (the end
    shift when only the end moved that far).
``late`` / ``early``
    the start is after / before the adopted start; ``days`` is the shift.
``unplanned``
    a work that is not in the programme but was reported started
    (``in_progress``, ``done`` or an actual start), or that its
    organisation's current plan marks ``in_progress`` or ``done`` with a
    start in the cycle year; ``days`` is empty.

Plans not yet updated (:func:`awaiting_update`)
-----------------------------------------------
Right after an adoption the organisations' current plans still hold the
dates they were adopted from: that is no deviation of the work, the plan is
not yet updated. A work is ``awaiting_update`` (:data:`AWAITING`) instead
of ``moved``, ``late`` or ``early`` when nothing was reported of its
execution (no actual date), its dates in the organisation's current plan
are still those the programme was adopted from (``planned_start``,
``planned_end``: its dates in the plan current at the adoption), and the
adopted dates differ from them. ``days`` is how far the plan's start is from
the adopted start. The check is made per work, not by when the plan was
uploaded: importing the same plan again after the adoption changes no
work's state, and a new plan version flags only the works whose own dates
changed. Such works are listed apart from the deviations; the state clears
itself when the organisation imports its plan with the adopted dates (then
the work is on programme) or with other dates (then it deviates). A work's
dates changed after the adoption, progress reported late, a work dropped or
not combined are deviations as before.

State of a combined project (:func:`project_status`)
----------------------------------------------------
``red`` when a member is dropped or not combined, or a member that has not
started is now expected outside the joint period (the combination is at
risk); ``amber`` when a member is late, early or moved but still inside the
joint period; ``awaiting_update`` (:data:`AWAITING`) when no member deviates
but a member's plan is not yet updated to the adopted dates; ``green``
otherwise. ``reason`` names the members and what happened, or says "on
programme".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ims_geo import sanity
from ims_geo import schema as S
from ims_geo.conflicts.rules import Rules
from ims_geo.cycle._common import (
    checked_cycle,
    day_text,
    days,
    now_text,
    require_writer,
    rows_seen,
)
from ims_geo.cycle.adopt import in_force, projects_in_force
from ims_geo.cycle.moratoria import GEOMETRY_PROBLEM
from ims_geo.errors import InputError, StoreError
from ims_geo.store.base import PRIVATE_ORG, Store
from ims_geo.store.cycle_tables import transaction

#: Columns of a progress report (input) and the first columns of :func:`progress`.
PROGRESS_COLUMNS: tuple[str, ...] = ("work_id", "status", "actual_start", "actual_end", "remark")
_PROGRESS_STORED: tuple[str, ...] = ("org", *PROGRESS_COLUMNS, "source", "reported_at")
#: Columns of :func:`deviations` before its extra columns.
DEVIATION_COLUMNS: tuple[str, ...] = ("org", "work_id", "project", "deviation", "days")
_DEVIATION_EXTRA: tuple[str, ...] = (
    "title", "adopted_start", "adopted_end", "start", "end", "status", "remark", "reason",
    "adopted_in",
)  # fmt: skip
#: Deviation classes, in the order they are listed.
DEVIATIONS: tuple[str, ...] = ("dropped", "not_combined", "moved", "late", "early", "unplanned")
#: State of a work whose current plan still holds the dates the programme was adopted from
#: (not a deviation; see the module docstring), and of a project where only such works differ.
AWAITING = "awaiting_update"
#: Columns of :func:`awaiting_update`.
AWAITING_COLUMNS: tuple[str, ...] = (
    "org", "work_id", "project", "days", "title", "adopted_start", "adopted_end", "start", "end",
    "uploaded_at", "reason", "adopted_in",
)  # fmt: skip
#: States of a combined project (:func:`project_status`), worst first.
PROJECT_STATES: tuple[str, ...] = ("red", "amber", AWAITING, "green")
#: Columns of :func:`project_status`.
PROJECT_STATUS_COLUMNS: tuple[str, ...] = (
    "project", "lead_org", "rag", "reason", "joint_start", "joint_end", "members",
)  # fmt: skip
#: Days a period may change before a work counts as ``moved``.
MOVED_DAYS = 30
_STARTED = ("in_progress", "done")


@dataclass
class ProgressResult:
    """What :func:`record_progress` stored, rejected and created."""

    #: The stored reports (org, work_id, status, actual_start, actual_end, remark).
    accepted: pd.DataFrame
    #: Rejected rows: their own columns, ``source_row`` and ``reason``.
    rejected: pd.DataFrame
    #: Moratoria created by sealing works reported done.
    moratoria: gpd.GeoDataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    def report(self) -> str:
        """A plain-text summary for a terminal."""
        lines = [f"{len(self.accepted)} progress reports stored, {len(self.rejected)} rejected"]
        if len(self.rejected):
            for reason, n in self.rejected["reason"].value_counts().items():
                lines.append(f"  rejected {n}: {reason}")
        if self.moratoria is not None and len(self.moratoria):
            lines.append(f"{len(self.moratoria)} moratoria created by finished resurfacing")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


# --- reading a progress file --------------------------------------------------------------
def read_progress(
    path: str | os.PathLike[str] | bytes,
    *,
    mapping: Any = None,
    layer: str | None = None,
    name: str | None = None,
    limits: Any = None,
) -> pd.DataFrame:
    """Read a progress file: any format the ingest reads, geometry optional.

    Parameters
    ----------
    path
        The file (.csv, .gpkg, .geojson, .zip shapefile, ...), or its bytes
        (an upload; then ``name`` gives its file name).
    mapping
        A column mapping (path or :class:`ims_geo.ingest.Mapping`): ``columns``
        for work_id and status, ``values`` for status, ``extras`` for
        actual_start, actual_end and remark (e.g. ``actual_end = "Ende"``).
    layer
        Layer of a GeoPackage or zip with several layers.
    name
        The file name shown in messages (default the path's name).
    limits
        :class:`ims_geo.ingest.Limits` (default: no size cap for local files).

    Returns
    -------
    pandas.DataFrame
        :data:`PROGRESS_COLUMNS` as text (missing ones empty), then
        ``source_row`` (1-based row of the file), ``source_file`` and
        ``geometry_problem`` (why the row's optional geometry is unusable, e.g.
        nested too deep or a coordinate of 1e200: :func:`record_progress`
        rejects such rows; else None).

    Raises
    ------
    InputError
        The file cannot be read (damaged, wrong encoding, ...); it is parsed
        in the limited worker process, so a hostile file is a refusal.
    """
    from ims_geo.ingest import Limits
    from ims_geo.ingest._mapping import Mapping, apply, load_mapping
    from ims_geo.ingest.suggest import read_raw

    if limits is None:
        limits = Limits(max_upload_bytes=float("inf"), max_expanded_bytes=float("inf"))
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    given: bytes | Path = path if isinstance(path, bytes) else Path(path)
    # parsed in the limited worker like every upload: a hostile file cannot crash this process
    raw, _, _ = read_raw(given, name=name, layer=layer, limits=limits, first_layer=False)
    label = name or (Path(path).name if not isinstance(path, bytes) else "progress")
    problem = _geometry_problems(raw, limits)
    table = (
        pd.DataFrame(raw.drop(columns=raw.geometry.name))
        if isinstance(raw, gpd.GeoDataFrame)
        else pd.DataFrame(raw)
    )
    table = table.drop(columns=[c for c in table.columns if str(c).lower() == "geometry"])
    mapped, _, _ = apply(table, mapping, name=label, text_geometry=False, org_given=True)
    folded = {str(c).strip().lower().replace(" ", "_"): c for c in mapped.columns}
    if S.WORK_ID not in mapped:
        raise InputError(
            f"{label}: no work_id column (columns: {', '.join(map(str, table.columns))}); "
            "name it work_id or map it in a mapping file"
        )
    out = pd.DataFrame(index=mapped.index)
    for col in PROGRESS_COLUMNS:
        found = col if col in mapped else folded.get(col)
        out[col] = (
            mapped[found].astype(object).where(mapped[found].notna(), None)
            if found is not None
            else None
        )
    out[S.SOURCE_ROW] = np.arange(1, len(out) + 1)
    out[S.SOURCE_FILE] = label
    out[GEOMETRY_PROBLEM] = problem
    return out.reset_index(drop=True)


def _geometry_problems(raw: pd.DataFrame, limits: Any) -> np.ndarray:
    """Why a report's (optional) geometry is unusable, per row (None where it is fine or absent).

    The geometry itself is not kept, but a row whose geometry no import would
    accept (nested too deep to parse, a coordinate of 1e200, ...) is rejected
    like it would be there: the file is broken or hostile.
    """
    from ims_geo.cycle.moratoria import read_wkt

    if isinstance(raw, gpd.GeoDataFrame):
        geoms, crs = raw.geometry.to_numpy(), raw.crs
        problem = np.full(len(raw), None, dtype=object)
    else:
        column = next((c for c in raw.columns if str(c).lower() == "geometry"), None)
        if column is None:
            return np.full(len(raw), None, dtype=object)
        geoms, problem = read_wkt(raw[column], limits.max_geometry_depth, unparsable=False)
        crs = None  # a CSV report says nothing of its CRS: the area-of-use check is skipped
    reasons = sanity.geometry_problems(geoms, crs, max_vertices=limits.max_vertices)
    fresh = pd.notna(reasons) & pd.isna(problem)
    problem[fresh] = reasons[fresh]
    return problem


# --- storing reports ------------------------------------------------------------------------
def record_progress(
    store: Store,
    cycle: int,
    org: str,
    reports: pd.DataFrame,
    *,
    source: str = "",
    rules: Rules | None = None,
) -> ProgressResult:
    """Check and store one organisation's progress reports of ``cycle``.

    Rows that cannot be used are rejected with their reason (see the
    module docstring); the others are stored in one transaction, with the
    moratoria that finished resurfacing creates.

    Parameters
    ----------
    reports
        :data:`PROGRESS_COLUMNS` (e.g. from :func:`read_progress`); dates as
        text or dates.
    source
        Where the reports came from (file name).
    rules
        Its ``moratorium_years`` sets how long a new surface is protected.
    """
    from ims_geo.cycle.moratoria import derived_moratoria, store_derived

    year = checked_cycle(cycle)
    org = str(org or "").strip()
    if not org:
        raise InputError("progress needs its organisation: --org ORG")
    require_writer(store, "report progress")
    if store.acting_org is not None and org != store.acting_org:
        raise StoreError(
            f"organisation {store.acting_org!r} may only report its own progress, not {org!r}"
        )
    frame = pd.DataFrame(reports).reset_index(drop=True)
    if S.WORK_ID not in frame:
        raise InputError("progress reports need a work_id column")
    for col in PROGRESS_COLUMNS:
        if col not in frame:
            frame[col] = None
    if S.SOURCE_ROW not in frame:
        frame[S.SOURCE_ROW] = np.arange(1, len(frame) + 1)
    known = _known_works(store, year, org)
    checked, reason = _check(frame, known, org, _planned_elsewhere(store, frame, known, org))
    ok = reason.isna().to_numpy()
    rejected = frame[~ok].assign(reason=reason[~ok].to_numpy()).reset_index(drop=True)
    rejected = rejected.drop(columns=[GEOMETRY_PROBLEM], errors="ignore")
    accepted = checked[ok].drop(columns=[GEOMETRY_PROBLEM], errors="ignore").reset_index(drop=True)
    accepted.insert(0, S.ORG, org)
    stamp = now_text()
    label = str(source or "")
    rules = rules or Rules()
    created = derived_moratoria(accepted, known, rules, source=label)
    with transaction(store, write=True) as tx:
        tx.many(
            "INSERT INTO {t}progress_reports (cycle, org, work_id, status, actual_start, "
            "actual_end, remark, source, reported_at) VALUES (:y, :org, :work_id, :status, :s, "
            ":e, :remark, :source, :at)",
            [
                {
                    "y": year,
                    "org": org,
                    "work_id": w,
                    "status": st,
                    "s": day_text(a),
                    "e": day_text(b),
                    "remark": r,
                    "source": label,
                    "at": stamp,
                }  # fmt: skip
                for w, st, a, b, r in zip(
                    accepted[S.WORK_ID],
                    accepted[S.STATUS],
                    accepted["actual_start"],
                    accepted["actual_end"],
                    accepted["remark"],
                    strict=True,
                )  # fmt: skip
            ],
        )
        made = store_derived(tx, created, org)
    return ProgressResult(accepted=accepted, rejected=rejected, moratoria=made)


def _known_works(store: Store, year: int, org: str) -> gpd.GeoDataFrame:
    """The organisation's works a report may name: current plan, then the programme in force."""
    current = store.works(orgs=[org])
    keep = [S.WORK_ID, S.DISCIPLINE, S.LAYER, S.EXCAVATION, S.START, S.END, S.STATUS]
    known = gpd.GeoDataFrame(current[keep], geometry=current.geometry.to_numpy(), crs=current.crs)
    adopted = in_force(store, year)
    if len(adopted):
        adopted = adopted[adopted[S.ORG] == org]
        extra = adopted[~adopted[S.WORK_ID].isin(known[S.WORK_ID])]
        if len(extra):
            more = gpd.GeoDataFrame(
                {
                    S.WORK_ID: extra[S.WORK_ID].to_numpy(),
                    S.DISCIPLINE: extra[S.DISCIPLINE].to_numpy(),
                    S.LAYER: extra[S.LAYER].to_numpy(),
                    S.EXCAVATION: extra[S.EXCAVATION].to_numpy(),
                    S.START: extra["start"].to_numpy(),
                    S.END: extra["end"].to_numpy(),
                    S.STATUS: "planned",
                },
                geometry=extra.geometry.to_numpy(),
                crs=adopted.crs,
            )
            if known.crs is None:
                known = known.set_crs(more.crs, allow_override=True)
            known = pd.concat([known, more.to_crs(known.crs)], ignore_index=True)
    return gpd.GeoDataFrame(known, geometry=known.geometry.name, crs=known.crs)


def problems(store: Store, cycle: int, org: str, reports: pd.DataFrame) -> pd.Series:
    """Why each row of ``reports`` would be rejected by :func:`record_progress` (NA: fine).

    Nothing is stored (e.g. to refuse a whole file when any row is wrong).
    """
    year = checked_cycle(cycle)
    known = _known_works(store, year, org)
    frame = pd.DataFrame(reports).reset_index(drop=True)
    return _check(frame, known, org, _planned_elsewhere(store, frame, known, org))[1]


def _planned_elsewhere(
    store: Store, frame: pd.DataFrame, known: pd.DataFrame, org: str
) -> pd.Series:
    """work_id -> the other organisations (", "-joined) whose current plan holds it, for the
    reported ids that ``org`` does not know (the report was likely filed for the wrong one).

    Only what the caller may see: others' private works are anonymous signals without their id.
    """
    ids = frame[S.WORK_ID].astype("string").str.strip()
    unknown = set(ids[~ids.isin(set(known[S.WORK_ID].astype(str)))].dropna())
    if not unknown:
        return pd.Series(dtype=object)
    works = store.works()
    others = works[
        works[S.WORK_ID].astype(str).isin(unknown).to_numpy()
        & ~works[S.ORG].isin([org, PRIVATE_ORG]).to_numpy()
    ]
    pairs = others[[S.WORK_ID, S.ORG]].astype(str).drop_duplicates().sort_values(S.ORG)
    return pairs.groupby(S.WORK_ID)[S.ORG].agg(", ".join)


def _check(
    frame: pd.DataFrame, known: pd.DataFrame, org: str, elsewhere: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """Parsed reports and a reason per row (NA where the row is fine); ``elsewhere`` is
    :func:`_planned_elsewhere`."""
    reason = pd.Series(pd.NA, index=frame.index, dtype="object")

    def reject(mask: np.ndarray | pd.Series, text: pd.Series | str) -> None:
        mask = np.asarray(mask, dtype=bool) & reason.isna().to_numpy()
        values = text if isinstance(text, str) else text[mask]
        reason.loc[mask] = values

    if GEOMETRY_PROBLEM in frame:
        reject(frame[GEOMETRY_PROBLEM].notna().to_numpy(), frame[GEOMETRY_PROBLEM])

    work_id = frame[S.WORK_ID].astype("string").str.strip()
    blank_id = (work_id.isna() | (work_id == "")).to_numpy()
    reject(blank_id, "missing work_id")
    counts = work_id.map(work_id.value_counts())
    reject(
        (counts > 1).to_numpy() & ~blank_id,
        "work_id " + work_id.astype(str) + " appears " + counts.astype(str)
        + " times in the file; report each work once",
    )  # fmt: skip
    unknown = ~work_id.isin(set(known[S.WORK_ID].astype(str))).to_numpy() & ~blank_id
    owners = work_id.map(elsewhere).astype(object)
    reject(
        unknown & owners.notna().to_numpy(),
        "work_id " + work_id.astype(str) + " is not in the plan of " + org + " but in that of "
        + owners.astype(str) + "; report its progress as that organisation",
    )  # fmt: skip
    reject(
        unknown,
        "work_id " + work_id.astype(str) + " is not in the organisation's current plan "
        "or the adopted programme; check the id",
    )
    start, bad_start = S.parse_dates(frame["actual_start"])
    end, bad_end = S.parse_dates(frame["actual_end"])
    reject(
        bad_start,
        "actual_start " + frame["actual_start"].astype(str) + " is not a date; use YYYY-MM-DD",
    )
    reject(
        bad_end, "actual_end " + frame["actual_end"].astype(str) + " is not a date; use YYYY-MM-DD"
    )
    reject(
        (end < start).to_numpy(),
        "actual_end is before actual_start",
    )
    raw_status = frame[S.STATUS].astype("string").str.strip()
    blank_status = (raw_status.isna() | (raw_status == "")).to_numpy()
    status, bad_status = S._parse_enum(raw_status, S.STATUSES, S.STATUS_ALIASES)
    reject(
        bad_status,
        "status " + raw_status.astype(str) + " is not one of " + ", ".join(S.STATUSES),
    )
    has_end, has_start = end.notna().to_numpy(), start.notna().to_numpy()
    implied = pd.Series(
        np.select([has_end, has_start], ["done", "in_progress"], default=""), index=frame.index
    )
    status = status.where(~pd.Series(blank_status, index=frame.index), implied)
    reject(blank_status & ~has_end & ~has_start, "no status and no actual dates")
    reject(
        (status == "done").to_numpy() & end.isna().to_numpy(),
        "status done needs its actual_end",
    )
    remark = frame["remark"].astype("string").str.strip()
    checked = pd.DataFrame(
        {
            S.WORK_ID: work_id.astype(object),
            S.STATUS: status.astype(object),
            "actual_start": start,
            "actual_end": end,
            "remark": remark.astype(object).where(remark.notna() & (remark != ""), None),
        }
    )
    return checked, reason


def progress(store: Store, cycle: int) -> pd.DataFrame:
    """The latest progress report per work of ``cycle``.

    Columns: org, work_id, status, actual_start, actual_end, remark, source,
    reported_at; sorted by org and work_id.
    """
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT r.org, r.work_id, r.status, r.actual_start, r.actual_end, r.remark, "
            "r.source, r.reported_at FROM {t}progress_reports r WHERE r.cycle = :y AND "
            "r.report_id = (SELECT MAX(q.report_id) FROM {t}progress_reports q "
            "WHERE q.cycle = r.cycle AND q.org = r.org AND q.work_id = r.work_id) "
            "ORDER BY r.org, r.work_id",
            {"y": year},
        )
    frame = pd.DataFrame(rows, columns=list(_PROGRESS_STORED))
    frame["actual_start"] = days(frame["actual_start"])
    frame["actual_end"] = days(frame["actual_end"])
    frame = rows_seen(store, frame.astype({"org": str, "work_id": str, "status": str}))
    return frame.reset_index(drop=True)


def progress_sheet(store: Store, cycle: int, org: str) -> pd.DataFrame:
    """The organisation's works to report progress on, as an editable sheet.

    One row per work of the programme in force (:func:`ims_geo.cycle.adopt.in_force`;
    else of the current plan):
    work_id, title, start, end (adopted or planned), then the latest
    report's status, actual_start, actual_end and remark (empty when none).
    """
    year = checked_cycle(cycle)
    adopted = in_force(store, year)
    if len(adopted):
        own = adopted[adopted[S.ORG] == org]
        works = pd.DataFrame(
            {
                S.WORK_ID: own[S.WORK_ID],
                S.TITLE: own["title"],
                "start": own["start"],
                "end": own["end"],
            }  # fmt: skip
        )
    else:
        current = store.works(orgs=[org])
        works = pd.DataFrame(
            {
                S.WORK_ID: current[S.WORK_ID].astype(str),
                S.TITLE: current[S.TITLE],
                "start": current[S.START],
                "end": current[S.END],
            }  # fmt: skip
        )
    reports = progress(store, year)
    reports = reports[reports[S.ORG] == org].drop(columns=[S.ORG, "source", "reported_at"])
    sheet = works.merge(reports, on=S.WORK_ID, how="left").reset_index(drop=True)
    sheet[S.STATUS] = sheet[S.STATUS].astype(object).where(sheet[S.STATUS].notna(), None)
    sheet["remark"] = sheet["remark"].astype(object).where(sheet["remark"].notna(), None)
    return sheet


def changed_progress(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Rows of an edited :func:`progress_sheet` that differ from the sheet as it was.

    Returns :data:`PROGRESS_COLUMNS` of the changed rows (for :func:`record_progress`).
    """
    columns = list(PROGRESS_COLUMNS)

    def text(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for col in columns:
            values = frame[col] if col in frame else pd.Series(None, index=frame.index)
            if col in ("actual_start", "actual_end"):
                values = pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m-%d")
            out[col] = values.astype("string").fillna("").str.strip()
        return out.set_index(S.WORK_ID)

    old, new = text(before), text(after)
    old = old.reindex(new.index).fillna("")
    changed = (old != new).any(axis=1).to_numpy()
    return new[changed].reset_index().replace("", None).loc[:, columns]


# --- deviations ----------------------------------------------------------------------------
def _assess(store: Store, year: int, moved_days: int) -> pd.DataFrame:
    """Every adopted work with its expected period, deviation and days."""
    if moved_days < 0:
        raise InputError(f"moved_days must be >= 0, got {moved_days}")
    adopted = pd.DataFrame(in_force(store, year).drop(columns="geometry"))
    if adopted.empty:
        raise StoreError(
            f"no programme adopted for cycle {year}; adopt one with "
            f"'ims-geo cycle adopt --cycle {year} --decision ...'"
        )
    current = store.works()
    plan = pd.DataFrame(
        {
            S.ORG: current[S.ORG].astype(str).to_numpy(),
            S.WORK_ID: current[S.WORK_ID].astype(str).to_numpy(),
            "plan_start": current[S.START].to_numpy(),
            "plan_end": current[S.END].to_numpy(),
            "plan_status": current[S.STATUS].astype(str).to_numpy(),
        }
    )
    first = int(adopted["adopted_in"].min()) if len(adopted) else year
    reports = reports_since(store, first, year)
    # a work's reports count from the cycle that adopted it onwards (its latest one)
    keyed = adopted[[S.ORG, S.WORK_ID, "adopted_in"]].merge(reports, on=[S.ORG, S.WORK_ID])
    keyed = keyed[(keyed["cycle"] >= keyed["adopted_in"]).to_numpy()]
    latest = keyed.sort_values("report_id", kind="stable").drop_duplicates(
        [S.ORG, S.WORK_ID], keep="last"
    )
    latest = latest.drop(columns=["adopted_in", "cycle", "report_id"])
    frame = adopted.merge(plan, on=[S.ORG, S.WORK_ID], how="left").merge(
        latest, on=[S.ORG, S.WORK_ID], how="left"
    )
    present = frame["plan_start"].notna().to_numpy()
    started = frame["actual_start"].notna().to_numpy()
    duration = frame["end"] - frame["start"]
    start = frame["actual_start"].where(started, frame["plan_start"].where(present, frame["start"]))
    end = frame["actual_end"].where(
        frame["actual_end"].notna(),
        (frame["actual_start"] + duration).where(
            started, frame["plan_end"].where(present, frame["end"])
        ),
    )
    frame["expected_start"] = start
    frame["expected_end"] = end
    dropped = (frame["status"] == "cancelled").fillna(False).to_numpy() | (
        ~started & (~present | (frame["plan_status"] == "cancelled").fillna(False).to_numpy())
    )
    # reindex, not map: map() cannot cast an empty table of times
    frame["uploaded_at"] = (
        _current_uploads(store).reindex(frame[S.ORG].to_numpy()).set_axis(frame.index)
    )
    # per work, not by upload time: a plan imported again after the adoption with this
    # work's dates unchanged leaves it awaiting the update (planned_* are its dates in the
    # plan that was current when the programme was adopted)
    awaiting = (
        ~dropped
        & ~started
        & frame["actual_end"].isna().to_numpy()
        & (frame["plan_start"] == frame["planned_start"]).fillna(False).to_numpy(dtype=bool)
        & (frame["plan_end"] == frame["planned_end"]).fillna(False).to_numpy(dtype=bool)
        & ((frame["start"] != frame["plan_start"]) | (frame["end"] != frame["plan_end"]))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    # a project is named per adopting cycle: the same name in two cycles is two projects
    keys = project_key(frame["adopted_in"], frame["project"])
    joint = (
        frame[frame["project"].notna()]
        .groupby(keys[frame["project"].notna()])
        .agg(js=("start", "min"), je=("end", "max"))
    )
    # reindex, not map: with no project at all map() casts the empty dates to float
    js = pd.Series(joint["js"].reindex(keys).to_numpy(), index=frame.index)
    je = pd.Series(joint["je"].reindex(keys).to_numpy(), index=frame.index)
    day = np.timedelta64(1, "D")
    before = ((js - start) / day).to_numpy(dtype="float64")
    after = ((end - je) / day).to_numpy(dtype="float64")
    outside_days = np.fmax(before, after)
    outside = frame["project"].notna().to_numpy() & (outside_days > 0)
    shift = ((start - frame["start"]) / day).to_numpy(dtype="float64")
    end_shift = ((end - frame["end"]) / day).to_numpy(dtype="float64")
    not_combined = ~dropped & started & outside
    rest = ~dropped & ~not_combined & ~awaiting
    moved = rest & ((np.abs(shift) > moved_days) | (np.abs(end_shift) > moved_days))
    late = rest & ~moved & (shift > 0)
    early = rest & ~moved & (shift < 0)
    frame["deviation"] = np.select(
        [dropped, not_combined, awaiting, moved, late, early],
        ["dropped", "not_combined", AWAITING, "moved", "late", "early"],
        default="",
    )
    days_out = np.full(len(frame), np.nan)
    days_out[not_combined] = outside_days[not_combined]
    days_out[moved] = np.where(np.abs(shift) > moved_days, shift, end_shift)[moved]
    days_out[late | early | awaiting] = shift[late | early | awaiting]
    frame["days"] = pd.array(days_out, dtype="Float64").round().astype("Int64")
    # the plan is expected to follow the adoption: its old dates put no combination at risk
    frame["outside"] = outside & ~dropped & ~awaiting
    frame["started"] = started
    return frame


def _current_uploads(store: Store) -> pd.Series:
    """When each organisation's current plan version was uploaded (UTC), by organisation."""
    versions = store.plan_versions()
    current = versions[versions["is_current"]]
    times = pd.to_datetime(current["uploaded_at"], utc=True)
    return pd.Series(times.array, index=pd.Index(current[S.ORG].astype(str).to_numpy()))


def reports_since(store: Store, first: int, last: int) -> pd.DataFrame:
    """Every progress report of the cycles ``first`` to ``last`` (a work's latest is the one
    with the highest ``report_id``).

    Returns
    -------
    pandas.DataFrame
        org, work_id, status, actual_start, actual_end, remark, source,
        reported_at, cycle, report_id; as the reader may see them.
    """
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT org, work_id, status, actual_start, actual_end, remark, source, "
            "reported_at, cycle, report_id FROM {t}progress_reports "
            "WHERE cycle >= :a AND cycle <= :b",
            {"a": first, "b": last},
        )
    frame = pd.DataFrame(rows, columns=[*_PROGRESS_STORED, "cycle", "report_id"])
    frame["actual_start"] = days(frame["actual_start"])
    frame["actual_end"] = days(frame["actual_end"])
    frame = frame.astype(
        {"org": str, "work_id": str, "status": str, "cycle": "int64", "report_id": "int64"}
    )
    return rows_seen(store, frame).reset_index(drop=True)


def reports_in_force(store: Store, year: int, running: pd.DataFrame) -> pd.DataFrame:
    """Progress reports that count in ``year``: the cycle's own, and those on works of
    the programme in force since the cycle that adopted them.

    Parameters
    ----------
    store
        The works store.
    year
        The cycle year.
    running
        :func:`ims_geo.cycle.adopt.in_force` of the cycle (org, work_id, adopted_in).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`reports_since` (a work's latest has the highest ``report_id``).
    """
    first = min(int(running["adopted_in"].min()), year) if len(running) else year
    reports = reports_since(store, first, year)
    since = pd.Series(
        running["adopted_in"].to_numpy(), index=running["org"] + "\x1f" + running["work_id"]
    )
    since = since[~since.index.duplicated()]
    adopted_in = since.reindex(reports["org"] + "\x1f" + reports["work_id"]).to_numpy()
    cycles = reports["cycle"].to_numpy()
    # NaN (a work not in force) compares False: only the cycle's own reports count for it
    return reports[(cycles == year) | (cycles >= adopted_in)].reset_index(drop=True)


def deviations(store: Store, cycle: int, *, moved_days: int = MOVED_DAYS) -> pd.DataFrame:
    """Deviations from the adopted programme of ``cycle`` (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per deviating work: :data:`DEVIATION_COLUMNS`, then title,
        adopted_start, adopted_end, start, end (expected), status, remark,
        reason; ordered by :data:`DEVIATIONS`, org, work_id.

    Raises
    ------
    StoreError
        No programme was adopted for the cycle.
    """
    year = checked_cycle(cycle)
    return _deviations_of(store, year, _assess(store, year, moved_days))


def awaiting_update(store: Store, cycle: int) -> pd.DataFrame:
    """Works whose current plan still holds the dates the programme was adopted from.

    Not deviations: the organisation has not yet imported the adopted dates
    (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        :data:`AWAITING_COLUMNS`: ``start`` and ``end`` are the current
        plan's, ``days`` how far its start is from the adopted start,
        ``uploaded_at`` when that plan was uploaded; by org and work_id.

    Raises
    ------
    StoreError
        No programme was adopted for the cycle.
    """
    year = checked_cycle(cycle)
    return _awaiting_of(_assess(store, year, MOVED_DAYS))


def monitoring(
    store: Store, cycle: int, *, moved_days: int = MOVED_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`deviations`, :func:`project_status` and :func:`awaiting_update`, assessed once."""
    year = checked_cycle(cycle)
    frame = _assess(store, year, moved_days)
    return _deviations_of(store, year, frame), _status_of(store, year, frame), _awaiting_of(frame)


def _awaiting_of(frame: pd.DataFrame) -> pd.DataFrame:
    found = frame[frame["deviation"] == AWAITING].sort_values([S.ORG, S.WORK_ID], kind="stable")
    out = pd.DataFrame(
        {
            "org": found[S.ORG].astype(str),
            "work_id": found[S.WORK_ID].astype(str),
            "project": pd.array(found["project"].tolist(), dtype="string"),
            "days": pd.array(found["days"].tolist(), dtype="Int64"),
            "title": found["title"],
            "adopted_start": found["start"],
            "adopted_end": found["end"],
            "start": found["plan_start"],
            "end": found["plan_end"],
            "uploaded_at": found["uploaded_at"],
            "adopted_in": found["adopted_in"].astype("int64"),
        }
    ).reset_index(drop=True)
    out["reason"] = [
        f"plan not yet updated to the adopted dates: plan {day_text(s)} to {day_text(e)}, "
        f"adopted {day_text(a)} to {day_text(b)}"
        for s, e, a, b in zip(
            out["start"], out["end"], out["adopted_start"], out["adopted_end"], strict=True
        )
    ]
    return out.loc[:, list(AWAITING_COLUMNS)]


def _deviations_of(store: Store, year: int, frame: pd.DataFrame) -> pd.DataFrame:
    found = frame[frame["deviation"].isin(list(DEVIATIONS))]
    out = pd.DataFrame(
        {
            "org": found[S.ORG],
            "work_id": found[S.WORK_ID],
            "project": found["project"],
            "deviation": found["deviation"],
            "days": found["days"],
            "title": found["title"],
            "adopted_start": found["start"],
            "adopted_end": found["end"],
            "start": found["expected_start"],
            "end": found["expected_end"],
            "status": found["status"].where(found["status"].notna(), found["plan_status"]),
            "remark": found["remark"],
        }
    )
    out["reason"] = _reasons(out)
    out["adopted_in"] = found["adopted_in"]
    unplanned = _unplanned(store, year, frame)
    out = pd.concat([out, unplanned], ignore_index=True) if len(unplanned) else out
    order = pd.Categorical(out["deviation"], categories=list(DEVIATIONS), ordered=True)
    out = out.assign(_o=order).sort_values(["_o", "org", "work_id"], kind="stable")
    out = out.drop(columns="_o").reset_index(drop=True)
    out["days"] = pd.array(out["days"].tolist(), dtype="Int64")
    out["adopted_in"] = pd.array(out["adopted_in"].tolist(), dtype="Int64")
    out["project"] = pd.array(out["project"].tolist(), dtype="string")
    return out.loc[:, [*DEVIATION_COLUMNS, *_DEVIATION_EXTRA]]


def _reasons(frame: pd.DataFrame) -> list[str]:
    out = []
    for dev, d, s, a, status in zip(
        frame["deviation"], frame["days"], frame["start"], frame["adopted_start"],
        frame["status"], strict=True,
    ):  # fmt: skip
        if dev == "dropped":
            out.append("cancelled" if status == "cancelled" else "gone from the current plan")
        elif dev == "not_combined":
            out.append(f"executed {int(d)} days outside the joint period")
        else:
            out.append(f"starts {day_text(s)}, adopted {day_text(a)} ({int(d):+d} days)")
    return out


def _unplanned(store: Store, year: int, assessed: pd.DataFrame) -> pd.DataFrame:
    """Works outside the programme that started: reported so, or marked so in the plan."""
    reports = progress(store, year)
    in_programme = set(assessed[S.ORG] + "\x1f" + assessed[S.WORK_ID])
    key = reports[S.ORG] + "\x1f" + reports[S.WORK_ID]
    started = reports["status"].isin(_STARTED) | reports["actual_start"].notna()
    found = reports[started & ~key.isin(in_programme)]
    current = store.works()
    plan_key = current[S.ORG].astype(str) + "\x1f" + current[S.WORK_ID].astype(str)
    marked = (
        current[S.STATUS].isin(_STARTED).to_numpy()
        & (current[S.START].dt.year == year).to_numpy()
        & ~plan_key.isin(in_programme).to_numpy()
        & ~plan_key.isin(set(key)).to_numpy()
    )
    from_plan = pd.DataFrame(
        {
            S.ORG: current.loc[marked, S.ORG].astype(str).to_numpy(),
            S.WORK_ID: current.loc[marked, S.WORK_ID].astype(str).to_numpy(),
            "actual_start": current.loc[marked, S.START].to_numpy(),
            "actual_end": current.loc[marked, S.END].to_numpy(),
            "status": current.loc[marked, S.STATUS].astype(str).to_numpy(),
            "remark": None,
        }
    )
    found = pd.concat([found, from_plan], ignore_index=True) if len(from_plan) else found
    if found.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "org": found[S.ORG],
            "work_id": found[S.WORK_ID],
            "project": pd.NA,
            "deviation": "unplanned",
            "days": pd.NA,
            "title": None,
            "adopted_start": pd.NaT,
            "adopted_end": pd.NaT,
            "start": found["actual_start"],
            "end": found["actual_end"],
            "status": found["status"],
            "remark": found["remark"],
            "reason": "started without being in the adopted programme",
            "adopted_in": pd.NA,
        }
    )


def project_status(store: Store, cycle: int, *, moved_days: int = MOVED_DAYS) -> pd.DataFrame:
    """Red, amber or green per combined project of the adopted programme, with the reason.

    Returns
    -------
    pandas.DataFrame
        :data:`PROJECT_STATUS_COLUMNS`, by project.
    """
    year = checked_cycle(cycle)
    return _status_of(store, year, _assess(store, year, moved_days))


def _status_of(store: Store, year: int, frame: pd.DataFrame) -> pd.DataFrame:
    combined = frame[frame["project"].notna()].copy()
    adopted = projects_in_force(store, year, frame)
    if adopted.empty:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in PROJECT_STATUS_COLUMNS})
        return out.assign(adopted_in=pd.Series(dtype="int64"))
    # a project is named per adopting cycle (see _assess)
    combined["project"] = project_key(combined["adopted_in"], combined["project"])
    dev = combined["deviation"]
    waiting = (dev == AWAITING).to_numpy()
    # "outside" is already False for a work awaiting the plan's update (see _assess)
    red_member = dev.isin(["dropped", "not_combined"]) | (
        combined["outside"] & ~combined["started"] & (dev != "")
    )
    amber_member = (dev != "") & ~red_member & ~waiting
    label = pd.Series(
        [
            f"{o} {w} {d}" + ("" if pd.isna(n) else f" ({int(n):+d} days)")
            + (", outside the joint period" if r and d not in ("dropped", "not_combined") else "")
            for o, w, d, n, r in zip(
                combined[S.ORG], combined[S.WORK_ID], dev, combined["days"], red_member,
                strict=True,
            )
        ],
        index=combined.index,
        dtype=object,
    )  # fmt: skip
    g = combined.assign(red=red_member, amber=amber_member, waiting=waiting, label=label).groupby(
        "project"
    )
    red = g["red"].any()
    amber = g["amber"].any()
    awaits = g["waiting"].any()
    reasons = combined.assign(label=label)[dev != ""].groupby("project")["label"].agg("; ".join)
    key = project_key(adopted["adopted_in"], adopted["project"])
    out = pd.DataFrame(
        {
            "project": adopted["project"].to_numpy(),
            "lead_org": adopted["lead_org"].to_numpy(),
        }
    )
    r = key.map(red).fillna(False).to_numpy(bool)
    a = key.map(amber).fillna(False).to_numpy(bool)
    w = key.map(awaits).fillna(False).to_numpy(bool)
    out["rag"] = np.select([r, a, w], ["red", "amber", AWAITING], default="green")
    out["reason"] = [reasons.get(p, "on programme") for p in key]
    out["joint_start"] = adopted["joint_start"].to_numpy()
    out["joint_end"] = adopted["joint_end"].to_numpy()
    out["members"] = adopted["members"].to_numpy()
    out["adopted_in"] = adopted["adopted_in"].to_numpy(dtype="int64")
    return out.loc[:, [*PROJECT_STATUS_COLUMNS, "adopted_in"]]


def project_key(adopted_in: pd.Series, project: pd.Series) -> pd.Series:
    """A combined project's key: its name within the cycle that adopted it."""
    return adopted_in.astype(str) + "\x1f" + project.astype(str)
