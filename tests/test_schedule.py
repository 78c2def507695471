"""The CP-SAT scheduler on hand-made array problems whose optimum is known."""

from __future__ import annotations

from collections import deque
from itertools import product

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_geo.errors import ScheduleError
from ims_geo.programme import schedule as sc


def problem(**given_values) -> sc.Problem:
    """A problem of n works; every array defaults to 'fixed, nothing special'."""
    start = np.asarray(given_values.pop("start"), dtype=np.int64)
    n = len(start)
    values = {
        "duration": np.zeros(n, np.int64),
        "lo": start,
        "hi": start,
        "changeable": np.ones(n, bool),
        "seals": np.zeros(n, bool),
        "excavates": np.zeros(n, bool),
        "active": np.ones(n, bool),
        "pair_a": np.zeros(0, np.int64),
        "pair_b": np.zeros(0, np.int64),
        "cluster": np.full(n, -1, np.int64),
        "offset": np.zeros(n, np.int64),
        "org": np.arange(n, dtype=np.int64),
        "cost": np.zeros(n, np.int64),
        "cell": np.full(n, -1, np.int64),
    }
    for key, value in given_values.items():
        values[key] = np.asarray(value) if isinstance(value, list | tuple) else value
    return sc.Problem(start=start, **values)


# --- union-find -----------------------------------------------------------------


def brute_components(n: int, a: list[int], b: list[int]) -> np.ndarray:
    """Breadth-first search labelling each node by the smallest node it reaches."""
    adj: dict[int, list[int]] = {i: [] for i in range(n)}
    for x, y in zip(a, b, strict=True):
        adj[x].append(y)
        adj[y].append(x)
    label = np.full(n, -1)
    for root in range(n):
        if label[root] >= 0:
            continue
        queue = deque([root])
        label[root] = root
        while queue:
            u = queue.popleft()
            for v in adj[u]:
                if label[v] < 0:
                    label[v] = root
                    queue.append(v)
    return label


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
        )
    )
)
def test_components_match_breadth_first_search(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    a = [e[0] for e in edges]
    b = [e[1] for e in edges]
    assert sc.components(n, np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)).tolist() == (
        brute_components(n, a, b).tolist()
    )


def test_components_of_a_long_chain_in_reverse_order() -> None:
    n = 1000
    a = np.arange(n - 1)[::-1]
    labels = sc.components(n, a, a + 1)
    assert (labels == 0).all()


# --- evaluators -----------------------------------------------------------------


def test_day_year_and_year_start() -> None:
    days = np.array([0, 364, 365, 19_723])  # 1970-01-01, 1970-12-31, 1971-01-01, 2024-01-01
    assert sc.day_year(days).tolist() == [1970, 1970, 1971, 2024]
    assert sc.year_start(np.array([1970, 1971, 2024])).tolist() == [0, 365, 19_723]


def test_budget_overruns_sum_the_works_starting_in_each_year() -> None:
    jan_2027, dec_2027, jan_2028 = 20_819, 21_183, 21_184
    p = problem(
        start=[jan_2027, dec_2027, jan_2028, dec_2027],
        org=[0, 0, 0, 1],
        cost=[400, 700, 50, 999],
        active=[True, True, True, False],
        budget_org=np.array([0, 0, 1]),
        budget_year=np.array([2027, 2028, 2027]),
        budget_eur=np.array([1000, 100, 10]),
    )
    assert sc.budget_use(p, p.start).tolist() == [1100, 50, 0]  # the inactive work costs nothing
    over = sc.budget_overruns(p, p.start)
    assert over.to_dict("records") == [
        {"org": 0, "year": 2027, "used": 1100, "budget": 1000, "over": 100}
    ]


