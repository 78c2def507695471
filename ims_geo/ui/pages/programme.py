"""Programme: propose a combined programme, negotiate it, compare, save and adopt it.

The coordinator sets the inputs (solver, rules, budgets, unit costs), proposes,
then negotiates: keeps combined projects they agreed on, keeps single works at
their planned dates, leaves works out (from the tables or by clicking the map)
and proposes again; compares with a proposal kept earlier or downloaded; and
adopts the proposal in the planning cycle (the cycle's own :func:`ims_geo.cycle.adopt`).
Choices live in ``st.session_state``; the proposals themselves in
:func:`ims_geo.ui.state.proposal` (keyed on the store revision and every input).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import streamlit as st

from ims_geo import cycle, maps
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import ImsGeoError
from ims_geo.i18n import N_, _, fmt_number, language, ngettext
from ims_geo.programme import (
    CELL_SIZE,
    CLUSTER_ID,
    COST_SHARE,
    EXEC_ORDER,
    MAX_CLUSTER,
    MOVE_REASON,
    PROPOSED_END,
    PROPOSED_START,
    SEALED_CLASH,
    SHIFT_DAYS,
    SPLIT_RULE,
    UNBUDGETED_YEARS,
    CostTable,
    Proposal,
    check_budgets,
    load_costs,
)
from ims_geo.programme.schedule import FIX_WORTH_DEFAULT, FIX_WORTH_MIN, Weights
from ims_geo.schema import COST, DISCIPLINE, ORG, START, STATUS, TITLE, WORK_ID
from ims_geo.ui import charts, links, negotiate, state, widgets

#: How a KPI's change is coloured: lower is better (inverse), higher is better (normal).
DELTA_COLOURS: dict[str, Literal["normal", "inverse", "off"]] = {
    "clashes": "inverse", "moratorium violations": "inverse", "disruption days": "inverse",
    "estimated cost eur": "inverse", "combined works": "normal", "combined projects": "normal",
    "savings eur": "normal", "works moved": "off", "moratorium violations fixed": "normal",
    "org-years over budget": "inverse", "cells over max_parallel": "inverse",
}  # fmt: skip
#: Unit costs: field of :class:`~ims_geo.programme.CostTable` -> its name on the page.
COST_NAMES: dict[str, str] = {
    "trench_eur_per_m": N_("Trench, € per metre"),
    "reinstatement_eur_per_m2": N_("Reinstatement, € per m²"),
    "trench_width_m": N_("Width reinstated per metre of trench (m)"),
    "traffic_management_eur_per_day": N_("Traffic management, € per day"),
    "site_setup_eur": N_("Site set-up, € per site"),
    "share_distance_m": N_("Works closer than this share a trench (m)"),
}
UNBUDGETED_NAMES = {
    "frozen": N_("No more than planned"),
    "free": N_("Unlimited"),
}
SHOW_NAMES = {
    "projects": N_("Combined projects"),
    "moved": N_("Moved works"),
    "all": N_("All works"),
}
#: Most works drawn in one Gantt chart (more are paged).
GANTT_PAGE = 300
#: Proposals kept for comparison in a browser session.
SAVED_KEPT = 5

# session_state keys of the coordinator's choices
KEPT = "programme_kept"  # members of kept projects (negotiate.project_members)
PLANNED = "programme_planned"  # keys of works kept at their planned dates
EXCLUDED = "programme_excluded"  # keys of works left out
REQUEST = "programme_request"  # the inputs of the proposal shown
SAVED = "programme_saved"  # name -> negotiate.saved(...)
SPLITS = "programme_split"  # key of a member work -> the cost split rule of its project
GENERATION = "programme_tables"  # counts "Release all": the tables are drawn afresh
# the proposal adopted last, with its inputs and revision: adopting makes a new revision of
# the store, for which no proposal is kept yet, and the page still shows what was adopted
ADOPTED = "programme_adopted_proposal"


def translated(names: dict[str, str]) -> dict[str, str]:
    """Option -> its name in this run's language, for a widget's ``format_func``: translated
    here, in the page's run (a format function may be called elsewhere, e.g. by AppTest)."""
    return {value: _(name) for value, name in names.items()}


def same(a: Any, b: Any) -> bool:
    """Whether two inputs of a proposal are the same (tables by their content)."""
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def table_changes(key: str, rows: list[str], columns: tuple[str, ...]) -> dict[str, dict]:
    """Cells (ticks, choices) changed in a keyed ``st.data_editor`` since they were last read.

    The editor's state holds every edit since it was drawn; only those not
    seen before are returned (row key -> {column: value}), so a choice made
    elsewhere (the map) is not overwritten by an old tick.
    """
    edits = st.session_state.get(key)
    if not isinstance(edits, dict):
        return {}
    seen = st.session_state.setdefault(f"{key}__seen", {})
    out: dict[str, dict] = {}
    for row, change in (edits.get("edited_rows") or {}).items():
        at = int(row)
        if at >= len(rows):
            continue
        for column in columns:
            if column in change and seen.get((at, column)) != change[column]:
                seen[(at, column)] = change[column]
                out.setdefault(rows[at], {})[column] = change[column]
    return out


def choices() -> tuple[pd.DataFrame, set[str], set[str]]:
    """The coordinator's kept projects, works kept as planned, works left out."""
    kept = st.session_state.get(KEPT)
    if not isinstance(kept, pd.DataFrame):
        kept = negotiate.project_members(pd.DataFrame(columns=[CLUSTER_ID, ORG, WORK_ID,
                                         PROPOSED_START, PROPOSED_END, EXEC_ORDER]), [])  # fmt: skip
        st.session_state[KEPT] = kept
    planned = st.session_state.setdefault(PLANNED, set())
    excluded = st.session_state.setdefault(EXCLUDED, set())
    return kept, planned, excluded


