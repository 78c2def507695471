"""Budgets over in every year of the plan: euros move out only into years with room."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString

from ims_geo.programme import propose
from ims_geo.schema import validate


def over_everywhere() -> gpd.GeoDataFrame:
    """Two EUR 600,000 works of one organisation, one in 2027 and one in 2028, free to 2029."""
    rows = [("W1", "2027-06-01", "2027-06-10", 0.0), ("W2", "2028-06-01", "2028-06-10", 500.0)]
    frame = gpd.GeoDataFrame(
        {
            "work_id": [r[0] for r in rows],
            "org": "Water",
            "discipline": "water",
            "start_date": pd.to_datetime([r[1] for r in rows]),
            "end_date": pd.to_datetime([r[2] for r in rows]),
            "earliest": pd.Timestamp("2027-01-01"),
            "latest": pd.Timestamp("2029-12-31"),
            "cost_eur": 600_000.0,
        },
        geometry=[LineString([(0, r[3]), (100, r[3])]) for r in rows],
        crs="EPSG:28992",
    )
    return validate(frame).valid


#: EUR 500,000 in 2027 and 2028: both years over by EUR 100,000 as planned.
OVER = pd.DataFrame({"org": ["Water"] * 2, "year": [2027, 2028], "budget_eur": [5e5, 5e5]})


def euros_and_years(proposal) -> tuple[tuple[float, float], tuple[float, float]]:
    return proposal.kpi("over budget eur"), proposal.kpi("org-years over budget")


def test_every_year_over_and_no_year_with_room_stays_as_planned() -> None:
    # moving spending from one over-budget year into the other would make that one
    # worse than planned, and 2029 has no budget row: frozen (no more than planned)
    proposal = propose(over_everywhere(), budgets=OVER, time_limit=20)
    assert euros_and_years(proposal) == ((200_000.0, 200_000.0), (2.0, 2.0))
    assert proposal.works["shift_days"].tolist() == [0, 0]
    reasons = proposal.infeasible.loc[proposal.infeasible["constraint"] == "budget", "amount"]
    assert reasons.tolist() == [100_000.0, 100_000.0]


def test_a_budgeted_year_with_room_takes_the_euros_over() -> None:
    room = pd.concat([OVER, pd.DataFrame({"org": ["Water"], "year": [2029], "budget_eur": [2e6]})])
    proposal = propose(over_everywhere(), budgets=room, time_limit=20)
    # every euro over moved into 2029: each work keeps at most EUR 500,000 in its year
    assert euros_and_years(proposal) == ((200_000.0, 0.0), (2.0, 0.0))
    assert proposal.infeasible.empty
    # no year ends further over than planned, none over its budget
    assert (proposal.works["proposed_start"] >= pd.Timestamp("2027-01-01")).all()


def test_a_year_without_a_row_takes_them_only_when_free() -> None:
    proposal = propose(over_everywhere(), budgets=OVER, unbudgeted_years="free", time_limit=20)
    assert euros_and_years(proposal) == ((200_000.0, 0.0), (2.0, 0.0))
    moved = proposal.works["proposed_end"].dt.year.tolist()
    assert 2029 in moved


def booked(frame: pd.DataFrame, start: str, end: str) -> dict[tuple[str, int], float]:
    """Euros each organisation books per year: each work's cost spread evenly over its days."""
    out: dict[tuple[str, int], float] = {}
    for org, cost, s, e in zip(frame["org"], frame["cost_eur"], frame[start], frame[end],
                               strict=True):  # fmt: skip
        days = pd.date_range(s, e, freq="D")
        for year, n in pd.Series(days.year).value_counts().items():
            out[(org, int(year))] = out.get((org, int(year)), 0.0) + cost * n / len(days)
    return out


@st.composite
def budget_cases(draw: st.DrawFn) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """2-4 works of two organisations around the turn of 2027/2028, budgets for both years."""
    n = draw(st.integers(2, 4))
    rows = []
    for i in range(n):
        start = pd.Timestamp("2027-11-15") + pd.Timedelta(days=draw(st.integers(0, 60)))
        duration = draw(st.integers(0, 20))
        rows.append(
            {"work_id": f"w{i}", "org": f"org{i % 2}", "discipline": "water",
             "start_date": start, "end_date": start + pd.Timedelta(days=duration),
             "earliest": start - pd.Timedelta(days=draw(st.integers(0, 40))),
             "latest": start + pd.Timedelta(days=duration + draw(st.integers(0, 40))),
             "cost_eur": float(draw(st.integers(1, 50)) * 10_000),
             "geometry": LineString([(0, 1000.0 * i), (100, 1000.0 * i)])}
        )  # fmt: skip
    frame = validate(gpd.GeoDataFrame(pd.DataFrame(rows), crs="EPSG:28992")).valid
    budgets = pd.DataFrame(
        [
            {"org": f"org{o}", "year": y, "budget_eur": float(draw(st.integers(0, 60)) * 10_000)}
            for o in (0, 1)
            for y in (2027, 2028)
        ]
    )
    return frame, budgets


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget_cases())
def test_no_org_year_ends_further_over_and_the_euros_recount_from_dates(case) -> None:
    frame, budgets = case
    proposal = propose(frame, budgets=budgets, time_limit=20)
    plan = booked(frame, "start_date", "end_date")
    works = proposal.works
    after = booked(works, "proposed_start", "proposed_end")
    cap = {(o, int(y)): b for o, y, b in budgets[["org", "year", "budget_eur"]].itertuples(False)}
    # costs are booked to the cent per day: a few cents of rounding at most
    slack = 0.01 * (frame["end_date"] - frame["start_date"]).dt.days.add(1).sum()
    over_plan = over_after = 0.0
    for key, budget in cap.items():
        before, now = max(plan.get(key, 0.0) - budget, 0.0), max(after.get(key, 0.0) - budget, 0.0)
        assert now <= before + slack, key  # never further over than planned
        over_plan, over_after = over_plan + before, over_after + now
    base, prop = proposal.kpi("over budget eur")
    assert abs(base - over_plan) <= slack and abs(prop - over_after) <= slack
    assert prop <= base + slack