def brute_peaks(cells: list[int], begin: list[int], end: list[int]) -> dict[int, tuple[int, int]]:
    """Most simultaneous occupations per cell and the first day of that peak, day by day."""
    out: dict[int, tuple[int, int]] = {}
    for cell in set(cells):
        days = range(min(begin), max(end))
        best = (0, 0)
        for day in days:
            load = sum(
                1 for c, b, e in zip(cells, begin, end, strict=True) if c == cell and b <= day < e
            )
            if load > best[0]:
                best = (load, day)
        out[cell] = best
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(0, 10)),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 3),
)
def test_cell_overloads_match_a_day_by_day_count(rows: list[tuple[int, int, int]], k: int) -> None:
    cells = [r[0] for r in rows]
    start = [r[1] for r in rows]
    duration = [r[2] for r in rows]
    p = problem(start=start, duration=duration, cell=cells, max_parallel=k)
    got = sc.cell_overloads(p, p.start, np.zeros(0, bool))
    expected = {
        c: v
        for c, v in brute_peaks(
            cells, start, [s + d + 1 for s, d in zip(start, duration, strict=True)]
        ).items()
        if v[0] > k
    }
    assert {r.cell: (r.peak, r.day) for r in got.itertuples()} == expected
    assert (got["over"] == got["peak"] - k).all()


def test_a_combined_cluster_is_one_occupation_per_cell() -> None:
    # works 0 and 1 combined (joint start 10, spans 10..15 and 10..12); work 2 alone
    p = problem(
        start=[10, 10, 11],
        duration=[5, 2, 0],
        cell=[4, 4, 4],
        cluster=[0, 0, -1],
        max_parallel=1,
    )
    occ = sc.occupations(p, p.start, np.array([True]))
    assert sorted(map(tuple, occ[["cell", "begin", "end"]].to_numpy().tolist())) == [
        (4, 10, 16),
        (4, 11, 12),
    ]
    assert sc.cell_overloads(p, p.start, np.array([True]))[["peak", "day"]].to_numpy().tolist() == [
        [2, 11]
    ]
    # not combined: three occupations, peak 3 on day 11
    assert sc.cell_overloads(p, p.start, np.array([False]))[
        ["peak", "day"]
    ].to_numpy().tolist() == [[3, 11]]


def test_no_limit_no_overloads() -> None:
    p = problem(start=[1, 1], cell=[0, 0])
    assert sc.cell_overloads(p, p.start, np.zeros(0, bool)).empty


# --- solving ----------------------------------------------------------------------


def test_two_cluster_members_meet_in_the_middle() -> None:
    p = problem(
        start=[100, 130],
        duration=[9, 9],
        lo=[90, 90],
        hi=[140, 140],
        pair_a=[0],
        pair_b=[1],
        cluster=[0, 0],
    )
    result = sc.solve(p)
    assert result.start.tolist() == [115, 115]
    assert result.combined.tolist() == [True]
    row = result.models.iloc[0]
    assert row["status"] == "OPTIMAL"
    # gain 2 x 1000, shifts 2 x 2 x 15, spread 15
    assert row["objective"] == 2000 - 60 - 15
    assert row["gap"] == 0


def test_cluster_offsets_put_the_sealing_after_the_excavation() -> None:
    # work 1 seals, offset = duration of work 0 + 1
    p = problem(
        start=[50, 40],
        duration=[9, 4],
        lo=[0, 0],
        hi=[200, 200],
        seals=[False, True],
        excavates=[True, False],
        pair_a=[0],
        pair_b=[1],
        cluster=[0, 0],
        offset=[0, 10],
    )
    result = sc.solve(p)
    # S minimises |S - 50| + |S + 10 - 40| (+ spread): any S in [30, 50]; the
    # spread (largest move) is smallest at S = 40
    assert result.start.tolist() == [40, 50]
    assert result.combined.tolist() == [True]


def test_an_excavation_moves_before_a_fixed_sealing() -> None:
    # sealing 100..109 fixed; excavation planned 200..219 (a moratorium violation)
    p = problem(
        start=[100, 200],
        duration=[9, 19],
        lo=[100, 50],
        hi=[100, 300],
        changeable=[False, True],
        seals=[True, False],
        excavates=[False, True],
        pair_a=[0],
        pair_b=[1],
    )
    result = sc.solve(p)
    assert result.start.tolist() == [100, 80]  # ends on day 99, the day before the sealing


def test_an_excavation_already_beyond_the_moratorium_stays() -> None:
    p = problem(
        start=[100, 100 + 9 + 1096],
        duration=[9, 19],
        lo=[100, 50],
        hi=[100, 2000],
        changeable=[False, True],
        seals=[True, False],
        excavates=[False, True],
        pair_a=[1],
        pair_b=[0],
    )
    assert sc.solve(p).start.tolist() == [100, 1205]


