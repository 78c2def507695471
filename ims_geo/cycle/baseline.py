"""Baseline of a cycle, its KPIs and the changes since the previous cycle.

The picture of a cycle
----------------------
What the area expects to happen: every organisation's current works
(cancelled ones left out, also when reported cancelled), each at its actual
dates where progress was reported, else at its current plan dates (an
actual start without an actual end keeps the planned duration), as the
deviations of :mod:`ims_geo.cycle.monitor` do (:func:`picture`). The reports
that count are the cycle's own and, for a work of the programme in force,
those since the cycle that adopted it (:func:`ims_geo.cycle.monitor.reports_in_force`).

Street segments and disruption days
-----------------------------------
Disruption is counted per *street segment*: the value of a ``street``
column when the works carry one (the street name or USRN of the plan, as
in UK street-works notices), otherwise the 100 m x 100 m squares of the
metric working CRS that a work's geometry passes through (a line along a
street counts in every square it crosses; squares are named by their south-
west corner). A segment's disruption days in a year are the days on which
at least one work occupies it: overlapping works count once, which is
what combining works buys the residents.

KPIs (:func:`kpis`)
-------------------
The programme measured is the one in force (:func:`ims_geo.cycle.in_force`):
a cycle without an adoption of its own counts the works and combined
projects of earlier programmes that still run in it, as its monitoring does.

``combined_share``
    Of the excavating works of the programme in force that are not dropped,
    the share that are members of a combined project and not ``not_combined``.
``moratorium_violations``
    ``moratorium`` conflicts of the cycle's picture, the moratoria layer
    included and exemptions applied.
``max_disruption_days``
    The largest disruption days of any street segment in the cycle year.
``savings_eur``
    The adopted savings of the combined projects in force none of whose
    members is dropped or not combined.
``submitted_share``
    Organisations with a plan version for the cycle, over all organisations
    that ever submitted one.

Without any work in the picture (a store that holds no plan yet) the
conflict and disruption KPIs are not measured (NaN, state ``no data``), so
an empty store shows nothing measured rather than a green result.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ims_geo import schema as S
from ims_geo.conflicts.rules import Rules
from ims_geo.crs import ensure_metric
from ims_geo.cycle._common import checked_cycle
from ims_geo.cycle.adopt import in_force, projects_in_force
from ims_geo.cycle.moratoria import moratoria, store_conflicts
from ims_geo.cycle.targets import KPIS, is_full_revision, kpi_state, targets
from ims_geo.i18n import N_
from ims_geo.store.base import Store, compare_works, named_works, sees_everything

#: Columns of :func:`changes` before its extra columns.
CHANGE_COLUMNS: tuple[str, ...] = ("org", "work_id", "change", "days_moved")
_CHANGE_EXTRA: tuple[str, ...] = ("title", "old_start", "old_end", "new_start", "new_end")
#: Columns of :func:`disruption` (then geometry).
DISRUPTION_COLUMNS: tuple[str, ...] = (
    "segment", "kind", "year", "disruption_days", "works", "orgs",
)  # fmt: skip
#: Columns of :attr:`Baseline.plans`.
PLAN_COLUMNS: tuple[str, ...] = (
    "org", "works", "cycle", "version", "uploaded_at", "submitted", "stale",
)  # fmt: skip
#: The column that names a work's street segment when the plans carry it.
STREET = "street"
#: Side of the squares that stand in for street segments where there is no street column.
CELL_SIZE_M = 100.0
#: Why the baseline's clashes and moratorium conflicts differ from the programme proposal's
#: (shown with the baseline's counts; the proposal's page says the same from its side).
SEALED_CLASH_NOTE = N_(
    "An excavation that starts while a new surface nearby is being laid is a clash here, as on "
    "the Conflicts page; the programme proposal counts it as a moratorium violation, since it "
    "digs the new surface up, and leaves the moratoria layer out, so its baseline differs from "
    "this one by exactly those conflicts."
)


@dataclass
class Baseline:
    """Step 1 of a cycle: plans, conflicts, moratoria, disruption."""

    cycle: int
    #: One row per organisation (:data:`PLAN_COLUMNS`).
    plans: pd.DataFrame
    #: Conflicts of the current works, the moratoria layer included.
    conflicts: gpd.GeoDataFrame
    #: kind, conflicts.
    conflict_counts: pd.DataFrame
    #: Moratoria in force at some day of the cycle year.
    moratoria: gpd.GeoDataFrame
    #: Disruption days per street segment in the cycle year (:func:`disruption`).
    disruption: gpd.GeoDataFrame


def picture(store: Store, cycle: int, *, running: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """The works of ``cycle`` at the dates the area expects (see the module docstring).

    ``running`` is :func:`ims_geo.cycle.in_force` of the cycle when already read.
    """
    from ims_geo.cycle.monitor import reports_in_force

    year = checked_cycle(cycle)
    works = store.works()
    works = works[works[S.STATUS] != "cancelled"].reset_index(drop=True)
    key = works[S.ORG].astype(str) + "\x1f" + works[S.WORK_ID].astype(str)
    start, end = works[S.START].copy(), works[S.END].copy()
    # a work of the programme in force counts its reports since the cycle that adopted it
    running = in_force(store, year) if running is None else running
    reports = reports_in_force(store, year, running).sort_values("report_id", kind="stable")
    reports = reports.drop_duplicates(["org", "work_id"], keep="last")
    if len(reports):
        rkey = reports["org"] + "\x1f" + reports["work_id"]
        actual_start = key.map(pd.Series(reports["actual_start"].to_numpy(), index=rkey))
        actual_end = key.map(pd.Series(reports["actual_end"].to_numpy(), index=rkey))
        length = end - start
        start = actual_start.fillna(start)
        end = actual_end.fillna(start + length)
        status = key.map(pd.Series(reports["status"].to_numpy(), index=rkey))
        works[S.STATUS] = status.fillna(works[S.STATUS]).astype(str).to_numpy()
        works = works.assign(**{S.START: start.to_numpy(), S.END: end.to_numpy()})
        keep = (works[S.STATUS] != "cancelled").to_numpy()
        return works[keep].reset_index(drop=True)
    return works.assign(**{S.START: start.to_numpy(), S.END: end.to_numpy()})


def disruption(
    works: gpd.GeoDataFrame, year: int, *, cell_size: float = CELL_SIZE_M
) -> gpd.GeoDataFrame:
    """Disruption days per street segment in ``year`` (see the module docstring).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`DISRUPTION_COLUMNS` and the segment's geometry (a square, or
        the union of the street's works), in the metric working CRS; most
        disrupted first.
    """
    year = checked_cycle(year)
    first = np.datetime64(f"{year}-01-01", "D").astype(np.int64)
    last = np.datetime64(f"{year}-12-31", "D").astype(np.int64)
    if works.empty:
        return _empty_disruption(works.crs)
    metric = ensure_metric(works.reset_index(drop=True))
    s = np.maximum(metric[S.START].to_numpy(dtype="datetime64[D]").astype(np.int64), first)
    e = np.minimum(metric[S.END].to_numpy(dtype="datetime64[D]").astype(np.int64), last)
    inside = s <= e
    geoms = metric.geometry.to_numpy()
    street = (
        metric[STREET].astype("string").str.strip()
        if STREET in metric
        else pd.Series(pd.NA, index=metric.index, dtype="string")
    )
    named = (street.notna() & (street != "")).to_numpy() & inside
    gridded = ~named & inside & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    parts = []
    if named.any():
        idx = np.flatnonzero(named)
        parts.append(
            pd.DataFrame(
                {
                    "segment": street.to_numpy()[idx],
                    "kind": "street",
                    "i": idx,
                    "cell_x": np.nan,
                    "cell_y": np.nan,
                }  # fmt: skip
            )
        )
    if gridded.any():
        idx = np.flatnonzero(gridded)
        bounds = shapely.bounds(geoms[idx])
        x0 = np.floor(bounds[:, 0] / cell_size).astype(np.int64)
        y0 = np.floor(bounds[:, 1] / cell_size).astype(np.int64)
        x1 = np.floor(bounds[:, 2] / cell_size).astype(np.int64)
        y1 = np.floor(bounds[:, 3] / cell_size).astype(np.int64)
        nx, ny = x1 - x0 + 1, y1 - y0 + 1
        count = nx * ny
        work = np.repeat(idx, count)
        k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        cx = np.repeat(x0, count) + k % np.repeat(nx, count)
        cy = np.repeat(y0, count) + k // np.repeat(nx, count)
        boxes = shapely.box(
            cx * cell_size, cy * cell_size, (cx + 1) * cell_size, (cy + 1) * cell_size
        )
        hit = shapely.intersects(geoms[work], boxes)
        cx, cy, work = cx[hit], cy[hit], work[hit]
        corner_x = pd.Series(np.round(cx * cell_size).astype(np.int64)).astype(str)
        corner_y = pd.Series(np.round(cy * cell_size).astype(np.int64)).astype(str)
        names = (f"{cell_size:g} m square " + corner_x + " " + corner_y).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "segment": names,
                    "kind": "square",
                    "i": work,
                    "cell_x": cx * cell_size,
                    "cell_y": cy * cell_size,
                }  # fmt: skip
            )
        )
    if not parts:
        return _empty_disruption(metric.crs)
    pairs = pd.concat(parts, ignore_index=True)
    pairs["s"] = s[pairs["i"].to_numpy()]
    pairs["e"] = e[pairs["i"].to_numpy()]
    pairs["org"] = metric[S.ORG].astype(str).to_numpy()[pairs["i"].to_numpy()]
    pairs = pairs.sort_values(["segment", "s", "e"], kind="stable").reset_index(drop=True)
    # union of day intervals per segment: a new block starts after the running max end
    running = pairs.groupby("segment")["e"].cummax()
    previous = running.groupby(pairs["segment"]).shift(1)
    new_block = previous.isna() | (pairs["s"] > previous)
    block = new_block.cumsum()
    blocks = pairs.groupby(block).agg(segment=("segment", "first"), s=("s", "min"), e=("e", "max"))
    day_count = (blocks["e"] - blocks["s"] + 1).groupby(blocks["segment"]).sum()
    g = pairs.groupby("segment", sort=True)
    out = pd.DataFrame(
        {
            "segment": day_count.index.astype(str),
            "kind": g["kind"].first().reindex(day_count.index).to_numpy(),
            "year": year,
            "disruption_days": day_count.to_numpy(dtype=np.int64),
            "works": g["i"].nunique().reindex(day_count.index).to_numpy(dtype=np.int64),
            "orgs": g["org"]
            .agg(lambda o: "; ".join(sorted(set(o))))
            .reindex(day_count.index)
            .to_numpy(),
        }
    )
    cell_x = g["cell_x"].first().reindex(day_count.index).to_numpy()
    cell_y = g["cell_y"].first().reindex(day_count.index).to_numpy()
    street_geom = (
        pd.Series(geoms[pairs["i"].to_numpy()])
        .groupby(pairs["segment"].to_numpy())
        .agg(lambda x: shapely.union_all(x.to_numpy()))
    )
    square = out["kind"].to_numpy() == "square"
    geometry = np.where(
        square,
        shapely.box(cell_x, cell_y, cell_x + cell_size, cell_y + cell_size),
        street_geom.reindex(day_count.index).to_numpy(),
    )
    frame = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, crs=metric.crs), crs=metric.crs)
    frame = frame.sort_values(
        ["disruption_days", "segment"], ascending=[False, True], kind="stable"
    )
    return frame.reset_index(drop=True)


def _empty_disruption(crs: object) -> gpd.GeoDataFrame:
    data = {c: pd.Series(dtype="int64" if c in ("year", "disruption_days", "works") else object)
            for c in DISRUPTION_COLUMNS}  # fmt: skip
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def plans(store: Store, cycle: int) -> pd.DataFrame:
    """Every organisation's current plan and whether it was submitted for ``cycle``."""
    year = checked_cycle(cycle)
    versions = store.plan_versions()
    if versions.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PLAN_COLUMNS})
    current = versions[versions["is_current"]].set_index("org")
    submitted = set(versions.loc[versions["cycle"] == year, "org"])
    orgs = sorted(set(versions["org"]))
    full = is_full_revision(store, year)
    out = pd.DataFrame({"org": orgs})
    out["works"] = out["org"].map(current["n_works"]).fillna(0).astype("int64")
    out["cycle"] = out["org"].map(current["cycle"]).astype("Int64")
    out["version"] = out["org"].map(current["version"]).astype("Int64")
    out["uploaded_at"] = out["org"].map(current["uploaded_at"])
    out["submitted"] = out["org"].isin(submitted)
    out["stale"] = full & ~out["submitted"]
    return out.loc[:, list(PLAN_COLUMNS)]


