"""Commitment: the adopted programme of a cycle, frozen as a numbered revision.

:func:`adopt` takes a proposal (:func:`ims_geo.programme.propose`, or the
``works`` layer of a programme file a coordinator edited) and stores it as
revision 1, 2, ... of the cycle with the decision reference and date. The
revision is *frozen*: every work's adopted period, project, order, cost
share and funding year, and its geometry, are copied into the
``programme_*`` tables, so later imports, proposals and rule changes never
change it. A new adoption is a new revision with its reason;
:func:`programme` reads the latest (or a given) revision.

Per combined project
--------------------
``lead_org``
    The organisation of the project's surface sealing (the road authority
    that reinstates last) when the project has one, else the organisation
    with the largest own cost estimate in it (ties: alphabetical); any
    member organisation can be named instead (``leads``).
``start``, ``end``, ``order``
    Each member's adopted period and execution order (the proposal's
    ``proposed_start``, ``proposed_end``, ``exec_order``); the joint period
    runs from the first member's start to the last member's end.
``cost_eur``, ``cost_share_eur``
    ``cost_eur`` is the member's own estimate (its plan's ``cost_eur``,
    0 when missing). The project costs what its members would cost apart
    less the savings of combining (shared trench, avoided reinstatement,
    traffic management, site set-up; :mod:`ims_geo.programme`), the savings
    credited never exceeding the estimates (``savings_eur`` of the project
    stays the proposal's, e.g. when the plans carry no cost estimates). Each member pays its own
    estimate less its part of the savings, the parts split by the project's
    rule (:data:`SPLIT_RULES`, ``trench`` unless ``split_rules`` names
    another per project):

    * ``trench``: by the metres of trench each member lays (length of its
      excavating line works); what the combination saves is the shared
      trench and its one reinstatement. Without any trench metres: ``equal``.
    * ``equal``: equally per organisation (shared among its members by
      their number).
    * ``cost``: pro rata to the members' own estimates (everyone saves the
      same percentage).

    When a rule would give a member a part larger than its own estimate
    (a negative share), the project is split by ``cost`` instead and its
    ``split_rule`` says so. Amounts are whole cents; the parts are rounded
    by the largest-remainder method, so the shares add up to the project
    cost exactly.
``funding_year``
    The calendar year of the member's adopted start (the year its
    organisation's budget pays, as in the proposer's yearly budgets).

Works of the programme that are not combined keep their own row (``project``
empty, their own cost as share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ims_geo import schema as S
from ims_geo.crs import ensure_metric
from ims_geo.cycle._common import (
    checked_cycle,
    day_text,
    days,
    flag,
    from_hex,
    now_text,
    require_coordinator,
    rows_seen,
    to_hex,
)
from ims_geo.errors import InputError, StoreError
from ims_geo.programme import CLUSTER_ID, EXEC_ORDER, PROPOSED_END, PROPOSED_START, Proposal
from ims_geo.store.base import Store
from ims_geo.store.cycle_tables import Transaction, transaction

#: Columns of :func:`programme` before its extra columns.
PROGRAMME_COLUMNS: tuple[str, ...] = (
    "project", "org", "work_id", "start", "end", "order", "cost_eur", "cost_share_eur",
    "funding_year",
)  # fmt: skip
_PROGRAMME_EXTRA: tuple[str, ...] = (
    "title", "discipline", "layer", "excavation", "lead_org", "planned_start", "planned_end",
    "length_m", "revision",
)  # fmt: skip
#: Columns of :func:`projects` (then geometry).
PROJECT_COLUMNS: tuple[str, ...] = (
    "project", "lead_org", "members", "orgs", "joint_start", "joint_end", "cost_eur",
    "savings_eur", "split_rule", "n_members",
)  # fmt: skip
#: Columns of :func:`revisions`.
REVISION_COLUMNS: tuple[str, ...] = (
    "cycle", "revision", "decision", "decision_date", "reason", "source", "adopted_at",
    "projects", "works",
)  # fmt: skip
#: Columns of :func:`financing`.
FINANCING_COLUMNS: tuple[str, ...] = ("org", "funding_year", "cost_share_eur", "works")
#: How a combined project's savings are shared (see the module docstring).
SPLIT_RULES: tuple[str, ...] = ("trench", "equal", "cost")
DEFAULT_SPLIT = "trench"


@dataclass(frozen=True)
class Adoption:
    """What :func:`adopt` stored."""

    cycle: int
    revision: int
    decision: str
    decision_date: dt.date
    n_projects: int
    n_works: int


# --- adopting ----------------------------------------------------------------------
def adopt(
    store: Store,
    cycle: int,
    programme: Proposal | gpd.GeoDataFrame | str | Path | None = None,
    *,
    decision: str,
    decision_date: dt.date | str | None = None,
    reason: str | None = None,
    split_rules: Mapping[str, str] | None = None,
    leads: Mapping[str, str] | None = None,
    savings: Mapping[str, float] | None = None,
    source: str | None = None,
    **propose_options: Any,
) -> Adoption:
    """Freeze a programme as the next revision of ``cycle``.

    Parameters
    ----------
    store
        The works store; the revision is written into its cycle tables.
    cycle
        The cycle year.
    programme
        A :class:`~ims_geo.programme.Proposal`; or the programme's works
        (org, work_id, proposed_start, proposed_end, cluster_id or project,
        optional exec_order: the ``works`` layer of ``ims-geo propose``,
        possibly edited) as a frame or a ``.gpkg`` / ``.xlsx`` / ``.csv``
        file; None proposes afresh from the store's current works with
        ``propose_options`` (those of :func:`ims_geo.programme.propose`).
    decision
        The decision reference (council or steering-group decision).
    decision_date
        Date of the decision (default today).
    reason
        Why this revision (required from the second revision on).
    split_rules
        Project -> rule of :data:`SPLIT_RULES` (default ``trench``).
    leads
        Project -> lead organisation (default: see the module docstring).
    savings
        Project -> savings in euros, over those of the proposal (a programme
        file without a clusters layer has none: its projects save 0).
    source
        What was adopted (shown in :func:`revisions`); default from ``programme``.

    Returns
    -------
    Adoption
    """
    year = checked_cycle(cycle)
    decision = str(decision or "").strip()
    if not decision:
        raise InputError(
            "an adoption needs its decision reference, e.g. --decision 'Council 2027/14'"
        )
    when = _decision_date(decision_date)
    require_coordinator(store, "adopt a programme")
    works, proposed, what, asked = _programme_works(store, programme, propose_options)
    members, project_rows = _freeze(
        works,
        {**proposed, **(savings or {})},
        # the rules the proposal was split by (its split table), unless named here
        {**asked, **(split_rules or {})},
        leads or {},
    )
    crs = store.crs
    stamp = now_text()
    with transaction(store, write=True) as tx:
        number = int(
            tx.rows(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM {t}programme_revisions "
                "WHERE cycle = :y",
                {"y": year},
            )[0][0]
        )
        if number > 1 and not str(reason or "").strip():
            raise InputError(
                f"cycle {year} already has an adopted programme (revision {number - 1}); "
                "say why it is revised: --reason '...'"
            )
        revision_id = tx.next_id("programme_revisions", "revision_id")
        tx.run(
            "INSERT INTO {t}programme_revisions (revision_id, cycle, revision, decision, "
            "decision_date, reason, source, adopted_at, crs) VALUES (:id, :y, :n, :d, :dd, "
            ":r, :s, :a, :c)",
            {
                "id": revision_id, "y": year, "n": number, "d": decision,
                "dd": when.isoformat(), "r": (str(reason).strip() or None) if reason else None,
                "s": source or what, "a": stamp,
                "c": crs.to_wkt() if crs is not None else None,
            },
        )  # fmt: skip
        _insert(tx, revision_id, members, project_rows)
    return Adoption(
        cycle=year,
        revision=number,
        decision=decision,
        decision_date=when,
        n_projects=len(project_rows),
        n_works=len(members),
    )


def _proposal_split_rules(programme: object) -> dict[str, str]:
    """Project -> the split rule a :class:`~ims_geo.programme.Proposal` asked for."""
    if not isinstance(programme, Proposal) or "split_rule" not in programme.clusters:
        return {}
    wanted = (
        programme.clusters["split_rule"]
        .astype(str)
        .str.replace(r"^cost \(fallback from (\w+)\)$", r"\1", regex=True)
    )
    return {
        str(c): r
        for c, r in zip(programme.clusters[CLUSTER_ID], wanted, strict=True)
        if r in SPLIT_RULES
    }


def _decision_date(value: dt.date | str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"decision date {value!r} is not a date; write it as YYYY-MM-DD") from None


def _programme_works(
    store: Store,
    programme: Proposal | gpd.GeoDataFrame | str | Path | None,
    options: Mapping[str, Any],
) -> tuple[gpd.GeoDataFrame, dict[str, float], str, dict[str, str]]:
    """The programme's works (canonical columns + proposed dates), savings and split rules by project."""
    current = store.works()
    if programme is None:
        if current.empty:
            raise InputError("the store holds no works to propose a programme from; import plans")
        from ims_geo.programme import propose

        programme = propose(current, **options)
        what = "fresh proposal of the store's current works"
    elif options:
        raise InputError(
            f"proposal options ({', '.join(options)}) apply only without a programme file"
        )
    else:
        what = (
            f"programme file {Path(programme).name}"
            if isinstance(programme, str | Path)
            else "proposal"
        )
    clusters: pd.DataFrame | None = None
    if isinstance(programme, Proposal):
        works: pd.DataFrame = programme.works
        clusters = programme.clusters
    elif isinstance(programme, str | Path):
        works, clusters = _read_programme_file(Path(programme))
    elif isinstance(programme, pd.DataFrame):
        works = programme
    else:
        raise InputError("programme must be a Proposal, a works frame or a programme file")
    works = _resolve(works, current, store.crs)
    savings: dict[str, float] = {}
    if clusters is not None and CLUSTER_ID in clusters and "savings_eur" in clusters:
        values = pd.to_numeric(clusters["savings_eur"], errors="coerce").fillna(0.0)
        savings = dict(zip(clusters[CLUSTER_ID].astype(str), values.astype(float), strict=True))
    return works, savings, what, _proposal_split_rules(programme)


