"""Combined programmes: exact proposals for small cases whose optimum is known."""

from __future__ import annotations

from itertools import product

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point

from ims_geo import programme
from ims_geo.conflicts import CONFLICT_COLUMNS, find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import InputError
from ims_geo.programme import load_budgets, propose
from ims_geo.programme.costs import CostTable, load_costs
from ims_geo.schema import CHANGEABLE_STATUSES, validate

from conftest import ROOT

YEAR = {"earliest": "2027-01-01", "latest": "2027-12-31"}


def works(*rows: dict, crs: str = "EPSG:28992") -> gpd.GeoDataFrame:
    """Valid works from rows (each with a ``geometry``)."""
    frame = gpd.GeoDataFrame(pd.DataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows]),
                             geometry=[r["geometry"] for r in rows], crs=crs)  # fmt: skip
    checked = validate(frame)
    assert checked.rejected.empty, checked.rejected
    return checked.valid


def line(y: float, x0: float = 0.0, x1: float = 100.0) -> LineString:
    return LineString([(x0, y), (x1, y)])


def dates(frame: pd.DataFrame, work_id: str) -> tuple[str, str]:
    row = frame.loc[frame["work_id"] == work_id].iloc[0]
    return str(row["proposed_start"].date()), str(row["proposed_end"].date())


def kpis(proposal: programme.Proposal) -> dict[str, tuple[float, float]]:
    return {k: (b, p) for k, b, p in proposal.kpis.itertuples(index=False)}


# --- two works aligned ----------------------------------------------------------


def two_utilities() -> gpd.GeoDataFrame:
    return works(
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-05-02",
         "end_date": "2027-05-21", **YEAR, "geometry": line(3)},
    )  # fmt: skip


def test_two_works_are_aligned_in_the_middle() -> None:
    proposal = propose(two_utilities())
    w = proposal.works
    # S minimises |S - Mar 1| + |S - May 2| (62 days apart) with the smallest largest move
    assert dates(w, "S1") == ("2027-04-01", "2027-04-10")
    assert dates(w, "W1") == ("2027-04-01", "2027-04-20")
    assert w["shift_days"].tolist() == [31, -31]
    assert w["cluster_id"].tolist() == ["C001", "C001"]
    assert w["exec_order"].tolist() == [1, 2]  # sewer is deeper than water
    c = proposal.clusters.iloc[0]
    assert c["members"] == "Sewer:S1; Water:W1"
    assert c["orgs"] == "Sewer; Water"
    assert (str(c["joint_start"].date()), str(c["joint_end"].date())) == (
        "2027-04-01",
        "2027-04-20",
    )
    # the water main runs 3 m from the sewer over its whole 100 m: one trench,
    # reinstated once (100 m x 1 m), 30 separate days become 20
    assert c["trench_m"] == 100.0
    assert c["resurfacing_avoided_m2"] == 100.0
    assert c["resurfacing_avoided_n"] == 1
    assert c["disruption_days_saved"] == 10
    assert c["savings_eur"] == 100 * 250 + 100 * 90 + 10 * 400 + 2500
    assert kpis(proposal) == {
        "clashes": (0, 0),  # they overlap now, but as one combined project
        "moratorium violations": (0, 0),
        "combined works": (0, 2),
        "combined projects": (0, 1),
        "disruption days": (30, 20),
        "works moved": (0, 2),
        "total shift days": (0, 62),
        "estimated cost eur": (
            pytest.approx(np.nan, nan_ok=True),
            pytest.approx(np.nan, nan_ok=True),
        ),
        "savings eur": (0, 40_500),
        "new moratorium violations": (0, 0),
        "new clashes": (0, 0),
        "moratorium violations fixed": (0, 0),
        "fixable violations (upper bound)": (0, 0),
        "combined works (upper bound)": (0, 2),
        "combined works (upper bound, violations fixed first)": (0, 2),
        "works in a candidate project": (0, 2),
    }
    assert proposal.infeasible.empty
    assert proposal.solver["status"].tolist() == ["OPTIMAL"]
    # the proposal's conflicts were found again on the proposed dates
    assert proposal.conflicts["kind"].tolist() == ["clash"]
    assert proposal.baseline_conflicts["kind"].tolist() == ["synergy"]


def test_hand_made_conflicts_give_the_same_proposal() -> None:
    frame = two_utilities()
    conflicts = pd.DataFrame(
        {"work_id_a": ["S1"], "org_a": ["Sewer"], "work_id_b": ["W1"], "org_b": ["Water"],
         "kind": ["synergy"], "score": [1.0]}
    )  # fmt: skip
    by_hand = propose(frame, conflicts)
    computed = propose(frame)
    cols = ["work_id", "proposed_start", "proposed_end", "cluster_id", "exec_order"]
    pd.testing.assert_frame_equal(by_hand.works[cols], computed.works[cols])
    assert by_hand.kpis.equals(computed.kpis)


def test_a_clash_becomes_one_project() -> None:
    frame = two_utilities()
    frame.loc[1, ["start_date", "end_date"]] = [
        pd.Timestamp("2027-03-05"),
        pd.Timestamp("2027-03-24"),
    ]
    proposal = propose(frame)
    # planned Mar 1 and Mar 5: S in between with the smallest largest move = Mar 3
    assert dates(proposal.works, "S1") == ("2027-03-03", "2027-03-12")
    assert dates(proposal.works, "W1") == ("2027-03-03", "2027-03-22")
    assert kpis(proposal)["clashes"] == (1, 0)


# --- sealing and excavation -------------------------------------------------------


def test_a_sealing_cluster_runs_deepest_first_and_seals_last() -> None:
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "start_date": "2027-03-01",
         "end_date": "2027-03-31", **YEAR, "geometry": line(0)},
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-06-01",
         "end_date": "2027-06-20", **YEAR, "geometry": line(2)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-04-01",
         "end_date": "2027-04-10", **YEAR, "geometry": line(-2, 0, 60)},
    )  # fmt: skip
    proposal = propose(frame)
    w = proposal.works
    # the sewer (20 days) starts on S, the water main (10 days, laid above it) so
    # that it ends with the sewer (S + 10), the road the day after (S + 20);
    # S minimises |S - Jun 1| + |S + 10 - Apr 1| + |S + 20 - Mar 1|: the median, Mar 22
    assert dates(w, "S1") == ("2027-03-22", "2027-04-10")
    assert dates(w, "W1") == ("2027-04-01", "2027-04-10")
    assert dates(w, "R1") == ("2027-04-11", "2027-05-11")
    assert dict(zip(w["work_id"], w["exec_order"], strict=True)) == {"R1": 3, "S1": 1, "W1": 2}
    c = proposal.clusters.iloc[0]
    assert c["members"] == "Sewer:S1; Water:W1; City:R1"
    assert c["trench_m"] == 60.0  # the water main lies 4 m from the sewer over 60 m
    assert c["resurfacing_avoided_m2"] == 160.0  # both trenches under the new surface
    assert c["resurfacing_avoided_n"] == 2
    assert c["disruption_days_saved"] == 61 - 51
    assert c["savings_eur"] == 60 * 250 + 160 * 90 + 10 * 400 + 2 * 2500
    assert kpis(proposal)["moratorium violations"] == (2, 0)
    assert kpis(proposal)["clashes"] == (0, 0)