def keep_projects(proposal_works: pd.DataFrame, projects: list[str], keep: bool) -> None:
    """Keep (or release) combined projects of the proposal shown."""
    kept, _planned, _excluded = choices()
    members = negotiate.project_members(proposal_works, projects)
    mine = negotiate.work_keys(members)
    rest = kept[~negotiate.work_keys(kept).isin(mine)] if len(kept) else kept
    parts = [p for p in (rest, members if keep else None) if p is not None and len(p)]
    st.session_state[KEPT] = (
        pd.concat(parts, ignore_index=True) if parts else members.iloc[:0].reset_index(drop=True)
    )


def mark(keys: list[str], which: str, on: bool) -> None:
    """Keep works at their planned dates (``planned``) or leave them out (``excluded``)."""
    _kept, planned, excluded = choices()
    chosen = planned if which == "planned" else excluded
    if on:
        chosen.update(keys)
    else:
        chosen.difference_update(keys)


def projects_of(proposal: Proposal) -> pd.DataFrame:
    """The proposal's combined projects, largest savings first."""
    return proposal.clusters.sort_values("savings_eur", ascending=False, kind="stable")


def projects_key(proposal: Proposal) -> str:
    """Key of the projects table: a new proposal gets a fresh table (no stale ticks)."""
    projects = projects_of(proposal)
    text = "\x1f".join(projects[CLUSTER_ID].astype(str) + ":" + projects["members"].astype(str))
    text += f"\x1f{st.session_state.get(GENERATION, 0)}"
    return "programme_projects_" + hashlib.sha256(text.encode()).hexdigest()[:10]


def works_shown(proposal: Proposal) -> pd.DataFrame:
    """The proposal's works the works table lists (its organisation and search filters)."""
    every = proposal.works
    chosen = np.ones(len(every), bool)
    orgs = st.session_state.get("programme_works_org") or []
    if orgs:
        chosen &= every[ORG].astype(str).isin([str(o) for o in orgs]).to_numpy()
    find = str(st.session_state.get("programme_works_find") or "").strip().casefold()
    if find:
        text = every[WORK_ID].astype(str) + " " + every[TITLE].astype("string").fillna("")
        chosen &= text.str.casefold().str.contains(find, regex=False).to_numpy(bool)
    return every[chosen]


def works_key() -> str:
    """Key of the works table: fresh for every store revision and filter (its rows change)."""
    filters = repr((st.session_state.get("programme_works_org"),
                    st.session_state.get("programme_works_find")))  # fmt: skip
    text = state.revision() + "\x1f" + filters + f"\x1f{st.session_state.get(GENERATION, 0)}"
    return "programme_works_" + hashlib.sha256(text.encode()).hexdigest()[:10]


def apply_edits(proposal: Proposal) -> None:
    """Ticks made in the projects and works tables since the last run, into the choices."""
    ids = [str(c) for c in projects_of(proposal)[CLUSTER_ID]]
    changed = table_changes(projects_key(proposal), ids, ("keep", "split_rule"))
    for project, change in changed.items():
        if "keep" in change:
            keep_projects(proposal.works, [project], bool(change["keep"]))
        if change.get("split_rule") in cycle.SPLIT_RULES:
            choose_split(proposal.works, project, str(change["split_rule"]))
    keys = [str(k) for k in negotiate.work_keys(works_shown(proposal))]
    for work_key, change in table_changes(works_key(), keys, ("planned", "exclude")).items():
        if "planned" in change:
            mark([work_key], "planned", bool(change["planned"]))
        if "exclude" in change:
            mark([work_key], "excluded", bool(change["exclude"]))


def choose_split(proposal_works: pd.DataFrame, project: str, rule: str) -> None:
    """The cost split rule of a project, remembered by its members (ids change between
    proposals; the proposer finds the project of a named work)."""
    splits: dict[str, str] = st.session_state.setdefault(SPLITS, {})
    members = proposal_works[proposal_works[CLUSTER_ID].astype("string") == project]
    for key in negotiate.work_keys(members):
        splits.pop(str(key), None)
    if len(members):
        first = members.sort_values(EXEC_ORDER, kind="stable").iloc[[0]]
        splits[str(negotiate.work_keys(first)[0])] = rule


# --- page -------------------------------------------------------------------------------
st.title(_("Combined programme"))
st.caption(
    _(
        "Works that meet in the street are combined into one project inside every member's "
        "flexibility window — deepest first, the new surface last — and the whole area is "
        "rescheduled (OR-Tools CP-SAT) against the uncoordinated baseline. Keep what was "
        "agreed, leave works out, propose again, compare and adopt."
    )
)

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)
orgs = sorted(works[ORG].astype(str).unique())
defaults = Rules()