def _read_programme_file(path: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".gpkg":
            import pyogrio

            names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
            if "works" not in names:
                raise InputError(f"{path}: no layer 'works' (has: {', '.join(names)})")
            works = gpd.read_file(path, layer="works")
            clusters = gpd.read_file(path, layer="clusters") if "clusters" in names else None
            return works, clusters
        if suffix == ".xlsx":
            sheets = pd.read_excel(path, sheet_name=None, dtype={"work_id": str})
            if "works" not in sheets:
                raise InputError(f"{path}: no sheet 'works' (has: {', '.join(sheets)})")
            return sheets["works"], sheets.get("clusters")
        if suffix == ".csv":
            return pd.read_csv(path, dtype={"work_id": str, "org": str}), None
    except InputError:
        raise
    except Exception as exc:  # any reader failure is a file the user must fix
        raise InputError(f"{path}: cannot read the programme ({exc})") from exc
    raise InputError(f"{path}: a programme file is .gpkg, .xlsx or .csv (ims-geo propose --out)")


def _resolve(given: pd.DataFrame, current: gpd.GeoDataFrame, crs: CRS | None) -> gpd.GeoDataFrame:
    """Programme rows joined to the store's works by (org, work_id); checked."""
    frame = pd.DataFrame(given).copy()
    if "project" in frame and CLUSTER_ID not in frame:
        frame = frame.rename(columns={"project": CLUSTER_ID})
    missing = [c for c in (S.ORG, S.WORK_ID) if c not in frame]
    if missing:
        raise InputError(
            f"the programme lacks the column(s) {', '.join(missing)}; "
            "adopt the works layer of 'ims-geo propose'"
        )
    frame[S.ORG] = frame[S.ORG].astype("string").str.strip()
    frame[S.WORK_ID] = frame[S.WORK_ID].astype("string").str.strip()
    keys = frame[S.ORG] + "\x1f" + frame[S.WORK_ID]
    dup = keys.duplicated(keep=False) & keys.notna()
    if dup.any():
        shown = ", ".join(sorted(set((frame[S.ORG] + " " + frame[S.WORK_ID])[dup]))[:5])
        raise InputError(f"the programme lists works twice: {shown}")
    own = current.reset_index(drop=True)
    own_keys = own[S.ORG].astype(str) + "\x1f" + own[S.WORK_ID].astype(str)
    position = pd.Series(np.arange(len(own)), index=own_keys.to_numpy())
    found = keys.map(position)
    unknown = found.isna()
    if unknown.any():
        shown = ", ".join(sorted(set((frame[S.ORG] + " " + frame[S.WORK_ID])[unknown]))[:5])
        raise InputError(
            f"{int(unknown.sum())} programme works are not in the store's current plans "
            f"({shown}); adopt works of the current plans only"
        )
    base = own.iloc[found.astype("int64").to_numpy()].reset_index(drop=True)
    frame = frame.reset_index(drop=True)
    out = base.copy()
    for col, fallback in ((PROPOSED_START, S.START), (PROPOSED_END, S.END)):
        if col in frame:
            parsed, bad = S.parse_dates(frame[col])
            if bad.any():
                raise InputError(f"programme column {col}: unreadable dates in rows "
                                 f"{', '.join(str(i + 2) for i in np.flatnonzero(bad)[:5])}")  # fmt: skip
            out[col] = parsed.where(parsed.notna(), base[fallback]).to_numpy()
        else:
            out[col] = base[fallback].to_numpy()
    bad = out[PROPOSED_END] < out[PROPOSED_START]
    if bad.any():
        raise InputError(
            f"programme works end before they start: "
            f"{', '.join((out[S.ORG] + ' ' + out[S.WORK_ID])[bad].tolist()[:5])}"
        )
    project = frame[CLUSTER_ID] if CLUSTER_ID in frame else pd.Series(pd.NA, index=frame.index)
    project = project.astype("string").str.strip()
    out[CLUSTER_ID] = project.where(project.notna() & (project != "")).to_numpy()
    order = (
        pd.to_numeric(frame[EXEC_ORDER], errors="coerce")
        if EXEC_ORDER in frame
        else pd.Series(np.nan, index=frame.index)
    )
    out[EXEC_ORDER] = order.to_numpy()
    out = out[out[S.STATUS] != "cancelled"].reset_index(drop=True)
    gdf = gpd.GeoDataFrame(out, geometry=S.GEOMETRY, crs=current.crs)
    if crs is not None and gdf.crs is not None and CRS.from_user_input(gdf.crs) != crs:
        gdf = gdf.to_crs(crs)
    return gdf


def _freeze(
    works: gpd.GeoDataFrame,
    savings: Mapping[str, float],
    split_rules: Mapping[str, str],
    leads: Mapping[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Member rows and project rows of a revision (cost split, leads, order)."""
    project = works[CLUSTER_ID].astype("string")
    in_project = project.notna().to_numpy()
    names = sorted(set(project[in_project].tolist()))
    for what, given in (("split rule", split_rules), ("lead organisation", leads)):
        unknown = [p for p in given if p not in names]
        if unknown:
            raise InputError(
                f"{what} for unknown project(s) {', '.join(map(str, unknown))}; "
                f"the programme's projects are {', '.join(names) or 'none'}"
            )
    bad_rules = {p: r for p, r in split_rules.items() if r not in SPLIT_RULES}
    if bad_rules:
        raise InputError(f"unknown split rule(s) {bad_rules}; use one of {', '.join(SPLIT_RULES)}")
    own = pd.to_numeric(works[S.COST], errors="coerce").fillna(0.0).to_numpy()
    own_cents = np.round(own * 100).astype(np.int64)
    metric = ensure_metric(works) if len(works) else works
    geoms = metric.geometry.to_numpy()
    is_line = np.isin(shapely.get_type_id(geoms), (1, 5))
    length = np.where(is_line, shapely.length(geoms), 0.0)
    trench = np.where(S.excavates(works) & ~S.seals_surface(works), length, 0.0)
    start = pd.to_datetime(works[PROPOSED_START])
    members = pd.DataFrame(
        {
            "project": project.to_numpy(dtype=object),
            S.ORG: works[S.ORG].astype(str).to_numpy(),
            S.WORK_ID: works[S.WORK_ID].astype(str).to_numpy(),
            S.TITLE: works[S.TITLE].to_numpy(dtype=object),
            S.DISCIPLINE: works[S.DISCIPLINE].astype(str).to_numpy(),
            S.LAYER: works[S.LAYER].astype(str).to_numpy(),
            S.EXCAVATION: works[S.EXCAVATION].astype(bool).to_numpy(),
            "planned_start": works[S.START].to_numpy(),
            "planned_end": works[S.END].to_numpy(),
            "start": start.to_numpy(),
            "end": pd.to_datetime(works[PROPOSED_END]).to_numpy(),
            "order": works[EXEC_ORDER].to_numpy(dtype="float64"),
            "own_cents": own_cents,
            "trench_m": trench,
            "length_m": length,
            "seals": S.seals_surface(works),
            "funding_year": start.dt.year.to_numpy(dtype=np.int64),
            "geometry_wkb": to_hex(works.geometry.to_numpy()),
        }
    )
    share = own_cents.copy()
    rows = []
    if names:
        part = members[in_project]
        order = part.sort_values(["project", "order", "start", S.WORK_ID], kind="stable")
        ranks = order.groupby("project").cumcount() + 1
        members.loc[order.index, "order"] = ranks.to_numpy(dtype="float64")
        part = members[in_project]
        shares, used = _split(part, savings, split_rules)
        share[in_project] = shares
        g = part.groupby("project", sort=True)
        cost_cents = pd.Series(shares, index=part.index).groupby(part["project"]).sum()
        for name in names:
            rows.append(
                {
                    "project": name,
                    "lead_org": leads.get(name) or _lead(part[part["project"] == name]),
                    "joint_start": day_text(g["start"].min()[name]),
                    "joint_end": day_text(g["end"].max()[name]),
                    "cost_eur": int(cost_cents[name]) / 100,
                    "savings_eur": round(max(float(savings.get(name, 0.0)), 0.0), 2),
                    "split_rule": used[name],
                    "n_members": int(g.size()[name]),
                }
            )
        for name, org in leads.items():
            orgs = set(part.loc[part["project"] == name, S.ORG])
            if org not in orgs:
                raise InputError(
                    f"lead organisation {org!r} of project {name} is not a member "
                    f"(members: {', '.join(sorted(orgs))})"
                )
    members["cost_eur"] = members["own_cents"] / 100
    members["cost_share_eur"] = share / 100
    members.loc[~in_project, "order"] = np.nan
    return members, pd.DataFrame(rows)


def _lead(part: pd.DataFrame) -> str:
    sealing = sorted(set(part.loc[part["seals"], S.ORG]))
    if sealing:
        return sealing[0]
    cost = part.groupby(S.ORG)["own_cents"].sum()
    top = cost[cost == cost.max()]
    return str(sorted(top.index)[0])


def _split(
    part: pd.DataFrame, savings: Mapping[str, float], split_rules: Mapping[str, str]
) -> tuple[np.ndarray, dict[str, str]]:
    """Cost share in cents of every member of a combined project, and the rule used."""
    project = part["project"].to_numpy(dtype=object)
    own = part["own_cents"].to_numpy(dtype=np.int64)
    total_own = pd.Series(own).groupby(project).transform("sum").to_numpy()
    wanted = pd.Series(project).map(lambda p: split_rules.get(p, DEFAULT_SPLIT)).to_numpy()
    saved = pd.Series(project).map(lambda p: round(float(savings.get(p, 0.0)) * 100)).to_numpy()
    credit = np.minimum(np.maximum(saved, 0), total_own).astype(np.int64)
    orgs_members = pd.Series(1, index=pd.MultiIndex.from_arrays([project, part[S.ORG]]))
    per_org = orgs_members.groupby(level=[0, 1]).transform("sum").to_numpy()
    n_orgs = pd.Series(part[S.ORG].to_numpy()).groupby(project).transform("nunique").to_numpy()
    equal = 1.0 / (per_org * n_orgs)
    weights = {
        "trench": part["trench_m"].to_numpy(dtype="float64"),
        "equal": equal,
        "cost": own.astype("float64"),
    }

    def parts_for(rule: np.ndarray) -> np.ndarray:
        w = np.select(
            [rule == "trench", rule == "equal", rule == "cost"],
            [weights["trench"], weights["equal"], weights["cost"]],
        )
        total = pd.Series(w).groupby(project).transform("sum").to_numpy()
        w = np.where(total > 0, w, equal)  # no metres, no estimates: equally
        total = pd.Series(w).groupby(project).transform("sum").to_numpy()
        return _largest_remainder(credit * w / total, project, credit)

    rule = wanted.astype(object)
    credited = parts_for(rule)
    negative = pd.Series(credited > own).groupby(project).transform("any").to_numpy()
    used = dict(zip(project, rule, strict=True))
    if negative.any():
        rule = np.where(negative, "cost", rule).astype(object)
        credited = parts_for(rule)
        for p, w in zip(project[negative], wanted[negative], strict=True):
            used[p] = f"cost (fallback from {w})"
    return own - credited, {str(k): str(v) for k, v in used.items()}


def _largest_remainder(exact: np.ndarray, group: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Whole cents adding up to each group's total exactly (largest remainders first)."""
    floor = np.floor(exact + 1e-9).astype(np.int64)
    missing = totals - pd.Series(floor).groupby(group).transform("sum").to_numpy()
    remainder = exact - floor
    frame = pd.DataFrame({"g": group, "r": -remainder, "i": np.arange(len(exact))})
    rank = frame.sort_values(["g", "r", "i"], kind="stable").groupby("g").cumcount()
    rank = rank.reindex(frame.index).to_numpy()
    return floor + (rank < missing).astype(np.int64)


def _insert(
    tx: Transaction, revision_id: int, members: pd.DataFrame, project_rows: pd.DataFrame
) -> None:
    if len(project_rows):
        tx.many(
            "INSERT INTO {t}programme_projects (revision_id, project, lead_org, joint_start, "
            "joint_end, cost_eur, savings_eur, split_rule, n_members) VALUES (:rid, :project, "
            ":lead_org, :joint_start, :joint_end, :cost_eur, :savings_eur, :split_rule, "
            ":n_members)",
            [{"rid": revision_id, **r} for r in project_rows.to_dict("records")],
        )
    order = members["order"].to_numpy(dtype="float64")
    rows = [
        {
            "rid": revision_id,
            "project": None if pd.isna(p) else str(p),
            "org": o,
            "work_id": w,
            "title": None if t is None or pd.isna(t) else str(t),
            "discipline": d,
            "layer": la,
            "excavation": bool(e),
            "planned_start": day_text(ps),
            "planned_end": day_text(pe),
            "start_date": day_text(s),
            "end_date": day_text(en),
            "exec_order": None if np.isnan(k) else int(k),
            "cost_eur": c / 100,
            "cost_share_eur": sh,
            "funding_year": int(fy),
            "length_m": float(ln),
            "geometry_wkb": g,
        }  # fmt: skip
        for p, o, w, t, d, la, e, ps, pe, s, en, k, c, sh, fy, ln, g in zip(
            members["project"],
            members[S.ORG],
            members[S.WORK_ID],
            members[S.TITLE],
            members[S.DISCIPLINE],
            members[S.LAYER],
            members[S.EXCAVATION],
            members["planned_start"],
            members["planned_end"],
            members["start"],
            members["end"],
            order,
            members["own_cents"],
            members["cost_share_eur"],
            members["funding_year"],
            members["length_m"],
            members["geometry_wkb"],
            strict=True,
        )  # fmt: skip
    ]
    tx.many(
        "INSERT INTO {t}programme_members (revision_id, project, org, work_id, title, "
        "discipline, layer, excavation, planned_start, planned_end, start_date, end_date, "
        "exec_order, cost_eur, cost_share_eur, funding_year, length_m, geometry_wkb) VALUES "
        "(:rid, :project, :org, :work_id, :title, :discipline, :layer, :excavation, "
        ":planned_start, :planned_end, :start_date, :end_date, :exec_order, :cost_eur, "
        ":cost_share_eur, :funding_year, :length_m, :geometry_wkb)",
        rows,
    )


# --- reading -------------------------------------------------------------------------
def revisions(store: Store, cycle: int | None = None) -> pd.DataFrame:
    """Every adopted revision (of ``cycle``), oldest first: :data:`REVISION_COLUMNS`."""
    where = "" if cycle is None else "WHERE r.cycle = :y"
    params = {} if cycle is None else {"y": checked_cycle(cycle)}
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT r.cycle, r.revision, r.decision, r.decision_date, r.reason, r.source, "
            "r.adopted_at, (SELECT COUNT(*) FROM {t}programme_projects p "
            "WHERE p.revision_id = r.revision_id), (SELECT COUNT(*) FROM {t}programme_members m "
            f"WHERE m.revision_id = r.revision_id) FROM {{t}}programme_revisions r {where} "
            "ORDER BY r.cycle, r.revision",
            params,
        )
    frame = pd.DataFrame(rows, columns=list(REVISION_COLUMNS))
    frame["decision_date"] = days(frame["decision_date"])
    return frame.astype({"cycle": "int64", "revision": "int64", "projects": "int64",
                         "works": "int64"})  # fmt: skip


def _revision(tx: Transaction, year: int, revision: int | None) -> tuple[int, int, CRS | None]:
    """(revision_id, revision, crs) of the latest or the given revision of a cycle."""
    if revision is None:
        rows = tx.rows(
            "SELECT revision_id, revision, crs FROM {t}programme_revisions WHERE cycle = :y "
            "ORDER BY revision DESC LIMIT 1",
            {"y": year},
        )
    else:
        rows = tx.rows(
            "SELECT revision_id, revision, crs FROM {t}programme_revisions "
            "WHERE cycle = :y AND revision = :n",
            {"y": year, "n": int(revision)},
        )
    if not rows:
        which = "" if revision is None else f" revision {revision}"
        raise StoreError(
            f"no programme{which} adopted for cycle {year}; adopt one with "
            f"'ims-geo cycle adopt --cycle {year} --decision ...'"
        )
    rid, number, crs = rows[0]
    return int(rid), int(number), CRS.from_user_input(crs) if crs else None


def has_programme(store: Store, cycle: int) -> bool:
    """Whether ``cycle`` has an adopted programme."""
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT COUNT(*) FROM {t}programme_revisions WHERE cycle = :y",
            {"y": checked_cycle(cycle)},
        )
    return int(rows[0][0]) > 0


def programme(store: Store, cycle: int, revision: int | None = None) -> gpd.GeoDataFrame:
    """The adopted programme of ``cycle`` (latest revision unless one is named).

    One row per work: :data:`PROGRAMME_COLUMNS`, then title, discipline,
    layer, excavation, lead_org, planned_start, planned_end, length_m,
    revision and geometry (store CRS); combined projects first (by project
    and order), then the works on their own. ``project`` is empty (NA) for
    a work that is not combined.

    Raises
    ------
    StoreError
        No programme (or no such revision) was adopted for the cycle.
    """
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rid, number, crs = _revision(tx, year, revision)
        rows = tx.rows(
            "SELECT m.project, m.org, m.work_id, m.start_date, m.end_date, m.exec_order, "
            "m.cost_eur, m.cost_share_eur, m.funding_year, m.title, m.discipline, m.layer, "
            "m.excavation, p.lead_org, m.planned_start, m.planned_end, m.length_m, "
            "m.geometry_wkb FROM {t}programme_members m LEFT JOIN {t}programme_projects p "
            "ON p.revision_id = m.revision_id AND p.project = m.project "
            "WHERE m.revision_id = :rid",
            {"rid": rid},
        )
    return _programme_frame(store, rows, number, crs)


def _programme_frame(
    store: Store, rows: list[Any], number: int, crs: CRS | None
) -> gpd.GeoDataFrame:
    """Stored programme members (the columns :func:`programme` selects) as its frame."""
    names = [*PROGRAMME_COLUMNS, *_PROGRAMME_EXTRA[:-1], "geometry_wkb"]
    raw = pd.DataFrame(rows, columns=names)
    frame = pd.DataFrame(
        {
            "project": pd.array(raw["project"].tolist(), dtype="string"),
            "org": raw["org"].astype(str),
            "work_id": raw["work_id"].astype(str),
            "start": days(raw["start"]),
            "end": days(raw["end"]),
            "order": pd.array(raw["order"].tolist(), dtype="Int64"),
            "cost_eur": raw["cost_eur"].astype("float64"),
            "cost_share_eur": raw["cost_share_eur"].astype("float64"),
            "funding_year": raw["funding_year"].astype("int64"),
            "title": raw["title"].astype(object).where(raw["title"].notna(), None),
            "discipline": raw["discipline"].astype(str),
            "layer": raw["layer"].astype(str),
            "excavation": [flag(v) for v in raw["excavation"]],
            "lead_org": raw["lead_org"].astype(object).where(raw["lead_org"].notna(), None),
            "planned_start": days(raw["planned_start"]),
            "planned_end": days(raw["planned_end"]),
            "length_m": raw["length_m"].astype("float64"),
            "revision": np.full(len(raw), number, dtype=np.int64),
        }
    )
    frame["excavation"] = frame["excavation"].astype(bool)
    solo = frame["project"].isna()
    frame = (
        frame.assign(_solo=solo.to_numpy())
        .sort_values(["_solo", "project", "order", "org", "work_id"], kind="stable")
        .drop(columns="_solo")
    )
    frame = rows_seen(store, frame)
    geometry = from_hex(raw["geometry_wkb"].to_numpy()[frame.index.to_numpy()])
    frame = frame.reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)


