"""Combined programmes: "dig once, pave once".

:func:`propose` turns the organisations' planned works and the conflicts
between them into a proposed combined programme: clusters of works done as
one project, each with a joint period and an execution order, the savings
of combining, and an area-wide schedule (OR-Tools CP-SAT, see
:mod:`ims_geo.programme.schedule`) that moves works inside their flexibility windows.
Everything is reported against the uncoordinated baseline, in which every
organisation keeps its own dates.

Which works take part
---------------------
Only works whose ``status`` is in :data:`ims_geo.schema.CHANGEABLE_STATUSES`
(idea, planned, committed) may move or be combined. Works in progress or
done keep their dates and still count (a finished resurfacing still
protects its street; a running work still occupies it); cancelled works
count for nothing.

Candidate projects
------------------
The links are the ``clash``, ``moratorium`` and ``synergy`` conflicts
between two changeable works. In a connected part of the links with at most
:data:`ENUMERATE_WORKS` works every connected set of 2 to ``max_cluster``
works that has a joint period (below) is a candidate project; in larger
parts every linked pair with a joint period and the greedy clusters are:
a component whose windows admit no joint period, or that has more than
``max_cluster`` works, is split greedily (a seed, sealing works first, then
the work with most links, grows along its conflicts, strongest first, while
a joint period still fits), and the split is reported in
``Proposal.infeasible`` (constraint ``cluster``). The scheduler decides
which candidates are executed, each work in at most one, and when; the
executed ones are the combined projects (``cluster_id``).

Joint period
------------
A combined project is one street occupation from its joint start day ``S``.
Its trench works (excavations and subsurface works) go in deepest first
(:func:`member_offsets`): the deepest starts on ``S``; each next one starts
with the one below it, or later so that it ends no earlier than that one
(it is laid above it: alongside where its duration allows, after it where
it is short), so the trench is opened once and closed after the last. Other
surface works (lighting, green) start on ``S``. The sealing (road, surface
layer) starts the day after the last of these ends (on ``S`` when there is
none). A joint period is possible when some ``S`` puts every member inside
its window ``[earliest, latest]``. The schedule picks ``S`` to minimise the
members' total shift from their planned starts (ties: the smallest largest
shift), together with the rest of the area.

Execution order
---------------
Inside a cluster (``exec_order`` 1, 2, ...): excavations and subsurface
works first, deepest first (by ``depth_max`` when known, otherwise by the
typical depth of the discipline in :data:`TYPICAL_DEPTH_M`, which follows
:data:`ims_geo.schema.DEPTH_ORDER`: sewer, water, heat, gas, electricity,
telecom); then other surface works; the surface sealing last. The trench
works are staggered in this order (see above).

Savings against separate execution
----------------------------------
With ``d`` = :attr:`CostTable.share_distance_m`, for each executed cluster:

* ``trench_m``: for every trench work (excavates, does not seal) after the
  first, the longest stretch of its line within ``d`` of an earlier trench
  work of the cluster: metres laid into a trench that is already open.
* ``resurfacing_avoided_m2`` / ``_n``: separately, every trench work
  reinstates its own trench. Combined, where the cluster has a sealing
  work, the trench under the new surface (within ``d`` of it) needs no
  reinstatement of its own; without one, the shared trench is reinstated
  once. Area = trench length x :attr:`CostTable.trench_width_m` (for a
  polygon excavation, its area); ``_n`` counts the trench works that are
  spared a reinstatement.
* ``disruption_days_saved``: over the members that share the site (each
  within ``d`` of another member), their occupation days added up minus the
  days from the first of them starting to the last ending; 0 when fewer than
  two members share it. A member further away shares the period, not the
  street works site.
* ``savings_eur``: shared trench x ``trench_eur_per_m`` + avoided m² x
  ``reinstatement_eur_per_m2`` + days saved x
  ``traffic_management_eur_per_day`` + (members sharing the site - 1) x
  ``site_setup_eur``; ``savings_explained`` says which parts make it.

Schedule
--------
:func:`ims_geo.programme.schedule.solve` moves the changeable works inside their
windows (durations fixed): it decides which clusters are executed combined
and when, removes dig-after-pave (moratorium) violations where the windows
allow, separates clashing works, and keeps each organisation's yearly budget
and at most ``max_parallel`` simultaneous occupations per grid cell. It is
never worse than the plan, by construction (see :mod:`ims_geo.programme.schedule`): no
pair becomes a new violation or (unless ``allow_new_clashes``) a new clash,
no budget row ends further over than planned, no cell over its limit gets
more than planned. The pairs it must watch are those that could conflict
anywhere inside the windows: :func:`ims_geo.conflicts.find_conflicts` on the
works stretched over their whole windows finds them.

Budgets
-------
A work's ``cost_eur`` is booked over the calendar years it occupies, pro
rata by days. A budget row (org, year, budget_eur, optional ``funding``)
takes the works of its organisation whose ``funding`` names its line, or,
for a row without ``funding``, every other work of the organisation. With
``unbudgeted_years="frozen"`` a budgeted line may not spend more than its
plan in a year without a row; ``"free"`` leaves such years unlimited.

KPIs
----
``Proposal.kpis`` has one row per KPI (``kpi``, ``baseline``, ``proposal``):
clashes, moratorium violations, combined works, combined projects,
disruption days, works moved, total shift days, estimated cost eur (the
works' ``cost_eur`` added up, less the savings; NaN when no work has a
cost), savings eur, and with budgets ``org-years over budget`` and
``over budget eur``, with ``max_parallel`` ``cells over max_parallel``;
``combined works (upper bound)`` is the sum of the bounds each part of the
network proves with a CP-SAT model of its own
(:func:`ims_geo.programme.schedule.combined_bounds`, per part in the
``solver`` table and :meth:`Proposal.parts`), ``combined works (upper bound,
violations fixed first)`` the bound among the schedules that fix as many of
the plan's violations as the proposal, ``works in a candidate project`` the
loosest bound; ``new moratorium violations``
and ``new clashes`` count the pairs that are so in the proposal and were
not at the planned dates (0 unless ``allow_new_clashes``). An excavation
that starts after a sealing nearby started and overlaps its last days is a
moratorium violation, not a clash. Baseline and proposal are both
computed from dates, never taken from the solver: the proposal's conflicts
are found again by :func:`ims_geo.conflicts.find_conflicts` on the works at
their proposed dates, budgets and cells are recounted from those dates, and
every executed cluster is checked to follow its joint period. A clash
between two members of one executed cluster is the combined project itself
and does not count as a clash. Disruption days add up every occupation, an
executed cluster counting once for its joint period.

Members, cost split, locks
--------------------------
:attr:`Proposal.members` lists every project member with its street
(:func:`streets`), :attr:`Proposal.cost_split` what each organisation pays
per project under the project's split rule (``split``, see
:func:`load_split_rules`). A lock table may give a work an earlier
proposal's ``proposed_start``: it keeps that date, and the locked members of
one earlier project stay one project (see ``lock`` in :func:`propose`).

What stays unresolved
---------------------
``Proposal.infeasible`` lists, from the proposed dates: every moratorium
violation and clash left (with whether the windows could not fix it, it is
proven unavoidable given the other constraints, or the time limit ran out),
every org-year over budget (by how much), every cell over
``max_parallel`` (its grid cell, the peak and its day), and every cluster
the windows (or ``max_cluster``) split.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain, compress
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ims_geo import schema as S
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.crs import ensure_metric
from ims_geo.errors import InputError, ScheduleError
from ims_geo.i18n import N_
from ims_geo.programme import schedule as sched
from ims_geo.programme.costs import CostTable, load_costs

Progress = Callable[[float, str], None]

# --- columns -------------------------------------------------------------------
#: Why the proposal's clash and moratorium-violation counts differ from the Conflicts
#: page's and the planning cycle baseline's (the proposer's own rule).
SEALED_CLASH = N_(
    "An excavation that starts while a new surface nearby is being laid digs it up: "
    "counted here as a moratorium violation, it is a clash on the Conflicts page, the "
    "Overview and the planning cycle's baseline."
)
PROPOSED_START = "proposed_start"
PROPOSED_END = "proposed_end"
CLUSTER_ID = "cluster_id"
EXEC_ORDER = "exec_order"
SHIFT_DAYS = "shift_days"
#: Output column: the work's share of its project's cost (its own estimate when alone).
COST_SHARE = "cost_share_eur"
#: Output column of the projects: the rule that split their cost.
SPLIT_RULE = "split_rule"
#: Output column: why the work moved (empty when it did not).
MOVE_REASON = "move_reason"
#: Optional input column: a true value keeps the work at its planned dates, in no project.
LOCK = "lock"

CLUSTER_COLUMNS: tuple[str, ...] = (
    CLUSTER_ID, "members", "n_works", "orgs", "joint_start", "joint_end", "trench_m",
    "resurfacing_avoided_m2", "resurfacing_avoided_n", "disruption_days_saved", "savings_eur",
    "savings_explained", "member_titles", "member_streets", "split_rule",
)  # fmt: skip
KPI_COLUMNS: tuple[str, ...] = ("kpi", "baseline", "proposal")
#: Columns of :attr:`Proposal.members`, one row per member of a combined project.
MEMBER_COLUMNS: tuple[str, ...] = (
    CLUSTER_ID, EXEC_ORDER, "org", "work_id", "title", "street", "street_source", "discipline",
    PROPOSED_START, PROPOSED_END, SHIFT_DAYS, "cost_eur", COST_SHARE,
)  # fmt: skip
#: Columns of :attr:`Proposal.cost_split`: per project and organisation, its
#: works' own estimates, its share of the project's cost, what it saves, the rule.
COST_SPLIT_COLUMNS: tuple[str, ...] = (
    CLUSTER_ID, "org", "works", "cost_eur", COST_SHARE, "saved_eur", SPLIT_RULE,
)  # fmt: skip
#: A member's street is taken from the nearest work within this many metres
#: whose plan names its street, when its own plan names none.
STREET_DISTANCE_M = 25.0
INFEASIBLE_COLUMNS: tuple[str, ...] = ("constraint", "subject", "works", "amount", "reason")
BUDGET_COLUMNS: tuple[str, ...] = ("org", "year", "budget_eur")
#: Optional column of a budgets table: the budget line (matched with the works' ``funding``).
BUDGET_LINE = "funding"
#: What a year without a budget row is (see :func:`propose`).
UNBUDGETED_YEARS: tuple[str, ...] = ("frozen", "free")

#: Conflict kinds that make two works candidates for one combined project.
CLUSTER_KINDS: frozenset[str] = frozenset({"clash", "moratorium", "synergy"})
#: Typical depth (metres to the bottom of the trench) of each subsurface
#: discipline, used to order works whose ``depth_max`` is unknown; it follows
#: :data:`ims_geo.schema.DEPTH_ORDER`.
TYPICAL_DEPTH_M: dict[str, float] = {
    "sewer": 3.0, "water": 1.5, "heat": 1.2, "gas": 1.0, "electricity": 0.8, "telecom": 0.6,
}  # fmt: skip
#: Depth assumed for other excavations of unknown depth.
OTHER_DEPTH_M = 0.5
#: Default largest number of works in one combined project.
MAX_CLUSTER = 12
#: Components of the conflict graph up to this many works offer every connected
#: set of works as a candidate project (larger ones: linked pairs and greedy clusters).
ENUMERATE_WORKS = 8
#: Default size of the grid cells ``max_parallel`` counts occupations in (metres).
CELL_SIZE = 250.0


@dataclass
class Proposal:
    """A proposed combined programme and how it compares with the baseline."""

    #: Every input work with proposed_start, proposed_end, cluster_id (missing
    #: when not combined), exec_order, shift_days, in the input's CRS.
    works: gpd.GeoDataFrame
    #: One row per executed cluster (see :data:`CLUSTER_COLUMNS`); geometry is
    #: the convex hull of the members.
    clusters: gpd.GeoDataFrame
    #: kpi, baseline, proposal.
    kpis: pd.DataFrame
    #: One row per CP-SAT model (see :data:`ims_geo.programme.schedule.MODEL_COLUMNS`).
    solver: pd.DataFrame
    #: Constraints the proposal still violates, and clusters that had to be
    #: split: constraint, subject, works, amount, reason.
    infeasible: pd.DataFrame
    #: Conflicts between the works at their proposed dates.
    conflicts: gpd.GeoDataFrame
    #: Conflicts at the planned dates (the baseline).
    baseline_conflicts: gpd.GeoDataFrame
    #: Remarks about the input (e.g. budget rows naming no organisation of the works).
    warnings: list[str] = field(default_factory=list)
    #: One row per member of a combined project (see :data:`MEMBER_COLUMNS`).
    members: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MEMBER_COLUMNS))
    #: One row per organisation of a combined project: what it pays (see :data:`COST_SPLIT_COLUMNS`).
    cost_split: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=COST_SPLIT_COLUMNS)
    )

    def kpi(self, name: str) -> tuple[float, float]:
        """Baseline and proposal value of one KPI."""
        row = self.kpis.loc[self.kpis["kpi"] == name]
        if row.empty:
            raise KeyError(f"no KPI '{name}' (have: {', '.join(self.kpis['kpi'])})")
        return float(row["baseline"].iloc[0]), float(row["proposal"].iloc[0])

    def parts(self) -> pd.DataFrame:
        """One row per part of the network: its combined works and their proven bound.

        Columns: part, works, combined, combined_bound,
        combined_bound_fixing, bound_proof (see
        :func:`ims_geo.programme.schedule.combined_bounds`), the rows of the
        ``solver`` table that bound a part.
        """
        cols = ["combined", "combined_bound", "combined_bound_fixing", "bound_proof"]
        if self.solver.empty or "combined_bound" not in self.solver.columns:
            return pd.DataFrame(columns=["part", "works", *cols])
        rows = self.solver[self.solver["combined_bound"].notna()]
        return (
            rows[["model", "works", *cols]].rename(columns={"model": "part"}).reset_index(drop=True)
        )

    def layers(self, *, gantt_sheet: bool = False) -> dict[str, pd.DataFrame]:
        """The output's layers (sheets) in order, as ``ims-geo propose`` and the page write them.

        Works, clusters and kpis always; members and cost_split, solver and
        unresolved when they hold rows; with ``gantt_sheet`` (Excel) the
        Gantt sheet of :func:`gantt` when there are projects.
        """
        layers: dict[str, pd.DataFrame] = {
            "works": self.works, "clusters": self.clusters, "kpis": self.kpis,
        }  # fmt: skip
        if len(self.members):  # one row per project member, with its street
            layers["members"] = self.members
            layers["cost_split"] = self.cost_split
        if len(self.solver):
            layers["solver"] = self.solver
        if len(self.infeasible):
            layers["unresolved"] = self.infeasible
        if gantt_sheet and len(self.clusters):
            layers["gantt"] = gantt(self)
        return layers

    def bounds_text(self, limit: int = 10) -> str:
        """The combined works against their proven bound, per part (the largest ``limit``)."""
        parts = self.parts()
        if parts.empty:
            return "no part of the network has a candidate project"
        lines = [f"{'part':<24}{'works':>8}{'combined':>10}{'bound':>8}{'fixing':>8}  proof"]
        shown = parts.sort_values("works", ascending=False, kind="stable").head(limit)
        for r in shown.itertuples(index=False):
            fixing = "–" if pd.isna(r.combined_bound_fixing) else f"{r.combined_bound_fixing:,.0f}"
            lines.append(
                f"{r.part:<24}{r.works:>8,}{r.combined:>10,.0f}{r.combined_bound:>8,.0f}"
                f"{fixing:>8}  {r.bound_proof}"
            )
        if len(parts) > limit:
            lines.append(f"... {len(parts) - limit} smaller parts (see the solver sheet)")
        lines.append(
            f"{'all':<24}{parts['works'].sum():>8,}{parts['combined'].sum():>10,.0f}"
            f"{parts['combined_bound'].sum():>8,.0f}"
        )
        return "\n".join(lines)

    def report(self) -> str:
        """A plain-text summary: KPIs, the bound per part, then what stays unresolved."""
        width = max([len("KPI"), *(len(str(k)) for k in self.kpis["kpi"])]) + 2
        lines = [f"{'KPI':<{width}}{'baseline':>16}{'proposal':>16}"]
        for kpi, base, prop in self.kpis.itertuples(index=False):
            lines.append(f"{kpi:<{width}}{base:>16,.0f}{prop:>16,.0f}")
        lines.append(f"{len(self.clusters)} combined projects, {len(self.solver)} solver models")
        lines.append(self.bounds_text())
        if len(self.infeasible):
            counts = self.infeasible["constraint"].value_counts()
            lines.append("unresolved: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


# --- budgets -------------------------------------------------------------------


def load_budgets(path: str | Path) -> pd.DataFrame:
    """Read yearly budgets per organisation from a CSV file.

    Parameters
    ----------
    path
        UTF-8 CSV with a header and the columns ``org``, ``year`` and
        ``budget_eur`` (one row per organisation and calendar year; see
        ``data/budgets.example.csv``). Amounts may use a decimal comma.

    Returns
    -------
    pandas.DataFrame
        org (str), year (int64), budget_eur (float64), funding (str, "" when
        the file has no ``funding`` column).

    Notes
    -----
    An optional ``funding`` column names a budget line of the organisation.
    A work books its cost on the row of its organisation, year and
    ``funding`` when the organisation has budget rows with that ``funding``;
    every other work of the organisation books on its rows without one.

    Raises
    ------
    InputError
        The file cannot be read, a column is missing, or rows have an
        empty org, a year or amount that is not a number, a negative amount
        or a repeated org and year; the message names the file, the line
        and the column of every problem.
    """
    where = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"{where}: budgets file not found") from exc
    except OSError as exc:
        raise InputError(f"{where}: cannot read the budgets file ({exc.strerror})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not a readable CSV file ({exc})") from exc
    return check_budgets(frame, where=where, first_line=2)


def check_budgets(
    frame: pd.DataFrame, *, where: str = "budgets", first_line: int = 1
) -> pd.DataFrame:
    """Validate a budgets table (org, year, budget_eur) and return it in canonical dtypes.

    ``first_line`` is the line number of the first row in messages (2 for a
    CSV file with a header).
    """
    columns = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in BUDGET_COLUMNS if c not in columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; a budgets table has the "
            f"columns {','.join(BUDGET_COLUMNS)} (one row per organisation and year)"
        )
    org = frame[columns["org"]].astype("string").str.strip()
    year_text = frame[columns["year"]].astype("string").str.strip()
    year = pd.to_numeric(year_text, errors="coerce")
    amount_text = frame[columns["budget_eur"]].astype("string").str.strip()
    amount_text = amount_text.str.replace(r"[\s_']", "", regex=True)
    both = amount_text.str.contains(",", regex=False) & amount_text.str.contains(".", regex=False)
    amount_text = amount_text.where(~both, amount_text.str.replace(".", "", regex=False))
    amount = pd.to_numeric(amount_text.str.replace(",", ".", regex=False), errors="coerce")
    problems: list[str] = []
    line = np.arange(len(frame)) + first_line
    for at in line[(org.isna() | (org == "")).to_numpy(bool)]:
        problems.append(f"line {at}: empty org")
    bad_year = year.isna() | (year % 1 != 0) | (year < 1900) | (year > 2200)
    for at, text in zip(
        line[bad_year.to_numpy(bool)], year_text[bad_year.to_numpy(bool)], strict=True
    ):
        problems.append(f"line {at}: year '{text}' is not a calendar year")
    bad_amount = amount.isna() | ~np.isfinite(amount.fillna(0)) | (amount < 0)
    for at, text in zip(
        line[bad_amount.to_numpy(bool)],
        frame[columns["budget_eur"]][bad_amount.to_numpy(bool)],
        strict=True,
    ):
        problems.append(f"line {at}: budget_eur '{text}' is not an amount >= 0")
    funding = (
        frame[columns[BUDGET_LINE]].astype("string").str.strip().fillna("")
        if BUDGET_LINE in columns
        else pd.Series("", index=frame.index, dtype="string")
    )
    out = pd.DataFrame(
        {
            "org": org.fillna("").astype(str),
            "year": year.fillna(0).astype("int64"),
            "budget_eur": amount.astype("float64"),
            BUDGET_LINE: funding.astype(str).to_numpy(),
        }
    )
    dup = out.duplicated(["org", BUDGET_LINE, "year"], keep=False) & ~bad_year.to_numpy(bool)
    for (o, f, y), group in out[dup].groupby(["org", BUDGET_LINE, "year"]):
        lines = ", ".join(str(v) for v in line[group.index.to_numpy()])
        what = f"budget line '{f}'" if f else "budget"
        problems.append(f"lines {lines}: org '{o}' has more than one {what} for {y}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise InputError(f"{where}: " + "; ".join(problems[:10]) + more)
    return out.reset_index(drop=True)


# --- the proposal ----------------------------------------------------------------


def propose(
    works: gpd.GeoDataFrame,
    conflicts: pd.DataFrame | None = None,
    *,
    rules: Rules | None = None,
    budgets: pd.DataFrame | str | Path | None = None,
    max_parallel: int | None = None,
    time_limit: float = 30.0,
    workers: int = 2,
    progress: Progress | None = None,
    costs: CostTable | str | Path | None = None,
    cell_size: float = CELL_SIZE,
    max_cluster: int = MAX_CLUSTER,
    weights: sched.Weights | None = None,
    hard_budgets: bool = False,
    unbudgeted_years: str = "frozen",
    allow_new_clashes: bool = False,
    not_before: date | str | None = None,
    lock: pd.DataFrame | str | Path | None = None,
    exclude: pd.DataFrame | str | Path | None = None,
    split: pd.DataFrame | str | Path | None = None,
) -> Proposal:
    """Propose a combined programme for planned works.

    Parameters
    ----------
    works
        Planned works (canonical columns, see :mod:`ims_geo.schema`; they
        are validated again here) of all organisations, with a CRS.
    conflicts
        Conflicts between ``works`` at their planned dates (the output of
        :func:`ims_geo.conflicts.find_conflicts`); None computes them with
        ``rules``. Rows of the moratoria layer (those with a
        ``moratorium_id``, from :func:`ims_geo.cycle.store_conflicts`) are
        ignored: a moratorium is no work to schedule, and the proposal's own
        conflicts are found on the works alone, so baseline and proposal
        KPIs are counted alike.
    rules
        Conflict rules (default :class:`ims_geo.conflicts.rules.Rules`); also used to
        find the pairs that could conflict anywhere in the windows and to
        classify the proposal.
    budgets
        Yearly budgets (org, year, budget_eur) as a DataFrame or a CSV path
        (see :func:`load_budgets`): the cost of an organisation's works
        starting in a calendar year stays within its budget.
    max_parallel
        At most this many street occupations at the same time per grid cell
        of ``cell_size`` metres (a work counts in the cell of its centroid;
        a combined project counts once); None for no limit.
    time_limit
        Seconds for all CP-SAT models together.
    workers
        CP-SAT search workers per model.
    progress
        Called as ``progress(fraction, message)`` as the work proceeds.
    costs
        Unit costs (:class:`ims_geo.programme.costs.CostTable` or a TOML path).
    cell_size
        Grid cell size in metres for ``max_parallel``.
    max_cluster
        Largest number of works in one combined project.
    weights
        Objective weights of the scheduler (default
        :class:`ims_geo.programme.schedule.Weights`: a moratorium violation
        of the plan fixed is worth 1.7 combined works, so a fix is given up
        only for a project that gains more; ``Weights(violation=1_000_000)``
        fixes first).
    hard_budgets
        Euros over a budget weigh more than anything combining can gain (the
        solver removes overruns first); otherwise each euro over costs
        :attr:`ims_geo.programme.schedule.Weights.budget_eur`. Either way no budget row
        ends further over than the plan has it.
    unbudgeted_years
        ``"frozen"`` (default): in a year without a budget row of its own, an
        organisation (budget line) with budget rows may not spend more than
        its plan does; ``"free"``: such years are unlimited.
    allow_new_clashes
        Let the proposal put two works in the street together that the plan
        does not (a trade for combined works or fixed violations); every such
        clash is reported as new. Off by default: no new clash.
    not_before
        No work is moved to start before this date (a work planned earlier
        may keep its planned date); None for no such limit. The CLI passes
        today.
    lock
        Works that keep their planned dates and join no project: a table (or
        CSV path) with ``org`` and ``work_id``; with a ``lock`` column only
        the rows marked true (true/yes/1/x); with a ``cluster_id`` column (an
        earlier proposal's works) a marked work locks every work of its
        project; with a ``proposed_start`` column (YYYY-MM-DD) a work keeps
        that start instead of its plan's, and the locked works of one earlier
        project stay one combined project at those dates. A CSV path, or an
        earlier proposal's ``.xlsx`` (sheet works) or ``.gpkg`` (layer
        works). A ``lock`` column of the works themselves locks works too.
    exclude
        Works left out of the programme (like cancelled ones: they neither
        move nor count), as a table or CSV path with ``org`` and ``work_id``.
    split
        How each project's savings are split between its members (the cost
        split rule of :mod:`ims_geo.cycle.adopt`: ``trench``, ``equal`` or
        ``cost``), as a table or CSV path (see :func:`load_split_rules`):
        rows ``project,rule`` (a project id of this proposal, or ``*`` for
        every project) and rows ``org,work_id,rule`` (the project of that
        work, whatever its id). None: ``trench`` for every project.

    Returns
    -------
    Proposal

    Raises
    ------
    InputError
        Invalid works, conflicts naming unknown works, bad budgets or costs,
        or bad parameters.

    Examples
    --------
    >>> proposal = propose(works, budgets="data/budgets.example.csv")  # doctest: +SKIP
    >>> proposal.kpis  # doctest: +SKIP
    """
    clock = time.perf_counter()
    tell = progress or (lambda fraction, message: None)
    rules = rules if rules is not None else Rules()
    costs = _as_costs(costs)
    _check_parameters(max_parallel, time_limit, workers, cell_size, max_cluster)
    if unbudgeted_years not in UNBUDGETED_YEARS:
        raise InputError(
            f"unbudgeted_years must be one of {', '.join(UNBUDGETED_YEARS)}, got {unbudgeted_years!r}"
        )
    floor = _not_before(not_before)
    split_table = load_split_rules(split) if split is not None else None
    original, frame = _check_works(works)
    budget_rows = _as_budgets(budgets)
    warnings: list[str] = []
    tell(0.0, "finding conflicts at the planned dates")
    if conflicts is None:
        conflicts = find_conflicts(frame, rules)
    elif "moratorium_id" in conflicts.columns:  # the moratoria layer's rows (see above)
        conflicts = conflicts[conflicts["moratorium_id"].isna().to_numpy()]
    keys = _keys(frame)
    ia, ib, kind, score = _pair_index(conflicts, keys, "conflicts")
    tell(0.05, "finding the pairs that could conflict within the windows")
    a = _Arrays.of(frame, rules, floor)
    a, reference, locked_projects = _held(a, frame, keys, lock, exclude, warnings)
    reach = find_conflicts(_window_works(frame, a), rules, internal=False)
    wa, wb, wkind, _ = _pair_index(reach, keys, "window conflicts")
    tell(0.15, "forming clusters")
    in_cluster = np.isin(kind, list(CLUSTER_KINDS))
    cluster, splits = _clusters(a, ia[in_cluster], ib[in_cluster], score[in_cluster], max_cluster)
    cand_work, cand_id, cand_offset = _candidates(
        a, ia[in_cluster], ib[in_cluster], cluster, max_cluster
    )
    # an earlier project kept by the lock: one more candidate, at its locked dates
    in_locked = np.zeros(len(cluster), bool)
    for members in locked_projects:
        next_id = int(cand_id.max()) + 1 if len(cand_id) else 0
        cand_work = np.r_[cand_work, members]
        cand_id = np.r_[cand_id, np.full(len(members), next_id, np.int64)]
        cand_offset = np.r_[cand_offset, reference[members] - reference[members].min()]
        in_locked[members] = True
    none = np.full(len(cluster), -1, np.int64)
    pair_kinds = np.isin(wkind, list(CLUSTER_KINDS))
    base_kinds = np.isin(kind, list(CLUSTER_KINDS))
    problem, cells, line_names = _problem(
        a, frame, np.r_[ia[base_kinds], wa[pair_kinds]], np.r_[ib[base_kinds], wb[pair_kinds]],
        none, np.zeros(len(none), np.int64), budget_rows, max_parallel, cell_size, warnings,
        unbudgeted_years,
    )  # fmt: skip
    problem = replace(
        problem, hard_budgets=hard_budgets, allow_new_clashes=allow_new_clashes,
        cand_work=cand_work, cand_id=cand_id, cand_offset=cand_offset,
        # the solution every model starts from and never makes worse: the plan,
        # locked works at their locked dates (a locked project's members may
        # only be combined, at those dates)
        start=reference, changeable=problem.changeable | (in_locked & a.active),
    )  # fmt: skip
    # the whole run keeps to the time limit: what comes after the solver (the
    # proposal's conflicts found again, the outputs) takes about as long as
    # finding the conflicts did
    before = time.perf_counter() - clock
    solver_limit = max(0.9 * time_limit - 1.3 * before, min(0.1 * time_limit, 1.0))
    result = sched.solve(
        problem,
        time_limit=solver_limit,
        workers=workers,
        weights=weights,
        progress=lambda f, m: tell(0.15 + 0.7 * f, m),
    )
    tell(0.85, "checking the proposal")
    start = result.start
    # the candidate project each work is executed in (the solver chose them)
    chosen = result.combined[cand_id] if len(cand_id) else np.zeros(0, bool)
    cluster = none.copy()
    cluster[cand_work[chosen]] = cand_id[chosen]
    executed = cluster >= 0
    _, order = _phases(a, cluster)
    offset = np.zeros(len(cluster), np.int64)
    offset[cand_work[chosen]] = cand_offset[chosen]
    _check_joint(cluster, offset, start, executed)
    proposed = frame.copy()
    proposed[S.START] = _dates(start)
    proposed[S.END] = _dates(start + a.duration)
    after = find_conflicts(proposed, rules, internal=False)
    pa, pb, pkind, _ = _pair_index(after, keys, "proposal conflicts")
    # an excavation that starts during a new surface's last days digs after pave
    kind = _dig_after_pave(a, ia, ib, kind, a.start)
    pkind = _dig_after_pave(a, pa, pb, pkind, start)
    ids = _cluster_ids(a, cluster, executed, start)
    out_works = _works_out(frame, original, start, a, ids, order, executed)
    out_works.insert(
        out_works.columns.get_loc(out_works.geometry.name),
        MOVE_REASON,
        pd.Series(
            _reasons(
                a, start, ids, ia, ib, kind, pa, pb, pkind,
                bool(len(problem.budget_org)) or max_parallel is not None,
            ),
            index=out_works.index, dtype="string",
        ).replace("", pd.NA),
    )  # fmt: skip
    relocked = (reference != a.start) & (start == reference)
    if relocked.any():
        out_works.loc[relocked, MOVE_REASON] = [
            f"moved {int(d):+d} days: kept at an earlier proposal's dates (lock)"
            for d in (start - a.start)[relocked]
        ]
    clusters = _clusters_out(frame, original, a, ids, start, executed, order, costs)
    split_rules = _split_rules(split_table, keys, ids, warnings)
    _cost_split(frame, out_works, clusters, ids, split_rules)
    coordinated = (ids[pa] != "") & (ids[pa] == ids[pb])
    kpis = _kpis(
        a, ia, ib, kind, pa, pb, pkind, coordinated, start, executed, ids, clusters, problem, result
    )
    infeasible = _infeasible(
        frame,
        a,
        problem,
        result,
        pa,
        pb,
        pkind,
        coordinated,
        splits,
        cells,
        kind,
        ia,
        ib,
        line_names,
        relocked=reference != a.start,
    )
    members = _members(frame, out_works, clusters)
    tell(1.0, "proposal ready")
    return Proposal(
        members=members,
        cost_split=_cost_split_table(members, clusters),
        works=out_works,
        clusters=clusters,
        kpis=kpis,
        solver=result.models,
        infeasible=infeasible,
        conflicts=after,
        baseline_conflicts=conflicts,
        warnings=warnings,
    )


# --- the programme as a Gantt chart ---------------------------------------------------


def gantt(proposal: Proposal) -> pd.DataFrame:
    """One row per work of a combined project, one column per month it spans.

    Columns: cluster_id, exec_order, org, work_id, title, proposed_start,
    proposed_end, then one column per calendar month ("2027-03", ...) from
    the first project's start to the last one's end, holding 1 where the work
    occupies the street in that month (empty otherwise). :func:`style_gantt`
    colours those cells in a spreadsheet.
    """
    w = proposal.works
    members = w[w[CLUSTER_ID].notna()].sort_values([CLUSTER_ID, EXEC_ORDER])
    head = [CLUSTER_ID, EXEC_ORDER, S.ORG, S.WORK_ID, S.TITLE, PROPOSED_START, PROPOSED_END]
    out = pd.DataFrame(members[[c for c in head if c in members.columns]]).reset_index(drop=True)
    if out.empty:
        return out
    first = out[PROPOSED_START].min().to_period("M")
    last = out[PROPOSED_END].max().to_period("M")
    months = pd.period_range(first, last, freq="M")
    begin = out[PROPOSED_START].dt.to_period("M").to_numpy()
    end = out[PROPOSED_END].dt.to_period("M").to_numpy()
    grid = {
        str(m): pd.array(np.where((begin <= m) & (end >= m), 1, pd.NA), dtype="Int64")
        for m in months
    }
    return pd.concat([out, pd.DataFrame(grid)], axis=1)


def style_gantt(path: str | Path, sheet: str = "gantt") -> None:
    """Colour the occupied months of the Gantt sheet of an ``.xlsx`` file (conditional format)."""
    from openpyxl import load_workbook
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = load_workbook(path)
    if sheet not in book.sheetnames:
        return
    ws = book[sheet]
    months = [
        cell.column
        for cell in ws[1]
        if isinstance(cell.value, str) and re.fullmatch(r"\d{4}-\d{2}", cell.value)
    ]
    first = min(months, default=0)
    if months and ws.max_row >= 2:
        cells = f"{get_column_letter(first)}2:{get_column_letter(ws.max_column)}{ws.max_row}"
        ws.conditional_formatting.add(
            cells,
            CellIsRule(
                operator="equal", formula=["1"],
                fill=PatternFill("solid", start_color="2F6FB3", end_color="2F6FB3"),
                font=Font(color="2F6FB3"),
            ),
        )  # fmt: skip
        for col in range(first, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(col)].width = 4
    book.save(path)


# --- comparing two proposals -------------------------------------------------------


def read_proposal(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The KPIs and the works of a proposal written by ``ims-geo propose``.

    ``.xlsx`` (sheets kpis, works), ``.gpkg`` (layers kpis, works) or ``.csv``
    (the works, with ``<stem>.kpis.csv`` next to it). Identifiers and other
    text keep their characters (a work id "007" stays "007"): the works of a
    ``.csv`` are read as text, those of a workbook as their cells' types.
    """
    where = Path(path)
    suffix = where.suffix.lower()
    try:
        if suffix == ".xlsx":
            kpis = pd.read_excel(where, sheet_name="kpis")
            # each cell as its type in the workbook: text stays text ("007")
            works = pd.read_excel(where, sheet_name="works", dtype=object).infer_objects()
        elif suffix == ".gpkg":
            kpis = pd.DataFrame(gpd.read_file(where, layer="kpis"))
            works = pd.DataFrame(gpd.read_file(where, layer="works"))
        elif suffix == ".csv":
            # every column as text (ids such as "007" keep their zeros), the
            # KPI figures as numbers again
            works = pd.read_csv(where, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            kpis = pd.read_csv(
                where.with_name(f"{where.stem}.kpis.csv"),
                dtype={"kpi": str},
                encoding="utf-8-sig",
            )
        else:
            raise InputError(f"{where}: a proposal is a .xlsx, .gpkg or .csv file")
    except FileNotFoundError as exc:
        raise InputError(f"{where}: file not found ({exc.filename})") from exc
    except (ValueError, OSError, KeyError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"{where}: not a proposal written by ims-geo propose (kpis and works): {exc}"
        ) from exc
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns] + [
        c for c in (S.ORG, S.WORK_ID, PROPOSED_START, CLUSTER_ID) if c not in works.columns
    ]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)} of a proposal")
    return kpis, works