# --- inputs -----------------------------------------------------------------------------
with st.sidebar:
    st.subheader(_("Proposal"))
    time_limit = st.slider(
        _("Solver time limit (s)"), 1, 300, 20, 1, key="programme_time",
        help=_("The whole proposal keeps to this time; larger areas need more."),
    )  # fmt: skip
    max_parallel = st.number_input(
        _("Simultaneous works per cell"), 0, 50, 0, key="programme_parallel",
        help=_("At most this many works in the street at once in each square cell of the "
               "area (0: no limit)."),
    )  # fmt: skip
    cell_size = st.number_input(
        _("Cell size (m)"), 50.0, 5000.0, float(CELL_SIZE), 50.0, key="programme_cell_size",
        help=_("Side of the square cells the simultaneous works are counted in."),
    )  # fmt: skip
    max_cluster = st.number_input(
        _("Largest combined project (works)"), 2, 50, MAX_CLUSTER, 1, key="programme_max_cluster"
    )
    not_before = st.date_input(
        _("Nothing moves to start before"), value=dt.date.today(), key="programme_not_before",
        format=widgets.date_input_format(),
        help=_("No work is moved to start before this day (a work planned earlier may stay)."),
    )  # fmt: skip
    hard_budgets = st.toggle(
        _("Hard budgets"), key="programme_hard_budgets",
        help=_("Remove euros over a budget before anything else (otherwise a penalty per euro)."),
    )  # fmt: skip
    unbudgeted = st.radio(
        _("A year without a budget row"), list(UNBUDGETED_YEARS), key="programme_unbudgeted",
        format_func=translated(UNBUDGETED_NAMES).__getitem__,
        help=_("What an organisation with budgets may spend in a year it has no budget for."),
    )  # fmt: skip
    allow_new_clashes = st.toggle(
        _("Allow new clashes"), key="programme_allow_clashes",
        help=_("Let the proposal put works in the street together that the plans do not, "
               "to combine works or fix violations; each is reported as new."),
    )  # fmt: skip
    fix_worth = st.number_input(
        _("Worth of a fixed violation (in combined works)"), FIX_WORTH_MIN, None,
        FIX_WORTH_DEFAULT, 0.1, format="%g", key="programme_fix_worth",
        help=_("The proposal leaves a dig-after-pave violation of the plan unfixed only to "
               "combine more works than this (after the days moved). A large value, e.g. 1000, "
               "fixes every violation the windows allow first."),
    )  # fmt: skip
    st.subheader(_("Conflict rules"))
    distance = st.number_input(
        _("Distance (m)"), 0.0, 1000.0, float(defaults.distance), 1.0, key="programme_distance"
    )
    window_days = st.number_input(
        _("Synergy window (days)"), 0, 3650, int(defaults.window_days), 1,
        key="programme_window",
    )  # fmt: skip
    moratorium_years = st.number_input(
        _("Moratorium (years)"), 0.0, 20.0, float(defaults.moratorium_years), 0.5,
        key="programme_moratorium",
    )  # fmt: skip

rules = {
    name: float(value)
    for name, value, default in (
        ("distance", distance, defaults.distance),
        ("window_days", window_days, defaults.window_days),
        ("moratorium_years", moratorium_years, defaults.moratorium_years),
    )
    if float(value) != float(default)
}

budgets: pd.DataFrame | None = None
costs: CostTable | None = None
inputs_ok = True
with st.expander(_("Budgets and unit costs"), icon=":material/euro:"):
    left, right = st.columns(2)
    with left:
        st.markdown("**" + _("Yearly budgets per organisation") + "**")
        budget_file = st.file_uploader(
            _("Budgets file (CSV: org, year, budget_eur, optional funding)"), type=["csv"],
            key="programme_budgets_file", max_upload_size=5,
        )  # fmt: skip
        seed = pd.DataFrame(
            {"org": pd.Series(dtype=str), "year": pd.Series(dtype="Int64"),
             "budget_eur": pd.Series(dtype=float), "funding": pd.Series(dtype=str)}
        )  # fmt: skip
        if budget_file is not None:
            try:
                raw = pd.read_csv(
                    budget_file, dtype=str, keep_default_na=False, encoding="utf-8-sig"
                )
                seed = check_budgets(raw, where=budget_file.name, first_line=2)
                seed = seed.astype({"year": "Int64"})
            except ImsGeoError as error:
                widgets.show_error(error)
                inputs_ok = False
            except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
                st.error(
                    _("{name} is not a readable CSV file ({error}).").format(
                        name=widgets.literal(budget_file.name), error=widgets.literal(error)
                    ),
                    icon=":material/error:",
                )
                inputs_ok = False
        edited_budgets = st.data_editor(
            seed, num_rows="dynamic", hide_index=True, key="programme_budgets",
            column_config={
                "org": st.column_config.SelectboxColumn(_("Organisation"), options=orgs),
                "year": st.column_config.NumberColumn(_("Year"), min_value=1900,
                                                      max_value=2200, step=1, format="%d"),
                "budget_eur": st.column_config.NumberColumn(_("Budget (€)"), min_value=0,
                                                            format="euro"),
                "funding": st.column_config.TextColumn(_("Budget line (optional)")),
            },
        )  # fmt: skip
        filled = edited_budgets.dropna(how="all")
        if len(filled):
            try:
                budgets = check_budgets(filled.fillna(""), where=_("the budgets table"))
            except ImsGeoError as error:
                widgets.show_error(error)
                inputs_ok = False
    with right:
        st.markdown("**" + _("Unit costs of what combining saves") + "**")
        cost_file = st.file_uploader(
            _("Unit costs file (TOML, as data/costs.example.toml)"), type=["toml"],
            key="programme_costs_file", max_upload_size=1,
        )  # fmt: skip
        base = CostTable()
        if cost_file is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "costs.toml"
                path.write_bytes(cost_file.getvalue())
                try:
                    base = load_costs(path)
                except ImsGeoError as error:
                    widgets.show_error(str(error).replace(str(path), cost_file.name))
                    inputs_ok = False
        table = pd.DataFrame(
            {
                "parameter": [_(COST_NAMES.get(f.name, f.name)) for f in dataclasses.fields(base)],
                "value": [float(getattr(base, f.name)) for f in dataclasses.fields(base)],
            }
        )
        edited_costs = st.data_editor(
            table, hide_index=True, disabled=["parameter"],
            key=f"programme_costs_{cost_file.file_id if cost_file is not None else 'default'}",
            column_config={
                "parameter": st.column_config.TextColumn(_("Unit cost")),
                "value": st.column_config.NumberColumn(_("Value"), min_value=0.0),
            },
        )  # fmt: skip
        values = {
            f.name: float(v)
            for f, v in zip(dataclasses.fields(base), edited_costs["value"], strict=True)
            if v is not None and not pd.isna(v)
        }
        try:
            chosen_costs = CostTable(**values)
        except ImsGeoError as error:
            widgets.show_error(error)
            inputs_ok = False
        else:
            costs = None if chosen_costs == CostTable() else chosen_costs