def in_force(store: Store, cycle: int) -> gpd.GeoDataFrame:
    """The programme in force in ``cycle``: what its monitoring follows ("Fortschreibung").

    A programme runs for years, so a cycle without an adoption of its own
    still monitors the works adopted earlier. Taking the adopted cycles up
    to ``cycle`` oldest first (each with its latest revision), every cycle's
    own programme replaces the works it names again, and the earlier works
    it does not name stay in force while their adopted end is on or after
    1 January of that cycle; the same holds for ``cycle`` itself.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of :func:`programme` (``cycle``'s own first, then the
        carried ones by the cycle that adopted them), then ``adopted_in``
        (the cycle whose programme holds the row) and ``adopted_at`` (when
        that cycle's latest revision was adopted, UTC). Empty when no
        programme was adopted up to ``cycle``.
    """
    year = checked_cycle(cycle)
    adopted = revisions(store)
    adopted = adopted[adopted["cycle"] <= year].groupby("cycle").tail(1)
    frame: gpd.GeoDataFrame | None = None
    # one step per adopted cycle (a handful), the works of each at once
    for number, stamp in zip(adopted["cycle"], adopted["adopted_at"], strict=True):
        own = programme(store, int(number))
        own["adopted_in"] = np.int64(number)
        own["adopted_at"] = pd.Timestamp(pd.to_datetime(stamp, utc=True, format="ISO8601"))
        frame = own if frame is None else _replaced(frame, own, int(number))
    if frame is None:
        empty = _programme_frame(store, [], 0, store.crs)
        empty["adopted_in"] = pd.Series(dtype="int64")
        empty["adopted_at"] = pd.Series(dtype="datetime64[ns, UTC]")
        return empty
    if int(adopted["cycle"].iloc[-1]) < year:
        frame = frame[(frame["end"] >= pd.Timestamp(year, 1, 1)).to_numpy()]
    return gpd.GeoDataFrame(frame.reset_index(drop=True), crs=frame.crs)