def test_a_sealing_moves_after_an_excavation_in_progress() -> None:
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(0)},
        {"work_id": "G1", "org": "Gas", "discipline": "gas", "status": "in_progress",
         "start_date": "2027-05-01", "end_date": "2027-05-31", **YEAR, "geometry": line(2)},
    )  # fmt: skip
    proposal = propose(frame)
    assert dates(proposal.works, "R1") == ("2027-06-01", "2027-06-10")
    assert dates(proposal.works, "G1") == ("2027-05-01", "2027-05-31")
    assert proposal.works["cluster_id"].isna().all()
    assert kpis(proposal)["moratorium violations"] == (1, 0)
    assert kpis(proposal)["combined works"] == (0, 0)


def test_an_excavation_moves_before_a_sealing_in_progress() -> None:
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "status": "in_progress",
         "start_date": "2027-06-01", "end_date": "2027-06-10", **YEAR, "geometry": line(0)},
        {"work_id": "G1", "org": "Gas", "discipline": "gas", "start_date": "2027-07-01",
         "end_date": "2027-07-20", **YEAR, "geometry": line(2)},
    )  # fmt: skip
    proposal = propose(frame)
    assert dates(proposal.works, "G1") == ("2027-05-12", "2027-05-31")
    assert kpis(proposal)["total shift days"] == (0, 50)
    assert kpis(proposal)["moratorium violations"] == (1, 0)


def test_a_moratorium_the_windows_cannot_fix_is_reported() -> None:
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "status": "in_progress",
         "start_date": "2027-06-01", "end_date": "2027-06-10", **YEAR, "geometry": line(0)},
        {"work_id": "G1", "org": "Gas", "discipline": "gas", "start_date": "2027-07-01",
         "end_date": "2027-07-20", "earliest": "2027-06-15", "latest": "2027-08-31",
         "geometry": line(2)},
    )  # fmt: skip
    proposal = propose(frame)
    assert dates(proposal.works, "G1") == ("2027-07-01", "2027-07-20")
    row = proposal.infeasible.iloc[0]
    assert (row["constraint"], row["amount"]) == ("moratorium", 21.0)
    assert "City:R1" in row["works"] and "Gas:G1" in row["works"]
    assert "windows do not let the excavation end before the sealing" in row["reason"]
    assert row["reason"].startswith("existing violation kept")


def test_a_fix_that_would_create_a_new_violation_is_not_made() -> None:
    # moving the excavation before the road in progress (by May 12) would start
    # it within three years of a resurfacing done in June 2024: a new violation
    frame = works(
        {"work_id": "R0", "org": "City", "discipline": "road", "status": "done",
         "start_date": "2024-06-01", "end_date": "2024-06-20", "geometry": line(0)},
        {"work_id": "R1", "org": "City", "discipline": "road", "status": "in_progress",
         "start_date": "2027-06-01", "end_date": "2027-06-10", "geometry": line(0)},
        {"work_id": "G1", "org": "Gas", "discipline": "gas", "start_date": "2027-07-01",
         "end_date": "2027-07-20", **YEAR, "geometry": line(2)},
    )  # fmt: skip
    proposal = propose(frame)
    assert dates(proposal.works, "G1") == ("2027-07-01", "2027-07-20")
    assert kpis(proposal)["moratorium violations"] == (1, 1)
    row = proposal.infeasible.iloc[0]
    assert row["works"] == "City:R1; Gas:G1"
    assert row["reason"] == (
        "existing violation kept: the windows allow it for this pair alone, but fixing it would "
        "break another moratorium pair of these works, a budget or a cell limit (optimal schedule)"
    )


# --- windows that make alignment impossible -----------------------------------------


def test_windows_split_a_cluster_and_the_split_is_reported() -> None:
    frame = works(
        {"work_id": "A", "org": "Sewer", "discipline": "sewer", "start_date": "2027-01-10",
         "end_date": "2027-01-19", "earliest": "2027-01-01", "latest": "2027-01-31",
         "geometry": line(0, 0, 100)},
        {"work_id": "B", "org": "Water", "discipline": "water", "start_date": "2027-06-01",
         "end_date": "2027-06-10", "earliest": "2027-06-01", "latest": "2027-06-30",
         "geometry": line(0, 150, 250)},
        {"work_id": "C", "org": "Tel", "discipline": "telecom", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(3, 0, 250)},
    )  # fmt: skip
    proposal = propose(frame)
    w = proposal.works
    # C meets A (gap 41 days) sooner than B (gap 83 days): C grows with A; B's window
    # excludes January, so B combines with nobody. S in A's window closest to both.
    assert dates(w, "A") == ("2027-01-22", "2027-01-31")
    assert dates(w, "C") == ("2027-01-22", "2027-01-31")
    assert dates(w, "B") == ("2027-06-01", "2027-06-10")
    assert w.set_index("work_id")["cluster_id"].fillna("").to_dict() == {
        "A": "C001",
        "B": "",
        "C": "C001",
    }
    assert proposal.clusters["members"].tolist() == ["Sewer:A; Tel:C"]
    split = proposal.infeasible[proposal.infeasible["constraint"] == "cluster"]
    assert len(split) == 1
    assert split.iloc[0]["amount"] == 1.0
    assert "Water:B" in split.iloc[0]["reason"]


def test_works_that_may_not_move_are_never_combined() -> None:
    frame = two_utilities()
    frame["status"] = ["committed", "done"]
    proposal = propose(frame)
    assert proposal.works["shift_days"].tolist() == [0, 0]
    assert proposal.clusters.empty


def test_known_depths_order_the_trench_before_the_discipline() -> None:
    frame = two_utilities()
    frame["depth_max"] = [1.0, 2.5]  # this water main lies deeper than this sewer
    proposal = propose(frame)
    assert dict(zip(proposal.works["work_id"], proposal.works["exec_order"], strict=True)) == {
        "S1": 2,
        "W1": 1,
    }
    assert proposal.clusters.iloc[0]["members"] == "Water:W1; Sewer:S1"
    # the sewer is now laid into the water main's trench: 100 m shared all the same
    assert proposal.clusters.iloc[0]["trench_m"] == 100.0


def test_max_cluster_splits_a_large_cluster() -> None:
    frame = two_utilities()
    third = works(
        {"work_id": "T1", "org": "Tel", "discipline": "telecom", "start_date": "2027-04-01",
         "end_date": "2027-04-05", **YEAR, "geometry": line(-3)},
    )  # fmt: skip
    frame = pd.concat([frame, third], ignore_index=True)
    together = propose(frame)
    assert together.clusters["n_works"].tolist() == [3]
    split = propose(frame, max_cluster=2)
    assert split.clusters["n_works"].tolist() == [2]
    row = split.infeasible.iloc[0]
    assert (row["constraint"], row["amount"]) == ("cluster", 1.0)
    assert "split into 1 candidate projects; 1 works combine with none" in row["reason"]


def test_cancelled_works_neither_move_nor_count() -> None:
    frame = two_utilities()
    frame.loc[1, "status"] = "cancelled"
    proposal = propose(frame)
    assert proposal.works["shift_days"].tolist() == [0, 0]
    assert proposal.clusters.empty
    assert proposal.kpi("disruption days") == (10.0, 10.0)


# --- budgets and max_parallel ----------------------------------------------------


