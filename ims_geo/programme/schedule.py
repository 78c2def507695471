"""Area-wide programme schedule with OR-Tools CP-SAT.

The scheduler works on plain arrays (:class:`Problem`): one integer start
day per work, fixed durations, start windows, the pairs of works that are
near each other, the candidate clusters with each member's start offset in
its joint period, and the area limits (yearly budgets per organisation,
simultaneous works per grid cell). :mod:`ims_geo.programme` builds the
problem from planned works and turns the :class:`Schedule` back into dates.

Days are integers (days since 1970-01-01); a work occupies the street from
its start day to ``start + duration`` inclusive, i.e. ``duration + 1`` days.

The model
---------
Variables: the start day ``s_i`` of every changeable work inside
``[lo_i, hi_i]`` (its flexibility window minus its duration); works that
may not move are constants. For every candidate cluster (project) ``c`` a
Boolean ``combined_c`` and a joint start ``S_c``: when combined, every member
starts at ``S_c + offset_ic`` (see :mod:`ims_geo.programme` for what the
offsets mean). A work may be a member of several candidates; at most one of
them is executed, so the solver chooses the projects.

Never worse than the plan, by construction: the planned dates satisfy
every constraint below, every model starts from the current solution (the
planned dates at first, given as the hint) and holds everything outside it
at its current dates, so each model has a solution at least as good as the
current one, and a model that finds none in its time leaves the dates as
they are.

* moratorium (dig after pave, :func:`pair_state`): for a nearby pair where
  ``a`` seals the surface and ``b`` excavates, ``b`` may not start after
  ``a`` started and up to ``moratorium_days`` days after ``a`` ends (an
  excavation that starts during the new surface's last days is a violation,
  not a fix). Hard for every pair that does not dig after pave in the plan;
  a violation of the plan may stay at :attr:`Weights.violation`.
* clash: a nearby pair that is not in the street together in the plan may
  not be in the proposal, unless both are members of one combined cluster
  (or :attr:`Problem.allow_new_clashes`, at :attr:`Weights.new_clash`); a
  clash of the plan may stay at :attr:`Weights.clash`.
* yearly budget: per organisation (budget line) and calendar year, the
  works' costs spread pro rata over their days (:func:`day_rate_cents`) may
  not exceed the budget, or the plan's spending where the plan already is
  over (hard); the euros over the budget cost :attr:`Weights.budget_eur`
  each (:attr:`Weights.budget_eur_hard` with ``hard_budgets``). A frozen
  row (a year without a budget of its own) may not book more than the plan.
* ``max_parallel``: at most K street occupations at the same time per grid
  cell, or the plan's peak in a cell where the plan has more (hard); a
  combined cluster is one occupation in every cell its members lie in. Each
  occupation over K costs :attr:`Weights.cell_over`.

Objective (maximised): ``combined`` per work executed in a combined
cluster, minus ``clash`` per nearby pair in the street at the same time
outside a combined cluster, minus ``shift_day`` per day a work moves,
minus ``spread_day`` per day of the largest move inside a cluster (which
shares a joint period's move fairly among its members), minus the
penalties above.

Decomposition
-------------
A pair only constrains the schedule when the windows let its two works
both overlap and not overlap, or let a moratorium violation both happen and
not happen; other pairs are constant and are left out. Changeable works
linked by such pairs (and by cluster membership) form connected components
(a vectorised union-find, :func:`components`); each is solved on its own,
every other work held at its current date. Small components are batched
into exact models (one CP-SAT worker with the full LP relaxation, which
proves optimality far sooner on these models than a portfolio). A large
component, as dense plans give (a city centre's works can all be linked),
starts from the current dates (the plan's) and is improved by a block search: exact models over blocks of nearby works, in
turn, until a sweep over all blocks no longer improves it; one model over
the whole component then gives the bound (see :meth:`_Search.blocks`).

Budgets and cell limits couple components (an organisation's works all
over the area; every work in a cell). They are part of every model, with
everything outside the model counted at its current dates; models are
solved one after the other, so each sees what the ones before it moved.
A last pass frees every work that could still relieve a budget or cell
that is over (with its cluster mates) and solves them together. What is
still violated after that is reported (:func:`budget_overruns`,
:func:`cell_overloads`), never hidden.

Bounds
------
Before the schedule, every part (a batch of small components, or a large
one) gets a proven upper bound on its combined works from models of its own
(:func:`combined_bounds`, :data:`BOUND_SHARE` of the time limit); it is
reported in the part's row of :attr:`Schedule.models` (combined,
combined_bound, combined_bound_fixing, bound_proof).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from ims_geo.errors import InputError, ScheduleError

Progress = Callable[[float, str], None]

#: Share of the time limit given to the component models when budgets or
#: cell limits exist (the rest is kept for the last pass over what is over).
_STAGE1_SHARE = 0.8
#: Share of the time limit :func:`solve` keeps for the bounds on the combined
#: works (:func:`combined_bounds`) by default.
BOUND_SHARE = 0.2
#: Models up to this many works are solved exactly in one piece (small
#: components are batched up to it); larger sets by blocks.
_EXACT_WORKS = 60
#: Works per block of the block search.
_BLOCK_WORKS = 20
#: Time limit of one block model (seconds).
_BLOCK_SECONDS = 0.5
#: Least time of the evaluation of a whole set's solution (seconds; dates fixed).
_EVALUATION_SECONDS = 1.0
#: Share of a large set's time spent on block models; the rest goes to the
#: model over the whole set that bounds the objective ...
_BLOCK_SHARE = 0.7
#: ... which gets at least this many seconds (or half the time when shorter).
_BOUND_SECONDS = 4.0
#: Sets larger than this get their bound from a model solved in a second
#: thread while the blocks run (with two or more workers).
_PARALLEL_BOUND_WORKS = 500
#: A weight of a fixed violation above any number of combined works (the
#: block search's first sweep, :meth:`_Search.blocks`).
FIXES_FIRST = 1_000_000


@dataclass(frozen=True)
class Weights:
    """Objective weights of the scheduler (integers, larger = more important).

    Nothing here can make the proposal worse than the plan: a new moratorium
    violation, a new clash (unless :attr:`Problem.allow_new_clashes`), a
    budget row further over, or a cell over its limit by more than in the
    plan are hard constraints, not penalties. The weights only choose among
    the schedules that are at least as good as the plan.

    By default a moratorium violation of the plan that is fixed is worth 1.7
    combined works (:attr:`violation` = 1,700, :attr:`combined` = 1,000): a
    fix is given up only for more than that, after the moves it needs (a
    project, which has two works or more; a clash of the plan ended counts
    as :attr:`clash`). Measured on dense boxes of 21-40 works this combines
    91 % of the proven bound and fixes 91 of the 96 violations that fixing
    first fixes (fixing first: 86 % and 96; a fix worth 1.5 works: 92 % and
    89; 2 works: 88 % and 94; see the programme section of
    ``benchmarks/README.md``). Large parts, searched block by block, fix
    first in their first sweep (see :meth:`_Search.blocks`). To fix every violation
    the windows allow before combining anything, use a :attr:`violation`
    above :attr:`combined` times the number of works, e.g. ``1_000_000``
    (``ims-geo propose --fix-worth 1000``, the Programme page's worth of a
    fixed violation; both through :meth:`fixing`).
    """

    #: Gain per work executed in a combined cluster.
    combined: int = 1000
    #: Penalty per nearby pair in the street at the same time outside a
    #: combined cluster, for a clash already in the plan.
    clash: int = 1000
    #: Penalty per clash the proposal creates (only with ``allow_new_clashes``).
    new_clash: int = 1500
    #: Penalty per day a work moves away from its planned start.
    shift_day: int = 2
    #: Penalty per day of the largest move inside a cluster.
    spread_day: int = 1
    #: Penalty per moratorium violation of the plan left unresolved: the
    #: worth of a fix in the units of :attr:`combined` (1.7 combined works).
    violation: int = 1_700
    #: Penalty per parallel occupation in a cell over ``max_parallel`` (above
    #: any gain: the solver relieves the cells first).
    cell_over: int = 1_000_000
    #: Penalty per euro over a budget (a combined work is worth ``combined``).
    budget_eur: int = 1
    #: Penalty per euro over a budget with ``hard_budgets``: above any gain.
    budget_eur_hard: int = 10_000

    @classmethod
    def fixing(cls, worth: float) -> Weights:
        """The weights where a fixed violation of the plan is worth ``worth`` combined works.

        Parameters
        ----------
        worth
            Combined works a fixed moratorium violation is worth (``ims-geo propose
            --fix-worth``, the Programme page), at least :data:`FIX_WORTH_MIN`;
            :data:`FIX_WORTH_DEFAULT` gives the default weights.

        Returns
        -------
        Weights
            The default weights with :attr:`violation` = ``worth`` x :attr:`combined`
            (rounded to a whole number).

        Raises
        ------
        InputError
            If ``worth`` is below :data:`FIX_WORTH_MIN` (a fix would be worth nothing).
        """
        if not worth >= FIX_WORTH_MIN:
            raise InputError(
                f"The worth of a fixed violation is {worth} combined works; give at least "
                f"{FIX_WORTH_MIN:g} (e.g. {FIX_WORTH_DEFAULT:g}, the default)."
            )
        return cls(violation=round(worth * cls.combined))


#: Default worth of a fixed violation, in combined works (1.7).
FIX_WORTH_DEFAULT = Weights.violation / Weights.combined
#: Smallest worth of a fixed violation, in combined works: one unit of the
#: objective (a smaller worth would round to no weight at all).
FIX_WORTH_MIN = 1 / Weights.combined


@dataclass(frozen=True)
class Problem:
    """A scheduling problem in arrays; index ``i`` is one work everywhere.

    Attributes
    ----------
    start
        Planned start day (days since 1970-01-01).
    duration
        ``end - start`` in days (a work occupies ``duration + 1`` days).
    lo, hi
        Earliest and latest allowed start day.
    changeable
        Whether the work may move (fixed works stay at ``start``).
    seals, excavates
        Whether the work seals the surface / opens the street.
    active
        Whether the work takes place (counts for budgets and cells).
    pair_a, pair_b
        Works near each other (unordered pairs, any order, duplicates allowed).
    cluster
        Candidate cluster of the work, -1 when none; clusters are numbered 0..k-1.
    offset
        Start of the work relative to its cluster's joint start when combined.
    org
        Organisation code (integer) for budgets.
    cost
        Cost in whole euros (0 when unknown).
    cell
        Grid cell code for ``max_parallel``, -1 when not counted.
    budget_org, budget_year, budget_eur
        Budget rows: organisation code, calendar year, amount in euros.
    moratorium_days
        Days after a sealing during which an excavation nearby is a violation.
    max_parallel
        Maximum simultaneous occupations per cell; None for no limit.
    x, y
        Position of each work (metres), used to cut large components into
        blocks of nearby works; None uses the works' order.
    budget_frozen
        Per budget row: the row is a year without a budget of its own whose
        spending may not grow (its ``budget_eur`` is ignored: the cap is the
        plan's own spending in that year); None for none.
    hard_budgets
        Euros over a budget weigh more than anything the proposal can gain
        (:attr:`Weights.budget_eur_hard`); otherwise :attr:`Weights.budget_eur`.
    allow_new_clashes
        A pair that does not clash in the plan may clash in the proposal
        (penalised by :attr:`Weights.new_clash`); otherwise it may not.
    cand_work, cand_id, cand_offset
        Candidate projects in long form, one row per member: the work, the
        candidate (0..k-1) and the member's start offset in the candidate's
        joint period. A work may be a member of several candidates; the
        solver chooses which candidates are executed, each work in at most
        one. None: the candidates are ``cluster`` and ``offset`` (one each).
    """

    start: np.ndarray
    duration: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    changeable: np.ndarray
    seals: np.ndarray
    excavates: np.ndarray
    active: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray
    cluster: np.ndarray
    offset: np.ndarray
    org: np.ndarray
    cost: np.ndarray
    cell: np.ndarray
    budget_org: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    budget_year: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    budget_eur: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    moratorium_days: int = 3 * 365
    max_parallel: int | None = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    budget_frozen: np.ndarray | None = None
    hard_budgets: bool = False
    allow_new_clashes: bool = False
    cand_work: np.ndarray | None = None
    cand_id: np.ndarray | None = None
    cand_offset: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.start)
        for name in (
            "duration", "lo", "hi", "changeable", "seals", "excavates", "active",
            "cluster", "offset", "org", "cost", "cell",
        ):  # fmt: skip
            if len(getattr(self, name)) != n:
                raise ScheduleError(
                    f"Problem.{name} has {len(getattr(self, name))} values, expected {n}"
                )
        if len(self.pair_a) != len(self.pair_b):
            raise ScheduleError("Problem.pair_a and pair_b differ in length")
        if not (len(self.budget_org) == len(self.budget_year) == len(self.budget_eur)):
            raise ScheduleError("Problem.budget_org, budget_year and budget_eur differ in length")
        if self.cand_work is None:
            member = np.flatnonzero(np.asarray(self.cluster) >= 0)
            object.__setattr__(self, "cand_work", member.astype(np.int64))
            object.__setattr__(self, "cand_id", np.asarray(self.cluster)[member].astype(np.int64))
            object.__setattr__(
                self, "cand_offset", np.asarray(self.offset)[member].astype(np.int64)
            )
        elif (
            self.cand_id is None
            or self.cand_offset is None
            or not (len(self.cand_work) == len(self.cand_id) == len(self.cand_offset))
        ):
            raise ScheduleError("Problem.cand_work, cand_id and cand_offset differ in length")
        if self.budget_frozen is None:
            object.__setattr__(self, "budget_frozen", np.zeros(len(self.budget_org), bool))
        elif len(self.budget_frozen) != len(self.budget_org):
            raise ScheduleError("Problem.budget_frozen and budget_org differ in length")
        bad = self.changeable & (self.lo > self.hi)
        if bad.any():
            raise ScheduleError(f"work {int(np.flatnonzero(bad)[0])} has an empty start window")

    @property
    def n_clusters(self) -> int:
        """Number of candidate clusters."""
        cid = self.members[1]
        return int(cid.max()) + 1 if len(cid) else 0

    @property
    def members(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(work, candidate, offset) of every candidate membership."""
        assert self.cand_work is not None and self.cand_id is not None
        assert self.cand_offset is not None
        return self.cand_work, self.cand_id, self.cand_offset


def in_combined(problem: Problem, combined: np.ndarray) -> np.ndarray:
    """Whether each work is a member of an executed candidate."""
    work, cid, _ = problem.members
    out = np.zeros(len(problem.start), bool)
    if len(cid):
        out[work[np.asarray(combined, bool)[cid]]] = True
    return out


def _unit_links(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Edges linking the members of every candidate (consecutive members)."""
    work, cid, _ = problem.members
    order = np.lexsort((work, cid))
    same = cid[order][1:] == cid[order][:-1]
    return work[order][:-1][same], work[order][1:][same]


@dataclass
class Schedule:
    """What :func:`solve` returns."""

    #: Proposed start day of every work.
    start: np.ndarray
    #: Whether each candidate cluster is executed combined.
    combined: np.ndarray
    #: One row per CP-SAT model: model, stage, method, works, pairs, clusters,
    #: status, objective, best_bound, gap, wall_s.
    models: pd.DataFrame
    #: Whether the last model that scheduled each work proved its solution
    #: optimal (True for works no model had to move).
    proven: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


MODEL_COLUMNS = (
    "model", "stage", "method", "works", "pairs", "clusters", "status",
    "objective", "best_bound", "gap", "wall_s",
    "combined", "combined_bound", "combined_bound_fixing", "bound_proof",
)  # fmt: skip
#: How a part's ``combined_bound`` is proven (see :func:`combined_bounds`).
BOUND_PROOFS: tuple[str, ...] = ("exact", "cp-sat bound", "blocks", "candidates")


# --- plain array helpers ------------------------------------------------------


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component of each of ``n`` nodes linked by edges ``a[k]-b[k]``.

    Vectorised union-find (hooking roots onto the smaller root, then pointer
    jumping); the label of a component is its smallest node index.
    """
    parent = np.arange(n, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        np.minimum.at(
            parent, np.maximum(ra[differ], rb[differ]), np.minimum(ra[differ], rb[differ])
        )
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def day_year(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers (days since 1970-01-01)."""
    return (
        np.asarray(days, dtype="int64")
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )


def year_start(years: np.ndarray) -> np.ndarray:
    """Day number of 1 January of each year."""
    return (
        (np.asarray(years, dtype=np.int64) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def cluster_starts(problem: Problem, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint start ``S_c`` implied by the members' starts and the span of each cluster.

    ``S_c`` is the smallest ``start_i - offset_i`` of the members (all equal
    when the cluster is combined); the span is ``max(offset_i + duration_i) + 1``.
    """
    k = problem.n_clusters
    joint = np.full(k, np.iinfo(np.int64).max)
    span = np.zeros(k, dtype=np.int64)
    work, cid, off = problem.members
    np.minimum.at(joint, cid, np.asarray(start)[work] - off)
    np.maximum.at(span, cid, off + problem.duration[work] + 1)
    return joint, span


def occupations(problem: Problem, start: np.ndarray, combined: np.ndarray) -> pd.DataFrame:
    """Street occupations per cell: cell, begin, end (exclusive) and what occupies it.

    A work outside a combined cluster is one occupation; a combined cluster
    is one occupation per distinct cell of its members, spanning its joint
    period. ``source`` is the work index, or ``-1 - c`` for cluster ``c``.
    """
    p = problem
    in_comb = in_combined(p, combined) if p.n_clusters else np.zeros(len(start), bool)
    own = p.active & (p.cell >= 0) & ~in_comb
    idx = np.flatnonzero(own)
    frames = [
        pd.DataFrame(
            {
                "cell": p.cell[idx],
                "begin": start[idx],
                "end": start[idx] + p.duration[idx] + 1,
                "source": idx,
            }
        )
    ]
    work, cid, _ = p.members
    chosen = np.asarray(combined, bool)[cid] & p.active[work] & (p.cell[work] >= 0)
    if chosen.any():
        joint, span = cluster_starts(p, start)
        pairs = np.unique(np.c_[cid[chosen], p.cell[work[chosen]]], axis=0)
        c = pairs[:, 0]
        frames.append(
            pd.DataFrame(
                {
                    "cell": pairs[:, 1],
                    "begin": joint[c],
                    "end": joint[c] + span[c],
                    "source": -1 - c,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def cell_overloads(problem: Problem, start: np.ndarray, combined: np.ndarray) -> pd.DataFrame:
    """Cells whose simultaneous occupations exceed ``max_parallel``.

    Returns one row per overloaded cell: cell, peak (most simultaneous
    occupations), day (first day of the peak), over (peak - max_parallel).
    Empty when there is no limit.
    """
    empty = pd.DataFrame({"cell": [], "peak": [], "day": [], "over": []}, dtype="int64")
    if problem.max_parallel is None:
        return empty
    occ = occupations(problem, start, combined)
    if occ.empty:
        return empty
    cell = np.r_[occ["cell"].to_numpy(), occ["cell"].to_numpy()]
    day = np.r_[occ["begin"].to_numpy(), occ["end"].to_numpy()]
    delta = np.r_[np.ones(len(occ), np.int64), -np.ones(len(occ), np.int64)]
    order = np.lexsort((delta, day, cell))  # at the same day, ends (-1) before starts
    cell, day, delta = cell[order], day[order], delta[order]
    running = np.cumsum(delta)
    first = np.r_[True, cell[1:] != cell[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(cell)), 0))
    level = running - np.r_[0, running][base]
    frame = pd.DataFrame({"cell": cell, "level": level, "day": day})
    top = frame.sort_values(
        ["cell", "level", "day"], ascending=[True, False, True]
    ).drop_duplicates("cell")
    top = top[top["level"] > problem.max_parallel]
    return pd.DataFrame(
        {
            "cell": top["cell"].to_numpy(np.int64),
            "peak": top["level"].to_numpy(np.int64),
            "day": top["day"].to_numpy(np.int64),
            "over": (top["level"] - problem.max_parallel).to_numpy(np.int64),
        }
    )


def budget_overruns(problem: Problem, start: np.ndarray) -> pd.DataFrame:
    """Budget rows exceeded by the cost the works book in their year.

    Returns org, year, used, budget and over (euros, to the cent) for every
    budget row of its own (not a frozen year, see :attr:`Problem.budget_frozen`)
    whose ``used > budget``.
    """
    p = problem
    used = budget_cents(p, start)
    cap = np.asarray(p.budget_eur, dtype=np.int64) * 100
    over = (used > cap) & ~np.asarray(p.budget_frozen, bool)
    return pd.DataFrame(
        {
            "org": p.budget_org[over],
            "year": p.budget_year[over],
            "used": used[over] / 100,
            "budget": p.budget_eur[over].astype(float),
            "over": (used - cap)[over] / 100,
        }
    )


def budget_use(problem: Problem, start: np.ndarray) -> np.ndarray:
    """Euros (to the cent) each budget row's org books in its year."""
    return budget_cents(problem, start) / 100


def day_rate_cents(problem: Problem) -> np.ndarray:
    """Cost of each work per day of its occupation, in whole cents.

    A work's cost is spread over its days pro rata (a work from December to
    February books a third of its cost in the first year when a third of its
    days lie there); the rate is rounded to the cent, so a work books its
    cost to within half a cent per day.
    """
    p = problem
    counted = p.active & (p.cost != 0)
    rate = np.rint(p.cost.astype(float) * 100 / (p.duration + 1)).astype(np.int64)
    return np.where(counted, rate, 0)


def year_days(start: np.ndarray, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(work, year, days) of every calendar year each occupation touches."""
    start = np.asarray(start, np.int64)
    end = start + np.asarray(duration, np.int64)
    y0, y1 = day_year(start), day_year(end)
    count = (y1 - y0 + 1).astype(np.int64)
    work = np.repeat(np.arange(len(start)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    year = y0[work] + (np.arange(len(work)) - first)
    begin = np.maximum(start[work], year_start(year))
    finish = np.minimum(end[work], year_start(year + 1) - 1)
    return work, year, finish - begin + 1


def budget_cents(problem: Problem, start: np.ndarray) -> np.ndarray:
    """Cents each budget row's org books in its year (costs spread pro rata by days)."""
    p = problem
    rows = len(p.budget_org)
    used = np.zeros(rows, dtype=np.int64)
    if rows == 0:
        return used
    rate = day_rate_cents(p)
    counted = np.flatnonzero(rate != 0)
    work, year, days = year_days(np.asarray(start)[counted], p.duration[counted])
    work = counted[work]
    key_rows = p.budget_org.astype(np.int64) * 10_000 + p.budget_year.astype(np.int64)
    order = np.argsort(key_rows, kind="stable")
    sorted_keys = key_rows[order]
    key_works = p.org.astype(np.int64)[work] * 10_000 + year
    pos = np.searchsorted(sorted_keys, key_works)
    pos_c = np.minimum(pos, rows - 1)
    hit = (pos < rows) & (sorted_keys[pos_c] == key_works)
    np.add.at(used, order[pos_c[hit]], (rate[work] * days)[hit])
    return used


def budget_caps(problem: Problem) -> np.ndarray:
    """Highest cents each budget row may book: its budget, or the plan's when more.

    A frozen row's cap is the plan's own spending; a row the plan already
    overruns may stay as far over as the plan is, never further.
    """
    p = problem
    planned = budget_cents(p, p.start)
    cap = np.asarray(p.budget_eur, dtype=np.int64) * 100
    return np.where(np.asarray(p.budget_frozen, bool), planned, np.maximum(cap, planned))


def cell_peaks(problem: Problem, start: np.ndarray, combined: np.ndarray) -> pd.Series:
    """Most simultaneous occupations in every occupied cell (index: cell code)."""
    occ = occupations(problem, start, combined)
    if occ.empty:
        return pd.Series(dtype="int64")
    cell = np.r_[occ["cell"].to_numpy(), occ["cell"].to_numpy()]
    day = np.r_[occ["begin"].to_numpy(), occ["end"].to_numpy()]
    delta = np.r_[np.ones(len(occ), np.int64), -np.ones(len(occ), np.int64)]
    order = np.lexsort((delta, day, cell))  # at the same day, ends (-1) before starts
    cell, delta = cell[order], delta[order]
    running = np.cumsum(delta)
    first = np.r_[True, cell[1:] != cell[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(cell)), 0))
    level = running - np.r_[0, running][base]
    return pd.Series(level).groupby(cell).max().astype("int64")


def pair_state(
    problem: Problem, start: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether each pair is in the street together, and whether it digs after pave.

    Dig after pave (a moratorium violation): one work seals the surface, the
    other excavates and starts after the sealing started and no later than
    ``moratorium_days`` after it ended. An excavation that starts during the
    new surface's last days is such a violation (and in the street together
    with it too); an excavation that starts first or on the same day and
    overlaps the sealing is only in the street together with it.
    """
    p = problem
    s = np.asarray(start, np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    d, m = p.duration, p.moratorium_days
    together = (s[a] <= s[b] + d[b]) & (s[b] <= s[a] + d[a])

    def digs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return p.seals[x] & p.excavates[y] & (s[y] > s[x]) & (s[y] <= s[x] + d[x] + m)

    return together, digs(a, b) | digs(b, a)


# --- pairs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Pairs:
    """Nearby pairs that constrain the schedule, one row each."""

    a: np.ndarray
    b: np.ndarray
    clash: np.ndarray  # the pair can both overlap and not overlap (or shares a cluster)
    mor_ab: np.ndarray  # a seals, b excavates, and a violation is both possible and avoidable
    mor_ba: np.ndarray
    cluster: np.ndarray  # 1 when the two share a candidate cluster, -1 when not
    was_ab: np.ndarray  # b digs after a paves at the planned dates
    was_ba: np.ndarray
    was_clash: np.ndarray  # the two are in the street together at the planned dates


def _shared_pairs(p: Problem) -> pd.DataFrame:
    """Every pair (a < b) of works that are members of one candidate, with the candidate."""
    work, cid, _ = p.members
    frame = pd.DataFrame({"c": cid, "w": work})
    both = frame.merge(frame, on="c", suffixes=("_a", "_b"))
    both = both[both["w_a"] < both["w_b"]]
    return pd.DataFrame(
        {"a": both["w_a"].to_numpy(np.int64), "b": both["w_b"].to_numpy(np.int64),
         "c": both["c"].to_numpy(np.int64)}
    )  # fmt: skip


def _shared_map(p: Problem) -> dict[tuple[int, int], list[int]]:
    """The candidates every pair (a < b) of works shares, by pair."""
    shared = _shared_pairs(p)
    if not len(shared):
        return {}
    shared = shared.sort_values(["a", "b", "c"], kind="stable")
    a, b, c = (shared[k].to_numpy() for k in ("a", "b", "c"))
    cuts = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1]), True])
    heads = cuts[:-1]
    groups = np.split(c, cuts[1:-1])
    return {
        (x, y): g.tolist()
        for x, y, g in zip(a[heads].tolist(), b[heads].tolist(), groups, strict=True)
    }


def _shared_keys(p: Problem) -> np.ndarray:
    shared = _shared_pairs(p)
    return np.unique(shared["a"].to_numpy() * len(p.start) + shared["b"].to_numpy())


def _pairs(p: Problem) -> _Pairs:
    a = np.asarray(p.pair_a, dtype=np.int64)
    b = np.asarray(p.pair_b, dtype=np.int64)
    keep = (a != b) & p.active[a] & p.active[b] & (p.changeable[a] | p.changeable[b])
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    if len(a):
        uniq = np.unique(np.c_[a, b], axis=0)
        a, b = uniq[:, 0], uniq[:, 1]
    # start domains: fixed works only at their planned start
    lo = np.where(p.changeable, p.lo, p.start)
    hi = np.where(p.changeable, p.hi, p.start)
    d = p.duration
    overlap = (lo[a] - d[b] <= hi[b]) & (lo[b] <= hi[a] + d[a])
    a_first = lo[a] + d[a] + 1 <= hi[b]
    b_first = lo[b] + d[b] + 1 <= hi[a]
    shared = np.where(np.isin(a * len(p.start) + b, _shared_keys(p)), 1, -1)
    clash = overlap & (a_first | b_first | (shared >= 0))
    m = p.moratorium_days

    def moratorium(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # violation when s_x < s_y <= s_x + d_x + m (see pair_state)
        possible = (hi[y] >= lo[x] + 1) & (lo[y] <= hi[x] + d[x] + m)
        avoidable = (lo[y] <= hi[x]) | (hi[y] >= lo[x] + d[x] + m + 1)
        return p.seals[x] & p.excavates[y] & possible & avoidable

    def violated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = p.start
        return p.seals[x] & p.excavates[y] & (s[y] > s[x]) & (s[y] <= s[x] + d[x] + m)

    mor_ab, mor_ba = moratorium(a, b), moratorium(b, a)
    keep = clash | mor_ab | mor_ba
    a, b = a[keep], b[keep]
    together = (p.start[a] <= p.start[b] + d[b]) & (p.start[b] <= p.start[a] + d[a])
    return _Pairs(
        a, b, clash[keep], mor_ab[keep], mor_ba[keep], shared[keep], violated(a, b),
        violated(b, a), together,
    )  # fmt: skip


# --- models -----------------------------------------------------------------


class _Model:
    """One CP-SAT model over the works ``free``; every other work is a constant."""

    def __init__(
        self,
        p: Problem,
        w: Weights,
        free: np.ndarray,
        pairs: _Pairs,
        clusters: np.ndarray,
        current: np.ndarray,
        combined_now: np.ndarray,
        hint: bool,
        shared: dict[tuple[int, int], list[int]] | None = None,
        count: np.ndarray | None = None,
    ) -> None:
        self.p, self.w, self.free, self.clusters = p, w, free, clusters
        # the works whose combination the objective counts (all when None)
        self.count = count
        self.current = current
        self.combined_now = combined_now
        m = self.m = cp_model.CpModel()
        self.s: dict[int, cp_model.IntVar] = {}
        self.shift: dict[int, cp_model.IntVar] = {}
        self.comb: dict[int, cp_model.IntVar] = {}
        self.joint: dict[int, cp_model.IntVar] = {}
        self.terms: list[cp_model.LinearExprT] = []
        self.taken: dict[int, list] = {}
        self.shared = shared or {}
        self.coefs: list[int] = []
        self.n_pairs = len(pairs.a)
        self.planned_peaks: dict[int, int] = {}
        for i in free.tolist():
            s = self.s[i] = m.new_int_var(int(p.lo[i]), int(p.hi[i]), f"s{i}")
            if hint:
                m.add_hint(s, int(current[i]))
            planned = int(p.start[i])
            shift = self.shift[i] = m.new_int_var(
                0, max(planned - int(p.lo[i]), int(p.hi[i]) - planned), f"d{i}"
            )
            m.add(shift >= s - planned)
            m.add(shift >= planned - s)
            self.objective(-w.shift_day, shift)
        self._clusters(hint)
        self._pairs(pairs)

    def objective(self, coef: int, term: cp_model.LinearExprT) -> None:
        """Add ``coef * term`` to the maximised objective."""
        self.terms.append(term)
        self.coefs.append(int(coef))

    # constants for works outside the model
    def start(self, i: int) -> cp_model.LinearExprT:
        return self.s[i] if i in self.s else int(self.current[i])

    def _clusters(self, hint: bool) -> None:
        """Candidate projects: which are executed (each work in at most one), and when."""
        p, m, w = self.p, self.m, self.w
        if not len(self.clusters):
            return
        work, cid, off = p.members
        rows = np.flatnonzero(np.isin(cid, self.clusters))
        rows = rows[np.lexsort((work[rows], cid[rows]))]
        bounds = np.flatnonzero(np.r_[True, cid[rows][1:] != cid[rows][:-1], True])
        taken: dict[int, list] = {}
        for k in range(len(bounds) - 1):
            r = rows[bounds[k] : bounds[k + 1]]
            idx, o = work[r], off[r]
            c = int(cid[r[0]])
            lo = int((p.lo[idx] - o).max())
            hi = int((p.hi[idx] - o).min())
            if lo > hi:
                continue
            comb = self.comb[c] = m.new_bool_var(f"comb{c}")
            joint = self.joint[c] = m.new_int_var(lo, hi, f"S{c}")
            spread = m.new_int_var(0, int((p.hi[idx] - p.lo[idx]).max()), f"spread{c}")
            for i, oi in zip(idx.tolist(), o.tolist(), strict=True):
                m.add(self.s[i] == joint + int(oi)).only_enforce_if(comb)
                m.add(spread >= self.shift[i]).only_enforce_if(comb)
                taken.setdefault(i, []).append(comb)
            gain = len(idx) if self.count is None else int(self.count[idx].sum())
            self.objective(w.combined * gain, comb)
            self.objective(-w.spread_day, spread)
            if hint:
                now = bool(self.combined_now[c])
                m.add_hint(comb, now)
                first = int(idx[0])
                m.add_hint(joint, int(min(max(self.current[first] - int(o[0]), lo), hi)))
                m.add_hint(
                    spread, int(np.abs(self.current[idx] - p.start[idx]).max()) if now else 0
                )
        for lits in taken.values():
            if len(lits) > 1:
                m.add_at_most_one(lits)
        self.taken = taken

    def _pairs(self, pairs: _Pairs) -> None:
        """Clashes and moratoria: never worse than the plan for any pair.

        A pair that does not clash in the plan may not clash (outside a
        combined cluster of both) unless :attr:`Problem.allow_new_clashes`; a
        pair that does not dig after pave in the plan may not. Only what the
        plan already has can stay, at a penalty. The current solution (the
        plan's dates at first) satisfies every such constraint, so every model
        has a solution and it is given as the hint.
        """
        p, m, w = self.p, self.m, self.w
        d = p.duration
        mor = p.moratorium_days
        for a, b, clash, mab, mba, c, was_ab, was_ba, was_clash in zip(
            pairs.a.tolist(), pairs.b.tolist(), pairs.clash.tolist(), pairs.mor_ab.tolist(),
            pairs.mor_ba.tolist(), pairs.cluster.tolist(), pairs.was_ab.tolist(),
            pairs.was_ba.tolist(), pairs.was_clash.tolist(), strict=True,
        ):  # fmt: skip
            sa, sb = self.start(a), self.start(b)
            da, db = int(d[a]), int(d[b])
            if clash:
                # a_first: a ends before b starts; b_first: b ends before a starts
                a_first = m.new_bool_var("")
                m.add(sb >= sa + da + 1).only_enforce_if(a_first)
                m.add(sb <= sa + da).only_enforce_if(~a_first)
                b_first = m.new_bool_var("")
                m.add(sa >= sb + db + 1).only_enforce_if(b_first)
                m.add(sa <= sb + db).only_enforce_if(~b_first)
                m.add_bool_or([~a_first, ~b_first])
                lits = [a_first, b_first]
                if c >= 0:
                    lits.extend(self.comb[k] for k in self.shared.get((a, b), ()) if k in self.comb)
                if was_clash or p.allow_new_clashes:
                    v = m.new_bool_var("")
                    m.add_bool_or([*lits, v])
                    self.objective(-(w.clash if was_clash else w.new_clash), v)
                else:
                    m.add_bool_or(lits)
            for x_start, y_start, dx, flag, was in (
                (sa, sb, da, mab, was_ab),
                (sb, sa, db, mba, was_ba),
            ):
                if not flag:
                    continue
                # late: the excavation starts after the sealing started
                late = m.new_bool_var("")
                m.add(y_start >= x_start + 1).only_enforce_if(late)
                m.add(y_start <= x_start).only_enforce_if(~late)
                far = m.new_bool_var("")
                m.add(y_start >= x_start + dx + mor + 1).only_enforce_if(far)
                m.add(y_start <= x_start + dx + mor).only_enforce_if(~far)
                if was:
                    slack = m.new_bool_var("")
                    m.add_bool_or([~late, far, slack])
                    self.objective(-w.violation, slack)
                else:
                    m.add_bool_or([~late, far])

    # --- coupling constraints (budgets, cells) ---------------------------------

    def add_budgets(self, outside_start: np.ndarray) -> None:
        """Yearly budgets of the organisations (budget lines) of the free works.

        Each work books its cost pro rata over the days it occupies in each
        year (:func:`day_rate_cents`). A row may never book more than its cap
        (:func:`budget_caps`: its budget, or the plan's spending where that
        is more); the euros over the budget itself are penalised per euro.
        """
        p, m, w = self.p, self.m, self.w
        if not len(p.budget_org):
            return
        free = self.free
        orgs = np.unique(p.org[free])
        rows = np.flatnonzero(np.isin(p.budget_org, orgs))
        if not len(rows):
            return
        rate = day_rate_cents(p)
        counted = rate != 0
        in_model = np.zeros(len(p.start), bool)
        in_model[free] = True
        mine = free[counted[free]]
        # a free work whose every possible day lies in one year books a constant
        y0, y1 = day_year(p.lo[mine]), day_year(p.hi[mine] + p.duration[mine])
        single = y0 == y1
        const_idx = np.r_[np.flatnonzero(counted & ~in_model & np.isin(p.org, orgs)), mine[single]]
        work, year, days = year_days(np.asarray(outside_start)[const_idx], p.duration[const_idx])
        work = const_idx[work]
        const = (
            pd.DataFrame({"org": p.org[work], "year": year, "cents": rate[work] * days})
            .groupby(["org", "year"])["cents"]
            .sum()
            .to_dict()
        )
        terms: dict[tuple[int, int], tuple[list, list, list]] = {}
        for i, first_year, last_year in zip(
            mine[~single].tolist(), y0[~single].tolist(), y1[~single].tolist(), strict=True
        ):
            years = np.arange(first_year, last_year + 2)
            starts = year_start(years).tolist()
            s_i, d_i = self.s[i], int(p.duration[i])
            for k, y in enumerate(years[:-1].tolist()):
                b0, b1 = starts[k], starts[k + 1] - 1
                lo_i, hi_i = int(p.lo[i]), int(p.hi[i])
                t0 = m.new_int_var(max(lo_i, b0), max(hi_i, b0), "")
                m.add_max_equality(t0, [s_i, b0])
                t1 = m.new_int_var(min(lo_i + d_i, b1), min(hi_i + d_i, b1), "")
                m.add_min_equality(t1, [s_i + d_i, b1])
                n_days = m.new_int_var(0, min(d_i + 1, b1 - b0 + 1), "")
                m.add_max_equality(n_days, [0, t1 - t0 + 1])
                vars_, coefs, tops = terms.setdefault((int(p.org[i]), y), ([], [], []))
                vars_.append(n_days)
                coefs.append(int(rate[i]))
                tops.append(min(d_i + 1, b1 - b0 + 1))
        caps = budget_caps(p)
        frozen = np.asarray(p.budget_frozen, bool)
        weight = w.budget_eur_hard if p.hard_budgets else w.budget_eur
        for r in rows.tolist():
            key = (int(p.budget_org[r]), int(p.budget_year[r]))
            if key not in terms:
                continue  # constant: nothing in this model can change it
            vars_, coefs, tops = terms[key]
            base = int(const.get(key, 0))
            most = base + sum(c * t for c, t in zip(coefs, tops, strict=True))
            if most <= int(p.budget_eur[r]) * 100 and not frozen[r]:
                continue
            used = cp_model.LinearExpr.weighted_sum(vars_, coefs) + base
            m.add(used <= int(caps[r]))  # never further over than the plan
            if frozen[r]:
                continue
            budget = int(p.budget_eur[r]) * 100
            if most > budget:
                over = m.new_int_var(0, (most - budget) // 100 + 1, f"over{r}")
                m.add(100 * over >= used - budget)
                self.objective(-weight, over)

    def add_cells(self, outside_start: np.ndarray, combined_out: np.ndarray) -> None:
        """At most ``max_parallel`` occupations at a time in every cell the free works touch."""
        p, m, w = self.p, self.m, self.w
        if p.max_parallel is None:
            return
        free = self.free
        in_model = np.zeros(len(p.start), bool)
        in_model[free] = True
        touched = np.unique(p.cell[free][(p.cell[free] >= 0) & p.active[free]])
        if not len(touched):
            return
        # occupations of everything outside the model, at its current dates
        outside = _without(p, in_model)
        occ = occupations(outside, outside_start, combined_out)
        occ = occ[np.isin(occ["cell"].to_numpy(), touched)]
        intervals: dict[int, list] = {int(c): [] for c in touched.tolist()}
        for cell, begin, end in zip(
            occ["cell"].tolist(), occ["begin"].tolist(), occ["end"].tolist(), strict=True
        ):
            intervals[cell].append(m.new_fixed_size_interval_var(begin, end - begin, ""))
        for i in free.tolist():
            if p.cell[i] < 0 or not p.active[i]:
                continue
            size = int(p.duration[i]) + 1
            lits = self.taken.get(i, [])
            if lits:
                # the work occupies the street on its own unless one of its candidates runs
                alone = m.new_bool_var("")
                m.add(alone + sum(lits) == 1)
                iv = m.new_optional_fixed_size_interval_var(self.s[i], size, alone, "")
            else:
                iv = m.new_fixed_size_interval_var(self.s[i], size, "")
            intervals[int(p.cell[i])].append(iv)
        work, cid, off = p.members
        for c, comb in self.comb.items():
            r = np.flatnonzero(cid == c)
            r = r[p.active[work[r]] & (p.cell[work[r]] >= 0)]
            if not len(r):
                continue
            span = int((off[r] + p.duration[work[r]]).max()) + 1
            for cell in np.unique(p.cell[work[r]]).tolist():
                intervals[cell].append(
                    m.new_optional_fixed_size_interval_var(self.joint[c], span, comb, "")
                )
        k = int(p.max_parallel)
        planned = self.planned_peaks
        for cell, ivs in intervals.items():
            if len(ivs) <= k:
                continue
            # never more at a time than the limit, or than the plan has where it has more
            cap = max(k, int(planned.get(cell, 0)))
            over = m.new_int_var(0, min(len(ivs), cap) - k, f"cell{cell}")
            m.add_cumulative(ivs, [1] * len(ivs), k + over)
            self.objective(-w.cell_over, over)

    def solve(
        self, time_limit: float, workers: int, *, fixed: bool = False
    ) -> tuple[cp_model.CpSolver, Any]:
        """Solve; ``fixed`` evaluates the hinted solution only (its objective)."""
        self.m.maximize(cp_model.LinearExpr.weighted_sum(self.terms, self.coefs))
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(float(time_limit), 0.01)
        if len(self.free) <= _EXACT_WORKS or fixed:
            # small models: one worker with the full LP relaxation proves
            # optimality far sooner than a portfolio (measured on 2 cores)
            solver.parameters.num_workers = 1
            solver.parameters.linearization_level = 2
        else:
            solver.parameters.num_workers = max(int(workers), 1)
        if fixed:
            solver.parameters.fix_variables_to_their_hinted_value = True
        status = solver.solve(self.m)
        return solver, status


def _without(p: Problem, drop: np.ndarray) -> Problem:
    """``p`` with the works in ``drop`` made inactive (for occupations outside a model)."""
    return replace(p, active=p.active & ~drop)


def _found(status: int) -> bool:
    return status in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def _morton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Z-order (Morton) code of points: nearby points get nearby codes."""

    def quantise(v: np.ndarray) -> np.ndarray:
        span = float(np.ptp(v)) if len(v) else 0.0
        return ((v - v.min()) / (span if span > 0 else 1.0) * 65535).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    return spread(quantise(x)) | (spread(quantise(y)) << np.uint64(1))


class _Search:
    """The solution being built, and the models that improve it."""

    def __init__(
        self,
        p: Problem,
        w: Weights,
        workers: int,
        tell: Progress,
        total: int,
        pairs: _Pairs | None = None,
        shared: dict[tuple[int, int], list[int]] | None = None,
    ) -> None:
        self.p, self.w, self.workers, self.tell = p, w, workers, tell
        self.pairs = pairs if pairs is not None else _pairs(p)
        self.shared = shared if shared is not None else _shared_map(p)
        work, cid, _ = p.members
        self.cand_size = np.bincount(cid, minlength=p.n_clusters)
        self.start = np.asarray(p.start, dtype=np.int64).copy()
        self.combined = np.zeros(p.n_clusters, dtype=bool)
        self.proven = np.ones(len(p.start), dtype=bool)
        self.rows: list[dict] = []
        self.planned_peaks: dict[int, int] = (
            cell_peaks(p, p.start, np.zeros(p.n_clusters, bool)).to_dict()
            if p.max_parallel is not None
            else {}
        )
        self.total = max(total, 1)
        self.done = 0
        # progress of this stage runs from ``base`` to ``base + span``
        self.base, self.span, self.what = 0.0, 1.0, "scheduled"

    def model(
        self,
        free: np.ndarray,
        coupling: bool,
        *,
        current: np.ndarray | None = None,
        weights: Weights | None = None,
    ) -> _Model:
        p = self.p
        mask = np.zeros(len(p.start), bool)
        mask[free] = True
        work, cid, _ = p.members
        # an executed candidate with members outside the model stays as it is,
        # its members in the model too; candidates wholly inside are decided
        inside = np.bincount(cid[mask[work]], minlength=p.n_clusters)
        whole = (inside == self.cand_size) & (self.cand_size > 0)
        straddle = self.combined & ~whole & (inside > 0)
        if straddle.any():
            mask[work[straddle[cid]]] = False
            free = np.flatnonzero(mask)
            inside = np.bincount(cid[mask[work]], minlength=p.n_clusters)
            whole = (inside == self.cand_size) & (self.cand_size > 0)
        k = mask[self.pairs.a] | mask[self.pairs.b]
        sub = _Pairs(*(getattr(self.pairs, f)[k] for f in _Pairs.__dataclass_fields__))
        clusters = np.flatnonzero(whole)
        start = self.start if current is None else current
        model = _Model(
            p, weights or self.w, np.sort(free), sub, clusters, start, self.combined, hint=True,
            shared=self.shared,
        )  # fmt: skip
        model.planned_peaks = self.planned_peaks
        if coupling:
            model.add_budgets(start)
            outside = self.combined.copy()
            outside[clusters] = False
            model.add_cells(start, outside)
        return model

    def exact(self, free: np.ndarray, coupling: bool, limit: float, name: str, stage: str) -> None:
        """One model over ``free``; its solution replaces the current one."""
        model = self.model(free, coupling)
        solver, status = model.solve(limit, self.workers)
        _read(model, solver, status, self.start, self.combined)
        self.proven[free] = status == cp_model.OPTIMAL
        self.rows.append(_model_row(name, stage, "exact", model, solver, status))
        self.advance(len(free))

    def advance(self, works: int) -> None:
        self.done += works
        self.tell(
            self.base + self.span * min(self.done / self.total, 1.0),
            f"{self.what} {self.done} of {self.total} works",
        )

    def count_pairs(self, free: np.ndarray) -> int:
        """Constraining pairs with at least one work in ``free``."""
        mask = np.zeros(len(self.p.start), bool)
        mask[free] = True
        return int((mask[self.pairs.a] | mask[self.pairs.b]).sum())

    def evaluate(self, free: np.ndarray, coupling: bool, deadline: float) -> tuple[float, float]:
        """Objective of the current solution over ``free`` (and the solver seconds).

        The dates and combinations are fixed; the solver still sets the
        variables they imply (violations, budget overruns...). Only a proven
        optimum is the solution's objective: a merely feasible answer (the
        time ran out, e.g. on a loaded machine) can be lower, and is not
        reported (``nan``). The evaluation gets at least
        :data:`_EVALUATION_SECONDS`, which a fixed model needs only on a very
        busy machine.
        """
        model = self.model(free, coupling)
        left = max(deadline - time.perf_counter(), _EVALUATION_SECONDS)
        solver, status = model.solve(left, 1, fixed=True)
        value = float(solver.objective_value) if status == cp_model.OPTIMAL else np.nan
        return value, float(solver.wall_time)

    def blocks(
        self,
        free: np.ndarray,
        coupling: bool,
        limit: float,
        name: str,
        stage: str,
        *,
        bound: bool = True,
    ) -> None:
        """Large neighbourhood search over ``free`` in spatial blocks.

        The works are ordered along a Z-order curve of their positions
        (members of one cluster kept together) and cut into blocks of about
        :data:`_BLOCK_WORKS` works; each block is solved exactly with every
        other work held at its current date, in turn, the cuts shifting by
        half a block every sweep; sweeps repeat until one changes nothing or
        the time is spent, and the whole set's objective is evaluated once at
        the end. The first sweep's block models fix violations first (a fix
        worth :data:`FIXES_FIRST`, at least the weights' own): they prove
        their optimum sooner, and a large set often has time for one sweep
        only; the later sweeps use the weights. The whole set is also solved as one model, which gives the
        bound (and sometimes a better solution, which then wins). For sets of
        more than :data:`_PARALLEL_BOUND_WORKS` works and two or more workers
        it runs in a second thread while the blocks run (CP-SAT releases the
        GIL), both ending early enough for the last evaluation to finish within
        ``limit``; otherwise afterwards, from the blocks' solution, with what
        is left after :data:`_BLOCK_SHARE` of the time (which often proves a
        set of a few hundred works optimal). Without ``bound`` no model of the
        whole set is built (building one over thousands of works with budgets
        and cells can take longer than the time left): no bound, no objective.
        """
        t0 = time.perf_counter()
        p = self.p
        x = p.x[free] if p.x is not None else free.astype(float)
        y = p.y[free] if p.y is not None else np.zeros(len(free))
        code = _morton(np.asarray(x, float), np.asarray(y, float))
        # a block may cut a candidate project: one wholly inside is decided by the
        # block's model, one cut is held as it is (see :meth:`model`); the cuts
        # move by half a block every sweep
        order = free[np.lexsort((free, code))]
        starts_unit = np.ones(len(order), bool)
        sweeps = models = 0
        wall = 0.0
        whole: dict[str, Any] = {}
        thread = None
        build = 0.0
        if not bound:
            search_end = t0 + limit
        elif self.workers >= 2 and len(free) > _PARALLEL_BOUND_WORKS:
            built = time.perf_counter()
            full = self.model(free, coupling)
            build = time.perf_counter() - built
            # the last evaluation builds a model as large: keep time for it, so
            # that the set ends within its limit
            end = t0 + limit - 1.5 * build

            def bound_model() -> None:
                left = max(end - time.perf_counter(), 0.1)
                whole["solver"], whole["status"] = full.solve(left, self.workers - 1)

            thread = threading.Thread(target=bound_model, name="ims-geo-bound", daemon=True)
            thread.start()
            search_end = end
        else:
            # keep a few seconds for the bound: presolving a model of thousands
            # of works alone takes that long
            search_end = t0 + min(_BLOCK_SHARE * limit, limit - min(_BOUND_SECONDS, 0.5 * limit))
        # the first sweep fixes first: its block models prove their optimum
        # sooner, and a large set often has time for one sweep only; later
        # sweeps trade fixes for combined works as the weights say
        first = replace(self.w, violation=max(self.w.violation, FIXES_FIRST))
        while time.perf_counter() < search_end:
            was_start, was_combined = self.start[free].copy(), self.combined.copy()
            settled = sweeps > 0 or first == self.w
            weights = first if sweeps == 0 else self.w
            offset = (sweeps % 2) * (_BLOCK_WORKS // 2)
            edges = np.flatnonzero(starts_unit)
            targets = np.arange(offset, len(order), _BLOCK_WORKS)
            at = np.minimum(np.searchsorted(edges, targets), len(edges) - 1)
            cuts = np.unique(np.r_[0, edges[at], len(order)])
            for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
                if time.perf_counter() >= search_end:
                    break
                block = order[lo:hi]
                model = self.model(block, coupling, weights=weights)
                remaining = search_end - time.perf_counter()
                solver, status = model.solve(min(_BLOCK_SECONDS, max(remaining, 0.05)), 1)
                _read(model, solver, status, self.start, self.combined)
                settled &= status == cp_model.OPTIMAL
                wall += float(solver.wall_time)
                models += 1
            sweeps += 1
            # a sweep of blocks all solved to optimality that changes nothing ends the search
            if (
                settled
                and np.array_equal(was_start, self.start[free])
                and np.array_equal(was_combined, self.combined)
            ):
                break
        if thread is not None:
            thread.join()
        objective = -np.inf
        # the objective of the blocks' solution needs a model of the whole set:
        # only when there is time to build it (a loaded machine builds slowly)
        if bound and t0 + limit - time.perf_counter() > 1.2 * build:
            evaluated, seconds = self.evaluate(free, coupling, t0 + limit)
            wall += seconds
            objective = evaluated if np.isfinite(evaluated) else -np.inf
        final = "FEASIBLE" if np.isfinite(objective) or models else "UNKNOWN"
        best = np.nan
        if thread is None and bound:
            left = t0 + limit - time.perf_counter()
            if left > 0.5:
                full = self.model(free, coupling)
                whole["solver"], whole["status"] = full.solve(left, self.workers)
        if "solver" in whole:
            solver, status = whole["solver"], whole["status"]
            wall += float(solver.wall_time)
            if _found(status):
                best = float(solver.best_objective_bound)
                better = (
                    objective < float(solver.objective_value)
                    if np.isfinite(objective)
                    else status == cp_model.OPTIMAL
                )
                if better:
                    _read(full, solver, status, self.start, self.combined)
                    objective = float(solver.objective_value)
                if status == cp_model.OPTIMAL:
                    final = "OPTIMAL"
        gap = (
            abs(best - objective) / max(1.0, abs(objective))
            if np.isfinite(best) and np.isfinite(objective)
            else np.nan
        )
        self.proven[free] = final == "OPTIMAL"
        self.rows.append(
            {
                "model": name,
                "stage": stage,
                "method": f"blocks ({sweeps} sweeps, {models} block models)",
                "works": len(free),
                "pairs": self.count_pairs(free),
                "clusters": len(np.unique(self.p.members[1][np.isin(self.p.members[0], free)])),
                "status": final,
                "objective": objective if np.isfinite(objective) else np.nan,
                "best_bound": best,
                "gap": gap,
                "wall_s": wall,
            }
        )
        self.advance(len(free))


def _model_row(
    name: str, stage: str, method: str, model: _Model, solver: cp_model.CpSolver, status: int
) -> dict:
    found = _found(status)
    objective = float(solver.objective_value) if found else np.nan
    bound = float(solver.best_objective_bound) if found else np.nan
    gap = abs(bound - objective) / max(1.0, abs(objective)) if found else np.nan
    return {
        "model": name,
        "stage": stage,
        "method": method,
        "works": len(model.free),
        "pairs": model.n_pairs,
        "clusters": len(model.comb),
        "status": solver.status_name(status),
        "objective": objective,
        "best_bound": bound,
        "gap": gap,
        "wall_s": float(solver.wall_time),
    }


def _read(
    model: _Model, solver: cp_model.CpSolver, status: int, start: np.ndarray, combined: np.ndarray
) -> None:
    if status == cp_model.UNKNOWN:  # no solution in time: keep the current dates
        return
    if not _found(status):
        raise ScheduleError(
            f"CP-SAT returned {solver.status_name(status)} for a model of {len(model.free)} works; "
            "every constraint has a slack, so this is a defect in the scheduler: please report it "
            "with the input works"
        )
    for i, var in model.s.items():
        start[i] = solver.value(var)
    for c, var in model.comb.items():
        combined[c] = bool(solver.value(var))


def solve(
    problem: Problem,
    *,
    time_limit: float = 30.0,
    workers: int = 2,
    weights: Weights | None = None,
    progress: Progress | None = None,
    bound_share: float = BOUND_SHARE,
) -> Schedule:
    """Schedule the changeable works of ``problem``.

    Parameters
    ----------
    problem
        The works, pairs, clusters and limits.
    time_limit
        Seconds for all models together; each model gets a share in
        proportion to its number of works.
    workers
        CP-SAT search workers for the models of more than
        :data:`_EXACT_WORKS` works (smaller ones run on one worker).
    weights
        Objective weights (default :class:`Weights`).
    progress
        Called as ``progress(fraction, message)`` while solving.
    bound_share
        Share of ``time_limit`` kept for the upper bound on the combined
        works of every part (:func:`combined_bounds`), reported in the
        columns combined, combined_bound, combined_bound_fixing and
        bound_proof of the part's row of :attr:`Schedule.models`.

    Returns
    -------
    Schedule
        Start day per work, combined flag per cluster, and the model report.
    """
    p, w = problem, weights or Weights()
    t0 = time.perf_counter()
    n = len(p.start)
    tell = progress or (lambda fraction, message: None)

    pairs, shared = _pairs(p), _shared_map(p)
    # decomposition: changeable works linked by constraining pairs and clusters
    both = p.changeable[pairs.a] & p.changeable[pairs.b]
    link_a, link_b = _unit_links(p)
    label = components(n, np.r_[pairs.a[both], link_a], np.r_[pairs.b[both], link_b])
    involved = np.zeros(n, bool)
    involved[pairs.a] = involved[pairs.b] = True
    involved[p.members[0]] = True
    involved &= p.changeable
    comps, comp_size = np.unique(label[involved], return_counts=True)
    coupling = bool(len(p.budget_org)) or p.max_parallel is not None
    share1 = _STAGE1_SHARE if coupling else 1.0
    search = _Search(p, w, workers, tell, int(comp_size.sum()), pairs, shared)
    search.span = share1

    # stage 1: small components batched into exact models, large ones by blocks
    by_label = _grouper(label, involved)
    small = comp_size <= _EXACT_WORKS
    batches: list[np.ndarray] = []
    current: list[np.ndarray] = []
    filled = 0
    for c, size in zip(comps[small].tolist(), comp_size[small].tolist(), strict=True):
        if current and filled + size > _EXACT_WORKS:
            batches.append(np.concatenate(current))
            current, filled = [], 0
        current.append(by_label(c))
        filled += size
    if current:
        batches.append(np.concatenate(current))
    large = [
        by_label(c) for c in comps[~small][np.argsort(-comp_size[~small], kind="stable")].tolist()
    ]
    # the bounds first, in the share kept for them, so that they always get it
    tell(0.0, "bounding the combined works of every part")
    raw_bounds = _prove_bounds(
        p, [*batches, *large], time_limit=time_limit * min(max(bound_share, 0.0), 0.9),
        pairs=pairs, shared=shared,
    )  # fmt: skip
    schedule_limit = time_limit
    stage1_end = t0 + schedule_limit * share1
    remaining_works = int(comp_size.sum())
    # the parts of the network: the row of each part's model, and its works
    parts: list[tuple[int, np.ndarray]] = []
    for k, free in enumerate(batches):
        share = (stage1_end - time.perf_counter()) * len(free) / max(remaining_works, 1)
        parts.append((len(search.rows), free))
        # at least enough for a small model to finish (it stops when solved)
        share = min(max(share, _BATCH_MIN_SECONDS), max(stage1_end - time.perf_counter(), 0.05))
        search.exact(free, coupling, share, f"components {k + 1}", "components")
        remaining_works -= len(free)
    for k, free in enumerate(large):
        # every large component gets its share of what is left (at least a
        # few block models' worth, never past the end of the time limit)
        now = time.perf_counter()
        share = (stage1_end - now) * len(free) / max(remaining_works, 1)
        share = min(max(share, 0.5), max(t0 + schedule_limit - now, 0.05))
        # a model of the whole part only where it can be built and solved in
        # its share: a bound for parts of up to a few hundred works; larger
        # parts spend all their time on blocks (their bound on the combined
        # works comes from :func:`combined_bounds`)
        parts.append((len(search.rows), free))
        search.blocks(
            free, coupling, share, f"large component {k + 1}", "components",
            bound=len(free) <= _PARALLEL_BOUND_WORKS,
        )  # fmt: skip
        remaining_works -= len(free)

    # stage 2: what is still over a budget or a cell limit, with every work that
    # could relieve it free (works in no component included)
    if coupling:
        scope = _repair_scope(p, search.start, search.combined)
        if len(scope):
            left = max(t0 + schedule_limit - time.perf_counter(), 0.05)
            search.base, search.span = share1, 1 - share1
            search.done, search.total = 0, len(scope)
            search.what = "rescheduled for budgets and cells"
            if len(scope) <= _EXACT_WORKS:
                search.exact(scope, True, left, "budgets and cells", "coupling")
            else:
                search.blocks(
                    scope, True, left, "budgets and cells", "coupling",
                    bound=len(scope) <= _PARALLEL_BOUND_WORKS,
                )  # fmt: skip
    # the bounds against the schedule's combined works and violations left
    bounds = _bound_rows(p, [free for _, free in parts], raw_bounds, search.start, search.combined)
    for (at, _), bound in zip(
        parts, bounds.drop(columns="bound_s").to_dict("records"), strict=True
    ):
        search.rows[at].update(bound)
    tell(1.0, "schedule solved")
    models = pd.DataFrame(search.rows, columns=list(MODEL_COLUMNS))
    return Schedule(
        start=search.start, combined=search.combined, models=models, proven=search.proven
    )


# --- upper bounds on the combined works ------------------------------------------

#: Weights of the bound models: combined works only, nothing else counts.
_BOUND_WEIGHTS = Weights(
    combined=1, clash=0, new_clash=0, shift_day=0, spread_day=0, violation=0, cell_over=0,
    budget_eur=0, budget_eur_hard=0,
)  # fmt: skip
#: Parts up to this many works get their bound from one model over the part;
#: larger ones from blocks of :data:`_BOUND_BLOCK_WORKS` works with their neighbours.
_BOUND_WHOLE_WORKS = 400
_BOUND_BLOCK_WORKS = 60
#: Least seconds a batch of small components gets while stage 1's time lasts.
_BATCH_MIN_SECONDS = 0.3
#: Least seconds a bound model gets while the bounds' time lasts.
_BOUND_MIN_SECONDS = 0.3


def _sub_pairs(pairs: _Pairs, keep: np.ndarray, no_clash: np.ndarray | None = None) -> _Pairs:
    """The pairs ``keep``; the clash constraint of the pairs ``no_clash`` dropped."""
    sub = _Pairs(*(getattr(pairs, f)[keep] for f in _Pairs.__dataclass_fields__))
    if no_clash is None:
        return sub
    return replace(sub, clash=sub.clash & ~no_clash[keep])


def _plan_violations_left(p: Problem, pairs: _Pairs, start: np.ndarray) -> int:
    """Pairs of ``pairs`` that dig after pave in the plan, can be fixed, and still do at ``start``."""
    s = np.asarray(start, np.int64)
    d, m = p.duration, p.moratorium_days

    def digs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (s[y] > s[x]) & (s[y] <= s[x] + d[x] + m)

    left = (pairs.mor_ab & pairs.was_ab & digs(pairs.a, pairs.b)) | (
        pairs.mor_ba & pairs.was_ba & digs(pairs.b, pairs.a)
    )
    return int(left.sum())


def combined_bounds(
    problem: Problem,
    parts: list[np.ndarray],
    start: np.ndarray,
    combined: np.ndarray,
    *,
    time_limit: float,
    pairs: _Pairs | None = None,
) -> pd.DataFrame:
    """A proven upper bound on the combined works of every part, and how it is proven.

    A part is a set of changeable works that no constraining pair links to a
    changeable work outside it (a connected component of :func:`solve`, or a
    batch of them). The bound is the most works any schedule could execute in
    the candidate projects, under the hard constraints of every schedule
    (windows, durations, fixed works, each work in at most one project, every
    project at its joint period with the phase rule's offsets, no new
    dig-after-pave violation, no new clash unless ``allow_new_clashes``)
    without budgets and cell limits (dropping a constraint can only raise the
    maximum, so the bound holds with them too). It is found by its own CP-SAT
    model whose objective is the number of combined works alone, never from
    the proposal:

    * ``exact``: a model over the whole part (up to :data:`_BOUND_WHOLE_WORKS`
      works) proved its optimum: the bound is the optimum.
    * ``cp-sat bound``: that model's best bound when the time ran out.
    * ``blocks``: larger parts are cut into blocks of nearby works; each
      block's model holds the block, every member of a candidate project
      with a work in the block, and the constraints among these (a pair with
      a work outside, or a clash a project outside the model could allow,
      is dropped), and counts the combined works of the block only. Each is
      a relaxation of the whole part for the block's works, so the sum of
      the blocks' bounds bounds the part.
    * ``candidates``: no model finished in time: the works that are a member
      of at least one candidate project (a block without a finished model
      counts its works so).

    ``combined_bound_fixing`` bounds the combined works of the schedules
    that leave no more of the plan's fixable dig-after-pave violations in the
    part than ``start`` does (the lexicographic order: violations fixed
    first): a second model maximises ``V`` x fixed violations + combined
    works with ``V`` above any number of combined works, so its bound ``B``
    gives ``combined <= B + V x violations left``. Only for parts with one
    model; NaN elsewhere.

    Returns
    -------
    pandas.DataFrame
        One row per part: combined (works of ``combined`` candidates),
        combined_bound, combined_bound_fixing, bound_proof, bound_s.
    """
    raw = _prove_bounds(problem, parts, time_limit=time_limit, pairs=pairs)
    return _bound_rows(problem, parts, raw, start, combined)


def _prove_bounds(
    p: Problem,
    parts: list[np.ndarray],
    *,
    time_limit: float,
    pairs: _Pairs | None = None,
    shared: dict[tuple[int, int], list[int]] | None = None,
) -> list[dict]:
    """The bound models of every part, within ``time_limit`` (see :func:`combined_bounds`).

    ``pairs`` and ``shared`` (:func:`_pairs`, :func:`_shared_map`) are built
    here when not given.
    """
    pairs = pairs if pairs is not None else _pairs(p)
    n = len(p.start)
    work, cid, _ = p.members
    cand_size = np.bincount(cid, minlength=p.n_clusters)
    in_cand = np.zeros(n, bool)
    in_cand[work] = True
    shared_map = shared if shared is not None else _shared_map(p)
    t0 = time.perf_counter()
    left_works = max(sum(int(in_cand[f].sum()) for f in parts), 1)
    rows: list[dict] = []
    for free in parts:
        free = np.sort(np.asarray(free, np.int64))
        mine = int(in_cand[free].sum())
        clock = time.perf_counter()
        left = t0 + time_limit - clock
        share = max(min(max(left * mine / max(left_works, 1), _BOUND_MIN_SECONDS), left), 0.0)
        left_works -= mine
        row: dict[str, Any] = {"combined_bound": float(mine), "bound_proof": "candidates"}
        if mine == 0:
            row.update(combined_bound=0.0, bound_proof="exact", fix_best=0.0, fix_v=0)
        elif share < 0.01:
            pass  # no time left: the candidates' works
        elif len(free) <= _BOUND_WHOLE_WORKS:
            row.update(_bound_whole(p, pairs, free, share, shared_map, cand_size, mine))
        else:
            row.update(_bound_blocks(p, pairs, free, share, shared_map, in_cand))
        row["bound_s"] = time.perf_counter() - clock
        rows.append(row)
    return rows


def _bound_rows(
    p: Problem, parts: list[np.ndarray], raw: list[dict], start: np.ndarray, combined: np.ndarray
) -> pd.DataFrame:
    """The bounds of :func:`_prove_bounds` with the combined works of a schedule, per part."""
    done = in_combined(p, combined)
    rows = []
    for free, bound in zip(parts, raw, strict=True):
        fixing = np.nan
        if "fix_best" in bound:
            fixing = bound["combined_bound"]
            if bound.get("fix_pairs") is not None and np.isfinite(bound["fix_best"]):
                left = _plan_violations_left(p, bound["fix_pairs"], start)
                fixing = min(math.floor(bound["fix_best"] + 1e-6) + bound["fix_v"] * left, fixing)
        rows.append(
            {
                "combined": int(done[np.asarray(free, np.int64)].sum()),
                "combined_bound": bound["combined_bound"],
                "combined_bound_fixing": float(fixing),
                "bound_proof": bound["bound_proof"],
                "bound_s": bound.get("bound_s", 0.0),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["combined", "combined_bound", "combined_bound_fixing", "bound_proof", "bound_s"],
    )


def _bound_model(
    p: Problem,
    pairs: _Pairs,
    free: np.ndarray,
    start: np.ndarray,
    combined: np.ndarray,
    weights: Weights,
    shared_map: dict[tuple[int, int], list[int]],
    cand_size: np.ndarray,
    count: np.ndarray | None = None,
) -> tuple[_Model, _Pairs]:
    """A bound model over ``free``: candidates wholly inside, pairs inside or with fixed works."""
    n = len(p.start)
    mask = np.zeros(n, bool)
    mask[free] = True
    work, cid, _ = p.members
    inside = np.bincount(cid[mask[work]], minlength=p.n_clusters)
    clusters = np.flatnonzero((inside == cand_size) & (cand_size > 0))
    # a pair with a changeable work outside the model is dropped (a relaxation)
    ok_a = mask[pairs.a] | ~p.changeable[pairs.a]
    ok_b = mask[pairs.b] | ~p.changeable[pairs.b]
    keep = ok_a & ok_b & (mask[pairs.a] | mask[pairs.b])
    # a clash a candidate outside the model could allow is dropped too
    whole = set(clusters.tolist())
    no_clash = np.zeros(len(pairs.a), bool)
    for k in np.flatnonzero(keep & (pairs.cluster >= 0)).tolist():
        key = (int(pairs.a[k]), int(pairs.b[k]))
        if any(c not in whole for c in shared_map.get(key, ())):
            no_clash[k] = True
    sub = _sub_pairs(pairs, keep, no_clash)
    model = _Model(
        p, weights, free, sub, clusters, start, combined, hint=True, shared=shared_map,
        count=count,
    )  # fmt: skip
    return model, sub


def _solve_bound(model: _Model, limit: float) -> tuple[float, bool]:
    """Best bound of a bound model (NaN when nothing was found) and whether it is proven optimal."""
    model.m.maximize(cp_model.LinearExpr.weighted_sum(model.terms, model.coefs))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(float(limit), 0.01)
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2
    status = solver.solve(model.m)
    if status == cp_model.OPTIMAL:
        return float(solver.objective_value), True
    if status == cp_model.FEASIBLE:
        # the proven bound of a search that found a solution; without one (UNKNOWN)
        # CP-SAT's response may carry no bound at all, so none is taken from it
        bound = float(solver.best_objective_bound)
        if np.isfinite(bound) and bound >= float(solver.objective_value):
            return bound, False
    return np.nan, False


def _bound_whole(
    p: Problem,
    pairs: _Pairs,
    free: np.ndarray,
    limit: float,
    shared_map: dict[tuple[int, int], list[int]],
    cand_size: np.ndarray,
    mine: int,
) -> dict:
    none = np.zeros(p.n_clusters, bool)
    model, sub = _bound_model(p, pairs, free, p.start, none, _BOUND_WEIGHTS, shared_map, cand_size)
    has_violations = bool(((sub.mor_ab & sub.was_ab) | (sub.mor_ba & sub.was_ba)).any())
    clock = time.perf_counter()
    best, proven = _solve_bound(model, limit * (0.6 if has_violations else 1.0))
    if not np.isfinite(best):
        return {}
    bound = float(min(math.floor(best + 1e-6), mine))
    out: dict[str, Any] = {
        "combined_bound": bound,
        "bound_proof": "exact" if proven else "cp-sat bound",
        "fix_best": bound,
        "fix_v": 0,
        "fix_pairs": None,
    }
    if has_violations:
        # violations first: V x fixed + combined, V above any number of combined works
        v = mine + 1
        fixing = replace(_BOUND_WEIGHTS, violation=v)
        model_f, sub_f = _bound_model(p, pairs, free, p.start, none, fixing, shared_map, cand_size)
        best_f, _ = _solve_bound(model_f, max(limit - (time.perf_counter() - clock), 0.01))
        out.update(fix_best=best_f, fix_v=v, fix_pairs=sub_f)
    return out


def _bound_blocks(
    p: Problem,
    pairs: _Pairs,
    free: np.ndarray,
    limit: float,
    shared_map: dict[tuple[int, int], list[int]],
    in_cand: np.ndarray,
) -> dict:
    t0 = time.perf_counter()
    n = len(p.start)
    work, cid, _ = p.members
    cand_size = np.bincount(cid, minlength=p.n_clusters)
    counted = free[in_cand[free]]
    x = p.x[counted] if p.x is not None else counted.astype(float)
    y = p.y[counted] if p.y is not None else np.zeros(len(counted))
    order = counted[np.lexsort((counted, _morton(np.asarray(x, float), np.asarray(y, float))))]
    blocks = [order[k : k + _BOUND_BLOCK_WORKS] for k in range(0, len(order), _BOUND_BLOCK_WORKS)]
    total = 0.0
    solved = 0
    for k, block in enumerate(blocks):
        left = t0 + limit - time.perf_counter()
        # an even share, but enough for a model to finish: the blocks left when the
        # time is out count their candidates' works
        share = min(max(left / (len(blocks) - k), _BOUND_MIN_SECONDS), left)
        if share < 0.01:
            total += len(block)
            continue
        mask = np.zeros(n, bool)
        mask[block] = True
        # the block and every member of a candidate project with a work in it
        touching = np.unique(cid[mask[work]])
        halo = np.zeros(n, bool)
        halo[work[np.isin(cid, touching)]] = True
        members = np.flatnonzero(mask | halo)
        model, _ = _bound_model(
            p, pairs, members, p.start, np.zeros(p.n_clusters, bool), _BOUND_WEIGHTS, shared_map,
            cand_size, count=mask,
        )  # fmt: skip
        best, _ = _solve_bound(model, share)
        if np.isfinite(best):
            total += min(math.floor(best + 1e-6), len(block))
            solved += 1
        else:
            total += len(block)
    return {
        "combined_bound": float(total),
        "bound_proof": "blocks" if solved else "candidates",
    }


def _grouper(labels: np.ndarray, mask: np.ndarray) -> Callable[[int], np.ndarray]:
    """A lookup from a label to the indices carrying it (among ``mask``)."""
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(labels[idx], kind="stable")]
    keys = labels[order]

    def get(label: int) -> np.ndarray:
        lo, hi = np.searchsorted(keys, label, "left"), np.searchsorted(keys, label, "right")
        return order[lo:hi]

    return get


def _repair_scope(p: Problem, start: np.ndarray, combined: np.ndarray) -> np.ndarray:
    """Changeable works that could relieve a violated budget or cell, with their cluster mates."""
    n = len(p.start)
    hit = np.zeros(n, bool)
    over = budget_overruns(p, start)
    if len(over):
        movable = (
            p.changeable & p.active & (p.cost != 0)
            & (day_year(p.lo) != day_year(p.hi + p.duration))
        )  # fmt: skip
        keys = over["org"].to_numpy(np.int64) * 10_000 + over["year"].to_numpy(np.int64)
        org = p.org.astype(np.int64) * 10_000
        hit |= movable & (
            np.isin(org + day_year(start), keys) | np.isin(org + day_year(start + p.duration), keys)
        )
    cells = cell_overloads(p, start, combined)
    if len(cells):
        hit |= p.changeable & p.active & np.isin(p.cell, cells["cell"].to_numpy())
    work, cid, _ = p.members
    mates = np.zeros(n, bool)
    mates[work[np.isin(cid, cid[hit[work]])]] = True
    return np.flatnonzero(hit | mates)