def _year_layer(store: Store, year: int) -> gpd.GeoDataFrame:
    layer = moratoria(store)
    first, last = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-31")
    return layer[(layer["valid_from"] <= last) & (layer["valid_until"] >= first)]


def conflicts(store: Store, cycle: int, rules: Rules | None = None) -> gpd.GeoDataFrame:
    """Conflicts of the cycle's picture with every moratorium (exemptions applied)."""
    return store_conflicts(store, picture(store, cycle), rules)


def baseline(store: Store, cycle: int, rules: Rules | None = None) -> Baseline:
    """Every organisation's current plan, conflicts by kind, active moratoria, disruption.

    Conflicts and disruption are those of the current plans (:meth:`Store.works`,
    cancelled works left out), with every moratorium of the layer.
    """
    year = checked_cycle(cycle)
    works = store.works()
    works = works[works[S.STATUS] != "cancelled"].reset_index(drop=True)
    # also without works: the same columns (moratorium_id too), so an export keeps its shape
    found = store_conflicts(store, works, rules)
    counts = found["kind"].value_counts()
    kinds = ["clash", "moratorium", "synergy"]
    table = pd.DataFrame({"kind": kinds, "conflicts": [int(counts.get(k, 0)) for k in kinds]})
    return Baseline(
        cycle=year,
        plans=plans(store, year),
        conflicts=found,
        conflict_counts=table,
        moratoria=_year_layer(store, year),
        disruption=disruption(works, year),
    )