def spread_works(**extra: dict) -> gpd.GeoDataFrame:
    """Three works 50 m apart (no conflicts), in one 250 m cell."""
    rows = [
        {"work_id": "A", "org": "Power", "discipline": "electricity", "start_date": "2027-03-01",
         "end_date": "2027-03-10", "geometry": Point(10, 10)},
        {"work_id": "B", "org": "Fibre", "discipline": "telecom", "start_date": "2027-03-01",
         "end_date": "2027-03-10", "earliest": "2027-03-01", "latest": "2027-03-31",
         "geometry": Point(60, 10)},
        {"work_id": "C", "org": "Heat", "discipline": "heat", "start_date": "2027-03-01",
         "end_date": "2027-03-10", "earliest": "2027-03-01", "latest": "2027-03-15",
         "geometry": Point(110, 10)},
    ]  # fmt: skip
    for row in rows:
        row.update(extra.get(row["work_id"], {}))
    return works(*rows)


def test_max_parallel_forces_a_shift() -> None:
    proposal = propose(spread_works(), max_parallel=2)
    w = proposal.works
    # A may not move (no window), C cannot leave the overlap (ends by Mar 15): B moves
    assert dates(w, "B") == ("2027-03-11", "2027-03-20")
    assert dates(w, "A") == ("2027-03-01", "2027-03-10")
    assert dates(w, "C") == ("2027-03-01", "2027-03-10")
    assert kpis(proposal)["cells over max_parallel"] == (1, 0)
    assert proposal.infeasible.empty


def test_a_cell_limit_that_cannot_be_met_names_the_cell() -> None:
    proposal = propose(spread_works(), max_parallel=1)
    assert dates(proposal.works, "B") == ("2027-03-11", "2027-03-20")
    row = proposal.infeasible.iloc[0]
    assert row["constraint"] == "max_parallel"
    assert row["subject"] == "cell E0 N0 (250 m)"
    assert row["amount"] == 1.0
    assert "2027-03-01" in row["reason"]
    assert kpis(proposal)["cells over max_parallel"] == (1, 1)


def budget_works(b_latest: str) -> gpd.GeoDataFrame:
    return works(
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-06-01",
         "end_date": "2027-06-10", **YEAR, "cost_eur": 600_000, "geometry": line(0)},
        {"work_id": "W2", "org": "Water", "discipline": "water", "start_date": "2027-12-01",
         "end_date": "2027-12-10", "earliest": "2027-11-01", "latest": b_latest,
         "cost_eur": 600_000, "geometry": line(500)},
    )  # fmt: skip


BUDGETS = pd.DataFrame({"org": ["Water", "Water"], "year": [2027, 2028], "budget_eur": [1e6, 1e6]})


def test_a_budget_forces_a_shift_to_the_next_year() -> None:
    proposal = propose(budget_works("2028-02-28"), budgets=BUDGETS)
    # costs are booked pro rata by days: W2 (EUR 60,000 a day) may keep 6 of its
    # 10 days in 2027 (600,000 + 360,000 <= 1,000,000), the smallest move
    assert dates(proposal.works, "W2") == ("2027-12-26", "2028-01-04")
    assert dates(proposal.works, "W1") == ("2027-06-01", "2027-06-10")
    assert kpis(proposal)["org-years over budget"] == (1, 0)
    assert kpis(proposal)["estimated cost eur"] == (1_200_000, 1_200_000)
    assert proposal.infeasible.empty


def test_a_budget_that_cannot_be_met_is_reported(tmp_path) -> None:
    path = tmp_path / "budgets.csv"
    BUDGETS.to_csv(path, index=False)
    proposal = propose(budget_works("2027-12-31"), budgets=path)
    assert proposal.works["shift_days"].tolist() == [0, 0]
    row = proposal.infeasible.iloc[0]
    assert (row["constraint"], row["subject"], row["amount"]) == ("budget", "Water 2027", 200_000.0)
    assert "over by EUR 200,000" in row["reason"]
    assert kpis(proposal)["org-years over budget"] == (1, 1)


def test_budgets_of_unknown_organisations_are_a_warning() -> None:
    extra = pd.DataFrame({"org": ["Nobody"], "year": [2027], "budget_eur": [5.0]})
    proposal = propose(two_utilities(), budgets=extra)
    assert proposal.warnings == ["budgets name organisations without works, ignored: Nobody"]
    assert "org-years over budget" not in proposal.kpis["kpi"].tolist()


# --- verification against the conflict engine ------------------------------------


def test_proposal_kpis_are_recounted_on_the_proposed_dates() -> None:
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "start_date": "2027-03-01",
         "end_date": "2027-03-31", **YEAR, "geometry": line(0)},
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-06-01",
         "end_date": "2027-06-20", **YEAR, "geometry": line(2)},
        {"work_id": "E1", "org": "Power", "discipline": "electricity", "status": "in_progress",
         "start_date": "2027-08-01", "end_date": "2027-08-20", **YEAR, "geometry": line(-2)},
    )  # fmt: skip
    proposal = propose(frame)
    moved = frame.copy()
    moved["start_date"] = proposal.works["proposed_start"].to_numpy()
    moved["end_date"] = proposal.works["proposed_end"].to_numpy()
    again = find_conflicts(moved)
    same = proposal.works.set_index(["org", "work_id"])["cluster_id"]
    coordinated = [
        same.get((a, x)) is not None
        and not pd.isna(same.get((a, x)))
        and same.get((a, x)) == same.get((b, y))
        for a, x, b, y in zip(
            again["org_a"], again["work_id_a"], again["org_b"], again["work_id_b"], strict=True
        )
    ]
    clashes = int(((again["kind"] == "clash").to_numpy() & ~np.array(coordinated, bool)).sum())
    assert kpis(proposal)["clashes"][1] == clashes
    assert (
        kpis(proposal)["moratorium violations"][1]
        == int((again["kind"] == "moratorium").sum())
        == 0
    )
    # the cable (in progress, fixed) digs 123 days after the road is sealed: the
    # road and the sewer move, as one project, after the cable
    assert kpis(proposal)["moratorium violations"][0] == 2
    assert kpis(proposal)["moratorium violations fixed"] == (0, 2)
    assert kpis(proposal)["fixable violations (upper bound)"] == (0, 2)
    assert dates(proposal.works, "S1") == ("2027-08-21", "2027-09-09")
    assert dates(proposal.works, "R1") == ("2027-09-10", "2027-10-10")
    assert proposal.conflicts.columns.tolist() == list(CONFLICT_COLUMNS)


def test_geographic_input_is_measured_in_metres_and_returned_in_its_crs() -> None:
    frame = two_utilities().to_crs(4326)
    proposal = propose(frame)
    assert proposal.works.crs.to_epsg() == 4326
    assert proposal.clusters.crs.to_epsg() == 4326
    assert proposal.clusters.iloc[0]["trench_m"] == pytest.approx(100.0, abs=0.5)
    assert dates(proposal.works, "S1") == ("2027-04-01", "2027-04-10")


def test_extra_columns_survive_and_new_columns_come_before_the_geometry() -> None:
    frame = two_utilities()
    frame["contact"] = ["a@sewer", "b@water"]
    out = propose(frame).works
    assert out["contact"].tolist() == ["a@sewer", "b@water"]
    assert out.columns[-1] == "geometry"
    for col in ("proposed_start", "proposed_end", "cluster_id", "exec_order", "shift_days"):
        assert col in out.columns
    assert str(out["proposed_start"].dtype) == "datetime64[s]"


def test_report_names_the_kpis() -> None:
    text = propose(two_utilities()).report()
    assert "combined works" in text and "1 combined projects" in text