def compare(first: str | Path, second: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two proposals side by side: their KPIs, and the works they treat differently.

    Returns
    -------
    tuple of pandas.DataFrame
        kpi, baseline, a, b, b_minus_a (one row per KPI of either); and
        org, work_id, proposed_start_a, proposed_start_b, cluster_id_a,
        cluster_id_b for every work whose proposed start or project differs.
    """
    ka, wa = read_proposal(first)
    kb, wb = read_proposal(second)
    kpis = ka[["kpi", "baseline", "proposal"]].merge(
        kb[["kpi", "proposal"]], on="kpi", how="outer", suffixes=("_a", "_b"), sort=False
    )
    kpis = kpis.rename(columns={"proposal_a": "a", "proposal_b": "b"})
    kpis["b_minus_a"] = kpis["b"] - kpis["a"]
    keep = [S.ORG, S.WORK_ID, PROPOSED_START, CLUSTER_ID]
    both = (
        wa[keep]
        .astype({S.ORG: str, S.WORK_ID: str})
        .merge(
            wb[keep].astype({S.ORG: str, S.WORK_ID: str}),
            on=[S.ORG, S.WORK_ID],
            how="outer",
            suffixes=("_a", "_b"),
        )
    )
    start_a = pd.to_datetime(both[f"{PROPOSED_START}_a"], errors="coerce")
    start_b = pd.to_datetime(both[f"{PROPOSED_START}_b"], errors="coerce")
    ca = both[f"{CLUSTER_ID}_a"].astype("string").fillna("")
    cb = both[f"{CLUSTER_ID}_b"].astype("string").fillna("")
    differ = (start_a != start_b).to_numpy(bool) | (ca != cb).to_numpy(bool)
    both[f"{PROPOSED_START}_a"], both[f"{PROPOSED_START}_b"] = start_a, start_b
    return kpis.reset_index(drop=True), both[differ].reset_index(drop=True)


# --- input -----------------------------------------------------------------------


def _check_parameters(
    max_parallel: int | None, time_limit: float, workers: int, cell_size: float, max_cluster: int
) -> None:
    if max_parallel is not None and (
        isinstance(max_parallel, bool)
        or not isinstance(max_parallel, int | np.integer)
        or max_parallel < 1
    ):
        raise InputError(
            f"max_parallel must be a whole number >= 1 (or None for no limit), got {max_parallel!r}"
        )
    if not isinstance(time_limit, int | float) or not math.isfinite(time_limit) or time_limit <= 0:
        raise InputError(f"time_limit must be a number of seconds > 0, got {time_limit!r}")
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise InputError(f"workers must be a whole number >= 1, got {workers!r}")
    if not isinstance(cell_size, int | float) or not math.isfinite(cell_size) or cell_size <= 0:
        raise InputError(f"cell_size must be a number of metres > 0, got {cell_size!r}")
    if (
        isinstance(max_cluster, bool)
        or not isinstance(max_cluster, int | np.integer)
        or max_cluster < 2
    ):
        raise InputError(f"max_cluster must be a whole number >= 2, got {max_cluster!r}")


def _as_costs(costs: CostTable | str | Path | None) -> CostTable:
    if costs is None:
        return CostTable()
    if isinstance(costs, CostTable):
        return costs
    if isinstance(costs, str | Path):
        return load_costs(costs)
    raise InputError(
        f"costs must be a CostTable or the path of a TOML file, got {type(costs).__name__}"
    )


def _as_budgets(budgets: pd.DataFrame | str | Path | None) -> pd.DataFrame:
    if budgets is None:
        return pd.DataFrame(
            {
                "org": pd.Series(dtype=str),
                "year": pd.Series(dtype="int64"),
                "budget_eur": pd.Series(dtype="float64"),
                BUDGET_LINE: pd.Series(dtype=str),
            }
        )
    if isinstance(budgets, str | Path):
        return load_budgets(budgets)
    if isinstance(budgets, pd.DataFrame):
        return check_budgets(budgets)
    raise InputError(
        f"budgets must be a DataFrame or the path of a CSV file, got {type(budgets).__name__}"
    )


def _check_works(works: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Validated works (input CRS) and the same works in a metric CRS."""
    if not isinstance(works, gpd.GeoDataFrame):
        raise InputError(f"works must be a GeoDataFrame, got {type(works).__name__}")
    missing = [c for c in S.REQUIRED if c not in works.columns]
    if missing:
        raise InputError(
            f"works: missing column(s) {', '.join(missing)}; planned works need "
            f"{', '.join(S.REQUIRED)} (see ims_geo.schema)"
        )
    if works.crs is None:
        raise InputError("works have no CRS; set one (e.g. works.set_crs('EPSG:28992')) first")
    checked = S.validate(works, source="works")
    if len(checked.rejected):
        rej = checked.rejected
        sample = "; ".join(
            f"row {r} ({o}:{w}): {why}"
            for r, o, w, why in zip(
                rej[S.SOURCE_ROW].head(5), rej.get(S.ORG, pd.Series([""] * len(rej))).head(5),
                rej.get(S.WORK_ID, pd.Series([""] * len(rej))).head(5), rej[S.REASON].head(5),
                strict=False,
            )
        )  # fmt: skip
        raise InputError(
            f"works: {len(rej)} invalid row(s), fix or drop them before proposing a programme: {sample}"
        )
    valid = checked.valid
    return valid, ensure_metric(valid)


def _keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame[S.ORG].astype(str) + "\x1f" + frame[S.WORK_ID].astype(str))