def test_no_new_moratorium_violation_even_to_avoid_a_clash() -> None:
    # the excavation clashes with a fixed work at its planned date; the only free
    # day range that avoids the clash lies within the moratorium of a sealing
    p = problem(
        start=[0, 20, 10],
        duration=[5, 9, 9],
        lo=[0, 20, 10],
        hi=[0, 20, 30],
        changeable=[False, False, True],
        seals=[True, False, False],
        excavates=[False, False, True],
        pair_a=[0, 1],
        pair_b=[2, 2],
    )
    result = sc.solve(p)
    # moving the excavation to day >= 30 would avoid the clash but break the
    # moratorium of the sealing (ends day 5); staying and clashing is cheaper
    assert result.start.tolist() == [0, 20, 10]


def test_clashes_are_avoided_by_the_smallest_move() -> None:
    p = problem(
        start=[10, 12],
        duration=[4, 4],
        lo=[10, 0],
        hi=[10, 40],
        changeable=[False, True],
        pair_a=[0],
        pair_b=[1],
    )
    assert sc.solve(p).start.tolist() == [10, 15]  # 15 = day after 10..14


def test_budget_moves_the_cheapest_shift_into_the_next_year() -> None:
    # costs are booked pro rata by days: the 10-day work at EUR 60,000 a day may
    # keep 6 of its days in 2027 (600,000 + 6 x 60,000 <= 1,000,000), not 7
    dec_1 = int(sc.year_start(np.array([2028]))[0]) - 31  # 2027-12-01
    jan_1 = dec_1 + 31
    p = problem(
        start=[dec_1 - 200, dec_1],
        duration=[9, 9],
        lo=[dec_1 - 300, dec_1 - 30],
        hi=[dec_1 - 100, jan_1 + 40],
        org=[0, 0],
        cost=[600_000, 600_000],
        budget_org=np.array([0, 0]),
        budget_year=np.array([2027, 2028]),
        budget_eur=np.array([1_000_000, 1_000_000]),
    )
    result = sc.solve(p)
    assert result.start.tolist() == [dec_1 - 200, jan_1 - 6]
    assert sc.budget_use(p, result.start).tolist() == [960_000, 240_000]
    assert sc.budget_overruns(p, result.start).empty
    assert result.models["stage"].tolist() == ["coupling"]


def test_an_unfixable_budget_stays_and_is_reported() -> None:
    p = problem(
        start=[20_900, 20_950],
        duration=[9, 9],
        lo=[20_850, 20_900],
        hi=[21_000, 21_000],
        org=[0, 0],
        cost=[600_000, 600_000],
        budget_org=np.array([0]),
        budget_year=np.array([2027]),
        budget_eur=np.array([1_000_000]),
    )
    result = sc.solve(p)
    assert result.start.tolist() == [20_900, 20_950]  # nothing to gain by moving inside 2027
    over = sc.budget_overruns(p, result.start)
    assert over[["org", "year", "over"]].to_numpy().tolist() == [[0, 2027, 200_000]]


def test_max_parallel_moves_the_one_work_that_can_move() -> None:
    p = problem(
        start=[10, 10, 10],
        duration=[9, 9, 9],
        lo=[10, 10, 10],
        hi=[10, 30, 15],
        changeable=[False, True, True],
        cell=[0, 0, 0],
        max_parallel=2,
    )
    result = sc.solve(p)
    assert result.start.tolist() == [10, 20, 10]
    assert sc.cell_overloads(p, result.start, result.combined).empty


def test_max_parallel_that_cannot_be_met_is_reported() -> None:
    p = problem(
        start=[10, 10, 10],
        duration=[9, 9, 9],
        lo=[10, 10, 10],
        hi=[10, 30, 15],
        changeable=[False, True, True],
        cell=[0, 0, 0],
        max_parallel=1,
    )
    result = sc.solve(p)
    assert result.start.tolist() == [10, 20, 10]
    assert sc.cell_overloads(p, result.start, result.combined)[
        ["cell", "peak", "over"]
    ].to_numpy().tolist() == [[0, 2, 1]]


def test_empty_window_is_an_error() -> None:
    with pytest.raises(ScheduleError, match="empty start window"):
        problem(start=[5], lo=[6], hi=[4])