def test_progress_runs_from_zero_to_one() -> None:
    seen: list[float] = []
    propose(two_utilities(), progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_empty_works_give_an_empty_proposal() -> None:
    frame = two_utilities().iloc[:0]
    proposal = propose(frame)
    assert proposal.works.empty and proposal.clusters.empty
    assert proposal.kpi("combined works") == (0.0, 0.0)


# --- bad input -------------------------------------------------------------------


def test_conflicts_naming_unknown_works_are_an_error() -> None:
    conflicts = pd.DataFrame(
        {
            "work_id_a": ["S1"],
            "org_a": ["Sewer"],
            "work_id_b": ["X9"],
            "org_b": ["Water"],
            "kind": ["clash"],
        }
    )
    with pytest.raises(InputError, match="Water:X9"):
        propose(two_utilities(), conflicts)


def test_conflicts_without_the_key_columns_are_an_error() -> None:
    with pytest.raises(InputError, match="missing column.*kind"):
        propose(
            two_utilities(),
            pd.DataFrame({"work_id_a": [], "org_a": [], "work_id_b": [], "org_b": []}),
        )


def test_works_without_crs_are_an_error() -> None:
    frame = two_utilities().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no CRS"):
        propose(frame)


def test_invalid_works_are_an_error_that_names_the_row() -> None:
    frame = gpd.GeoDataFrame(
        {
            "work_id": ["a", "a"],
            "org": ["X", "X"],
            "start_date": ["2027-01-01"] * 2,
            "end_date": ["2027-01-02"] * 2,
        },
        geometry=[Point(0, 0), Point(1, 1)],
        crs="EPSG:28992",
    )
    with pytest.raises(InputError, match="duplicate work_id 'a'"):
        propose(frame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_parallel": 0}, "max_parallel"),
        ({"time_limit": 0}, "time_limit"),
        ({"workers": 0}, "workers"),
        ({"cell_size": -5}, "cell_size"),
        ({"max_cluster": 1}, "max_cluster"),
        ({"costs": 3}, "costs"),
        ({"budgets": 3}, "budgets"),
    ],
)
def test_bad_parameters_are_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        propose(two_utilities(), **kwargs)


def test_load_budgets_reads_the_example() -> None:
    budgets = load_budgets(ROOT / "data" / "budgets.example.csv")
    assert budgets.columns.tolist() == ["org", "year", "budget_eur", "funding"]
    assert str(budgets["year"].dtype) == "int64" and str(budgets["budget_eur"].dtype) == "float64"
    assert len(budgets) > 0 and (budgets["budget_eur"] > 0).all()


