"""Budgets over in every year of the plan: euros move out only into years with room."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
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
    return proposal.kpi("euros over budget"), proposal.kpi("org-years over budget")


def test_every_year_over_and_no_year_with_room_stays_as_planned() -> None:
    # moving spending from one over-budget year into the other would make that one
    # worse than planned, and 2029 has no budget row: frozen (no more than planned)
    proposal = propose(over_everywhere(), budgets=OVER, time_limit=5)
    assert euros_and_years(proposal) == ((200_000.0, 200_000.0), (2.0, 2.0))
    assert proposal.works["shift_days"].tolist() == [0, 0]
    reasons = proposal.infeasible.loc[proposal.infeasible["constraint"] == "budget", "amount"]
    assert reasons.tolist() == [100_000.0, 100_000.0]


def test_a_budgeted_year_with_room_takes_the_euros_over() -> None:
    room = pd.concat([OVER, pd.DataFrame({"org": ["Water"], "year": [2029], "budget_eur": [2e6]})])
    proposal = propose(over_everywhere(), budgets=room, time_limit=5)
    # every euro over moved into 2029: each work keeps at most EUR 500,000 in its year
    assert euros_and_years(proposal) == ((200_000.0, 0.0), (2.0, 0.0))
    assert proposal.infeasible.empty
    # no year ends further over than planned, none over its budget
    assert (proposal.works["proposed_start"] >= pd.Timestamp("2027-01-01")).all()


def test_a_year_without_a_row_takes_them_only_when_free() -> None:
    proposal = propose(over_everywhere(), budgets=OVER, unbudgeted_years="free", time_limit=5)
    assert euros_and_years(proposal) == ((200_000.0, 0.0), (2.0, 0.0))
    moved = proposal.works["proposed_end"].dt.year.tolist()
    assert 2029 in moved