def _replaced(earlier: gpd.GeoDataFrame, own: gpd.GeoDataFrame, year: int) -> gpd.GeoDataFrame:
    """``own`` and the works of ``earlier`` it does not name that still run in ``year``."""
    named = set(own["org"] + "\x1f" + own["work_id"])
    key = earlier["org"] + "\x1f" + earlier["work_id"]
    carried = earlier[~key.isin(named).to_numpy() & (earlier["end"] >= pd.Timestamp(year, 1, 1))]
    if own.crs is not None and carried.crs is not None and carried.crs != own.crs:
        carried = carried.to_crs(own.crs)
    return gpd.GeoDataFrame(pd.concat([own, carried], ignore_index=True), crs=own.crs)


def projects_in_force(
    store: Store, cycle: int, works: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """The combined projects of :func:`in_force`: :data:`PROJECT_COLUMNS`, then ``adopted_in``.

    A project carried from an earlier cycle keeps its adopted joint period,
    cost and savings; its ``members``, ``orgs`` and ``n_members`` are those
    still in force (a later programme may have re-planned some of them).

    Parameters
    ----------
    store
        The works store.
    cycle
        The cycle year.
    works
        :func:`in_force` of the cycle when already read (its org, work_id,
        project and adopted_in are used).
    """
    works = in_force(store, cycle) if works is None else works
    combined = works[works["project"].notna()]
    if combined.empty:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in PROJECT_COLUMNS})
        out["adopted_in"] = pd.Series(dtype="int64")
        return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries([], crs=store.crs), crs=store.crs)
    key = pd.MultiIndex.from_arrays([combined["adopted_in"], combined["project"].astype(str)])
    g = combined.groupby(key)
    members = (combined["org"] + " " + combined["work_id"]).groupby(key).agg("; ".join)
    orgs = combined["org"].groupby(key).agg(lambda s: "; ".join(sorted(set(s))))
    frames = []
    for number in sorted(set(combined["adopted_in"])):
        part = projects(store, int(number)).assign(adopted_in=np.int64(number))
        frames.append(part)
    every = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    at = pd.MultiIndex.from_arrays([every["adopted_in"], every["project"]])
    every = every[at.isin(g.size().index)].copy()
    at = pd.MultiIndex.from_arrays([every["adopted_in"], every["project"]])
    every["members"] = members.reindex(at).to_numpy()
    every["orgs"] = orgs.reindex(at).to_numpy()
    every["n_members"] = g.size().reindex(at).to_numpy().astype("int64")
    return gpd.GeoDataFrame(every.reset_index(drop=True), crs=every.crs)