def test_load_budgets_reports_every_bad_line(tmp_path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        'org,year,budget_eur\nCity,2027,"1.250.000,50"\n,2027,5\nCity,20x7,5\nGas,2027,-1\nCity,2027,7\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_budgets(path)
    text = str(info.value)
    assert str(path) in text
    assert "line 3: empty org" in text
    assert "line 4: year '20x7'" in text
    assert "line 5: budget_eur '-1'" in text
    assert "lines 2, 6: org 'City' has more than one budget for 2027" in text


def test_load_budgets_reads_decimal_commas(tmp_path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        'Org,Year,Budget_EUR\nCity,2027,"1.250.000,50"\nGas,2028,300000\n', encoding="utf-8"
    )
    budgets = load_budgets(path)
    assert budgets["budget_eur"].tolist() == [1_250_000.5, 300_000.0]
    assert budgets["org"].tolist() == ["City", "Gas"]


def test_load_budgets_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_budgets(tmp_path / "missing.csv")
    path = tmp_path / "cols.csv"
    path.write_text("org,budget\nCity,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column.*year, budget_eur"):
        load_budgets(path)


def test_cost_table_from_toml_and_its_errors(tmp_path) -> None:
    example = load_costs(ROOT / "data" / "costs.example.toml")
    assert example == CostTable()
    path = tmp_path / "c.toml"
    path.write_text("trench_eur_per_m = 300\n", encoding="utf-8")
    assert load_costs(path).trench_eur_per_m == 300.0
    path.write_text("trench_eur_per_metre = 300\n", encoding="utf-8")
    with pytest.raises(
        InputError, match="unknown cost key 'trench_eur_per_metre'.*trench_eur_per_m"
    ):
        load_costs(path)
    path.write_text("site_setup_eur = -1\n", encoding="utf-8")
    with pytest.raises(InputError, match="site_setup_eur"):
        load_costs(path)
    path.write_text("site_setup_eur = \n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid TOML"):
        load_costs(path)


def test_costs_change_the_savings(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[costs]\ntrench_eur_per_m = 0\nreinstatement_eur_per_m2 = 0\n"
                    "traffic_management_eur_per_day = 1\nsite_setup_eur = 0\n", encoding="utf-8")  # fmt: skip
    proposal = propose(two_utilities(), costs=path)
    assert proposal.clusters["savings_eur"].tolist() == [10.0]


def test_rules_change_what_is_combined() -> None:
    # with a 2 m distance the works (3 m apart) do not meet at all
    proposal = propose(two_utilities(), rules=Rules(distance=2))
    assert proposal.clusters.empty
    assert proposal.works["shift_days"].tolist() == [0, 0]


# --- properties -------------------------------------------------------------------


@st.composite
def random_works(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(2, 6))
    disciplines = ["road", "sewer", "water", "gas", "telecom", "lighting"]
    rows = []
    for i in range(n):
        start = pd.Timestamp("2027-01-01") + pd.Timedelta(days=draw(st.integers(0, 300)))
        duration = draw(st.integers(0, 40))
        before, after = draw(st.integers(0, 60)), draw(st.integers(0, 60))
        rows.append(
            {
                "work_id": f"w{i}",
                "org": f"org{draw(st.integers(0, 3))}",
                "discipline": draw(st.sampled_from(disciplines)),
                "status": draw(
                    st.sampled_from(
                        ["idea", "planned", "committed", "in_progress", "done", "cancelled"]
                    )
                ),
                "start_date": start,
                "end_date": start + pd.Timedelta(days=duration),
                "earliest": start - pd.Timedelta(days=before),
                "latest": start + pd.Timedelta(days=duration + after),
                "cost_eur": float(draw(st.integers(0, 5)) * 100_000),
                "geometry": line(
                    draw(st.integers(0, 4)) * 6.0, draw(st.integers(0, 3)) * 30.0, 150.0
                ),
            }
        )
    return works(*rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_works(), st.sampled_from([None, 1, 2]), st.booleans())
def test_proposals_stay_in_windows_and_keep_durations(
    frame: gpd.GeoDataFrame, k: int | None, budget: bool
) -> None:
    budgets = None
    if budget:
        budgets = pd.DataFrame(
            {"org": ["org0", "org1"], "year": [2027, 2027], "budget_eur": [200_000.0, 0.0]}
        )
    proposal = propose(frame, max_parallel=k, budgets=budgets, time_limit=5)
    w = proposal.works
    assert w["work_id"].tolist() == frame["work_id"].tolist()
    assert (w["proposed_start"] >= frame["earliest"]).all()
    assert (w["proposed_end"] <= frame["latest"]).all()
    assert (
        (w["proposed_end"] - w["proposed_start"]) == (frame["end_date"] - frame["start_date"])
    ).all()
    fixed = ~frame["status"].isin(CHANGEABLE_STATUSES)
    assert (w.loc[fixed, "proposed_start"] == frame.loc[fixed, "start_date"]).all()
    assert w.loc[fixed, "cluster_id"].isna().all()
    assert (w["shift_days"] == (w["proposed_start"] - frame["start_date"]).dt.days).all()
    # every executed cluster: the trench works staggered deepest first (each
    # starts with or after the one before and ends no earlier), the sealing last
    for _, members in w.dropna(subset=["cluster_id"]).groupby("cluster_id"):
        sealing = (members["discipline"] == "road").to_numpy()
        trench = members[members["discipline"].isin(["sewer", "water", "gas", "telecom"])]
        trench = trench.sort_values("exec_order")
        assert trench["proposed_start"].is_monotonic_increasing
        assert trench["proposed_end"].is_monotonic_increasing
        if (~sealing).any():
            assert (
                members.loc[~sealing, "proposed_start"].min() == trench["proposed_start"].min()
                or trench.empty
            )
        if sealing.any() and (~sealing).any():
            assert (
                members.loc[sealing, "proposed_start"].min()
                > members.loc[~sealing, "proposed_end"].max()
            )
    assert set(proposal.kpis.columns) == {"kpi", "baseline", "proposal"}
    assert proposal.kpi("moratorium violations")[1] <= proposal.kpi("moratorium violations")[
        0
    ] + int((proposal.infeasible["constraint"] == "moratorium").sum())
    assert shapely.is_valid(proposal.clusters.geometry.to_numpy()).all()
    never_worse(frame, proposal, k, budgets)


def day_sets(frame: pd.DataFrame, start: str, end: str) -> list[set[int]]:
    """Days (numbers) each work occupies, from two date columns."""
    first = frame[start].to_numpy(dtype="datetime64[D]").astype(np.int64)
    last = frame[end].to_numpy(dtype="datetime64[D]").astype(np.int64)
    return [set(range(a, b + 1)) for a, b in zip(first.tolist(), last.tolist(), strict=True)]


def never_worse(
    frame: gpd.GeoDataFrame,
    proposal: programme.Proposal,
    k: int | None,
    budgets: pd.DataFrame | None,
) -> None:
    """Day-by-day recount: no new clash or dig after pave, no budget or cell worse."""
    from ims_geo.schema import excavates, seals_surface

    w = proposal.works
    before = day_sets(frame, "start_date", "end_date")
    after = day_sets(w, "proposed_start", "proposed_end")
    seal, dig = seals_surface(frame), excavates(frame)
    live = ~frame["status"].isin(["done", "cancelled"]).to_numpy()
    org = frame["org"].to_numpy()
    cid = w["cluster_id"].fillna("").to_numpy()
    geoms = frame.geometry.to_numpy()
    limit = 3 * 365
    for i in range(len(frame)):
        for j in range(i + 1, len(frame)):
            if org[i] == org[j] or not (live[i] and live[j]):
                continue
            if shapely.distance(geoms[i], geoms[j]) > 20:
                continue

            def digs(days: list[set[int]], i: int = i, j: int = j) -> bool:
                return any(
                    seal[x] and dig[y] and min(days[x]) < min(days[y]) <= max(days[x]) + limit
                    for x, y in ((i, j), (j, i))
                )

            together = bool(after[i] & after[j]) and not (cid[i] and cid[i] == cid[j])
            assert not together or before[i] & before[j], (i, j, "new clash")
            assert not digs(after) or digs(before), (i, j, "new dig after pave")
    if budgets is not None:
        cost = frame["cost_eur"].fillna(0).to_numpy(float)

        def spend(days: list[set[int]]) -> dict[tuple[str, int], float]:
            out: dict[tuple[str, int], float] = {}
            for i, d in enumerate(days):
                if frame["status"].iloc[i] == "cancelled" or not cost[i]:
                    continue
                for day in d:
                    year = int(np.datetime64(day, "D").astype("datetime64[Y]").astype(int)) + 1970
                    out[(org[i], year)] = out.get((org[i], year), 0.0) + cost[i] / len(d)
            return out

        was, now = spend(before), spend(after)
        rows = {
            (o, y): b for o, y, b in budgets[["org", "year", "budget_eur"]].itertuples(index=False)
        }
        budgeted = {o for o, _ in rows}
        for key in set(was) | set(now):
            if key[0] not in budgeted:
                continue
            cap = (
                max(rows.get(key, was.get(key, 0.0)), was.get(key, 0.0))
                if key in rows
                else was.get(key, 0.0)
            )
            assert now.get(key, 0.0) <= cap + 0.01 * len(frame) * 366, (key, "budget worse")
    if k is not None:
        cell = [
            (int(c.x // programme.CELL_SIZE), int(c.y // programme.CELL_SIZE))
            for c in shapely.centroid(geoms)
        ]

        def peaks(days: list[set[int]], clusters: np.ndarray) -> dict:
            load: dict = {}
            counted = set()
            for i, d in enumerate(days):
                if frame["status"].iloc[i] == "cancelled":
                    continue
                if clusters[i]:
                    members = [j for j in range(len(days)) if clusters[j] == clusters[i]]
                    span = set(
                        range(
                            min(min(days[j]) for j in members),
                            max(max(days[j]) for j in members) + 1,
                        )
                    )
                    if (clusters[i], cell[i]) in counted:
                        continue
                    counted.add((clusters[i], cell[i]))
                    d = span
                for day in d:
                    load[(cell[i], day)] = load.get((cell[i], day), 0) + 1
            top: dict = {}
            for (c, _), n in load.items():
                top[c] = max(top.get(c, 0), n)
            return top

        was_top = peaks(before, np.full(len(frame), "", dtype=object))
        now_top = peaks(after, cid)
        for c, n in now_top.items():
            assert n <= max(k, was_top.get(c, 0)), (c, "cell worse")


# --- never worse than the plan ---------------------------------------------------------


def test_an_excavation_on_the_new_surfaces_last_day_digs_after_pave() -> None:
    # the excavation starts on the resurfacing's last day: the conflict engine calls
    # the pair a clash, the proposal counts it as what it is, a moratorium violation
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "layer": "surface",
         "start_date": "2027-03-01", "end_date": "2027-03-10", "status": "in_progress",
         "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-03-10",
         "end_date": "2027-03-19", "geometry": line(3)},
    )  # fmt: skip
    proposal = propose(frame)
    assert proposal.conflicts["kind"].tolist() == ["clash"]
    assert kpis(proposal)["moratorium violations"] == (1, 1)
    assert kpis(proposal)["clashes"] == (0, 0)
    row = proposal.infeasible.iloc[0]
    assert row["constraint"] == "moratorium"
    assert row["reason"].startswith("existing violation kept: the flexibility windows")


def test_a_one_day_overlap_is_not_a_fix() -> None:
    # W1 digs in July after R1 resurfaced in March; its window lets it start on the
    # resurfacing's last day (Mar 10) at the earliest, never before Mar 1: no move
    # fixes the violation, so W1 stays where it is
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "layer": "surface",
         "start_date": "2027-03-01", "end_date": "2027-03-10", "status": "in_progress",
         "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-07-01",
         "end_date": "2027-07-10", "earliest": "2027-03-10", "latest": "2027-12-31",
         "geometry": line(3)},
    )  # fmt: skip
    proposal = propose(frame)
    assert dates(proposal.works, "W1") == ("2027-07-01", "2027-07-10")
    assert kpis(proposal)["moratorium violations"] == (1, 1)
    assert kpis(proposal)["new moratorium violations"] == (0, 0)


