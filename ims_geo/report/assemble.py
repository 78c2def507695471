"""Assemble a :class:`ReportData` from the works store, through :mod:`ims_geo.cycle`.

Every table comes from the cycle library (KPIs, the adopted programme and its
projects' states, deviations, progress, financing, moratoria, changes since
the previous cycle); the only thing computed here is which conflicts the
adoption resolved (:func:`conflict_states`), because that compares two
moments of the store.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from ims_geo import cycle as cyc
from ims_geo import schema as S
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.cycle.monitor import project_key
from ims_geo.report.data import (
    AWAITING_REPORT_COLUMNS,
    CONFLICT_COLUMNS,
    DEVIATION_COLUMNS,
    FINANCING_COLUMNS,
    PROGRAMME_COLUMNS,
    PROJECT_COLUMNS,
    CycleInfo,
    ReportData,
    empty,
)
from ims_geo.store.base import PRIVATE_ORG, Store, named_now, sees_everything

_PAIR = ("org_a", "work_id_a", "org_b", "work_id_b")


def _pair_keys(conflicts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Both works of each pair as one text key each, the smaller first (pairs are unordered)."""
    a = (conflicts["org_a"].astype(str) + "\x1f" + conflicts["work_id_a"].astype(str)).to_numpy()
    b = (conflicts["org_b"].astype(str) + "\x1f" + conflicts["work_id_b"].astype(str)).to_numpy()
    swap = a > b
    return np.where(swap, b, a), np.where(swap, a, b)


def conflict_states(
    at_adoption: pd.DataFrame, now: pd.DataFrame, programme: pd.DataFrame
) -> pd.DataFrame:
    """Which conflicts the adopted programme resolved, which stay open, which are new.

    A pair of works (whatever order it is listed in) with the same ``kind``
    is the same conflict at adoption and now. A conflict between two members
    of one combined project of the programme is that project itself, so it
    no longer counts as a conflict now.

    Parameters
    ----------
    at_adoption, now
        Conflicts (org_a, work_id_a, org_b, work_id_b, kind) between the
        works as planned when the programme was adopted, and as planned now.
    programme
        The adopted programme (project, org, work_id, optional adopted_in:
        the programme in force, whose projects are named per adopting
        cycle); ``project`` is missing for works on their own.

    Returns
    -------
    pandas.DataFrame
        :data:`ims_geo.report.data.CONFLICT_COLUMNS`; ``status`` is
        ``resolved`` (at adoption, not now), ``open`` (both) or ``new``
        (now only); sorted by status, kind and the pair.
    """
    before = pd.DataFrame(at_adoption).loc[:, [*_PAIR, "kind"]].reset_index(drop=True)
    after = pd.DataFrame(now).loc[:, [*_PAIR, "kind"]].reset_index(drop=True)
    combined = programme[programme["project"].notna()]
    # a project is named within the cycle that adopted it: a 2026 and a 2027 project of
    # the same name in the programme in force are two projects
    name = (
        project_key(combined["adopted_in"], combined["project"])
        if "adopted_in" in combined
        else combined["project"].astype(str)
    )
    project = pd.Series(
        name.to_numpy(),
        index=combined[S.ORG].astype(str) + "\x1f" + combined[S.WORK_ID].astype(str),
    )
    project = project[~project.index.duplicated()]
    lo, hi = _pair_keys(after)
    same = project.reindex(lo).to_numpy() == project.reindex(hi).to_numpy()
    after = after[~pd.Series(same).fillna(False).to_numpy(bool)].reset_index(drop=True)

    def keyed(frame: pd.DataFrame) -> pd.Series:
        lo, hi = _pair_keys(frame)
        return pd.Series(lo + "\x1e" + hi + "\x1e" + frame["kind"].astype(str).to_numpy())

    before_key, after_key = keyed(before), keyed(after)
    before = before.assign(status=np.where(before_key.isin(after_key), "open", "resolved"))
    new = after[~after_key.isin(before_key).to_numpy()].assign(status="new")
    out = pd.concat([before, new], ignore_index=True)
    out = out.drop_duplicates([*_PAIR, "kind"])
    rank = {s: i for i, s in enumerate(("resolved", "open", "new"))}
    out = out.assign(_rank=out["status"].map(rank)).sort_values(["_rank", "kind", *_PAIR])
    return out.loc[:, list(CONFLICT_COLUMNS)].reset_index(drop=True)