def kpis(
    store: Store,
    cycle: int,
    rules: Rules | None = None,
    *,
    deviations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """KPIs of ``cycle`` against its targets (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        kpi, target, value, state, then better, unit, description; the
        known KPIs first, then the custom ones (value NaN: not computed).

    ``deviations`` may be given when already computed (:func:`ims_geo.cycle.deviations`).
    """
    from ims_geo.cycle import monitor

    year = checked_cycle(cycle)
    values: dict[str, float] = {}
    running = in_force(store, year)
    works = picture(store, year, running=running)
    if len(running):
        dev = monitor.deviations(store, year) if deviations is None else deviations
        key = running["org"] + "\x1f" + running["work_id"]
        state = key.map(
            pd.Series(dev["deviation"].to_numpy(), index=dev["org"] + "\x1f" + dev["work_id"])
        )
        dropped = (state == "dropped").to_numpy()
        failed = state.isin(["dropped", "not_combined"]).to_numpy()
        in_project = running["project"].notna().to_numpy()
        digs = running["excavation"].to_numpy(dtype=bool) & ~dropped
        combined = digs & in_project & ~failed
        values["combined_share"] = (
            float(combined.sum() / digs.sum()) if digs.any() else float("nan")
        )
        # a project is named within the cycle that adopted it (two cycles may reuse a name)
        project_key = monitor.project_key(running["adopted_in"], running["project"])
        bad_projects = set(project_key[failed & in_project])
        adopted_projects = projects_in_force(store, year, running)
        kept = ~monitor.project_key(
            adopted_projects["adopted_in"], adopted_projects["project"]
        ).isin(bad_projects)
        values["savings_eur"] = float(adopted_projects.loc[kept.to_numpy(), "savings_eur"].sum())
    else:
        values["combined_share"] = float("nan")
        values["savings_eur"] = float("nan")
    if works.empty:
        # no works, nothing measured: "0 violations" against the default target would read
        # as a green result on a store that holds no plan yet
        values["moratorium_violations"] = float("nan")
        values["max_disruption_days"] = float("nan")
    else:
        found = store_conflicts(store, works, rules)
        values["moratorium_violations"] = float((found["kind"] == "moratorium").sum())
        segments = disruption(works, year)
        values["max_disruption_days"] = (
            float(segments["disruption_days"].max()) if len(segments) else 0.0
        )
    table = plans(store, year)
    values["submitted_share"] = float(table["submitted"].mean()) if len(table) else float("nan")
    wanted = targets(store, year)
    rows = []
    for name, target, _custom, better, description in wanted.itertuples(index=False):
        value = values.get(name, float("nan"))
        rows.append(
            {
                "kpi": name,
                "target": float(target),
                "value": value,
                "state": kpi_state(value, float(target), better) if better else (
                    "no target" if np.isnan(target) else "no data"
                ),
                "better": better,
                "unit": KPIS[name].unit if name in KPIS else "",
                "description": description,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def changes(store: Store, cycle: int) -> pd.DataFrame:
    """Works added, dropped or moved since the previous cycle (Fortschreibung).

    For every organisation that submitted a plan for ``cycle``: its latest
    version of the cycle against its latest version of an earlier cycle
    (every work ``added`` when there is none), as ``ims-geo compare`` does:
    another organisation's works the reader may no longer name are left out.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS` (``days_moved``: start shift in days, empty
        unless moved), then title, old_start, old_end, new_start, new_end.
    """
    year = checked_cycle(cycle)
    versions = store.plan_versions()
    current = None if sees_everything(store) else store.works()
    parts = []
    for org, own in versions.groupby("org", sort=True):
        now = own[own["cycle"] == year]
        if now.empty:
            continue
        new_id = int(now["version_id"].max())
        before = own[own["cycle"] < year]
        if before.empty:
            added = named_works(store, store.version_works(new_id), current)
            part = pd.DataFrame(
                {
                    "work_id": added[S.WORK_ID].astype(str),
                    "change": "added",
                    "title": added[S.TITLE],
                    "old_start": pd.NaT,
                    "old_end": pd.NaT,
                    "new_start": added[S.START],
                    "new_end": added[S.END],
                    "shift_days": pd.NA,
                }
            )
        else:
            old = named_works(store, store.version_works(int(before["version_id"].max())), current)
            new = named_works(store, store.version_works(new_id), current)
            part = pd.DataFrame(compare_works(old, new, store.crs).drop(columns="geometry"))
        part.insert(0, "org", str(org))
        parts.append(part)
    if not parts:
        empty = {c: pd.Series(dtype=object) for c in (*CHANGE_COLUMNS, *_CHANGE_EXTRA)}
        return pd.DataFrame(empty)
    frame = pd.concat(parts, ignore_index=True)
    moved = frame["change"].str.startswith("moved")
    out = pd.DataFrame(
        {
            "org": frame["org"].astype(str),
            "work_id": frame["work_id"].astype(str),
            "change": frame["change"].astype(str),
            "days_moved": pd.array(frame["shift_days"].where(moved).tolist(), dtype="Int64"),
            "title": frame["title"],
            "old_start": pd.to_datetime(frame["old_start"]),
            "old_end": pd.to_datetime(frame["old_end"]),
            "new_start": pd.to_datetime(frame["new_start"]),
            "new_end": pd.to_datetime(frame["new_end"]),
        }
    )
    return out