def test_combining_never_pulls_a_work_into_a_clash_with_a_third_one() -> None:
    # S1 and W1 would meet in the middle (about Apr 1), where W1 would clash with
    # the telecom work T1 in progress (Mar 25 - Apr 25, next to W1 only)
    frame = works(
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-05-01",
         "end_date": "2027-05-20", **YEAR, "geometry": line(3)},
        {"work_id": "T1", "org": "Fibre", "discipline": "telecom", "start_date": "2027-03-25",
         "end_date": "2027-04-25", "status": "in_progress", "geometry": line(22)},
    )  # fmt: skip
    proposal = propose(frame)
    # joint period S..S+19 must end before Mar 25 (S <= Mar 5: moves 4 + 57 days)
    # or start after Apr 25 (S = Apr 26: moves 56 + 5 days, the smaller largest move)
    assert dates(proposal.works, "S1") == ("2027-04-26", "2027-05-05")
    assert dates(proposal.works, "W1") == ("2027-04-26", "2027-05-15")
    assert kpis(proposal)["clashes"] == (0, 0)
    assert kpis(proposal)["new clashes"] == (0, 0)
    assert kpis(proposal)["combined works"] == (0, 2)


def fix_or_combine() -> gpd.GeoDataFrame:
    """G1 digs in July after R1 resurfaced in June; it can move before R1 (a fix) or
    meet W1, whose window keeps it in July and which lies 100 m from R1 (a project)."""
    return works(
        {"work_id": "R1", "org": "City", "discipline": "road", "layer": "surface",
         "start_date": "2027-06-01", "end_date": "2027-06-10", "status": "in_progress",
         "geometry": line(0)},
        {"work_id": "G1", "org": "Gas", "discipline": "gas", "start_date": "2027-07-01",
         "end_date": "2027-07-20", **YEAR, "geometry": line(2, 0, 300)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-07-05",
         "end_date": "2027-07-14", "earliest": "2027-07-01", "latest": "2027-07-31",
         "geometry": line(5, 200, 300)},
    )  # fmt: skip