def test_mismatched_arrays_are_an_error() -> None:
    with pytest.raises(ScheduleError, match="duration"):
        problem(start=[5, 6], duration=[1])


# --- the block search on a component too large to solve in one piece -------------


def chain(n: int, seed: int) -> sc.Problem:
    """n works in a row, each near the next; every third one seals the surface."""
    rng = np.random.default_rng(seed)
    start = 1000 + 5 * np.arange(n) + rng.integers(0, 20, n)
    duration = rng.integers(0, 30, n)
    lo = start - rng.integers(0, 200, n)
    hi = start + rng.integers(0, 200, n)
    seals = np.arange(n) % 3 == 0
    a = np.r_[np.arange(n - 1), np.arange(n - 2)]
    b = np.r_[np.arange(1, n), np.arange(2, n)]
    return problem(
        start=start,
        duration=duration,
        lo=lo,
        hi=hi,
        seals=seals,
        excavates=~seals,
        pair_a=a,
        pair_b=b,
        moratorium_days=400,
        x=np.arange(n, dtype=float) * 10.0,
        y=np.zeros(n),
    )


def brute_state(p: sc.Problem, start: np.ndarray) -> tuple[set, set]:
    """Pairs in the street together and pairs digging after pave, day by day."""
    together, dig = set(), set()
    for a, b in zip(p.pair_a.tolist(), p.pair_b.tolist(), strict=True):
        days_a = set(range(start[a], start[a] + p.duration[a] + 1))
        days_b = set(range(start[b], start[b] + p.duration[b] + 1))
        if days_a & days_b:
            together.add((a, b))
        for x, y in ((a, b), (b, a)):
            # the excavation starts after the sealing started, within the moratorium
            if (
                p.seals[x]
                and p.excavates[y]
                and start[x] < start[y] <= max(days_of(p, start, x)) + p.moratorium_days
            ):
                dig.add((a, b))
    return together, dig


def days_of(p: sc.Problem, start: np.ndarray, i: int) -> range:
    return range(start[i], start[i] + p.duration[i] + 1)


def brute_cost(p: sc.Problem, start: np.ndarray, w: sc.Weights) -> int | None:
    """The objective of a schedule without clusters; None when it is worse than the plan."""
    together, dig = brute_state(p, start)
    together0, dig0 = brute_state(p, p.start)
    if not together <= together0 or not dig <= dig0:
        return None
    return (
        -w.shift_day * int(np.abs(start - p.start).sum())
        - w.clash * len(together)
        - w.violation * len(dig)
    )


def test_block_search_keeps_windows_and_beats_the_plan() -> None:
    p = chain(150, seed=3)
    w = sc.Weights()
    result = sc.solve(p, time_limit=4)
    row = result.models.iloc[0]
    assert row["method"].startswith("blocks")
    assert row["works"] == 150
    assert ((result.start >= p.lo) & (result.start <= p.hi)).all()
    # the reported objective is the objective of the returned schedule
    got, planned = brute_cost(p, result.start, w), brute_cost(p, p.start, w)
    assert got is not None and planned is not None
    assert row["objective"] == got
    assert got > planned
    assert row["objective"] <= row["best_bound"] or np.isnan(row["best_bound"])


def test_small_problems_are_solved_to_optimality_by_brute_force() -> None:
    # three works, tiny windows: enumerate every schedule
    p = problem(
        start=[5, 7, 9],
        duration=[3, 2, 4],
        lo=[3, 5, 6],
        hi=[7, 10, 12],
        seals=[True, False, False],
        excavates=[False, True, True],
        pair_a=[0, 0, 1],
        pair_b=[1, 2, 2],
        moratorium_days=6,
    )
    w = sc.Weights()
    costs = [
        brute_cost(p, np.array(s), w) for s in product(range(3, 8), range(5, 11), range(6, 13))
    ]
    best = max(c for c in costs if c is not None)
    result = sc.solve(p)
    assert brute_cost(p, result.start, w) == best
    assert result.models.iloc[0]["objective"] == best


