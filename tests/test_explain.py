"""Tests for ims_geo.conflicts.explain: every proposed move re-checked by the conflict engine.

The oracle ``naive_kind`` spells DESIGN.md §3 out for one pair with Python
dates; it scans every shift of a work for the first conflict-free day in each
direction (brute force), and the engine itself (:func:`find_conflicts`)
re-checks each proposed move and the day before it.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ims_geo import cycle, i18n
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.explain import EARLIER, LATER, explain, sentences
from ims_geo.conflicts.rules import Rules
from ims_geo.cycle.moratoria import find_conflicts_with_moratoria, moratoria
from ims_geo.schema import validate
from ims_geo.store import open_store

RD = "EPSG:28992"
DAY0 = date(2030, 1, 1)
#: (discipline, layer, excavation): seals, digs, both (a reconstruction), neither.
KINDS_OF_WORK = {
    "seals": ("road", "surface", False),
    "digs": ("water", "subsurface", True),
    "both": ("road", "surface", True),
    "neither": ("lighting", "surface", False),
}


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def _line(dy: float) -> shapely.LineString:
    return shapely.LineString([(121_000.0, 487_000.0 + dy), (121_080.0, 487_000.0 + dy)])


def pair(
    first: tuple[str, date, date],
    second: tuple[str, date, date],
    *,
    windows: tuple[tuple[date | None, date | None], ...] = ((None, None), (None, None)),
    statuses: tuple[str, str] = ("planned", "planned"),
) -> gpd.GeoDataFrame:
    """Two works of two organisations 4 m apart: (what, start, end) each."""
    rows = []
    for i, ((what, start, end), (earliest, latest), status) in enumerate(
        zip((first, second), windows, statuses, strict=True)
    ):
        discipline, layer, excavation = KINDS_OF_WORK[what]
        rows.append(
            {"work_id": f"W{i}", "org": f"Org{i}", "discipline": discipline, "layer": layer,
             "excavation": excavation, "status": status, "start_date": start.isoformat(),
             "end_date": end.isoformat(), "earliest": earliest and earliest.isoformat(),
             "latest": latest and latest.isoformat(), "geometry": _line(4.0 * i)}
        )  # fmt: skip
    checked = validate(gpd.GeoDataFrame(rows, geometry="geometry", crs=RD))
    assert checked.rejected.empty
    return checked.valid


def naive_kind(a: tuple[str, date, date], b: tuple[str, date, date], rules: Rules) -> str | None:
    """DESIGN.md §3 for one pair of works 4 m apart (both take part)."""
    gap = (max(a[1], b[1]) - min(a[2], b[2])).days
    if gap <= 0:
        return "clash"
    for seal, dig in ((a, b), (b, a)):
        seals = seal[0] in ("seals", "both")
        digs = dig[0] in ("digs", "both")
        if seals and digs and dig[1] > seal[2] and (dig[1] - seal[2]).days <= rules.moratorium_days:
            return "moratorium"
    if gap <= rules.window_days:
        return "synergy"
    return None


def shifted(work: tuple[str, date, date], days: int) -> tuple[str, date, date]:
    return (work[0], work[1] + timedelta(days=days), work[2] + timedelta(days=days))


def first_free(
    moved: tuple[str, date, date], other: tuple[str, date, date], rules: Rules, step: int
) -> int:
    """Brute force: the first shift (steps of +1 or -1 days) with no conflict."""
    days = 0
    while naive_kind(shifted(moved, days), other, rules) is not None:
        days += step
        assert abs(days) < 20_000
    return days


def engine_kind(works: gpd.GeoDataFrame, rules: Rules) -> str | None:
    found = find_conflicts(works, rules)
    assert len(found) <= 1
    return None if found.empty else str(found["kind"].iloc[0])


def moved_works(works: gpd.GeoDataFrame, work_id: str, start: date, end: date):
    out = works.copy()
    row = out["work_id"] == work_id
    out.loc[row, "start_date"] = pd.Timestamp(start)
    out.loc[row, "end_date"] = pd.Timestamp(end)
    return out


CASES = []
_rng = random.Random(17)
while len(CASES) < 30:
    _first = DAY0 + timedelta(days=_rng.randint(0, 400))
    _works = []
    for _side in range(2):
        # the second work starts near the first: most pairs conflict, some do not
        _start = _first + timedelta(days=_side * _rng.randint(-150, 700))
        _works.append(
            (_rng.choice(list(KINDS_OF_WORK)), _start,
             _start + timedelta(days=_rng.choice([0, 1, 9, 30, 120, 400])))
        )  # fmt: skip
    CASES.append(
        (*_works, Rules(window_days=_rng.choice([0, 30, 365]),
                        moratorium_years=_rng.choice([0, 0.5, 1, 3])))
    )  # fmt: skip


def test_the_random_cases_cover_every_kind_and_no_conflict():
    kinds = [naive_kind(a, b, rules) for a, b, rules in CASES]
    assert {k: kinds.count(k) >= 3 for k in ("clash", "moratorium", "synergy", None)} == {
        "clash": True, "moratorium": True, "synergy": True, None: True,
    }  # fmt: skip


@pytest.mark.parametrize(("a", "b", "rules"), CASES)
def test_each_move_is_the_first_conflict_free_day_and_the_engine_agrees(a, b, rules):
    works = pair(a, b)
    found = find_conflicts(works, rules)
    expected = naive_kind(a, b, rules)
    assert (None if found.empty else found["kind"].iloc[0]) == expected
    if expected is None:
        return
    row = found.iloc[0]
    explained = explain(row, works, rules)
    assert explained.kind == explained.rule == expected
    assert explained.gap_days == row["gap_days"]
    assert explained.distance_m == pytest.approx(4.0)
    assert explained.distance_limit_m == rules.distance
    # both works can move both ways (planned, nothing sealed yet): four moves
    sides = {"W0": (a, b), "W1": (b, a)}
    assert sorted((m.work_id, m.direction) for m in explained.moves) == [
        ("W0", EARLIER), ("W0", LATER), ("W1", EARLIER), ("W1", LATER),
    ]  # fmt: skip
    for move in explained.moves:
        moved, other = sides[move.work_id]
        step = 1 if move.direction == LATER else -1
        # the brute-force first conflict-free shift in that direction
        assert move.shift_days == first_free(moved, other, rules, step)
        assert (move.end - move.start) == (moved[2] - moved[1])
        if move.direction == LATER:
            assert move.start == move.boundary + timedelta(days=1)
        else:
            assert move.end == move.boundary - timedelta(days=1)
        # the engine: the move removes the conflict, one day less does not
        assert engine_kind(moved_works(works, move.work_id, move.start, move.end), rules) is None
        back = timedelta(days=-step)
        assert (
            engine_kind(moved_works(works, move.work_id, move.start + back, move.end + back), rules)
            is not None
        )
        assert move.within_window is False  # no flexibility: the planned dates only
    assert [m.within_window for m in explained.moves] == sorted(
        m.within_window for m in explained.moves
    )[::-1]


def test_a_move_inside_the_flexibility_window_comes_first():
    # R0 resurfaces in March 2030; W1 digs 60 days later and may start until the end of 2034
    works = pair(
        ("seals", date(2030, 3, 1), date(2030, 3, 31)),
        ("digs", date(2030, 5, 30), date(2030, 6, 8)),
        windows=((None, None), (date(2030, 1, 1), date(2034, 12, 31))),
    )
    rules = Rules()
    (row,) = [r for _, r in find_conflicts(works, rules).iterrows()]
    assert row["kind"] == "moratorium" and row["gap_days"] == 60
    explained = explain(row, works, rules)
    assert explained.sealing == ("Org0", "W0") and explained.digging == ("Org1", "W1")
    best = explained.moves[0]
    # 3 x 365 days after 31 March 2030 is 30 March 2033; dig from the day after
    assert (best.work_id, best.direction, best.boundary) == ("W1", LATER, date(2033, 3, 30))
    assert (best.start, best.end, best.within_window) == (date(2033, 3, 31), date(2033, 4, 9), True)
    # or before the resurfacing, by more than the synergy window: 1 March 2030 - 365 days
    earlier = [m for m in explained.moves if m.work_id == "W1" and m.direction == EARLIER]
    assert earlier[0].end == date(2029, 2, 28) and earlier[0].within_window is False
    assert [m.within_window for m in explained.moves] == [True, False, False, False]

    lines = sentences(explained)
    assert lines["why"] == [
        "Org0 · W0 and Org1 · W1 are 4.00 m apart; works of these disciplines meet within 20 m.",
        "Moratorium (dig after pave): Org1 · W1 digs 60 days after Org0 · W0 sealed the surface; "
        "a new surface is protected for 3 years (1,095 days).",
        "They share 80 m of street.",
    ]
    assert lines["resolve"][0] == (
        "Move Org1 · W1 to start after 30 Mar 2033 (31 Mar 2033 to 9 Apr 2033, 1,036 days "
        "later): inside its flexibility window."
    )
    assert lines["resolve"][-1] == (
        "Or combine Org1 · W1 with Org0 · W0: dig first, then lay the new surface."
    )
    i18n.use("de")
    german = sentences(explained)["resolve"][0]
    assert "30.03.2033" in german and "31.03.2033" in german


def test_nothing_is_moved_into_the_past():
    works = pair(
        ("digs", date(2030, 3, 1), date(2030, 3, 31)),
        ("digs", date(2030, 3, 20), date(2030, 4, 10)),
    )
    rules = Rules()
    (row,) = [r for _, r in find_conflicts(works, rules).iterrows()]
    every = explain(row, works, rules).moves
    # W0 earlier: ends 366 days before W1 starts (19 March 2029), so starts 17 Feb 2029
    earlier = [m for m in every if (m.work_id, m.direction) == ("W0", EARLIER)]
    assert (earlier[0].start, earlier[0].end) == (date(2029, 2, 17), date(2029, 3, 19))
    kept = explain(row, works, rules, not_before=date(2029, 2, 18)).moves
    assert [m for m in every if m.start >= date(2029, 2, 18)] == list(kept)
    assert ("W0", EARLIER) not in {(m.work_id, m.direction) for m in kept}
    assert {(m.work_id, m.direction) for m in kept} == {("W0", LATER), ("W1", LATER)}
    assert explain(row, works, rules, not_before=date(2029, 2, 7)).moves == every


def test_a_finished_resurfacing_cannot_be_dug_under_first_and_does_not_move():
    works = pair(
        ("seals", date(2030, 3, 1), date(2030, 3, 31)),
        ("digs", date(2030, 9, 1), date(2030, 9, 10)),
        statuses=("done", "planned"),
    )
    rules = Rules()
    (row,) = [r for _, r in find_conflicts(works, rules).iterrows()]
    assert row["kind"] == "moratorium"
    (move,) = explain(row, works, rules).moves
    assert (move.work_id, move.direction, move.start) == ("W1", LATER, date(2033, 3, 31))
    assert engine_kind(moved_works(works, "W1", move.start, move.end), rules) is None
    before = moved_works(works, "W1", move.start - timedelta(1), move.end - timedelta(1))
    assert engine_kind(before, rules) == "moratorium"


def test_a_synergy_offers_combining_first_and_touching_works_say_so():
    works = pair(
        ("digs", date(2030, 3, 1), date(2030, 3, 31)),
        ("digs", date(2030, 6, 1), date(2030, 6, 30)),
    )
    works.loc[1, "geometry"] = works.geometry.iloc[0]
    rules = Rules()
    (row,) = [r for _, r in find_conflicts(works, rules).iterrows()]
    assert (row["kind"], row["gap_days"], row["distance_m"]) == ("synergy", 62, 0.0)
    lines = sentences(explain(row, works, rules))
    assert lines["why"] == [
        "Org0 · W0 and Org1 · W1 touch or cross; works of these disciplines meet within 20 m.",
        "Synergy: the periods are 62 days apart, within the synergy window of 365 days: the "
        "street could be opened once.",
        "They share 80 m of street.",
    ]
    assert lines["resolve"][0] == (
        "Combine Org0 · W0 with Org1 · W1 into one project: the street is opened once."
    )
    assert len(lines["resolve"]) == 5 and all(m.startswith("Move ") for m in lines["resolve"][1:])


def test_a_work_in_progress_is_not_moved_and_an_internal_pair_names_its_rule():
    works = pair(
        ("digs", date(2030, 3, 1), date(2030, 3, 31)),
        ("neither", date(2030, 3, 20), date(2030, 4, 10)),
        statuses=("in_progress", "planned"),
    )
    works["org"] = "City"
    rules = Rules(internal=True)
    (row,) = [r for _, r in find_conflicts(works, rules).iterrows()]
    explained = explain(row, works, rules)
    assert (explained.kind, explained.rule, explained.shared_days) == ("internal", "clash", 12)
    assert {m.work_id for m in explained.moves} == {"W1"}
    assert (
        "Clash: both are in the street at the same time, for 12 days."
        in sentences(explained)["why"]
    )


def test_a_registered_moratorium_is_cleared_after_its_last_protected_day(tmp_path):
    """City finishes R1 on 20 June 2027 (5-year moratorium); Water digs W7 in 2031."""
    store = open_store(tmp_path / "m.gpkg")
    for org, wid, what, start, end, dy in (
        ("City", "R1", "road", "2027-06-01", "2027-06-30", 0.0),
        ("Water", "W7", "water", "2031-01-06", "2031-01-15", 3.0),
    ):
        plan = gpd.GeoDataFrame(
            {"work_id": [wid], "discipline": [what], "start_date": [start], "end_date": [end],
             "latest": ["2033-12-31" if wid == "W7" else None]},
            geometry=[_line(dy)], crs=RD,
        )  # fmt: skip
        store.import_plan(validate(plan, org=org).valid, org=org, cycle=int(start[:4]))
    reports = pd.DataFrame(
        [("R1", "done", "2027-06-02", "2027-06-20", None)], columns=list(cycle.PROGRESS_COLUMNS)
    )
    rules = Rules(moratorium_years=5)
    cycle.record_progress(store, 2027, "City", reports, source="c.csv", rules=rules)
    layer = moratoria(store)
    works = store.works()
    found = cycle.store_conflicts(store, works)
    (row,) = [r for _, r in found.iterrows()]
    assert pd.notna(row["moratorium_id"])
    until = layer["valid_until"].iloc[0]
    explained = explain(row, works, Rules(), protected_until=until)
    assert explained.rule == "moratorium" and explained.moratorium_id == int(row["moratorium_id"])
    (move,) = explained.moves  # R1 is done: only W7 moves, and only later
    assert (move.work_id, move.direction) == ("W7", LATER)
    assert move.start == pd.Timestamp(until).date() + timedelta(days=1)
    assert move.within_window is (move.end <= date(2033, 12, 31))

    def layered(start: date, end: date) -> int:
        return len(find_conflicts_with_moratoria(moved_works(works, "W7", start, end), layer,
                                                 Rules()))  # fmt: skip

    assert layered(move.start, move.end) == 0
    assert layered(move.start - timedelta(1), move.end - timedelta(1)) == 1
    assert "registered moratorium" in sentences(explained)["why"][1]