def projects(store: Store, cycle: int, revision: int | None = None) -> gpd.GeoDataFrame:
    """The adopted combined projects: :data:`PROJECT_COLUMNS` and the members' hull."""
    year = checked_cycle(cycle)
    works = programme(store, year, revision)
    with transaction(store) as tx:
        rid, _, _ = _revision(tx, year, revision)
        rows = tx.rows(
            "SELECT project, lead_org, joint_start, joint_end, cost_eur, savings_eur, "
            "split_rule, n_members FROM {t}programme_projects WHERE revision_id = :rid "
            "ORDER BY project",
            {"rid": rid},
        )
    raw = pd.DataFrame(
        rows,
        columns=["project", "lead_org", "joint_start", "joint_end", "cost_eur", "savings_eur",
                 "split_rule", "n_members"],
    )  # fmt: skip
    combined = works[works["project"].notna()]
    labels = (combined["org"] + " " + combined["work_id"]).groupby(combined["project"])
    members = labels.agg("; ".join)
    orgs = combined.groupby("project")["org"].agg(lambda s: "; ".join(sorted(set(s))))
    hull = combined.geometry.groupby(combined["project"].to_numpy()).agg(
        lambda g: shapely.convex_hull(shapely.union_all(g.to_numpy()))
    )
    frame = pd.DataFrame(
        {
            "project": raw["project"].astype(str),
            "lead_org": raw["lead_org"].astype(str),
            "members": raw["project"].map(members).astype(str),
            "orgs": raw["project"].map(orgs).astype(str),
            "joint_start": days(raw["joint_start"]),
            "joint_end": days(raw["joint_end"]),
            "cost_eur": raw["cost_eur"].astype("float64"),
            "savings_eur": raw["savings_eur"].astype("float64"),
            "split_rule": raw["split_rule"].astype(str),
            "n_members": raw["n_members"].astype("int64"),
        }
    )
    geometry = hull.reindex(frame["project"]).to_numpy() if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=works.crs), crs=works.crs)


def financing(store: Store, cycle: int, revision: int | None = None) -> pd.DataFrame:
    """Cost and financing per organisation and funding year: :data:`FINANCING_COLUMNS`."""
    works = programme(store, cycle, revision)
    cents = np.round(works["cost_share_eur"].to_numpy() * 100).astype(np.int64)
    table = (
        pd.DataFrame({"org": works["org"], "funding_year": works["funding_year"], "c": cents})
        .groupby(["org", "funding_year"], as_index=False)
        .agg(c=("c", "sum"), works=("c", "size"))
    )
    table["cost_share_eur"] = table["c"] / 100
    return table.loc[:, list(FINANCING_COLUMNS)].astype({"works": "int64"})