@pytest.mark.parametrize("limit", [None, 1])
def test_progress_is_reported_and_ends_at_one(limit: int | None) -> None:
    seen: list[tuple[float, str]] = []
    # a cluster solved first; two works in no component share a cell after it
    p = problem(
        start=[1, 2, 30, 30],
        lo=[0, 0, 20, 20],
        hi=[9, 9, 40, 40],
        pair_a=[0],
        pair_b=[1],
        cluster=[0, 0, -1, -1],
        cell=[0, 0, 1, 1],
        max_parallel=limit,
    )
    sc.solve(p, progress=lambda f, m: seen.append((f, m)))
    assert seen[-1] == (1.0, "schedule solved")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    if limit is not None:
        assert any(m.startswith("rescheduled for budgets and cells") for _, m in seen)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_solutions_respect_windows_and_fixed_works(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 7))
    start = np.array(data.draw(st.lists(st.integers(0, 100), min_size=n, max_size=n)))
    before = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    after = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    changeable = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    seals = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=10)
    )
    cluster = np.full(n, -1)
    if n >= 3 and changeable[:2].all():
        cluster[:2] = 0
        pairs.append((0, 1))
    p = problem(
        start=start,
        duration=np.full(n, 3),
        lo=start - before,
        hi=start + after,
        changeable=changeable,
        seals=seals,
        excavates=~seals,
        pair_a=[q[0] for q in pairs] or np.zeros(0, np.int64),
        pair_b=[q[1] for q in pairs] or np.zeros(0, np.int64),
        cluster=cluster,
        moratorium_days=20,
        cell=np.zeros(n, np.int64),
        max_parallel=data.draw(st.sampled_from([None, 1, 2])),
    )
    result = sc.solve(p, time_limit=5)
    assert ((result.start >= p.lo) & (result.start <= p.hi)).all()
    assert (result.start[~changeable] == start[~changeable]).all()
    if result.combined.any():
        assert result.start[0] == result.start[1]
    assert set(result.models.columns) == set(sc.MODEL_COLUMNS)
    assert pd.api.types.is_float_dtype(result.models["gap"]) or result.models.empty


# --- never worse than the plan -------------------------------------------------------


def third_party(allow: bool) -> sc.Problem:
    # works 0 and 1 can only be combined at day 100, where 1 would overlap the
    # fixed work 2 (95..104), which it does not in the plan
    return problem(
        start=[50, 150, 95],
        duration=[5, 5, 9],
        lo=[50, 100, 95],
        hi=[100, 150, 95],
        changeable=[True, True, False],
        pair_a=[0, 1],
        pair_b=[1, 2],
        cluster=[0, 0, -1],
        allow_new_clashes=allow,
    )


def test_a_new_clash_only_when_allowed() -> None:
    kept = sc.solve(third_party(False))
    assert kept.combined.tolist() == [False]
    assert kept.start.tolist() == [50, 150, 95]
    traded = sc.solve(third_party(True))
    # combined: +2 x 1000, one new clash -1500, moves 2 x 50 days -200, spread -50
    assert traded.combined.tolist() == [True]
    assert traded.start.tolist() == [100, 100, 95]
    together, _ = sc.pair_state(third_party(True), traded.start, np.array([1]), np.array([2]))
    assert together.tolist() == [True]


def test_an_overlap_with_the_surfaces_last_days_is_a_violation() -> None:
    p = problem(
        start=[100, 200],
        duration=[9, 9],
        seals=[True, False],
        excavates=[False, True],
    )
    a, b = np.array([0, 0, 0, 0]), np.array([1, 1, 1, 1])
    starts = [[100, 109], [100, 100], [100, 95], [100, 90]]
    got = [sc.pair_state(p, np.array(s), a[:1], b[:1])[1][0] for s in starts]
    # starts on the last day: digs after pave; same day or before: only together
    assert got == [True, False, False, False]


def test_a_cell_over_its_limit_in_the_plan_never_gets_more() -> None:
    # three works at once in a cell limited to 1; only one can leave: the peak drops
    # to 2 (work 2 leaves the overlap) and never rises above the plan
    p = problem(
        start=[10, 10, 10],
        duration=[9, 9, 9],
        lo=[10, 10, 0],
        hi=[10, 10, 40],
        changeable=[False, False, True],
        cell=[0, 0, 0],
        max_parallel=1,
    )
    result = sc.solve(p, time_limit=1)
    assert result.start.tolist()[:2] == [10, 10]
    assert not 1 <= result.start[2] <= 19
    assert sc.cell_peaks(p, result.start, result.combined).to_dict() == {0: 2}