def _pair_index(
    conflicts: pd.DataFrame, keys: pd.Index, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of both works, kind and score of every conflict."""
    need = ("work_id_a", "org_a", "work_id_b", "org_b", "kind")
    missing = [c for c in need if c not in conflicts.columns]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; pass the output of "
            "ims_geo.conflicts.find_conflicts"
        )
    ka = conflicts["org_a"].astype(str) + "\x1f" + conflicts["work_id_a"].astype(str)
    kb = conflicts["org_b"].astype(str) + "\x1f" + conflicts["work_id_b"].astype(str)
    ia, ib = keys.get_indexer(ka), keys.get_indexer(kb)
    unknown = (ia < 0) | (ib < 0)
    if unknown.any():
        at = int(np.flatnonzero(unknown)[0])
        side = ka.iloc[at] if ia[at] < 0 else kb.iloc[at]
        raise InputError(
            f"{where}: {int(unknown.sum())} row(s) name works that are not in the works "
            f"(first: {side.replace(chr(31), ':')}); compute the conflicts from the same works"
        )
    kind = conflicts["kind"].astype(str).to_numpy()
    score = (
        pd.to_numeric(conflicts["score"], errors="coerce").fillna(0.0).to_numpy(float)
        if "score" in conflicts.columns
        else np.zeros(len(conflicts))
    )
    return ia.astype(np.int64), ib.astype(np.int64), kind, score


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype="datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[s]")


def _not_before(value: date | str | None) -> int | None:
    """Day number of ``not_before`` (a date or an ISO date text), None for none."""
    if value is None:
        return None
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not_before: '{value}' is not a date (use YYYY-MM-DD)") from exc
    if pd.isna(day):
        raise InputError(f"not_before: '{value}' is not a date (use YYYY-MM-DD)")
    return int(np.datetime64(day.date(), "D").astype(np.int64))


def _truthy(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip().str.lower().fillna("")
    return np.array(text.isin(["1", "true", "yes", "y", "x", "locked", "ja", "oui"]), dtype=bool)


def _read_table(table: pd.DataFrame | str | Path, what: str) -> tuple[pd.DataFrame, str]:
    """A lock or exclude table: a frame, or a CSV, ``.xlsx`` (sheet works) or ``.gpkg`` (layer works)."""
    if isinstance(table, pd.DataFrame):
        return table, what
    if not isinstance(table, str | Path):
        raise InputError(f"{what} must be a DataFrame or the path of a CSV, .xlsx or .gpkg file")
    where = str(table)
    suffix = Path(table).suffix.lower()
    try:
        if suffix == ".xlsx":
            sheets = pd.read_excel(table, sheet_name=None, dtype=str, keep_default_na=False)
            if not sheets:
                raise InputError(f"{where}: the workbook has no sheet")
            # an earlier proposal's workbook: its works sheet; otherwise the first sheet
            return sheets.get("works", next(iter(sheets.values()))), where
        if suffix == ".gpkg":
            frame = pd.DataFrame(gpd.read_file(table, layer="works"))
            return frame.drop(columns="geometry", errors="ignore").astype("string"), where
        return pd.read_csv(table, dtype=str, keep_default_na=False, encoding="utf-8-sig"), where
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(f"{where}: {what} file not found") from exc
    except (
        OSError, UnicodeDecodeError, ValueError, KeyError, pd.errors.ParserError,
        pd.errors.EmptyDataError,
    ) as exc:  # fmt: skip
        raise InputError(
            f"{where}: not a readable {what} table (CSV, or .xlsx / .gpkg with the works "
            f"of an earlier proposal): {exc}"
        ) from exc


@dataclass
class _Held:
    """What a lock or exclude table names: the works, their lock dates and projects."""

    chosen: np.ndarray
    #: Start day each chosen work is locked at (its earlier proposal's), -1 for its plan's.
    day: np.ndarray
    #: Earlier project of each chosen work ("" for none).
    project: np.ndarray


def _selection(
    table: pd.DataFrame | str | Path, keys: pd.Index, what: str, warnings: list[str]
) -> _Held:
    """Rows of the works a lock or exclude table names (org + work_id, or org + cluster_id)."""
    table, where = _read_table(table, what)
    cols = {str(c).strip().lower(): c for c in table.columns}
    if "org" not in cols or "work_id" not in cols:
        raise InputError(
            f"{where}: a {what} table needs the columns org and work_id (optional: {LOCK} to "
            f"mark rows, {CLUSTER_ID} to take a marked work's whole project, {PROPOSED_START} "
            "to keep an earlier proposal's dates)"
        )
    org = table[cols["org"]].astype(str).str.strip()
    wid = table[cols["work_id"]].astype(str).str.strip()
    rows = _truthy(table[cols[LOCK]]) if LOCK in cols else np.ones(len(table), bool)
    cid = (
        table[cols[CLUSTER_ID]].astype("string").str.strip().fillna("")
        if CLUSTER_ID in cols
        else pd.Series("", index=table.index, dtype="string")
    )
    if CLUSTER_ID in cols:
        # a marked member locks its whole project (every listed work of that cluster)
        marked = set(cid[rows & (cid != "").to_numpy(bool)])
        rows |= cid.isin(marked).to_numpy(bool) & (cid != "").to_numpy(bool)
    day = np.full(len(table), -1, np.int64)
    if PROPOSED_START in cols:
        text = table[cols[PROPOSED_START]].astype("string").str.strip().fillna("")
        when = pd.to_datetime(text.str.slice(0, 10), errors="coerce", format="%Y-%m-%d")
        bad = rows & (text != "").to_numpy(bool) & when.isna().to_numpy(bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{where}: {int(bad.sum())} row(s) with a {PROPOSED_START} that is not a date "
                f"(first: row {first + 2}, '{text.iloc[first]}'); write YYYY-MM-DD or leave it "
                "empty to keep the planned dates"
            )
        ok = when.notna().to_numpy(bool)
        day[ok] = when[ok].to_numpy(dtype="datetime64[D]").astype(np.int64)
    at = keys.get_indexer(org[rows] + "\x1f" + wid[rows])
    unknown = (org[rows] + ":" + wid[rows])[at < 0].tolist()
    if unknown:
        warnings.append(
            f"{what}: {len(unknown)} listed work(s) not among the works, ignored: "
            + _list(unknown, 10)
        )
    chosen = np.zeros(len(keys), bool)
    found = at >= 0
    chosen[at[found]] = True
    out_day = np.full(len(keys), -1, np.int64)
    out_day[at[found]] = day[rows][found]
    project = np.full(len(keys), "", dtype=object)
    project[at[found]] = cid[rows].to_numpy(dtype=object)[found]
    return _Held(chosen, out_day, project)


def _held(
    a: _Arrays,
    frame: gpd.GeoDataFrame,
    keys: pd.Index,
    lock: pd.DataFrame | str | Path | None,
    exclude: pd.DataFrame | str | Path | None,
    warnings: list[str],
) -> tuple[_Arrays, np.ndarray, list[np.ndarray]]:
    """``a`` with locked works fixed and excluded works out, the reference starts, locked projects.

    A locked work keeps its planned dates, or the proposed start the lock
    table gives it (an earlier proposal's works); the reference starts are the
    planned ones with the locked works at their locked dates (the solution
    the proposal starts from and never makes worse). A locked project is the
    locked works of one earlier project (2 or more, each with its locked date),
    kept together as one combined project.
    """
    n = len(keys)
    locked = _truthy(frame[LOCK]) if LOCK in frame.columns else np.zeros(n, bool)
    day = np.full(n, -1, np.int64)
    project = np.full(n, "", dtype=object)
    if lock is not None:
        held = _selection(lock, keys, "lock", warnings)
        locked = locked | held.chosen
        day, project = held.day, held.project
    out = np.zeros(n, bool)
    if exclude is not None:
        out = _selection(exclude, keys, "exclude", warnings).chosen
    if not (locked.any() or out.any()):
        return a, a.start, []
    # only a work that may move is held at an earlier proposal's date
    dated = locked & ~out & a.changeable & a.active & (day >= 0)
    reference = np.where(dated, day, a.start)
    fixed = locked | out
    projects: list[np.ndarray] = []
    named = dated & (project != "")
    if named.any():
        groups = pd.Series(np.flatnonzero(named)).groupby(project[named]).agg(list)
        projects = [np.asarray(g, np.int64) for g in groups.tolist() if len(g) >= 2]
    moved = int((dated & (day != a.start)).sum())
    if moved:
        warnings.append(
            f"lock: {moved} work(s) kept at an earlier proposal's dates instead of their plan's"
        )
    return (
        replace(
            a,
            changeable=a.changeable & ~fixed,
            lo=np.where(fixed, reference, a.lo),
            hi=np.where(fixed, reference, a.hi),
            active=a.active & ~out,
        ),
        reference,
        projects,
    )


def _dig_after_pave(
    a: _Arrays, ia: np.ndarray, ib: np.ndarray, kind: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Kinds with every clash in which an excavation starts after a sealing started as moratorium.

    The conflict engine calls a pair whose periods share a day a clash; an
    excavation that starts on a new surface's last days still digs it up,
    so the proposal counts it as a moratorium violation (see
    :func:`ims_geo.programme.schedule.pair_state`), never as a violation fixed.
    """
    kind = np.asarray(kind, dtype=object).copy()
    clash = np.flatnonzero(kind == "clash")
    x, y = ia[clash], ib[clash]
    dig = (a.seals[x] & a.excavates[y] & (start[y] > start[x])) | (
        a.seals[y] & a.excavates[x] & (start[x] > start[y])
    )
    kind[clash[dig]] = "moratorium"
    return kind


@dataclass(frozen=True)
class _Arrays:
    """Per-work arrays the proposal is computed from."""

    start: np.ndarray
    duration: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    changeable: np.ndarray
    active: np.ndarray
    seals: np.ndarray
    excavates: np.ndarray
    group: np.ndarray  # 0 excavation/subsurface, 1 other surface work, 2 sealing
    depth: np.ndarray
    depth_rank: np.ndarray
    label: np.ndarray  # "org:work_id"
    org: np.ndarray
    moratorium_days: int
    #: Rank of every work in the execution order rule (group, deepest first, discipline, label).
    chain_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def of(cls, frame: gpd.GeoDataFrame, rules: Rules, floor: int | None = None) -> _Arrays:
        """The arrays of ``frame``; no work moves to start before day ``floor``."""
        start, end = _days(frame[S.START]), _days(frame[S.END])
        duration = end - start
        status = frame[S.STATUS].astype(str).to_numpy()
        changeable = np.isin(status, list(S.CHANGEABLE_STATUSES))
        seals = S.seals_surface(frame)
        excavates = S.excavates(frame)
        subsurface = (frame[S.LAYER].astype(str) == "subsurface").to_numpy()
        group = np.where(seals, 2, np.where(excavates | subsurface, 0, 1))
        discipline = frame[S.DISCIPLINE].astype(str)
        typical = discipline.map(TYPICAL_DEPTH_M).fillna(OTHER_DEPTH_M).to_numpy(float)
        depth = frame[S.DEPTH_MAX].to_numpy(dtype=float, na_value=np.nan)
        depth = np.where(np.isnan(depth), typical, depth)
        rank = discipline.map({d: i for i, d in enumerate(S.DEPTH_ORDER)}).fillna(
            len(S.DEPTH_ORDER)
        )
        made = cls(
            start=start,
            duration=duration,
            lo=np.where(
                changeable,
                _days(frame[S.EARLIEST])
                if floor is None
                else np.maximum(_days(frame[S.EARLIEST]), np.minimum(floor, start)),
                start,
            ),
            hi=np.where(changeable, _days(frame[S.LATEST]) - duration, start),
            changeable=changeable,
            active=status != "cancelled",
            seals=seals,
            excavates=excavates,
            group=group,
            depth=np.where(group == 0, depth, 0.0),
            depth_rank=rank.to_numpy(np.int64),
            label=(frame[S.ORG].astype(str) + ":" + frame[S.WORK_ID].astype(str)).to_numpy(object),
            org=frame[S.ORG].astype(str).to_numpy(object),
            moratorium_days=int(math.floor(rules.moratorium_days)),
        )
        order = np.lexsort((made.label, made.depth_rank, -made.depth, made.group))
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return replace(made, chain_rank=rank)


def _window_works(frame: gpd.GeoDataFrame, a: _Arrays) -> gpd.GeoDataFrame:
    """Works stretched over their whole windows: every pair that could conflict in them meets."""
    out = frame.copy()
    out[S.START] = _dates(a.lo)
    out[S.END] = _dates(a.hi + a.duration)
    return out


# --- clusters ----------------------------------------------------------------------


def member_offsets(a: _Arrays, work: np.ndarray, cid: np.ndarray) -> np.ndarray:
    """Start offset of every member (``work``) in its project's (``cid``) joint period.

    The trench works (group 0), deepest first, are staggered: the first
    starts on the joint start; each next one starts with the one before it,
    or later so that it ends no earlier than that one ends (it is laid above
    it: in overlap where its duration allows, after it where it is short).
    Other surface works start on the joint start. The sealing works start
    the day after the last of these ends (on the joint start when there is
    none).
    """
    work = np.asarray(work, np.int64)
    cid = np.asarray(cid, np.int64)
    if not len(work):
        return np.zeros(0, np.int64)
    trench = a.group[work] == 0
    order = np.lexsort((a.label[work], a.depth_rank[work], -a.depth[work], a.group[work], cid))
    c_s, t_s, d_s = cid[order], trench[order], a.duration[work[order]]
    chained = np.r_[False, (c_s[1:] == c_s[:-1]) & t_s[1:] & t_s[:-1]]
    step = np.where(chained, np.maximum(0, np.r_[0, d_s[:-1]] - d_s), 0)
    off_s = np.where(t_s, pd.Series(step).groupby(c_s).cumsum().to_numpy(), 0)
    offset = np.zeros(len(work), np.int64)
    offset[order] = off_s
    sealing = a.group[work] == 2
    ends = pd.Series(np.where(sealing, -1, offset + a.duration[work])).groupby(cid).max()
    last = ends.reindex(cid).to_numpy()
    return np.where(sealing & (last >= 0), last + 1, offset).astype(np.int64)


def _windows(
    a: _Arrays, work: np.ndarray, cid: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest joint start of the sets ``0..k-1`` given in long form.

    ``work`` and ``cid`` hold one row per member, each set's rows together;
    a set has a joint period when its lowest start is not above its highest.
    """
    if not len(work):
        return np.zeros(k, np.int64), np.zeros(k, np.int64)
    off = member_offsets(a, work, cid)
    at = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
    return (
        np.maximum.reduceat(a.lo[work] - off, at),
        np.minimum.reduceat(a.hi[work] - off, at),
    )


class _Window:
    """Lowest and highest joint start of one set of works at a time (empty when low > high).

    The rule of :func:`member_offsets` for one set in plain Python: the greedy
    split tries thousands of sets of a few works one after the other, where
    numpy's cost per call would dominate (:func:`_windows` checks many sets
    at once).
    """

    def __init__(self, a: _Arrays) -> None:
        self.rank = a.chain_rank.tolist()
        self.group = a.group.tolist()
        self.duration = a.duration.tolist()
        self.lo, self.hi = a.lo.tolist(), a.hi.tolist()

    def __call__(self, members: Iterable[int]) -> tuple[int, int]:
        group, duration = self.group, self.duration
        ms = sorted(members, key=self.rank.__getitem__)
        off: list[int] = []
        at, before = 0, -1  # the trench works come first, deepest first
        for i in ms:
            if group[i] == 0:
                if before >= 0:
                    at += max(0, before - duration[i])
                before = duration[i]
                off.append(at)
            else:
                off.append(0)
        ends = [o + duration[i] for i, o in zip(ms, off, strict=True) if group[i] != 2]
        if ends:
            last = max(ends) + 1
            off = [last if group[i] == 2 else o for i, o in zip(ms, off, strict=True)]
        return (
            max(self.lo[i] - o for i, o in zip(ms, off, strict=True)),
            min(self.hi[i] - o for i, o in zip(ms, off, strict=True)),
        )


def _clusters(
    a: _Arrays, ia: np.ndarray, ib: np.ndarray, score: np.ndarray, cap: int
) -> tuple[np.ndarray, list[dict]]:
    """Candidate cluster of every work (-1 for none) and the splits made."""
    n = len(a.start)
    keep = (ia != ib) & a.changeable[ia] & a.changeable[ib] & a.active[ia] & a.active[ib]
    ia, ib, score = ia[keep], ib[keep], score[keep]
    label = sched.components(n, ia, ib)
    linked = np.zeros(n, bool)
    linked[ia] = linked[ib] = True
    frame = pd.DataFrame({"comp": label, "lo": a.lo, "hi": a.hi})[linked]
    idx = frame.index.to_numpy()
    off = member_offsets(a, idx, label[idx])
    frame["lo_s"], frame["hi_s"] = frame["lo"] - off, frame["hi"] - off
    g = frame.groupby("comp")
    fits = (g["lo_s"].max() <= g["hi_s"].min()) & (g.size() <= cap)
    cluster = np.full(n, -1, np.int64)
    ok = frame.index[frame["comp"].map(fits).to_numpy(bool)].to_numpy()
    cluster[ok] = label[ok]
    splits: list[dict] = []
    bad = fits.index[~fits.to_numpy()]
    if len(bad):
        # neighbours within each component, strongest conflict first
        edges = pd.DataFrame({"u": np.r_[ia, ib], "v": np.r_[ib, ia], "score": np.r_[score, score]})
        edges = edges[np.isin(label[edges["u"].to_numpy()], bad)].sort_values(
            ["u", "score", "v"], ascending=[True, False, True]
        )
        u_, v_, key = (edges[k].to_numpy() for k in ("u", "v", "score"))
        cuts = np.flatnonzero(np.r_[True, u_[1:] != u_[:-1], True]) if len(u_) else np.zeros(1)
        neighbours = {
            int(u_[lo]): list(zip((-key[lo:hi]).tolist(), v_[lo:hi].tolist(), strict=True))
            for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)
        }
        members = frame[frame["comp"].isin(bad)].groupby("comp").groups
        window = _Window(a)
        for comp in bad.tolist():
            idx = np.asarray(members[comp])
            subs = _split(idx, neighbours, a, cap, window)
            for sub in subs:
                cluster[sub] = sub[0]
            left = sorted(set(idx.tolist()) - {i for sub in subs for i in sub})
            splits.append({"members": idx, "parts": len(subs), "alone": np.asarray(left, np.int64)})
    codes, _ = pd.factorize(cluster[cluster >= 0], sort=True)
    out = np.full(n, -1, np.int64)
    out[cluster >= 0] = codes
    return out, splits


def _split(
    members: np.ndarray, neighbours: dict, a: _Arrays, cap: int, window: _Window
) -> list[list[int]]:
    """Greedy split of one component into connected sub-clusters with a joint period."""
    sealing = a.group == 2
    degree = {int(i): len(neighbours.get(int(i), ())) for i in members}
    seeds = sorted((int(i) for i in members), key=lambda i: (not sealing[i], -degree[i], i))
    free = set(degree)
    parts: list[list[int]] = []
    for seed in seeds:
        if seed not in free:
            continue
        part = [seed]
        free.discard(seed)
        heap = [item for item in neighbours.get(seed, ()) if item[1] in free]
        heapq.heapify(heap)
        while heap and len(part) < cap:
            _, j = heapq.heappop(heap)
            if j not in free:
                continue
            low, high = window([*part, j])
            if low > high:
                continue
            part.append(j)
            free.discard(j)
            for item in neighbours.get(j, ()):
                if item[1] in free:
                    heapq.heappush(heap, item)
        if len(part) >= 2:
            parts.append(part)
        else:
            free.add(seed)
    return parts


def _candidates(
    a: _Arrays, ia: np.ndarray, ib: np.ndarray, greedy: np.ndarray, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate projects the solver chooses from, in long form (work, candidate, offset).

    Per connected component of the links (conflicts between changeable
    works): with at most :data:`ENUMERATE_WORKS` works, every connected set of
    2 to ``cap`` works with a joint period (so the solver's choice is the
    optimum over every possible project); larger components: every linked
    pair with a joint period and the greedy clusters (:func:`_clusters`).
    Offsets follow the phase rule of each candidate (:func:`_phases`).
    """
    n = len(a.start)
    keep = (ia != ib) & a.changeable[ia] & a.changeable[ib] & a.active[ia] & a.active[ib]
    ia, ib = np.minimum(ia[keep], ib[keep]), np.maximum(ia[keep], ib[keep])
    if len(ia):
        uniq = np.unique(np.c_[ia, ib], axis=0)
        ia, ib = uniq[:, 0], uniq[:, 1]
    label = sched.components(n, ia, ib)
    sets: list[tuple[int, ...]] = []

    def fitting(trial: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """The sets of ``trial`` with a joint period (all checked at once)."""
        if not trial:
            return []
        work = np.fromiter(chain.from_iterable(trial), np.int64)
        cid = np.repeat(np.arange(len(trial)), [len(g) for g in trial])
        low, high = _windows(a, work, cid, len(trial))
        return list(compress(trial, (low <= high).tolist()))

    linked = np.zeros(n, bool)
    linked[ia] = linked[ib] = True
    comp_size = np.zeros(n, np.int64)
    np.add.at(comp_size, label[linked], 1)
    small = comp_size[label] <= ENUMERATE_WORKS
    # small components: every connected set
    edges_small = small[ia]
    neighbours: dict[int, set[int]] = {}
    for u, v in zip(ia[edges_small].tolist(), ib[edges_small].tolist(), strict=True):
        neighbours.setdefault(u, set()).add(v)
        neighbours.setdefault(v, set()).add(u)
    for root in sorted(neighbours):
        # connected sets whose smallest work is ``root``
        frontier: set[tuple[int, ...]] = {(root,)}
        while frontier:
            grown: set[tuple[int, ...]] = set()
            for part in frontier:
                if len(part) >= cap:
                    continue
                reach = set().union(*(neighbours[i] for i in part)) - set(part)
                for j in reach:
                    if j > root:
                        grown.add(tuple(sorted((*part, j))))
            sets.extend(fitting(sorted(grown)))
            frontier = grown
    # large components: linked pairs and the greedy clusters
    big = ~small[ia]
    pairs = np.c_[ia[big], ib[big]]
    low, high = _windows(a, pairs.ravel(), np.repeat(np.arange(len(pairs)), 2), len(pairs))
    sets.extend(map(tuple, pairs[low <= high].tolist()))
    member = np.flatnonzero((greedy >= 0) & ~small)
    if len(member):
        order = member[np.argsort(greedy[member], kind="stable")]
        cuts = np.flatnonzero(np.r_[True, greedy[order][1:] != greedy[order][:-1], True])
        for k in range(len(cuts) - 1):
            group = tuple(sorted(order[cuts[k] : cuts[k + 1]].tolist()))
            if len(group) > 2:  # pairs are in already
                sets.append(group)
    sets = sorted(set(sets))
    if not sets:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), empty.copy()
    work = np.fromiter((i for g in sets for i in g), np.int64)
    cid = np.repeat(np.arange(len(sets)), [len(g) for g in sets])
    return work, cid.astype(np.int64), member_offsets(a, work, cid)


def _phases(a: _Arrays, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offset in the joint period and execution order of every cluster member."""
    n = len(a.start)
    member = np.flatnonzero(cluster >= 0)
    offset = np.zeros(n, np.int64)
    order = np.zeros(n, np.int64)
    if not len(member):
        return offset, order
    offset[member] = member_offsets(a, member, cluster[member])
    keys = np.lexsort(
        (a.label[member], a.depth_rank[member], -a.depth[member], a.group[member], cluster[member])
    )
    ranked = member[keys]
    first = np.r_[True, cluster[ranked][1:] != cluster[ranked][:-1]]
    pos = np.arange(len(ranked))
    order[ranked] = pos - np.maximum.accumulate(np.where(first, pos, 0)) + 1
    return offset, order


# --- the scheduling problem ----------------------------------------------------------


def _problem(
    a: _Arrays,
    frame: gpd.GeoDataFrame,
    pa: np.ndarray,
    pb: np.ndarray,
    cluster: np.ndarray,
    offset: np.ndarray,
    budgets: pd.DataFrame,
    max_parallel: int | None,
    cell_size: float,
    warnings: list[str],
    unbudgeted_years: str = "frozen",
) -> tuple[sched.Problem, np.ndarray, np.ndarray]:
    line, line_names, budgets = _budget_lines(a, frame, budgets, unbudgeted_years, warnings)
    cost = frame[S.COST].to_numpy(dtype=float, na_value=np.nan)
    cost = np.where(np.isfinite(cost), np.round(cost), 0).astype(np.int64)
    centroid = shapely.centroid(frame.geometry.to_numpy())
    x, y = shapely.get_x(centroid), shapely.get_y(centroid)
    ix, iy = np.floor(x / cell_size), np.floor(y / cell_size)
    cell_codes, cell_keys = pd.factorize(
        pd.Series(list(zip(ix.tolist(), iy.tolist(), strict=True)))
    )
    cells = np.asarray(
        [f"E{cx * cell_size:.0f} N{cy * cell_size:.0f} ({cell_size:g} m)" for cx, cy in cell_keys],
        dtype=object,
    )
    cell = np.where(a.active & np.isfinite(x), cell_codes, -1)
    b_org = budgets["line"].to_numpy(np.int64)
    rows = b_org >= 0
    problem = sched.Problem(
        start=a.start,
        duration=a.duration,
        lo=a.lo,
        hi=a.hi,
        changeable=a.changeable & a.active,
        seals=a.seals,
        excavates=a.excavates,
        active=a.active,
        pair_a=pa,
        pair_b=pb,
        cluster=cluster,
        offset=offset,
        org=line.astype(np.int64),
        cost=np.where(a.active, cost, 0),
        cell=cell.astype(np.int64),
        budget_org=b_org[rows].astype(np.int64),
        budget_year=budgets["year"].to_numpy(np.int64)[rows],
        budget_eur=np.floor(budgets["budget_eur"].to_numpy(float)[rows]).astype(np.int64),
        budget_frozen=budgets["frozen"].to_numpy(bool)[rows],
        moratorium_days=a.moratorium_days,
        max_parallel=max_parallel,
        x=x,
        y=y,
    )
    return problem, cells, line_names


def _budget_lines(
    a: _Arrays,
    frame: gpd.GeoDataFrame,
    budgets: pd.DataFrame,
    unbudgeted_years: str,
    warnings: list[str],
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Budget line of every work, the lines' names, and the budget rows by line.

    A work books on (org, funding) when its organisation has budget rows for
    that funding, otherwise on (org, ""). With ``unbudgeted_years ==
    "frozen"``, every year a line's works could touch that has no row of its
    own gets a frozen row (the plan's spending is its cap).
    """
    funding = (
        frame[S.FUNDING].astype("string").str.strip().fillna("").astype(str).to_numpy(object)
        if S.FUNDING in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    lines_with_rows = set(
        zip(budgets["org"].astype(str), budgets[BUDGET_LINE].astype(str), strict=True)
    )
    pairs = list(zip(a.org.tolist(), funding.tolist(), strict=True))
    own = np.asarray([(o, f) in lines_with_rows and f != "" for o, f in pairs], dtype=bool)
    work_line = pd.Series(
        [f"{o}\x1f{f}" if k else f"{o}\x1f" for (o, f), k in zip(pairs, own, strict=True)],
        dtype=str,
    )
    row_line = budgets["org"].astype(str) + "\x1f" + budgets[BUDGET_LINE].astype(str)
    codes, names = pd.factorize(pd.concat([work_line, row_line], ignore_index=True))
    line = codes[: len(work_line)]
    rows = budgets.assign(line=codes[len(work_line) :], frozen=False)
    used_lines = set(line.tolist())
    unknown_org = sorted(set(budgets["org"]) - set(a.org.tolist()))
    if unknown_org:
        warnings.append(
            f"budgets name organisations without works, ignored: {', '.join(unknown_org)}"
        )
    unused = rows[~rows["line"].isin(used_lines) & rows["org"].isin(set(a.org.tolist()))]
    for o, f in sorted(set(zip(unused["org"], unused[BUDGET_LINE], strict=True))):
        warnings.append(f"budget line '{f}' of {o} matches no work's funding, ignored")
    rows.loc[~rows["line"].isin(used_lines), "line"] = -1
    if unbudgeted_years == "frozen" and len(rows):
        budgeted = rows.loc[rows["line"] >= 0, "line"].unique()
        mine = np.isin(line, budgeted) & a.active
        if mine.any():
            first = sched.day_year(a.lo[mine])
            last = sched.day_year(a.hi[mine] + a.duration[mine])
            span = (
                pd.DataFrame({"line": line[mine], "first": first, "last": last})
                .groupby("line")
                .agg(first=("first", "min"), last=("last", "max"))
            )
            have = set(zip(rows["line"].tolist(), rows["year"].tolist(), strict=True))
            extra = [
                (ln, y)
                for ln, f0, f1 in zip(
                    span.index.tolist(), span["first"].tolist(), span["last"].tolist(), strict=True
                )
                for y in range(f0, f1 + 1)
                if (ln, y) not in have
            ]
            if extra:
                frozen = pd.DataFrame(
                    {
                        "org": [names[ln].split("\x1f")[0] for ln, _ in extra],
                        "year": np.asarray([y for _, y in extra], np.int64),
                        "budget_eur": 0.0,
                        BUDGET_LINE: [names[ln].split("\x1f")[1] for ln, _ in extra],
                        "line": np.asarray([ln for ln, _ in extra], np.int64),
                        "frozen": True,
                    }
                )
                rows = pd.concat([rows, frozen], ignore_index=True)
    label = np.asarray(
        [n.replace("\x1f", " / ") if not n.endswith("\x1f") else n[:-1] for n in names],
        dtype=object,
    )
    return line, label, rows


def _check_joint(
    cluster: np.ndarray, offset: np.ndarray, start: np.ndarray, executed: np.ndarray
) -> None:
    """Every executed cluster really follows its joint period (members at S + offset)."""
    idx = np.flatnonzero(executed)
    if not len(idx):
        return
    joint = pd.Series(start[idx] - offset[idx]).groupby(cluster[idx]).nunique()
    if (joint > 1).any():
        raise ScheduleError(
            f"cluster {int(joint.index[joint > 1][0])} is marked combined but its members do not "
            "share a joint period; this is a defect in the scheduler"
        )


# --- output ---------------------------------------------------------------------------


def _cluster_ids(
    a: _Arrays, cluster: np.ndarray, executed: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Cluster id ("C001", ...) of every work in an executed cluster, "" otherwise."""
    ids = np.full(len(cluster), "", dtype=object)
    idx = np.flatnonzero(executed)
    if not len(idx):
        return ids
    first = (
        pd.DataFrame({"c": cluster[idx], "start": start[idx], "label": a.label[idx]})
        .groupby("c")
        .agg(start=("start", "min"), label=("label", "min"))
    )
    first = first.sort_values(["start", "label"])
    width = max(3, len(str(len(first))))
    names = {c: f"C{k + 1:0{width}d}" for k, c in enumerate(first.index.tolist())}
    ids[idx] = [names[c] for c in cluster[idx].tolist()]
    return ids


def _works_out(
    frame: gpd.GeoDataFrame,
    original: gpd.GeoDataFrame,
    start: np.ndarray,
    a: _Arrays,
    ids: np.ndarray,
    order: np.ndarray,
    executed: np.ndarray,
) -> gpd.GeoDataFrame:
    out = original.copy()
    geometry = out.geometry.name
    out[PROPOSED_START] = _dates(start)
    out[PROPOSED_END] = _dates(start + a.duration)
    out[CLUSTER_ID] = pd.Series(ids, index=out.index, dtype="str").replace("", pd.NA)
    out[EXEC_ORDER] = pd.Series(order, index=out.index, dtype="Int64").where(executed)
    out[SHIFT_DAYS] = (start - a.start).astype(np.int64)
    columns = [c for c in out.columns if c != geometry] + [geometry]
    return out[columns]


def _line_parts(geoms: np.ndarray) -> np.ndarray:
    kinds = shapely.get_type_id(geoms)
    return np.isin(kinds, (1, 5))  # LineString, MultiLineString


def _overlaps(
    frame: gpd.GeoDataFrame, i: np.ndarray, j: np.ndarray, costs: CostTable
) -> tuple[np.ndarray, np.ndarray]:
    """Metres of line ``i`` within the share distance of ``j``, and the trench area that is."""
    geoms = frame.geometry.to_numpy()
    if not len(i):
        return np.zeros(0), np.zeros(0)
    part = shapely.intersection(geoms[i], shapely.buffer(geoms[j], costs.share_distance_m))
    line = _line_parts(geoms[i])
    polygon = np.isin(shapely.get_type_id(geoms[i]), (3, 6))
    length = np.where(line, shapely.length(part), 0.0)
    area = np.where(line, length * costs.trench_width_m, np.where(polygon, shapely.area(part), 0.0))
    return length, area


def _clusters_out(
    frame: gpd.GeoDataFrame,
    original: gpd.GeoDataFrame,
    a: _Arrays,
    ids: np.ndarray,
    start: np.ndarray,
    executed: np.ndarray,
    order: np.ndarray,
    costs: CostTable,
) -> gpd.GeoDataFrame:
    idx = np.flatnonzero(executed)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in CLUSTER_COLUMNS})
    if not len(idx):
        return gpd.GeoDataFrame(
            empty, geometry=gpd.GeoSeries([], crs=original.crs), crs=original.crs
        )
    trench = a.excavates & (a.group != 2)
    members = pd.DataFrame({"i": idx, "c": ids[idx], "order": order[idx]})
    pairs = members.merge(members, on="c", suffixes=("", "_o"))
    pairs = pairs[pairs["i"] != pairs["i_o"]]
    pi, po = pairs["i"].to_numpy(), pairs["i_o"].to_numpy()
    # shared trench: a trench work and an earlier trench work of its cluster
    shared = trench[pi] & trench[po] & (pairs["order_o"].to_numpy() < pairs["order"].to_numpy())
    length, area = _overlaps(frame, pi[shared], po[shared], costs)
    trench_len = pd.Series(length).groupby(pi[shared]).max()
    trench_area = pd.Series(area).groupby(pi[shared]).max()
    # trench under a sealing work of its cluster
    under = trench[pi] & (a.group[po] == 2)
    _, under_area = _overlaps(frame, pi[under], po[under], costs)
    sealed_area = pd.Series(under_area).groupby(pi[under]).max()
    per = members.set_index("i")
    per["shared_m"] = trench_len.reindex(per.index).fillna(0.0)
    has_seal = pd.Series(a.group[idx] == 2).groupby(ids[idx]).any()
    with_seal = per["c"].map(has_seal).to_numpy(bool)
    avoided = np.where(
        with_seal,
        sealed_area.reindex(per.index).fillna(0.0).to_numpy(),
        trench_area.reindex(per.index).fillna(0.0).to_numpy(),
    )
    per["avoided_m2"] = np.where(trench[per.index.to_numpy()], avoided, 0.0)
    per["avoided_n"] = (per["avoided_m2"] > 0).astype(np.int64)
    per["days"] = a.duration[per.index.to_numpy()] + 1
    per["start"] = start[per.index.to_numpy()]
    per["end"] = start[per.index.to_numpy()] + a.duration[per.index.to_numpy()]
    per["label"] = a.label[per.index.to_numpy()]
    per["org"] = a.org[per.index.to_numpy()]
    titles = (
        frame[S.TITLE].astype("string").fillna("").to_numpy(object)
        if S.TITLE in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    per["titled"] = [
        f"{lab} ({t})" if t else lab
        for lab, t in zip(per["label"], titles[per.index.to_numpy()], strict=True)
    ]
    # a member shares the site (traffic management, set-up) only with a member
    # within the share distance of it; members elsewhere in the project save neither
    geoms = frame.geometry.to_numpy()
    near = shapely.dwithin(geoms[pi], geoms[po], costs.share_distance_m)
    sharing = np.zeros(len(a.start), bool)
    sharing[pi[near]] = True
    per["shares"] = sharing[per.index.to_numpy()]
    per = per.sort_values(["c", "order"])
    g = per.groupby("c", sort=True)
    out = pd.DataFrame(
        {
            "members": g["label"].agg("; ".join),
            "n_works": g.size().astype(np.int64),
            "orgs": g["org"].agg(lambda s: "; ".join(sorted(set(s)))),
            "joint_start": _dates(g["start"].min().to_numpy()),
            "joint_end": _dates(g["end"].max().to_numpy()),
            "trench_m": g["shared_m"].sum().round(1),
            "resurfacing_avoided_m2": g["avoided_m2"].sum().round(1),
            "resurfacing_avoided_n": g["avoided_n"].sum().astype(np.int64),
        }
    )
    site = per[per["shares"]].groupby("c")
    n_site = site.size().reindex(out.index).fillna(0).astype(np.int64)
    span = (site["end"].max() - site["start"].min() + 1).reindex(out.index).fillna(0)
    days = site["days"].sum().reindex(out.index).fillna(0)
    out["disruption_days_saved"] = np.where(n_site >= 2, days - span, 0).astype(np.int64)
    setups = np.maximum(n_site - 1, 0)
    parts = {
        "trench": out["trench_m"] * costs.trench_eur_per_m,
        "reinstatement": out["resurfacing_avoided_m2"] * costs.reinstatement_eur_per_m2,
        "traffic": out["disruption_days_saved"] * costs.traffic_management_eur_per_day,
        "setup": setups * costs.site_setup_eur,
    }
    out["savings_eur"] = sum(parts.values()).round(0)
    out["savings_explained"] = [
        "; ".join(
            text
            for text, amount in (
                (f"{m:,.0f} m of trench shared (EUR {t:,.0f})", m),
                (f"{r:,.0f} m² of reinstatement avoided (EUR {e:,.0f})", r),
                (f"{d:,} traffic-management days saved (EUR {f:,.0f})", d),
                (f"{k} site set-up(s) saved (EUR {u:,.0f})", k),
            )
            if amount > 0
        )
        or "nothing shared on site: the members only share the period"
        for m, t, r, e, d, f, k, u in zip(
            out["trench_m"], parts["trench"], out["resurfacing_avoided_m2"],
            parts["reinstatement"], out["disruption_days_saved"], parts["traffic"], setups,
            parts["setup"], strict=True,
        )
    ]  # fmt: skip
    out["member_titles"] = g["titled"].agg("; ".join)
    hulls = (
        gpd.GeoSeries(original.geometry.to_numpy()[per.index.to_numpy()], crs=original.crs)
        .groupby(per["c"].to_numpy())
        .agg(lambda s: shapely.convex_hull(shapely.union_all(s.to_numpy())))
    )
    out = out.rename_axis(CLUSTER_ID).reset_index()
    return gpd.GeoDataFrame(
        out,
        geometry=gpd.GeoSeries(hulls.reindex(out[CLUSTER_ID]).to_numpy(), crs=original.crs),
        crs=original.crs,
    )


def _cost_split(
    frame: gpd.GeoDataFrame,
    works: gpd.GeoDataFrame,
    clusters: gpd.GeoDataFrame,
    ids: np.ndarray,
    split_rules: dict[str, str] | None = None,
) -> None:
    """Each member's share of its project's cost (``cost_share_eur``) and the rule (``split_rule``).

    One rule for proposals and adopted programmes: the planning cycle's
    (:mod:`ims_geo.cycle.adopt`, rule ``trench`` by default): a member pays
    its own estimate less its part of the project's savings, the parts split
    by the metres of trench each member lays (equally per organisation
    without trench metres; pro rata to the estimates when a part would exceed
    a member's estimate). Works in no project pay their own estimate.
    """
    from ims_geo.cycle.adopt import DEFAULT_SPLIT, _split  # the cycle imports this module

    own = frame[S.COST].to_numpy(dtype=float, na_value=np.nan)
    own_cents = np.round(np.where(np.isfinite(own), own, 0.0) * 100).astype(np.int64)
    geoms = frame.geometry.to_numpy()
    length = np.where(_line_parts(geoms), shapely.length(geoms), 0.0)
    trench = np.where(S.excavates(frame) & ~S.seals_surface(frame), length, 0.0)
    share = own_cents.copy()
    rules = pd.Series("", index=clusters.index, dtype=str)
    member = np.flatnonzero(ids != "")
    if len(member) and len(clusters):
        part = pd.DataFrame(
            {"project": ids[member], S.ORG: frame[S.ORG].astype(str).to_numpy()[member],
             "own_cents": own_cents[member], "trench_m": trench[member]}
        )  # fmt: skip
        savings = dict(
            zip(clusters[CLUSTER_ID], clusters["savings_eur"].astype(float), strict=True)
        )
        cents, used = _split(part, savings, split_rules or {})
        share[member] = cents
        rules = clusters[CLUSTER_ID].map(lambda c: used.get(c, DEFAULT_SPLIT)).astype(str)
    works.insert(
        works.columns.get_loc(works.geometry.name),
        COST_SHARE,
        np.where(np.isfinite(own) | (ids != ""), share / 100, np.nan),
    )
    if SPLIT_RULE in clusters.columns:  # the empty frame has every column already
        clusters[SPLIT_RULE] = rules.to_numpy()
    else:
        clusters.insert(
            clusters.columns.get_loc(clusters.geometry.name), SPLIT_RULE, rules.to_numpy()
        )


def streets(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The street of every work, and where it comes from.

    A work's own street columns (:data:`ims_geo.schema.STREET_COLUMNS`, e.g.
    ``street``, ``straat``, ``katu``: source ``plan``); else the street of the
    nearest work within :data:`STREET_DISTANCE_M` metres whose plan names one
    (source ``nearest work``); else "–" (source empty). ``frame`` is in a
    metric CRS.
    """
    from ims_geo.search import street_names

    named = street_names(frame).to_numpy(dtype=object)
    source = np.where(named != "", "plan", "").astype(object)
    out = np.where(named != "", named, "–").astype(object)
    have = np.flatnonzero(named != "")
    lacking = np.flatnonzero(named == "")
    if len(have) and len(lacking):
        geoms = frame.geometry.to_numpy()
        tree = shapely.STRtree(geoms[have])
        near, _ = tree.query_nearest(
            geoms[lacking], max_distance=STREET_DISTANCE_M, return_distance=True, all_matches=False
        )
        at, hit = near[0], have[near[1]]
        out[lacking[at]] = named[hit]
        source[lacking[at]] = "nearest work"
    return out, source


def _members(
    frame: gpd.GeoDataFrame, works: gpd.GeoDataFrame, clusters: gpd.GeoDataFrame
) -> pd.DataFrame:
    """One row per member of a combined project, with its street (see :func:`streets`)."""
    member = works[CLUSTER_ID].notna().to_numpy()
    if not member.any():
        return pd.DataFrame(columns=MEMBER_COLUMNS)
    street, source = streets(frame)
    w = works[member]
    out = pd.DataFrame(
        {
            CLUSTER_ID: w[CLUSTER_ID].astype(str).to_numpy(),
            EXEC_ORDER: w[EXEC_ORDER].to_numpy(),
            "org": w[S.ORG].astype(str).to_numpy(),
            "work_id": w[S.WORK_ID].astype(str).to_numpy(),
            "title": w[S.TITLE].to_numpy(dtype=object) if S.TITLE in w else "",
            "street": street[member],
            "street_source": source[member],
            "discipline": w[S.DISCIPLINE].astype(str).to_numpy(),
            PROPOSED_START: w[PROPOSED_START].to_numpy(),
            PROPOSED_END: w[PROPOSED_END].to_numpy(),
            SHIFT_DAYS: w[SHIFT_DAYS].to_numpy(),
            "cost_eur": w[S.COST].to_numpy(dtype=float, na_value=np.nan),
            COST_SHARE: w[COST_SHARE].to_numpy(dtype=float),
        }
    )
    out = out.sort_values([CLUSTER_ID, EXEC_ORDER], kind="stable").reset_index(drop=True)
    if len(clusters):
        named = out[out["street_source"] != ""]
        joined = named.groupby(CLUSTER_ID)["street"].agg(lambda v: "; ".join(dict.fromkeys(v)))
        mapped = clusters[CLUSTER_ID].map(joined)
        value = np.where(mapped.isna().to_numpy(), "–", mapped.to_numpy(dtype=object))
        if "member_streets" in clusters.columns:
            clusters["member_streets"] = value
        else:
            clusters.insert(clusters.columns.get_loc("member_titles") + 1, "member_streets", value)
    return out


def _cost_split_table(members: pd.DataFrame, clusters: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per project and organisation: own estimates, share of the project's cost, saving, rule."""
    if members.empty:
        return pd.DataFrame(columns=COST_SPLIT_COLUMNS)
    g = members.groupby([CLUSTER_ID, "org"], sort=True)
    out = pd.DataFrame(
        {
            "works": g.size(),
            "cost_eur": g["cost_eur"].sum(min_count=1),
            COST_SHARE: g[COST_SHARE].sum(min_count=1),
        }
    ).reset_index()
    out["saved_eur"] = (out["cost_eur"].fillna(0.0) - out[COST_SHARE].fillna(0.0)).round(2)
    rule = dict(zip(clusters[CLUSTER_ID], clusters[SPLIT_RULE], strict=True))
    out[SPLIT_RULE] = out[CLUSTER_ID].map(rule).fillna("")
    return out[list(COST_SPLIT_COLUMNS)]


#: Columns of a cost split table (:func:`load_split_rules`): ``rule`` and a
#: ``project``, or an ``org`` and ``work_id``.
SPLIT_COLUMNS: tuple[str, ...] = ("project", "org", "work_id", "rule")


def load_split_rules(table: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Read and check a cost split table (CSV path or frame).

    Each row names a rule (``trench``, ``equal`` or ``cost``, see
    :mod:`ims_geo.cycle.adopt`) and either a ``project`` (a project id such
    as ``C003``, or ``*`` for every project without a rule of its own) or a
    work (``org`` and ``work_id``: the project that work is a member of, so a
    rule survives a new proposal that numbers its projects differently).

    Returns
    -------
    pandas.DataFrame
        project, org, work_id, rule (str, "" where empty), line (the row's
        line in the file, for messages).

    Raises
    ------
    InputError
        Unreadable file, no ``rule`` column, or rows with an unknown rule or
        naming neither a project nor a work; the message names the file, the
        lines and the fix.
    """
    from ims_geo.cycle.adopt import SPLIT_RULES

    where = str(table) if isinstance(table, str | Path) else "split"
    if isinstance(table, str | Path):
        try:
            table = pd.read_csv(table, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise InputError(f"{where}: split file not found") from exc
        except (
            OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
        ) as exc:  # fmt: skip
            raise InputError(f"{where}: not a readable CSV file ({exc})") from exc
    if not isinstance(table, pd.DataFrame):
        raise InputError("split must be a DataFrame or the path of a CSV file")
    cols = {str(c).strip().lower(): c for c in table.columns}
    if "rule" not in cols or not ({"project"} <= set(cols) or {"org", "work_id"} <= set(cols)):
        raise InputError(
            f"{where}: a split table has the columns rule and project (a project id or *), "
            "or rule, org and work_id (the project of that work); rules: " + ", ".join(SPLIT_RULES)
        )

    def text(name: str) -> pd.Series:
        if name not in cols:
            return pd.Series("", index=table.index, dtype=str)
        return table[cols[name]].astype("string").fillna("").str.strip().astype(str)

    out = pd.DataFrame(
        {
            "project": text("project"),
            "org": text("org"),
            "work_id": text("work_id"),
            "rule": text("rule").str.lower(),
            "line": np.arange(len(table)) + 2,
        }
    )
    problems = [
        f"line {ln}: rule '{r}' is not one of {', '.join(SPLIT_RULES)}"
        for ln, r in zip(out["line"], out["rule"], strict=True)
        if r not in SPLIT_RULES
    ]
    by_work = (out["org"] != "") & (out["work_id"] != "")
    nameless = ~by_work & (out["project"] == "")
    problems += [
        f"line {ln}: names no project (an id or *) and no work (org and work_id)"
        for ln in out.loc[nameless, "line"]
    ]
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise InputError(f"{where}: " + "; ".join(problems[:10]) + more)
    return out


def _split_rules(
    table: pd.DataFrame | None, keys: pd.Index, ids: np.ndarray, warnings: list[str]
) -> dict[str, str]:
    """Project id -> split rule from a split table (a work's row, then its id, then ``*``)."""
    if table is None or not len(table):
        return {}
    projects = sorted(set(ids.tolist()) - {""})
    rules: dict[str, str] = {}
    default = table.loc[table["project"] == "*", "rule"]
    if len(default):
        rules = dict.fromkeys(projects, str(default.iloc[-1]))
    named = table[(table["project"] != "") & (table["project"] != "*")]
    unknown = sorted(set(named["project"]) - set(projects))
    if unknown:
        warnings.append(
            f"split: project(s) not in this proposal, ignored: {_list(unknown, 10)} "
            "(name a member work, org and work_id, to keep a rule across proposals)"
        )
    rules.update(
        {p: r for p, r in zip(named["project"], named["rule"], strict=True) if p in projects}
    )
    by_work = table[(table["org"] != "") & (table["work_id"] != "")]
    if len(by_work):
        at = keys.get_indexer(by_work["org"] + "\x1f" + by_work["work_id"])
        project = np.where(at >= 0, ids[np.maximum(at, 0)], "")
        alone = (by_work["org"] + ":" + by_work["work_id"])[project == ""].tolist()
        if alone:
            warnings.append(
                f"split: work(s) in no project of this proposal, ignored: {_list(alone, 10)}"
            )
        chosen = pd.DataFrame({"project": project, "rule": by_work["rule"].to_numpy(),
                               "line": by_work["line"].to_numpy()})[project != ""]  # fmt: skip
        clash = chosen.groupby("project")["rule"].nunique()
        if (clash > 1).any():
            p = str(clash.index[clash > 1][0])
            lines = ", ".join(str(v) for v in chosen.loc[chosen["project"] == p, "line"])
            raise InputError(
                f"split: lines {lines} name members of project {p} with different rules; "
                "give each project one rule"
            )
        rules.update(dict(zip(chosen["project"], chosen["rule"], strict=True)))
    return rules


def _disruption(a: _Arrays, start: np.ndarray, executed: np.ndarray, ids: np.ndarray) -> int:
    own = a.active & ~executed
    total = int((a.duration[own] + 1).sum())
    if executed.any():
        idx = np.flatnonzero(executed)
        ends = pd.Series(start[idx] + a.duration[idx]).groupby(ids[idx])
        starts = pd.Series(start[idx]).groupby(ids[idx])
        total += int((ends.max() - starts.min() + 1).sum())
    return total


def _kpis(
    a: _Arrays,
    ia: np.ndarray,
    ib: np.ndarray,
    kind: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    pkind: np.ndarray,
    coordinated: np.ndarray,
    start: np.ndarray,
    executed: np.ndarray,
    ids: np.ndarray,
    clusters: gpd.GeoDataFrame,
    problem: sched.Problem,
    result: sched.Schedule,
) -> pd.DataFrame:
    no = np.zeros(len(start), bool)
    savings = float(clusters["savings_eur"].sum()) if len(clusters) else 0.0
    # planned cost estimates (NaN when no work carries one), less the savings
    cost = float(problem.cost[a.active].sum()) if (problem.cost[a.active] > 0).any() else np.nan
    moved = start != a.start
    # the proven bound of every part (see ims_geo.programme.schedule.combined_bounds)
    parts = result.models[result.models["combined_bound"].notna()]
    bound = float(parts["combined_bound"].sum())
    bound_fixing = float(parts["combined_bound_fixing"].fillna(parts["combined_bound"]).sum())

    def pairs_of(x: np.ndarray, y: np.ndarray, which: np.ndarray) -> set[tuple[int, int]]:
        return set(
            zip(np.minimum(x, y)[which].tolist(), np.maximum(x, y)[which].tolist(), strict=True)
        )

    # new: not so at the planned dates (a violation that became a clash is not new)
    together0, digs0 = sched.pair_state(problem, a.start, pa, pb)
    new_violations = pairs_of(pa, pb, (pkind == "moratorium") & ~digs0)
    new_clashes = pairs_of(pa, pb, (pkind == "clash") & ~coordinated & ~together0)
    # violations of the plan: fixed ones, and those the two works' windows could fix
    # (for the pair alone: an upper bound on what any schedule can fix)
    was = kind == "moratorium"
    fixed = pairs_of(ia, ib, was) - pairs_of(pa, pb, pkind == "moratorium")
    x, y = ia[was], ib[was]
    dig_x = a.excavates[x] & a.seals[y] & (a.start[x] > a.start[y])
    seal, dig = np.where(dig_x, y, x), np.where(dig_x, x, y)
    m = a.moratorium_days
    # fixed: the excavation starts no later than the sealing (before it, or with it
    # where the plan already has them together) or after the moratorium
    fixable = (a.lo[dig] <= a.hi[seal]) | (a.hi[dig] >= a.lo[seal] + a.duration[seal] + m + 1)
    rows = [
        ("clashes", int((kind == "clash").sum()), int(((pkind == "clash") & ~coordinated).sum())),
        (
            "moratorium violations",
            int((kind == "moratorium").sum()),
            int((pkind == "moratorium").sum()),
        ),
        ("combined works", 0, int(executed.sum())),
        ("combined projects", 0, len(clusters)),
        ("disruption days", _disruption(a, a.start, no, ids), _disruption(a, start, executed, ids)),
        ("works moved", 0, int(moved.sum())),
        ("total shift days", 0, int(np.abs(start - a.start).sum())),
        ("estimated cost eur", cost, cost - savings),
        ("savings eur", 0.0, savings),
        ("new moratorium violations", 0, len(new_violations)),
        ("new clashes", 0, len(new_clashes)),
        ("moratorium violations fixed", 0, len(fixed)),
        ("fixable violations (upper bound)", 0, int(fixable.sum())),
        ("combined works (upper bound)", 0, bound),
        ("combined works (upper bound, violations fixed first)", 0, bound_fixing),
        ("works in a candidate project", 0, len(np.unique(problem.members[0]))),
    ]
    if len(problem.budget_org):
        over0, over1 = (
            sched.budget_overruns(problem, a.start),
            sched.budget_overruns(problem, start),
        )
        rows.append(("org-years over budget", len(over0), len(over1)))
        rows.append(("over budget eur", float(over0["over"].sum()), float(over1["over"].sum())))
    if problem.max_parallel is not None:
        none = np.zeros(problem.n_clusters, bool)
        rows.append(
            (
                "cells over max_parallel",
                len(sched.cell_overloads(problem, a.start, none)),
                len(sched.cell_overloads(problem, start, result.combined)),
            )
        )
    return pd.DataFrame(
        {
            "kpi": pd.Series([r[0] for r in rows], dtype=str),
            "baseline": np.asarray([r[1] for r in rows], dtype=float),
            "proposal": np.asarray([r[2] for r in rows], dtype=float),
        }
    )


def _window_fix(a: _Arrays, seal: int, dig: int) -> str:
    """The smallest change of one window that would let this pair avoid the violation."""
    m = a.moratorium_days
    options: list[tuple[int, str]] = []
    if a.changeable[seal]:
        days = int(a.lo[dig] + a.duration[dig] + 1 - a.hi[seal])
        options.append((days, f"extending {a.label[seal]}'s latest date by {days} days"))
    if a.changeable[dig]:
        days = int(a.lo[dig] - (a.hi[seal] - a.duration[dig] - 1))
        options.append((days, f"moving {a.label[dig]}'s earliest date {days} days earlier"))
        days = int(a.lo[seal] + a.duration[seal] + m + 1 - a.hi[dig])
        options.append((days, f"extending {a.label[dig]}'s latest date by {days} days"))
    options = [o for o in options if o[0] > 0]
    if not options:
        return (
            "both works keep their dates (in progress, done or locked): no window change fixes it"
        )
    return min(options)[1] + " would remove it (for this pair alone)"


def _reasons(
    a: _Arrays,
    start: np.ndarray,
    ids: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    kind: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    pkind: np.ndarray,
    limits: bool,
) -> np.ndarray:
    """Why each moved work moved ("moved +41 days to dig before City:R2's resurfacing")."""
    n = len(start)
    shift = start - a.start
    texts: list[pd.DataFrame] = []
    # 1. joined a project
    member = np.flatnonzero(ids != "")
    if len(member):
        frame = pd.DataFrame({"w": member, "c": ids[member], "label": a.label[member]})
        others = frame.groupby("c")["label"].agg(list)
        frame["text"] = [
            f"to join {c} with " + ", ".join(x for x in others[c] if x != lab)
            for c, lab in zip(frame["c"], frame["label"], strict=True)
        ]
        texts.append(frame.assign(rank=0)[["w", "text", "rank"]])
    # 2. a dig after pave of the plan fixed
    now = set(zip(np.minimum(pa, pb)[pkind == "moratorium"].tolist(),
                  np.maximum(pa, pb)[pkind == "moratorium"].tolist(), strict=True))  # fmt: skip
    was = np.flatnonzero(kind == "moratorium")
    gone = np.asarray(
        [k for k in was.tolist() if (min(ia[k], ib[k]), max(ia[k], ib[k])) not in now], np.int64
    )
    if len(gone):
        x, y = ia[gone], ib[gone]
        dig_x = a.excavates[x] & a.seals[y] & (a.start[x] > a.start[y])
        seal, dig = np.where(dig_x, y, x), np.where(dig_x, x, y)
        before = start[dig] <= start[seal]
        dig_text = [
            f"to dig before {a.label[s_]}'s resurfacing" if b else
            f"to dig after the moratorium of {a.label[s_]}'s resurfacing"
            for s_, b in zip(seal.tolist(), before.tolist(), strict=True)
        ]  # fmt: skip
        seal_text = [f"to resurface after {a.label[d_]}'s excavation" for d_ in dig.tolist()]
        texts.append(pd.DataFrame({"w": dig, "text": dig_text, "rank": 1}))
        texts.append(pd.DataFrame({"w": seal, "text": seal_text, "rank": 1}))
    # 3. a clash of the plan separated
    together = set(zip(np.minimum(pa, pb)[pkind == "clash"].tolist(),
                       np.maximum(pa, pb)[pkind == "clash"].tolist(), strict=True))  # fmt: skip
    was = np.flatnonzero(kind == "clash")
    apart = np.asarray(
        [k for k in was.tolist() if (min(ia[k], ib[k]), max(ia[k], ib[k])) not in together],
        np.int64,
    )
    if len(apart):
        x, y = ia[apart], ib[apart]
        texts.append(
            pd.DataFrame(
                {"w": x, "text": [f"to leave the street to {a.label[j]}" for j in y], "rank": 2}
            )
        )
        texts.append(
            pd.DataFrame(
                {"w": y, "text": [f"to leave the street to {a.label[j]}" for j in x], "rank": 2}
            )
        )
    reason = np.full(n, "", dtype=object)
    moved = np.flatnonzero(shift != 0)
    if not len(moved):
        return reason
    default = (
        "to make room for the other moves within the budgets and cell limits"
        if limits
        else "to make room for the other moves"
    )
    reason[moved] = default
    if texts:
        every = pd.concat(texts, ignore_index=True)
        every = every[np.isin(every["w"].to_numpy(), moved)].sort_values(
            ["w", "rank"], kind="stable"
        )
        best = every.drop_duplicates("w")
        reason[best["w"].to_numpy(np.int64)] = best["text"].to_numpy(object)
    reason[moved] = [f"moved {int(shift[i]):+d} days {reason[i]}" for i in moved.tolist()]
    return reason


def _list(labels: Iterable[str], limit: int = 20) -> str:
    items = list(labels)
    more = f"; ... (+{len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _infeasible(
    frame: gpd.GeoDataFrame,
    a: _Arrays,
    problem: sched.Problem,
    result: sched.Schedule,
    pa: np.ndarray,
    pb: np.ndarray,
    pkind: np.ndarray,
    coordinated: np.ndarray,
    splits: list[dict],
    cells: np.ndarray,
    kind: np.ndarray,
    ia: np.ndarray,
    ib: np.ndarray,
    line_names: np.ndarray,
    relocked: np.ndarray | None = None,
) -> pd.DataFrame:
    rows: list[tuple[str, str, str, float, str]] = []
    m = a.moratorium_days
    # works the lock keeps at an earlier proposal's dates: what they cause is the lock's
    relocked = relocked if relocked is not None else np.zeros(len(a.start), bool)

    def by_lock(x: int, y: int) -> str:
        held = [a.label[i] for i in (x, y) if relocked[i]]
        return (
            f"the lock keeps {' and '.join(held)} at an earlier proposal's dates; " if held else ""
        )

    start, combined, proven = result.start, result.combined, result.proven
    _, digs0 = sched.pair_state(problem, a.start, pa, pb)
    before = set(zip(pa[digs0].tolist(), pb[digs0].tolist(), strict=True))
    # moratorium: which side seals; could the windows have avoided it?
    for x, y in zip(
        pa[pkind == "moratorium"].tolist(), pb[pkind == "moratorium"].tolist(), strict=True
    ):
        forward = a.seals[x] and a.excavates[y] and start[y] > start[x]
        seal, dig = (x, y) if forward else (y, x)
        gap = int(start[dig] - start[seal] - a.duration[seal])
        windows = (a.lo[dig] + a.duration[dig] + 1 <= a.hi[seal]) or (
            a.hi[dig] >= a.lo[seal] + a.duration[seal] + m + 1
        )
        existing = (x, y) in before
        if not windows:
            why = (
                "the flexibility windows do not let the excavation end before the sealing starts; "
                + _window_fix(a, seal, dig)
            )
        elif proven[seal] and proven[dig]:
            why = (
                "the windows allow it for this pair alone, but fixing it would break another "
                "moratorium pair of these works, a budget or a cell limit (optimal schedule)"
            )
        else:
            why = (
                "not resolved within the time limit (the schedule of these works is not proven "
                "optimal; a longer time limit may resolve it)"
            )
        rows.append(
            (
                "moratorium",
                f"{a.label[dig]} digs {gap} days after {a.label[seal]} seals",
                f"{a.label[seal]}; {a.label[dig]}",
                float(gap),
                ("existing violation kept: " if existing else "new violation: ")
                + by_lock(x, y)
                + why,
            )
        )
    clash = (pkind == "clash") & ~coordinated
    together0, _ = sched.pair_state(problem, a.start, pa, pb)
    clashed = set(zip(pa[together0].tolist(), pb[together0].tolist(), strict=True))
    for x, y in zip(pa[clash].tolist(), pb[clash].tolist(), strict=True):
        lo, hi, d = a.lo, a.hi, a.duration
        apart = (lo[x] + d[x] + 1 <= hi[y]) or (lo[y] + d[y] + 1 <= hi[x])
        overlap = min(start[x] + d[x], start[y] + d[y]) - max(start[x], start[y]) + 1
        if (x, y) not in clashed and (relocked[x] or relocked[y]):
            why = "new clash: " + by_lock(x, y) + "the other work could not move out of the way"
        elif (x, y) not in clashed:
            why = (
                "new clash, allowed (allow_new_clashes) to combine works or fix a violation "
                "elsewhere"
            )
        elif not apart:
            why = "their flexibility windows overlap too much to separate them"
        elif proven[x] and proven[y]:
            why = (
                "separating them would break a moratorium, a budget or a cell limit, or move "
                "works further than the clash weighs (optimal schedule)"
            )
        else:
            why = "not resolved within the time limit (the schedule is not proven optimal)"
        rows.append(
            (
                "clash",
                f"{a.label[x]} and {a.label[y]} in the street at the same time",
                f"{a.label[x]}; {a.label[y]}",
                float(overlap),
                why,
            )
        )
    over = sched.budget_overruns(problem, start)
    for o, y, used, budget, extra in over.itertuples(index=False):
        rows.append(
            (
                "budget",
                f"{line_names[o]} {y}",
                "",
                float(extra),
                f"works book EUR {used:,.0f} in {y} (costs spread over their days), budget "
                f"EUR {budget:,.0f}: over by EUR {extra:,.0f}; the windows and other constraints "
                "allow no further move to another year",
            )
        )
    loads = sched.cell_overloads(problem, start, combined)
    for cell, peak, day, extra in loads.itertuples(index=False):
        inside = np.flatnonzero(problem.cell == cell)
        rows.append(
            (
                "max_parallel",
                f"cell {cells[cell]}",
                _list(a.label[inside]),
                float(extra),
                f"{peak} occupations at the same time on {_dates(np.array([day]))[0].astype('datetime64[D]')} "
                f"(limit {problem.max_parallel}); the windows and other constraints allow no further spreading",
            )
        )
    for split in splits:
        alone = split["alone"]
        rows.append(
            (
                "cluster",
                f"{len(split['members'])} works linked by conflicts",
                _list(a.label[split["members"]]),
                float(len(alone)),
                f"no joint period fits every window (or more than the cluster limit): split into "
                f"{split['parts']} candidate projects"
                + (
                    f"; {len(alone)} works combine with none: {_list(a.label[alone], 10)}"
                    if len(alone)
                    else ""
                ),
            )
        )
    return pd.DataFrame(
        {
            "constraint": pd.Series([r[0] for r in rows], dtype=str),
            "subject": pd.Series([r[1] for r in rows], dtype=str),
            "works": pd.Series([r[2] for r in rows], dtype=str),
            "amount": np.asarray([r[3] for r in rows], dtype=float),
            "reason": pd.Series([r[4] for r in rows], dtype=str),
        }
    )


__all__ = [
    "BUDGET_COLUMNS",
    "CLUSTER_COLUMNS",
    "COST_SPLIT_COLUMNS",
    "CostTable",
    "KPI_COLUMNS",
    "MEMBER_COLUMNS",
    "Proposal",
    "check_budgets",
    "compare",
    "gantt",
    "load_budgets",
    "load_costs",
    "load_split_rules",
    "propose",
    "read_proposal",
    "streets",
    "style_gantt",
]