def test_a_fix_is_given_up_for_two_combined_works_unless_fixes_come_first(tmp_path) -> None:
    from click.testing import CliRunner

    from ims_geo.cli import main
    from ims_geo.programme.schedule import Weights

    # the objective of the two schedules (the plan's clash of G1 and W1 ends either way):
    # combining keeps the violation; the water main (deeper) and the longer gas main
    # start together on S in W1's window: 2 x 1000 - 1700 - 2 x (|S - Jul 1| +
    # |S - Jul 5|) - 1 x spread, best at S = Jul 3 (moves 2 and 2: 2000 - 1700 - 8 - 2);
    # fixing moves G1 to end by May 31 (May 12, 50 days) and W1 can meet nobody
    w = Weights()
    assert 2 * w.combined - w.violation - 4 * w.shift_day - 2 * w.spread_day == 290
    assert -50 * w.shift_day == -100
    default = propose(fix_or_combine())
    assert dates(default.works, "G1") == ("2027-07-03", "2027-07-22")
    assert dates(default.works, "W1") == ("2027-07-03", "2027-07-12")
    assert kpis(default)["moratorium violations"] == (1, 1)
    assert kpis(default)["combined works"] == (0, 2)
    first = propose(fix_or_combine(), weights=Weights(violation=1_000_000))
    assert dates(first.works, "G1") == ("2027-05-12", "2027-05-31")
    assert dates(first.works, "W1") == ("2027-07-05", "2027-07-14")
    assert kpis(first)["moratorium violations"] == (1, 0)
    assert kpis(first)["combined works"] == (0, 0)
    # the command's --fix-worth sets the same weight
    path = tmp_path / "plans.gpkg"
    fix_or_combine().to_file(path, layer="works")
    for worth, combined in (("1000", "0"), ("1.7", "2")):
        out = tmp_path / f"p{worth}.csv"
        result = CliRunner().invoke(
            main, ["propose", str(path), "--out", str(out), "--fix-worth", worth,
                   "--not-before", "2026-01-01"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        table = pd.read_csv(tmp_path / f"p{worth}.kpis.csv", dtype=str).set_index("kpi")
        assert table.loc["combined works", "proposal"] == combined


def test_a_year_without_a_budget_is_frozen_unless_free() -> None:
    only_2027 = pd.DataFrame({"org": ["Water"], "year": [2027], "budget_eur": [1e6]})
    frozen = propose(budget_works("2028-02-28"), budgets=only_2027)
    # 2028 has no budget row: the plan spends nothing there, so nothing may move there
    assert frozen.works["shift_days"].tolist() == [0, 0]
    assert kpis(frozen)["org-years over budget"] == (1, 1)
    row = frozen.infeasible.iloc[0]
    assert (row["constraint"], row["subject"], row["amount"]) == ("budget", "Water 2027", 200_000.0)
    free = propose(budget_works("2028-02-28"), budgets=only_2027, unbudgeted_years="free")
    # free: 6 of W2's days may stay in 2027 (600,000 + 6 x 60,000 <= 1,000,000)
    assert dates(free.works, "W2") == ("2027-12-26", "2028-01-04")
    assert kpis(free)["org-years over budget"] == (1, 0)


def test_a_budget_line_is_matched_by_the_funding_column() -> None:
    frame = budget_works("2028-02-28")
    frame["funding"] = ["renewal", "growth"]
    lines = pd.DataFrame(
        {"org": ["Water"] * 3, "year": [2027, 2027, 2028], "budget_eur": [600_000, 500_000, 1e6],
         "funding": ["renewal", "", ""]}
    )  # fmt: skip
    proposal = propose(frame, budgets=lines)
    # W1 books on its line 'renewal' (600,000, within); W2 on the general line, over
    # by 100,000 in 2027 unless at most 8 of its days stay there (8 x 60,000 <= 500,000)
    assert kpis(proposal)["org-years over budget"] == (1, 0)
    assert dates(proposal.works, "W2") == ("2027-12-24", "2028-01-02")


def test_combining_never_overloads_a_cell_within_its_limit() -> None:
    # S1 and W1 (one 250 m cell) would meet around Apr 1, when the cell already
    # has P1 in progress (far from both, no conflict): limit 1 holds in the plan
    frame = works(
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(100, 100, 200)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-05-01",
         "end_date": "2027-05-20", **YEAR, "geometry": line(103, 100, 200)},
        {"work_id": "P1", "org": "Power", "discipline": "electricity", "start_date": "2027-03-25",
         "end_date": "2027-04-10", "status": "in_progress", "geometry": Point(20, 20)},
    )  # fmt: skip
    proposal = propose(frame, max_parallel=1)
    assert kpis(proposal)["cells over max_parallel"] == (0, 0)
    assert dates(proposal.works, "S1") == ("2027-04-11", "2027-04-20")
    assert dates(proposal.works, "W1") == ("2027-04-11", "2027-04-30")


def test_nothing_moves_before_not_before() -> None:
    proposal = propose(two_utilities(), not_before="2027-04-15")
    # the joint period may not start before Apr 15: S1 moves there, W1 follows
    assert dates(proposal.works, "S1") == ("2027-04-15", "2027-04-24")
    assert dates(proposal.works, "W1") == ("2027-04-15", "2027-05-04")
    with pytest.raises(InputError, match="not_before"):
        propose(two_utilities(), not_before="soon")
    with pytest.raises(InputError, match="unbudgeted_years"):
        propose(two_utilities(), unbudgeted_years="maybe")


# --- the solver's choice of projects against an independent brute force ---------------


def partitions(items: list[int]) -> list[list[list[int]]]:
    """Every partition of ``items`` into blocks."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for part in partitions(rest):
        out.append([[first], *part])
        for k in range(len(part)):
            out.append([*part[:k], [first, *part[k]], *part[k + 1 :]])
    return out


def brute_combined(starts0: list[int], dur: list[int], lo: list[int], hi: list[int],
                   seals: list[bool], depth: list[int]) -> int:  # fmt: skip
    """Most works executable in combined projects, by enumeration.

    A project (2+ works) runs its trench works deepest first (ties: by index):
    the first starts on S, each next one with the one before it or later, so
    that it ends no earlier than that one; its sealing members start the day
    after the last trench work ends (S if there is none). Works not in one
    project may not be in the street together or dig after pave (they are not
    in the plan). Every pair is near.
    """
    n = len(starts0)
    m = 3 * 365
    best = 0
    blocks_all = partitions(list(range(n)))
    for starts in product(*(range(lo[i], hi[i] + 1) for i in range(n))):
        ok_pair = {}
        for i in range(n):
            for j in range(i + 1, n):
                together = starts[i] <= starts[j] + dur[j] and starts[j] <= starts[i] + dur[i]
                digs = any(
                    seals[x] and not seals[y] and starts[x] < starts[y] <= starts[x] + dur[x] + m
                    for x, y in ((i, j), (j, i))
                )
                ok_pair[(i, j)] = not together and not digs
        for blocks in blocks_all:
            block_of = {i: b for b, block in enumerate(blocks) for i in block}
            if not all(ok or block_of[i] == block_of[j] and len(blocks[block_of[i]]) > 1
                       for (i, j), ok in ok_pair.items()):  # fmt: skip
                continue
            fine = True
            for block in blocks:
                if len(block) < 2:
                    continue
                first = sorted((i for i in block if not seals[i]), key=lambda i: (-depth[i], i))
                last = [i for i in block if seals[i]]
                expected = {}
                if first:
                    at = starts[first[0]]
                    for k, i in enumerate(first):
                        if k:
                            prev = first[k - 1]
                            at = max(expected[prev], expected[prev] + dur[prev] - dur[i])
                        expected[i] = at
                    after = max(expected[i] + dur[i] for i in first) + 1
                else:
                    after = starts[last[0]]
                expected.update({i: after for i in last})
                fine &= all(starts[i] == expected[i] for i in block)
            if fine:
                best = max(best, sum(len(b) for b in blocks if len(b) > 1))
    return best


@st.composite
def small_boxes(draw: st.DrawFn) -> gpd.GeoDataFrame:
    """2-4 works of different organisations next to each other, one after the other
    in the plan (excavations first, then the resurfacing), with small windows."""
    n = draw(st.integers(2, 4))
    kinds = sorted(draw(st.lists(st.sampled_from(["sewer", "water", "telecom", "road"]),
                                 min_size=n, max_size=n)), key=lambda d: d == "road")  # fmt: skip
    rows, day = [], pd.Timestamp("2027-03-01")
    for i, discipline in enumerate(kinds):
        duration = draw(st.integers(0, 3))
        start = day + pd.Timedelta(days=draw(st.integers(1, 2)))
        slack = 8 if n <= 3 else 3  # the enumeration stays small
        before, after = draw(st.integers(0, slack)), draw(st.integers(0, slack))
        rows.append(
            {"work_id": f"w{i}", "org": f"org{i}", "discipline": discipline,
             "layer": "surface" if discipline == "road" else "subsurface",
             "start_date": start, "end_date": start + pd.Timedelta(days=duration),
             "earliest": start - pd.Timedelta(days=before),
             "latest": start + pd.Timedelta(days=duration + after), "geometry": line(2.0 * i)}
        )  # fmt: skip
        day = start + pd.Timedelta(days=duration)
    return works(*rows)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_boxes())
def test_combined_works_are_the_optimum_of_an_independent_enumeration(
    frame: gpd.GeoDataFrame,
) -> None:
    days = frame["start_date"].to_numpy(dtype="datetime64[D]").astype(np.int64).tolist()
    dur = (frame["end_date"] - frame["start_date"]).dt.days.tolist()
    lo = frame["earliest"].to_numpy(dtype="datetime64[D]").astype(np.int64).tolist()
    hi = (
        frame["latest"].to_numpy(dtype="datetime64[D]").astype(np.int64) - np.asarray(dur)
    ).tolist()
    seals = (frame["discipline"] == "road").tolist()
    depth = frame["discipline"].map({"sewer": 3, "water": 2, "telecom": 1, "road": 0}).tolist()
    # every pair is linked (near, within the synergy window): all sets are candidates
    assert len(find_conflicts(frame)) == len(frame) * (len(frame) - 1) // 2
    expected = brute_combined(days, dur, lo, hi, seals, depth)
    proposal = propose(frame, time_limit=20)  # stops as soon as every part is solved
    assert proposal.kpi("combined works") == (0.0, float(expected))
    assert proposal.solver["status"].eq("OPTIMAL").all()
    # the bound is proven by a model of its own and is the enumerated optimum
    assert proposal.kpi("combined works (upper bound)") == (0.0, float(expected))
    assert proposal.solver["bound_proof"].eq("exact").all()


# --- what a coordinator negotiates with ------------------------------------------------


def test_locked_works_and_projects_stay_and_excluded_works_drop_out(tmp_path) -> None:
    first = propose(two_utilities())
    assert first.works["cluster_id"].tolist() == ["C001", "C001"]
    # lock a whole project by marking one member of the earlier proposal's works
    sheet = pd.DataFrame(first.works[["org", "work_id", "cluster_id"]]).assign(lock=["x", ""])
    path = tmp_path / "lock.csv"
    sheet.to_csv(path, index=False)
    locked = propose(two_utilities(), lock=path)
    assert locked.works["shift_days"].tolist() == [0, 0]
    assert locked.clusters.empty
    # one locked work: the other joins nothing either (no partner), stays
    frame = two_utilities().assign(lock=["yes", ""])
    assert propose(frame).works["shift_days"].tolist() == [0, 0]
    excluded = propose(two_utilities(), exclude=pd.DataFrame({"org": ["Water"], "work_id": ["W1"]}))
    assert excluded.kpi("disruption days") == (10.0, 10.0)  # W1 counts for nothing
    with pytest.raises(InputError, match="org and work_id"):
        propose(two_utilities(), lock=pd.DataFrame({"who": ["x"]}))
    warned = propose(two_utilities(), lock=pd.DataFrame({"org": ["Gas"], "work_id": ["G9"]}))
    assert warned.warnings == ["lock: 1 listed work(s) not among the works, ignored: Gas:G9"]


def test_every_moved_work_says_why() -> None:
    joined = propose(two_utilities())
    assert joined.works["move_reason"].tolist() == [
        "moved +31 days to join C001 with Water:W1",
        "moved -31 days to join C001 with Sewer:S1",
    ]
    # the excavation moves before the resurfacing in progress
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "layer": "surface",
         "start_date": "2027-06-01", "end_date": "2027-06-10", "status": "in_progress",
         "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-07-01",
         "end_date": "2027-07-10", **YEAR, "geometry": line(3)},
    )  # fmt: skip
    moved = propose(frame)
    assert moved.works["move_reason"].isna().tolist() == [True, False]
    assert (
        moved.works["move_reason"].iloc[1] == "moved -40 days to dig before City:R1's resurfacing"
    )


def test_an_unresolved_violation_says_what_would_fix_it() -> None:
    # W1 may start no earlier than Jun 25: it cannot end before the resurfacing in
    # progress (Jun 1-10) starts; its latest date would have to reach past the moratorium
    frame = works(
        {"work_id": "R1", "org": "City", "discipline": "road", "layer": "surface",
         "start_date": "2027-06-01", "end_date": "2027-06-10", "status": "in_progress",
         "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-07-01",
         "end_date": "2027-07-10", "earliest": "2027-06-25", "latest": "2027-12-31",
         "geometry": line(3)},
    )  # fmt: skip
    row = propose(frame).infeasible.iloc[0]
    # to end by May 31 (before R1 starts) W1's 10 days must start by May 22: its
    # earliest date (Jun 25) 34 days earlier; the moratorium is much further away
    days = (pd.Timestamp("2027-06-25") - pd.Timestamp("2027-05-22")).days
    assert row["reason"].endswith(
        f"moving Water:W1's earliest date {days} days earlier would remove it (for this pair alone)"
    )


def test_members_that_share_no_site_save_only_the_period() -> None:
    # 15 m apart: near enough to combine (20 m), too far to share a trench (5 m)
    frame = two_utilities()
    frame.loc[1, "geometry"] = line(15)
    c = propose(frame).clusters.iloc[0]
    assert (c["trench_m"], c["resurfacing_avoided_m2"], c["disruption_days_saved"]) == (0, 0, 0)
    assert c["savings_eur"] == 0
    assert c["savings_explained"] == "nothing shared on site: the members only share the period"
    titled = two_utilities().assign(title=["Sewer renewal Main St", None])
    assert propose(titled).clusters.iloc[0]["member_titles"] == (
        "Sewer:S1 (Sewer renewal Main St); Water:W1"
    )
    shared = propose(two_utilities()).clusters.iloc[0]["savings_explained"]
    assert shared == (
        "100 m of trench shared (EUR 25,000); 100 m² of reinstatement avoided (EUR 9,000); "
        "10 traffic-management days saved (EUR 4,000); 1 site set-up(s) saved (EUR 2,500)"
    )


def test_two_proposals_are_compared(tmp_path) -> None:
    from click.testing import CliRunner

    from ims_geo import export
    from ims_geo.cli import main

    first = propose(two_utilities())
    second = propose(two_utilities(), lock=pd.DataFrame({"org": ["Water"], "work_id": ["W1"]}))
    for name, p in (("a.xlsx", first), ("b.gpkg", second)):
        export.write_layers(
            {"works": p.works, "clusters": p.clusters, "kpis": p.kpis}, tmp_path / name
        )
    kpis, differ = programme.compare(tmp_path / "a.xlsx", tmp_path / "b.gpkg")
    row = kpis.set_index("kpi").loc["combined works"]
    assert (row["a"], row["b"], row["b_minus_a"]) == (2.0, 0.0, -2.0)
    assert differ["work_id"].tolist() == ["S1", "W1"]
    assert differ["cluster_id_a"].tolist() == ["C001", "C001"]
    assert differ["cluster_id_b"].isna().all()
    out = tmp_path / "diff.xlsx"
    result = CliRunner().invoke(
        main, ["propose", "--compare", str(tmp_path / "a.xlsx"), str(tmp_path / "b.gpkg"),
               "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pd.read_excel(out, sheet_name="works")["work_id"].tolist() == ["S1", "W1"]
    bad = CliRunner().invoke(
        main, ["propose", "--compare", str(out), str(out), "--out", str(tmp_path / "x.xlsx")]
    )
    assert bad.exit_code == 2
    assert "missing column(s) proposal, proposed_start, cluster_id of a proposal" in bad.output


def test_the_gantt_sheet_marks_each_members_months(tmp_path) -> None:
    from openpyxl import load_workbook

    from ims_geo import export

    frame = two_utilities()
    frame.loc[1, "end_date"] = pd.Timestamp("2027-06-10")  # W1: 40 days
    proposal = propose(frame)
    chart = programme.gantt(proposal)
    by_id = proposal.works.set_index("work_id")
    months = [c for c in chart.columns if c[:2] == "20"]
    # from the joint start's month to the month the 40-day water main ends
    first = by_id.loc["S1", "proposed_start"].to_period("M")
    last = by_id.loc["W1", "proposed_end"].to_period("M")
    assert months == [str(m) for m in pd.period_range(first, last, freq="M")]
    assert chart["work_id"].tolist() == ["S1", "W1"]
    assert chart[str(first)].tolist() == [1, 1]
    s1_end = by_id.loc["S1", "proposed_end"].to_period("M")
    assert chart[str(last)].tolist() == [1 if s1_end == last else pd.NA, 1]
    path = tmp_path / "p.xlsx"
    export.write_layers({"works": proposal.works, "gantt": chart}, path)
    programme.style_gantt(path)
    sheet = load_workbook(path)["gantt"]
    ranges = [str(r.sqref) for r in sheet.conditional_formatting]
    assert ranges == [f"H2:{chr(ord('H') + len(months) - 1)}3"]


def test_each_member_pays_its_estimate_less_its_trench_share_of_the_savings() -> None:
    # the cycle's rule: savings split by the metres of trench each member lays
    frame = two_utilities().assign(cost_eur=[100_000.0, 60_000.0])
    frame.loc[1, "geometry"] = line(3, 0, 50)  # the water main lays 50 m, the sewer 100 m
    proposal = propose(frame)
    c = proposal.clusters.iloc[0]
    saved = c["savings_eur"]
    assert c["split_rule"] == "trench"
    share = dict(zip(proposal.works["work_id"], proposal.works["cost_share_eur"], strict=True))
    assert share == {
        "S1": pytest.approx(100_000 - saved * 100 / 150, abs=0.01),
        "W1": pytest.approx(60_000 - saved * 50 / 150, abs=0.01),
    }
    assert sum(share.values()) == pytest.approx(160_000 - saved, abs=0.001)
    alone = propose(frame.assign(status=["in_progress", "planned"]))
    assert alone.works["cost_share_eur"].tolist() == [100_000.0, 60_000.0]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_boxes(), st.data())
def test_the_joint_periods_of_many_sets_at_once_are_those_of_each_set(
    frame: gpd.GeoDataFrame, data
) -> None:
    # the candidates' windows are checked all at once; one set at a time, by brute
    # force over the days: S is a joint start when every member starts in its window
    a = programme._Arrays.of(frame, Rules())
    n = len(frame)
    sets = data.draw(
        st.lists(st.lists(st.integers(0, n - 1), min_size=2, max_size=n, unique=True),
                 min_size=1, max_size=6)
    )  # fmt: skip
    work = np.concatenate([np.asarray(g) for g in sets])
    cid = np.repeat(np.arange(len(sets)), [len(g) for g in sets])
    low, high = programme._windows(a, work, cid, len(sets))
    for k, members in enumerate(sets):
        off = programme.member_offsets(a, np.asarray(members), np.zeros(len(members), np.int64))
        # every joint start lies between the earliest and the latest a member allows
        first, last = int((a.lo[members] - off).min()), int((a.hi[members] - off).max())
        days = [
            s for s in range(first, last + 1)
            if all(a.lo[i] <= s + o <= a.hi[i] for i, o in zip(members, off, strict=True))
        ]  # fmt: skip
        if days:
            assert (low[k], high[k]) == (min(days), max(days))
        else:
            assert low[k] > high[k]
        assert programme._Window(a)(members) == (low[k], high[k])