shown_request = st.session_state.get(REQUEST)
shown = state.kept_proposal(**shown_request) if shown_request is not None else None
adopted_as: tuple[int, int] | None = None  # (cycle, revision) of the proposal shown
if shown_request is not None and ADOPTED in st.session_state:
    adopted_request, adopted_proposal, adopted_as = st.session_state[ADOPTED]
    if not same(adopted_request, shown_request) or (
        shown is not None and shown is not adopted_proposal
    ):
        adopted_as = None
    elif shown is None:
        shown = adopted_proposal
if shown is not None:
    apply_edits(shown)
kept, planned, excluded = choices()
lock = negotiate.lock_table(kept, planned, works)
exclude = negotiate.exclude_table(excluded, works)
request: dict[str, Any] = {
    "time_limit": float(time_limit),
    "max_parallel": int(max_parallel) or None,
    **({"cell_size": float(cell_size)} if float(cell_size) != CELL_SIZE else {}),
    **({"max_cluster": int(max_cluster)} if int(max_cluster) != MAX_CLUSTER else {}),
    "rules": rules,
    "not_before": not_before if isinstance(not_before, dt.date) else dt.date.today(),
    "hard_budgets": bool(hard_budgets),
    "unbudgeted_years": str(unbudgeted),
    "allow_new_clashes": bool(allow_new_clashes),
    # the weights ims-geo propose --fix-worth gives, none at the default
    **({"weights": Weights.fixing(float(fix_worth))}
       if float(fix_worth) != FIX_WORTH_DEFAULT else {}),
}  # fmt: skip
split = negotiate.split_table(st.session_state.get(SPLITS, {}), works)
for name, value in (
    ("budgets", budgets), ("costs", costs), ("lock", lock), ("exclude", exclude),
    ("split", split),
):  # fmt: skip
    if value is not None and not (isinstance(value, pd.DataFrame) and value.empty):
        request[name] = value

held = ngettext("{n} project kept", "{n} projects kept", kept[CLUSTER_ID].nunique()).format(
    n=kept[CLUSTER_ID].nunique()
)
# proposing is for coordinators (as adopting): others read the reason, not a button that works
proposes = state.may("coordinate")
row = st.container(horizontal=True, vertical_alignment="center")
run = row.button(
    _("Propose programme"), type="primary", key="programme_run",
    disabled=not inputs_ok or not proposes, icon=":material/play_arrow:",
)  # fmt: skip
widgets.refused("coordinate", N_("propose a programme"))
row.caption(
    " · ".join(
        [held,
         ngettext("{n} work kept as planned", "{n} works kept as planned", len(planned)).format(
             n=len(planned)),
         ngettext("{n} work left out", "{n} works left out", len(excluded)).format(
             n=len(excluded))]
    )
)  # fmt: skip
if (kept.size or planned or excluded) and row.button(
    _("Release all"), key="programme_release", icon=":material/lock_open:"
):
    st.session_state[KEPT] = kept.iloc[:0]
    st.session_state[GENERATION] = st.session_state.get(GENERATION, 0) + 1
    planned.clear()
    excluded.clear()
    st.rerun()

if "programme_adopted" in st.session_state:
    # said here, above everything: an adoption is a new revision of the store, and the
    # proposal is proposed again for it
    y, revision, n_projects, n_works = st.session_state.pop("programme_adopted")
    st.success(
        _("Adopted as revision {revision} of cycle {year}: {projects} combined projects, "
          "{works} works. See the Planning cycle page.").format(
            revision=revision, year=y, projects=n_projects, works=n_works)
    )  # fmt: skip

wanted_project = st.query_params.get(links.PROJECT)
if proposes and (run or (shown_request is None and wanted_project)):
    # a link to a project proposes with the inputs as they are (the link is the ask)
    shown_request = request
    st.session_state[REQUEST] = request
    shown = state.kept_proposal(**request)

proposal = shown
if shown_request is not None:
    if proposal is None and shown_request is request:
        bar = st.progress(0.0, text=_("Starting…"))

        def report(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=_(message))

        with widgets.user_errors():
            proposal = state.proposal(**shown_request, progress=report)
        bar.empty()
if proposal is None:
    if proposes:
        st.info(_("Press **Propose programme** to combine the conflicting works."))
    st.stop()
final: Proposal = proposal
if adopted_as is not None and proposal is shown:
    st.info(
        _("This proposal is adopted: revision {revision} of cycle {year}. Press **Propose "
          "programme** to propose again on the plans as they are now.").format(
            revision=adopted_as[1], year=adopted_as[0]),
        icon=":material/verified:",
    )  # fmt: skip
if not same(shown_request, request):
    st.info(
        _("The inputs or your choices changed since this proposal: press **Propose programme** "
          "to propose again with them."),
        icon=":material/refresh:",
    )  # fmt: skip

# --- KPIs -----------------------------------------------------------------------------------
st.subheader(_("Against the baseline"))
kpis = proposal.kpis
# new clashes are a figure to watch when the proposal may trade them
shown_kpis = [
    *DELTA_COLOURS,
    *(["new clashes"] if (shown_request or {}).get("allow_new_clashes") else []),
]
primary = kpis[kpis["kpi"].isin(shown_kpis)]
for start in range(0, len(primary), 4):
    cells = st.columns(4)
    for cell, kpi in zip(
        cells, primary.iloc[start : start + 4].itertuples(index=False), strict=False
    ):
        change = float(kpi.proposal) - float(kpi.baseline)
        cell.metric(
            negotiate.kpi_name(kpi.kpi),
            negotiate.kpi_value(kpi.kpi, kpi.proposal),
            delta=("+" if change > 0 else "") + negotiate.kpi_value(kpi.kpi, change),
            delta_color=DELTA_COLOURS.get(kpi.kpi, "off"),
            help=_("Baseline (everyone keeps their dates): {value}").format(
                value=negotiate.kpi_value(kpi.kpi, kpi.baseline)
            )
            + ("\n\n" + _(SEALED_CLASH) if kpi.kpi in ("clashes", "moratorium violations") else ""),
        )