def distinct_projects(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames with each combined project named once across the cycles in force.

    A project is named within the cycle that adopted it, so a programme in
    force may hold a 2026 and a 2027 project of the same name: those are
    called ``name (cycle)``, e.g. ``C001 (2026)``, so the report's tables and
    measure sheets keep them apart. Other names stay as adopted.

    Parameters
    ----------
    frames
        Frames with ``project`` and ``adopted_in`` (the programme in force
        first: its projects decide which names two cycles share); a row
        without a project (or without ``adopted_in``) is left as it is.
    """
    first = frames[0]
    named = first[first["project"].notna()]
    cycles = named.groupby(named["project"].astype(str))["adopted_in"].nunique()
    shared = set(cycles.index[cycles > 1])
    out = []
    for frame in frames:
        if not shared or frame.empty or "adopted_in" not in frame:
            out.append(frame)
            continue
        project = frame["project"]
        hit = (project.notna() & project.astype(str).isin(shared)).to_numpy(dtype=bool)
        label = project.astype(str) + " (" + frame["adopted_in"].astype(str) + ")"
        renamed = project.astype(object).where(~hit, label)
        out.append(frame.assign(project=renamed.astype(project.dtype)))
    return out


def works_at(store: Store, moment: pd.Timestamp) -> gpd.GeoDataFrame:
    """Every organisation's plan as it was at ``moment`` (its latest version uploaded by then).

    A reader who does not see everything gets another organisation's works
    only where it may still name them (:func:`ims_geo.store.base.named_now`),
    and others' private works as the anonymous signals they are now.
    """
    versions = store.plan_versions()
    uploaded = pd.to_datetime(versions["uploaded_at"], utc=True)
    known = versions[(uploaded <= moment).to_numpy()]
    if known.empty:
        return store.works().iloc[:0]
    latest = known.sort_values("version_id").groupby(S.ORG, sort=True)["version_id"].last()
    # one read per organisation: a handful by definition
    frames = [store.version_works(int(v)) for v in latest]
    if not sees_everything(store):
        # no signal is tied to a plan version (it would name the owner): others'
        # works no longer named now (made private or dropped) are left out of the
        # older versions, their anonymous rows too, and others' private works join
        # as they are now, so their conflicts stay "open" and none meets itself
        now = store.works()
        frames = [
            f[named_now(store, f[S.ORG], f[S.WORK_ID], now) & (f[S.ORG] != PRIVATE_ORG).to_numpy()]
            for f in frames
        ]
        frames.append(now[now[S.ORG] == PRIVATE_ORG])
    frames = [f for f in frames if len(f)]
    if not frames:
        return store.works().iloc[:0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def _conflicts(
    store: Store, works: gpd.GeoDataFrame, adopted_at: object, programme: pd.DataFrame, rules: Rules
) -> pd.DataFrame:
    live = works[works[S.STATUS] != "cancelled"] if len(works) else works
    now = find_conflicts(live, rules) if len(live) else empty(CONFLICT_COLUMNS[:5])
    if adopted_at is None:
        # nothing adopted yet: every conflict is still open
        return conflict_states(now, now, programme)
    then = works_at(store, _utc(adopted_at))
    then = then[then[S.STATUS] != "cancelled"] if len(then) else then
    before = find_conflicts(then, rules) if len(then) else empty(CONFLICT_COLUMNS[:5])
    return conflict_states(before, now, programme)


def _utc(value: object) -> pd.Timestamp:
    """A stored time (ISO text, naive meaning UTC) as a UTC timestamp."""
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def _previous_year(store: Store, year: int) -> int | None:
    cycles = store.plan_versions()["cycle"]
    earlier = cycles[cycles.astype("int64") < year]
    return int(earlier.max()) if len(earlier) else None


def report_data(
    store: Store,
    cycle: int,
    *,
    as_of: dt.date | None = None,
    rules: Rules | None = None,
    area: str = "",
) -> ReportData:
    """Everything the report of ``cycle`` shows, read from ``store``.

    Parameters
    ----------
    store
        The works store.
    cycle
        The cycle year.
    as_of
        The day the report describes (active moratoria); default today.
    rules
        Conflict rules for the conflicts at adoption and now (default rules).
    area
        Name of the area or partnership for the title.

    Returns
    -------
    ReportData
        The programme, projects, deviations and works awaiting the update
        are those of the programme in force (:func:`ims_geo.cycle.in_force`):
        a cycle without its own adoption reports on the works of earlier
        programmes still running, its conflicts "at adoption" taken at the
        latest of those adoptions, and its financing empty. With no
        programme in force those are empty and every current conflict is
        ``open``.
    """
    year = int(cycle)
    day = as_of or dt.date.today()
    rules = rules or Rules()
    revisions = cyc.revisions(store, year)
    adopted = len(revisions) > 0
    latest = revisions.iloc[-1] if adopted else None
    works = store.works()
    # the programme in force: the cycle's own and the works of earlier ones still running
    programme = cyc.in_force(store, year)
    carried = tuple(sorted({int(c) for c in programme["adopted_in"] if c != year}))
    if len(programme):
        deviations, projects, awaiting = cyc.monitoring(store, year)
        programme, deviations, projects, awaiting = distinct_projects(
            programme, deviations, projects, awaiting
        )
    else:
        programme = gpd.GeoDataFrame(
            empty(PROGRAMME_COLUMNS), geometry=gpd.GeoSeries([], crs=works.crs)
        )
        projects = empty(PROJECT_COLUMNS)
        deviations = empty(DEVIATION_COLUMNS)
        awaiting = empty(AWAITING_REPORT_COLUMNS)
    financing = cyc.financing(store, year) if adopted else empty(FINANCING_COLUMNS)
    # conflicts "at adoption": this cycle's adoption, else the latest one still in force
    adopted_at = latest["adopted_at"] if latest is not None else None
    if adopted_at is None and carried:
        adopted_at = cyc.revisions(store, carried[-1])["adopted_at"].iloc[-1]
    decision_date = None
    if latest is not None and pd.notna(latest["decision_date"]):
        decision_date = pd.Timestamp(latest["decision_date"]).date()
    info = CycleInfo(
        year=year,
        revision=int(latest["revision"]) if latest is not None else None,
        decision=str(latest["decision"]) if latest is not None else None,
        decision_date=decision_date,
        carried_from=carried,
        previous_year=_previous_year(store, year),
        full_revision=cyc.is_full_revision(store, year),
        area=area,
        as_of=day,
    )
    return ReportData(
        info=info,
        kpis=cyc.kpis(store, year, rules),
        programme=programme,
        projects=projects,
        deviations=deviations,
        moratoria=cyc.moratoria(store, active_on=day),
        changes=cyc.changes(store, year),
        conflicts=_conflicts(store, works, adopted_at, programme, rules),
        progress=cyc.progress(store, year),
        financing=financing,
        works=works,
        awaiting=awaiting.loc[:, list(AWAITING_REPORT_COLUMNS)],
    )
