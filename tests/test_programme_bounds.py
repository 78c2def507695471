"""The proven upper bound on the combined works against an independent enumeration."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_geo.programme import schedule as sc

MORATORIUM = 6


def brute(p: sc.Problem, cands: list[tuple[list[int], list[int]]]) -> dict[int, int]:
    """Most combined works among the schedules leaving at most ``u`` plan violations, per ``u``.

    Enumerates every start in every window and every set of disjoint candidate
    projects. A schedule is allowed when every executed project's members
    start at one joint start plus their offsets, and no pair of near works
    (one of them changeable) is newly in the street together (unless both are
    members of one executed project) or newly digs after pave.
    """
    n = len(p.start)
    d, m = p.duration, p.moratorium_days
    near = sorted(
        {
            (min(a, b), max(a, b))
            for a, b in zip(p.pair_a.tolist(), p.pair_b.tolist(), strict=True)
            if a != b and (p.changeable[a] or p.changeable[b])
        }
    )

    def state(s: tuple[int, ...]) -> tuple[set, set]:
        together, digs = set(), set()
        for a, b in near:
            if s[a] <= s[b] + d[b] and s[b] <= s[a] + d[a]:
                together.add((a, b))
            for x, y in ((a, b), (b, a)):
                if p.seals[x] and p.excavates[y] and s[x] < s[y] <= s[x] + d[x] + m:
                    digs.add((a, b))
        return together, digs

    together0, digs0 = state(tuple(p.start.tolist()))
    windows = [
        range(int(p.lo[i]), int(p.hi[i]) + 1) if p.changeable[i] else [int(p.start[i])]
        for i in range(n)
    ]
    chosen_sets = [
        sets
        for k in range(len(cands) + 1)
        for sets in combinations(range(len(cands)), k)
        if len({w for c in sets for w in cands[c][0]}) == sum(len(cands[c][0]) for c in sets)
    ]
    best: dict[int, int] = {}
    for s in product(*windows):
        together, digs = state(s)
        if not digs <= digs0:
            continue
        left = len(digs)
        for sets in chosen_sets:
            if any(len({s[w] - o for w, o in zip(*cands[c], strict=True)}) != 1 for c in sets):
                continue
            mates = {(min(a, b), max(a, b)) for c in sets for a, b in combinations(cands[c][0], 2)}
            if any(pair not in together0 and pair not in mates for pair in together):
                continue
            value = sum(len(cands[c][0]) for c in sets)
            best[left] = max(best.get(left, 0), value)
    return best


@st.composite
def instances(draw: st.DrawFn) -> tuple[sc.Problem, list[tuple[list[int], list[int]]]]:
    """3-4 works near each other, small windows, a few candidate projects with offsets."""
    n = draw(st.integers(3, 4))
    start = np.asarray([draw(st.integers(10, 22)) for _ in range(n)], np.int64)
    duration = np.asarray([draw(st.integers(0, 3)) for _ in range(n)], np.int64)
    lo = start - np.asarray([draw(st.integers(0, 3)) for _ in range(n)], np.int64)
    hi = start + np.asarray([draw(st.integers(0, 3)) for _ in range(n)], np.int64)
    seals = np.asarray([draw(st.booleans()) for _ in range(n)], bool)
    changeable = np.asarray([draw(st.integers(0, 5)) > 0 for _ in range(n)], bool)
    pairs = [pair for pair in combinations(range(n), 2) if draw(st.integers(0, 4)) > 0]
    movable = [i for i in range(n) if changeable[i]]
    cands: list[tuple[list[int], list[int]]] = []
    for size in (2, 2, 3):
        if len(movable) >= size and draw(st.booleans()):
            members = sorted(draw(st.permutations(movable))[:size])
            offsets = [draw(st.integers(0, 2)) for _ in members]
            if all(sorted(members) != c[0] for c in cands):
                cands.append((members, offsets))
    problem = sc.Problem(
        start=start, duration=duration, lo=lo, hi=hi, changeable=changeable, seals=seals,
        excavates=~seals, active=np.ones(n, bool),
        pair_a=np.asarray([a for a, _ in pairs], np.int64),
        pair_b=np.asarray([b for _, b in pairs], np.int64),
        cluster=np.full(n, -1, np.int64), offset=np.zeros(n, np.int64),
        org=np.zeros(n, np.int64), cost=np.zeros(n, np.int64), cell=np.full(n, -1, np.int64),
        moratorium_days=MORATORIUM,
        cand_work=np.asarray([w for c in cands for w in c[0]], np.int64),
        cand_id=np.asarray([k for k, c in enumerate(cands) for _ in c[0]], np.int64),
        cand_offset=np.asarray([o for c in cands for o in c[1]], np.int64),
        x=np.arange(n, dtype=float), y=np.zeros(n),
    )  # fmt: skip
    return problem, cands


def optimum(best: dict[int, int], left: int | None = None) -> int:
    return max((v for u, v in best.items() if left is None or u <= left), default=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_the_bound_of_one_model_is_the_enumerated_optimum(case) -> None:
    p, cands = case
    best = brute(p, cands)
    result = sc.solve(p, time_limit=30)
    row = result.models.iloc[0] if len(result.models) else None
    if row is None:  # nothing can move or combine: no part, nothing to bound
        assert optimum(best) == 0
        return
    assert row["bound_proof"] == "exact"
    assert row["combined_bound"] == optimum(best)
    # the proposal's own combined works, recounted, never above the bound
    combined = int(sc.in_combined(p, result.combined).sum())
    assert row["combined"] == combined <= row["combined_bound"]
    # violations first: the bound holds for every schedule leaving no more of the
    # plan's violations than the proposal does, and is the optimum of those
    _, digs = sc.pair_state(p, result.start, p.pair_a, p.pair_b)
    left = len(
        {(min(a, b), max(a, b)) for a, b, v in zip(p.pair_a, p.pair_b, digs, strict=True) if v}
    )
    assert row["combined_bound_fixing"] >= optimum(best, left)
    assert row["combined_bound_fixing"] <= row["combined_bound"]
    if left == min(best, default=0):
        assert row["combined_bound_fixing"] == optimum(best, left)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 2))
def test_the_bound_of_blocks_with_their_neighbours_holds(case, block: int) -> None:
    p, cands = case
    best = brute(p, cands)
    with pytest.MonkeyPatch.context() as patch:
        # every part is cut into blocks of one or two works
        patch.setattr(sc, "_BOUND_WHOLE_WORKS", 0)
        patch.setattr(sc, "_BOUND_BLOCK_WORKS", block)
        rows = sc.combined_bounds(
            p, [np.flatnonzero(p.changeable)], p.start, np.zeros(p.n_clusters, bool),
            time_limit=30,
        )  # fmt: skip
    row = rows.iloc[0]
    assert row["combined_bound"] >= optimum(best)
    assert row["combined_bound"] <= len(set(p.members[0].tolist()))
    assert row["bound_proof"] in ("blocks", "exact")


def test_a_part_without_time_counts_the_works_of_its_candidates() -> None:
    p = sc.Problem(
        start=np.array([10, 30]), duration=np.array([2, 2]), lo=np.array([10, 30]),
        hi=np.array([10, 30]), changeable=np.ones(2, bool), seals=np.zeros(2, bool),
        excavates=np.ones(2, bool), active=np.ones(2, bool), pair_a=np.array([0]),
        pair_b=np.array([1]), cluster=np.array([0, 0]), offset=np.zeros(2, np.int64),
        org=np.zeros(2, np.int64), cost=np.zeros(2, np.int64), cell=np.full(2, -1),
    )  # fmt: skip
    rows = sc.combined_bounds(p, [np.array([0, 1])], p.start, np.zeros(1, bool), time_limit=0)
    assert rows[["combined", "combined_bound", "bound_proof"]].values.tolist() == [
        [0, 2.0, "candidates"]
    ]
    # with time: the two can never start together (fixed 20 days apart), so 0
    rows = sc.combined_bounds(p, [np.array([0, 1])], p.start, np.zeros(1, bool), time_limit=10)
    assert rows[["combined_bound", "bound_proof"]].values.tolist() == [[0.0, "exact"]]