with st.expander(_("All figures, with the bounds on what can be reached")):
    st.dataframe(
        negotiate.kpi_table(kpis), hide_index=True, key="programme_kpis",
        column_config={
            "kpi": st.column_config.TextColumn(_("Figure")),
            "baseline": st.column_config.TextColumn(_("Baseline")),
            "proposal": st.column_config.TextColumn(_("Proposal")),
            "change": st.column_config.TextColumn(_("Change")),
        },
    )  # fmt: skip
for warning in proposal.warnings:
    st.warning(widgets.literal(warning))

# --- projects, map ----------------------------------------------------------------------------
projects = projects_of(proposal)
members = proposal.works[proposal.works[CLUSTER_ID].notna()]
ids = [str(c) for c in projects[CLUSTER_ID]]

# ?project=ID picks the project (an untrusted value: only compared with the proposal's ids)
if wanted_project in ids and st.session_state.get("programme_project") != wanted_project:
    st.session_state["programme_project"] = wanted_project
elif wanted_project and wanted_project not in ids:
    st.warning(
        _("This proposal has no combined project {project}.").format(
            project=widgets.literal(wanted_project)
        )
    )
if st.session_state.get("programme_project") not in ids:
    st.session_state.pop("programme_project", None)
picked = st.selectbox(
    _("Project"), ids, index=None, key="programme_project",
    placeholder=_("All combined projects"),
    format_func=lambda c: " · ".join(
        [c, *projects.loc[projects[CLUSTER_ID] == c, "orgs"].astype(str).head(1)]
    ),
)  # fmt: skip
if picked is not None and picked != wanted_project:
    st.query_params[links.PROJECT] = picked
elif picked is None and wanted_project in ids:
    del st.query_params[links.PROJECT]

(tab_projects, tab_works, tab_moved, tab_split, tab_gantt, tab_compare, tab_save,
 tab_open, tab_solver) = st.tabs([
    _("Combined projects ({n})").format(n=len(projects)), _("Works"), _("Moved works"),
    _("Cost split"), _("Gantt chart"), _("Compare"), _("Save and adopt"), _("Unresolved"),
    _("Solver"),
])  # fmt: skip

with tab_projects:
    kept_keys = set(negotiate.work_keys(kept)) if len(kept) else set()
    member_keys = pd.Series(negotiate.work_keys(members), index=members.index)
    all_kept = member_keys.isin(kept_keys).groupby(members[CLUSTER_ID].astype(str)).all()
    listed = pd.DataFrame(
        {
            "keep": projects[CLUSTER_ID].astype(str).map(all_kept).fillna(False).astype(bool),
            CLUSTER_ID: projects[CLUSTER_ID].astype(str),
            "orgs": projects["orgs"].astype(str),
            "n_works": projects["n_works"].astype("int64"),
            "joint_start": pd.to_datetime(projects["joint_start"]).dt.date,
            "joint_end": pd.to_datetime(projects["joint_end"]).dt.date,
            "savings_eur": projects["savings_eur"].astype(float),
            "disruption_days_saved": projects["disruption_days_saved"],
            "trench_m": projects["trench_m"].astype(float).round(0),
            "split_rule": projects["split_rule"].astype(str).map(negotiate.asked_rule)
            if "split_rule" in projects
            else cycle.SPLIT_RULES[0],
            "savings_explained": projects["savings_explained"].astype(str),
        }
    ).reset_index(drop=True)
    edited_projects = st.data_editor(
        listed, hide_index=True, key=projects_key(proposal), height=360,
        disabled=[c for c in listed.columns if c not in ("keep", "split_rule")],
        column_config={
            "keep": st.column_config.CheckboxColumn(
                _("Keep"), help=_("Keep this project as proposed when proposing again")),
            CLUSTER_ID: st.column_config.TextColumn(_("Project")),
            "orgs": st.column_config.TextColumn(_("Organisations")),
            "n_works": st.column_config.NumberColumn(_("Works")),
            "joint_start": st.column_config.DateColumn(_("Joint start"), format="D MMM YYYY"),
            "joint_end": st.column_config.DateColumn(_("Joint end"), format="D MMM YYYY"),
            "savings_eur": st.column_config.NumberColumn(_("Savings"), format="euro"),
            "disruption_days_saved": st.column_config.NumberColumn(_("Disruption days saved")),
            "trench_m": st.column_config.NumberColumn(_("Shared trench (m)"), format="%d"),
            "split_rule": st.column_config.SelectboxColumn(
                _("Cost split rule"), options=list(cycle.SPLIT_RULES),
                help=_("How the project's savings are shared when it is adopted: by trench "
                       "metres, equally per organisation, or pro rata to the estimates")),
            "savings_explained": st.column_config.TextColumn(_("What is saved")),
        },
    )  # fmt: skip
    split_rules = dict(
        zip(edited_projects[CLUSTER_ID], edited_projects["split_rule"].astype(str), strict=True)
    )
    chosen = members[members[CLUSTER_ID] == picked] if picked is not None else members
    view: dict[str, Any] = {}
    if picked is not None:
        selected = maps.prepare(chosen)
        view = {**widgets.view(selected), "feature_group_to_add": maps.highlight(selected)}
    # the layers are prepared once per proposal (and language: their popups' labels)
    layers_key = (id(proposal), len(proposal.works), language())
    layers = st.session_state.get("programme_map_memo")
    if layers is None or layers[0] != layers_key:
        layers = (layers_key, maps.prepare(members), maps.prepare(projects, maps.CLUSTER_FIELDS))
        st.session_state["programme_map_memo"] = layers
    fmap = maps.programme_map(layers[1], layers[2], context=state.context(), tiles=maps.tile_url())
    returned = widgets.show_map(fmap, key="programme_map", **view)
    clicked = maps.clicked_work(returned, members) if len(members) else None
    if clicked is not None:
        ckey = str(negotiate.work_keys(pd.DataFrame([clicked]))[0])
        project = str(clicked[CLUSTER_ID])
        st.markdown(
            _("Clicked on the map: **{org} · {work}** ({title}), project {project}").format(
                org=widgets.literal(clicked[ORG]), work=widgets.literal(clicked[WORK_ID]),
                title=widgets.literal(clicked.get(TITLE) or "–"),
                project=widgets.literal(project),
            )
        )  # fmt: skip
        actions = st.container(horizontal=True)
        if actions.button(
            _("Keep project {project}").format(project=project), key="programme_map_keep",
            icon=":material/lock:",
        ):  # fmt: skip
            keep_projects(proposal.works, [project], True)
            st.rerun()
        if actions.button(
            _("Keep this work at its planned dates"), key="programme_map_planned",
            icon=":material/event:",
        ):  # fmt: skip
            mark([ckey], "planned", True)
            st.rerun()
        if actions.button(
            _("Leave this work out"), key="programme_map_exclude", icon=":material/block:"
        ):
            mark([ckey], "excluded", True)
            st.rerun()

with tab_works:
    st.caption(
        _("Tick **Keep as planned** to keep a work at its own dates (in no project), "
          "**Leave out** to take it out of the programme; then propose again.")
    )  # fmt: skip
    filters = st.container(horizontal=True)
    filters.multiselect(
        _("Organisations"), orgs, key="programme_works_org", placeholder=_("All organisations")
    )
    filters.text_input(
        _("Find a work"), key="programme_works_find", placeholder=_("Work id or words of its title")
    )
    every = works_shown(proposal)
    keys = [str(k) for k in negotiate.work_keys(every)]
    key_series = pd.Series(keys, index=every.index)
    table = pd.DataFrame(
        {
            "planned": key_series.isin(planned),
            "exclude": key_series.isin(excluded),
            ORG: every[ORG].astype(str),
            WORK_ID: every[WORK_ID].astype(str),
            TITLE: every[TITLE].astype("string").fillna(""),
            DISCIPLINE: every[DISCIPLINE].astype(str),
            STATUS: every[STATUS].astype(str),
            START: pd.to_datetime(every[START]).dt.date,
            PROPOSED_START: pd.to_datetime(every[PROPOSED_START]).dt.date,
            CLUSTER_ID: every[CLUSTER_ID].astype("string").fillna(""),
        }
    ).reset_index(drop=True)
    st.data_editor(
        table, hide_index=True, key=works_key(), height=420,
        disabled=[c for c in table.columns if c not in ("planned", "exclude")],
        column_config={
            "planned": st.column_config.CheckboxColumn(_("Keep as planned")),
            "exclude": st.column_config.CheckboxColumn(_("Leave out")),
            ORG: st.column_config.TextColumn(_("Organisation")),
            WORK_ID: st.column_config.TextColumn(_("Work")),
            TITLE: st.column_config.TextColumn(_("Title")),
            DISCIPLINE: st.column_config.TextColumn(_("Discipline")),
            STATUS: st.column_config.TextColumn(_("Status")),
            START: st.column_config.DateColumn(_("Planned start"), format="D MMM YYYY"),
            PROPOSED_START: st.column_config.DateColumn(_("Proposed start"), format="D MMM YYYY"),
            CLUSTER_ID: st.column_config.TextColumn(_("Project")),
        },
    )  # fmt: skip

with tab_moved:
    moved = proposal.works[proposal.works[SHIFT_DAYS] != 0]
    st.caption(
        ngettext("{n} work moved; each with the reason it moved.",
                 "{n} works moved; each with the reason it moved.", len(moved)).format(
            n=fmt_number(len(moved)))
    )  # fmt: skip
    st.dataframe(
        widgets.table(moved.loc[:, [c for c in negotiate.MOVED_COLUMNS if c in moved.columns]]),
        hide_index=True, key="programme_moved",
        column_config={
            ORG: st.column_config.TextColumn(_("Organisation")),
            WORK_ID: st.column_config.TextColumn(_("Work")),
            TITLE: st.column_config.TextColumn(_("Title")),
            START: st.column_config.DateColumn(_("Planned start"), format="D MMM YYYY"),
            PROPOSED_START: st.column_config.DateColumn(_("Proposed start"), format="D MMM YYYY"),
            SHIFT_DAYS: st.column_config.NumberColumn(_("Moved (days)"), format="%+d"),
            CLUSTER_ID: st.column_config.TextColumn(_("Project")),
            MOVE_REASON: st.column_config.TextColumn(_("Why it moved"), width="large"),
        },
    )  # fmt: skip

with tab_split:
    split = proposal.cost_split
    if picked is not None:
        split = split[split[CLUSTER_ID] == picked]
    st.caption(
        _("What each organisation pays in each combined project: its own estimate less its "
          "part of the savings (rule per project in the projects table).")
    )  # fmt: skip
    st.dataframe(
        split, hide_index=True, key="programme_cost_split",
        column_config={
            CLUSTER_ID: st.column_config.TextColumn(_("Project")),
            ORG: st.column_config.TextColumn(_("Organisation")),
            "works": st.column_config.NumberColumn(_("Works")),
            COST: st.column_config.NumberColumn(_("Own estimate"), format="euro"),
            COST_SHARE: st.column_config.NumberColumn(_("Pays in the project"), format="euro"),
            "saved_eur": st.column_config.NumberColumn(_("Saves"), format="euro"),
            SPLIT_RULE: st.column_config.TextColumn(_("Cost split rule")),
        },
    )  # fmt: skip
    if picked is not None and len(proposal.members):
        st.markdown("**" + _("Members of project {project}").format(project=picked) + "**")
        st.dataframe(
            widgets.table(proposal.members[proposal.members[CLUSTER_ID] == picked]),
            hide_index=True, key="programme_members",
            column_config={
                CLUSTER_ID: None,
                EXEC_ORDER: st.column_config.NumberColumn(_("Order")),
                ORG: st.column_config.TextColumn(_("Organisation")),
                WORK_ID: st.column_config.TextColumn(_("Work")),
                TITLE: st.column_config.TextColumn(_("Title")),
                "street": st.column_config.TextColumn(_("Street")),
                "street_source": None,
                DISCIPLINE: st.column_config.TextColumn(_("Discipline")),
                PROPOSED_START: st.column_config.DateColumn(_("Start"), format="D MMM YYYY"),
                PROPOSED_END: st.column_config.DateColumn(_("End"), format="D MMM YYYY"),
                SHIFT_DAYS: st.column_config.NumberColumn(_("Moved (days)"), format="%+d"),
                COST: st.column_config.NumberColumn(_("Own estimate"), format="euro"),
                COST_SHARE: st.column_config.NumberColumn(_("Pays"), format="euro"),
            },
        )  # fmt: skip

with tab_gantt:
    controls = st.container(horizontal=True)
    group_by = controls.radio(
        _("Group by"), list(charts.GROUPINGS), key="programme_gantt_group", horizontal=True,
        format_func=translated(charts.GROUPINGS).__getitem__,
    )  # fmt: skip
    show = controls.radio(
        _("Show"), list(SHOW_NAMES), key="programme_gantt_show", horizontal=True,
        format_func=translated(SHOW_NAMES).__getitem__,
    )  # fmt: skip
    every = proposal.works
    if picked is not None:
        drawn = every[every[CLUSTER_ID] == picked]
        st.caption(_("Project {project}: planned against proposed").format(project=picked))
    else:
        drawn = {"projects": members, "moved": every[every[SHIFT_DAYS] != 0], "all": every}[show]
    pages = max(1, -(-len(drawn) // GANTT_PAGE))
    page = 1
    if pages > 1:
        page = int(
            controls.number_input(
                _("Part (of {n})").format(n=pages), 1, pages, 1, key="programme_gantt_page"
            )
        )
        # parts follow the chart's groups: by project (or organisation), then start
        first = CLUSTER_ID if group_by == "project" else ORG
        ordered = drawn.assign(_g=drawn[first].astype("string").fillna("\uffff")).sort_values(
            ["_g", PROPOSED_START, ORG, WORK_ID], kind="stable"
        )
        drawn = ordered.iloc[(page - 1) * GANTT_PAGE : page * GANTT_PAGE].drop(columns="_g")
    st.caption(
        ngettext("{n} work, one row each; scroll down, zoom the time axis with the mouse wheel.",
                 "{n} works, one row each; scroll down, zoom the time axis with the mouse wheel.",
                 len(drawn)).format(n=fmt_number(len(drawn)))
    )  # fmt: skip
    if len(drawn):
        # the chart is built once per proposal and view (validating it takes a while)
        memo_key = (id(proposal), len(proposal.works), group_by, show, picked, page, language())
        memo = st.session_state.get("programme_gantt_memo")
        if memo is None or memo[0] != memo_key:
            memo = (memo_key, *charts.gantt_spec(drawn, group_by=group_by))
            st.session_state["programme_gantt_memo"] = memo
        _memo_key, spec, bars, height = memo
        with st.container(height=min(height + 30, 640), key="programme_gantt_box"):
            st.vega_lite_chart(bars, spec, width="stretch", key="programme_gantt")

with tab_compare:
    saved = st.session_state.setdefault(SAVED, {})
    current = negotiate.saved(proposal)
    row = st.container(horizontal=True, vertical_alignment="bottom")
    name = row.text_input(
        _("Name"), key="programme_save_name",
        placeholder=_("Proposal {n}").format(n=len(saved) + 1),
    )  # fmt: skip
    if row.button(_("Keep this proposal for comparison"), key="programme_save",
                  icon=":material/bookmark_add:"):  # fmt: skip
        saved[name.strip() or _("Proposal {n}").format(n=len(saved) + 1)] = current
        while len(saved) > SAVED_KEPT:
            saved.pop(next(iter(saved)))
        st.toast(_("Kept for comparison."))
    # the programmes adopted in the planning cycle can be compared with too (no KPIs kept)
    with widgets.user_errors():
        adopted = cycle.revisions(state.store())
    revisions = {
        _("Adopted: cycle {cycle}, revision {revision}").format(cycle=y, revision=r): (y, r)
        for y, r in zip(adopted["cycle"], adopted["revision"], strict=True)
    }
    other_name = st.selectbox(
        _("Compare the current proposal with"), [*saved, *revisions], index=None,
        key="programme_compare_with",
        placeholder=_("a proposal kept in this session or an adopted programme"),
    )  # fmt: skip
    other_file = st.file_uploader(
        _("…or a proposal file (Excel or GeoPackage from this page or ims-geo propose)"),
        type=["xlsx", "gpkg"], key="programme_compare_file", max_upload_size=50,
    )  # fmt: skip
    other: dict[str, pd.DataFrame] | bytes | None = None
    label = ""
    if other_file is not None:
        other, label = other_file.getvalue(), other_file.name
    elif other_name in saved:
        other, label = saved[other_name], str(other_name)
    elif other_name in revisions:
        with widgets.user_errors():
            other = negotiate.adopted(cycle.programme(state.store(), *revisions[other_name]))
        label = str(other_name)
    if other is not None:
        with widgets.user_errors(reading=label):
            compared_kpis, differ = negotiate.compare_with(current, other, name=label)
        st.markdown(
            _("**{other}** against the **current** proposal").format(other=widgets.literal(label))
        )
        side = pd.DataFrame(
            {
                "kpi": [negotiate.kpi_name(k) for k in compared_kpis["kpi"]],
                "baseline": [negotiate.kpi_value(k, v) for k, v in
                             zip(compared_kpis["kpi"], compared_kpis["baseline"], strict=True)],
                "other": [negotiate.kpi_value(k, v) for k, v in
                          zip(compared_kpis["kpi"], compared_kpis["a"], strict=True)],
                "current": [negotiate.kpi_value(k, v) for k, v in
                            zip(compared_kpis["kpi"], compared_kpis["b"], strict=True)],
                "change": [("+" if d > 0 else "") + negotiate.kpi_value(k, d) for k, d in
                           zip(compared_kpis["kpi"], compared_kpis["b_minus_a"], strict=True)],
            }
        )  # fmt: skip
        st.dataframe(
            side, hide_index=True, key="programme_compare_kpis",
            column_config={
                "kpi": st.column_config.TextColumn(_("KPI")),
                "baseline": st.column_config.TextColumn(_("Baseline")),
                "other": st.column_config.TextColumn(label),
                "current": st.column_config.TextColumn(_("Current")),
                "change": st.column_config.TextColumn(_("Current less the other")),
            },
        )  # fmt: skip
        st.markdown(
            ngettext("**{n} work** is treated differently:", "**{n} works** are treated "
                     "differently:", len(differ)).format(n=fmt_number(len(differ)))
        )  # fmt: skip
        st.dataframe(
            widgets.table(differ), hide_index=True, key="programme_compare_works",
            column_config={
                ORG: st.column_config.TextColumn(_("Organisation")),
                WORK_ID: st.column_config.TextColumn(_("Work")),
                TITLE: st.column_config.TextColumn(_("Title")),
                f"{PROPOSED_START}_a": st.column_config.DateColumn(
                    _("Start in {name}").format(name=label), format="D MMM YYYY"),
                f"{PROPOSED_START}_b": st.column_config.DateColumn(
                    _("Start now"), format="D MMM YYYY"),
                "moved_days": st.column_config.NumberColumn(_("Moved (days)"), format="%+d"),
                f"{CLUSTER_ID}_a": st.column_config.TextColumn(
                    _("Project in {name}").format(name=label)),
                f"{CLUSTER_ID}_b": st.column_config.TextColumn(_("Project now")),
            },
        )  # fmt: skip

with tab_save:
    st.markdown("**" + _("Download") + "**")
    # canonical headers at first: the workbook is read back to compare or adopt it
    words = widgets.header_language(key="programme_download_headers", default=False)
    row = st.container(horizontal=True, wrap=True)
    row.download_button(
        _("Programme (Excel workbook)"), data=lambda: negotiate.workbook(final, lang=words),
        file_name="programme.xlsx", key="programme_workbook", icon=":material/download:",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        on_click="ignore",
        help=_("Works, projects, KPIs, what stays unresolved and the Gantt sheet, as "
               "ims-geo propose writes them: compare it or adopt it later."),
    )  # fmt: skip
    st.caption(_("Every work with its proposed dates and project"))
    widgets.downloads(proposal.works, "programme_works", key="programme_works_download",
                      lang=words)  # fmt: skip
    st.caption(_("Combined projects"))
    widgets.downloads(proposal.clusters, "combined_projects", key="programme_projects_download",
                      lang=words)  # fmt: skip
    st.caption(_("KPIs"))
    widgets.downloads(kpis, "programme_kpis", key="programme_kpis_download",
                      formats=["csv", "xlsx"], lang=words)  # fmt: skip

    st.markdown("**" + _("Adopt in the planning cycle") + "**")
    st.caption(
        _("Adopting freezes this proposal as the next revision of the cycle's programme "
          "(the Planning cycle page shows it): every work's period, project, order and cost "
          "share, with the decision reference.")
    )  # fmt: skip
    with widgets.user_errors():
        versions = state.store().plan_versions()
    years = sorted({int(y) for y in versions["cycle"]}) if len(versions) else []
    with st.form("programme_adopt"):
        widgets.refused("coordinate", N_("adopt a programme"))
        year = st.number_input(
            _("Cycle year"), 1900, 2200, years[-1] if years else dt.date.today().year,
            key="programme_adopt_year",
        )  # fmt: skip
        decision = st.text_input(
            _("Decision reference"), key="programme_adopt_decision",
            placeholder=_("Council 2027/14"),
        )  # fmt: skip
        decided = st.date_input(
            _("Decision date"), value=dt.date.today(), key="programme_adopt_date",
            format=widgets.date_input_format(),
        )  # fmt: skip
        reason = st.text_input(_("Reason (for a new revision)"), key="programme_adopt_reason")
        if st.form_submit_button(
            _("Adopt this proposal"), type="primary", key="programme_adopt_submit",
            disabled=not state.may("coordinate"),
        ):  # fmt: skip
            with widgets.user_errors():
                adopted = cycle.adopt(
                    state.store(), int(year), proposal, decision=decision,
                    decision_date=decided, reason=reason or None,
                    split_rules={p: r for p, r in split_rules.items() if r in cycle.SPLIT_RULES},
                    source=_("proposal of the Programme page"),
                )  # fmt: skip
            st.session_state["programme_adopted"] = (adopted.cycle, adopted.revision,
                                                     adopted.n_projects, adopted.n_works)  # fmt: skip
            st.session_state[ADOPTED] = (shown_request, proposal,
                                         (adopted.cycle, adopted.revision))  # fmt: skip
            st.rerun()  # the page (its comparison with adopted programmes) sees the new revision

with tab_open:
    st.caption(
        _("What the proposal still violates, with why and, where the windows allow it, "
          "what would fix it.")
    )  # fmt: skip
    st.dataframe(
        proposal.infeasible, hide_index=True, key="programme_unresolved",
        column_config={
            "constraint": st.column_config.TextColumn(_("Kind")),
            "subject": st.column_config.TextColumn(_("Where")),
            "works": st.column_config.TextColumn(_("Works")),
            "amount": st.column_config.NumberColumn(_("Amount"), format="localized"),
            "reason": st.column_config.TextColumn(_("Why"), width="large"),
        },
    )  # fmt: skip
with tab_solver:
    st.dataframe(proposal.solver, hide_index=True, key="programme_solver")
