"""The planning cycle on hand-made plans: targets, adoption, monitoring, moratoria, KPIs.

Every expected value is either written out from the scenario below or
recomputed here by brute force (Python loops over days and squares).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString

from ims_geo import cycle
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import InputError, StoreError
from ims_geo.schema import REASON, validate
from ims_geo.store import Store, open_store

RD = "EPSG:28992"
X0, Y0 = 121_000.0, 487_000.0
YEAR = 2027


# --- data built in code -----------------------------------------------------------------
def line(x: float, y: float = 0.0, length: float = 100.0) -> LineString:
    return LineString([(X0 + x, Y0 + y), (X0 + x + length, Y0 + y)])


def work(wid: str, discipline: str, start: str, end: str, geom: LineString, **more: object) -> dict:
    return {"work_id": wid, "discipline": discipline, "start_date": start, "end_date": end,
            "geometry": geom, **more}  # fmt: skip


def plan(org: str, rows: list[dict]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=RD)
    checked = validate(frame, org=org, source=f"{org}.gpkg")
    assert checked.rejected.empty, checked.rejected[REASON].tolist()
    return checked.valid


#: The scenario's plans for 2027: (org, rows).
PLANS: dict[str, list[dict]] = {
    "City": [work("R1", "road", "2027-06-01", "2027-06-30", line(0), cost_eur=60_000)],
    "Water": [
        work("W1", "water", "2027-05-01", "2027-05-20", line(0, 2), cost_eur=80_000),
        work("V1", "water", "2027-07-01", "2027-07-10", line(2000, 2), cost_eur=10_000),
    ],
    "Gas": [work("G1", "gas", "2027-05-05", "2027-05-15", line(0, -2, 60), cost_eur=30_000)],
    "Heat": [work("H1", "heat", "2027-08-01", "2027-08-31", line(500), cost_eur=40_000)],
    "Elec": [work("E1", "electricity", "2027-08-01", "2027-08-20", line(500, 2), cost_eur=20_000)],
    "Telecom": [work("T1", "telecom", "2027-09-01", "2027-09-10", line(1000), cost_eur=10_000)],
    "Lighting": [work("L1", "lighting", "2027-10-01", "2027-10-05", line(1500))],
    "Sewer": [
        work("X1", "sewer", "2027-03-01", "2027-03-31", line(2500), cost_eur=50_000),
        work("S2", "sewer", "2027-07-01", "2027-07-10", line(2000), cost_eur=25_000),
    ],
}
#: Projects of the hand-made programme: work -> (project, order).
PROJECTS = {
    ("Water", "W1"): ("C001", 1), ("Gas", "G1"): ("C001", 2), ("City", "R1"): ("C001", 3),
    ("Heat", "H1"): ("C002", 1), ("Elec", "E1"): ("C002", 2),
    ("Sewer", "S2"): ("C003", 1), ("Water", "V1"): ("C003", 2),
}  # fmt: skip
SAVINGS = {"C001": 20_000.0, "C002": 5_000.0, "C003": 3_000.0}


def build(path: Path) -> Store:
    store = open_store(path)
    for org, rows in PLANS.items():
        store.import_plan(plan(org, rows), org=org, cycle=YEAR, source=f"{org}.gpkg")
    return store


def hand_programme(store: Store) -> gpd.GeoDataFrame:
    """The store's works as a programme at their planned dates, in the projects above."""
    works = store.works()
    keys = list(zip(works["org"], works["work_id"], strict=True))
    return gpd.GeoDataFrame(
        {
            "org": works["org"],
            "work_id": works["work_id"],
            "proposed_start": works["start_date"],
            "proposed_end": works["end_date"],
            "cluster_id": [PROJECTS.get(k, (None, None))[0] for k in keys],
            "exec_order": [PROJECTS.get(k, (None, None))[1] for k in keys],
        },
        geometry=works.geometry,
        crs=works.crs,
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario's store, built once per module (tests write to copies)."""
    path = tmp_path_factory.mktemp("scenario") / "cycle.gpkg"
    build(path)
    return path


@pytest.fixture
def store(scenario: Path, tmp_path: Path) -> Store:
    copy = tmp_path / "cycle.gpkg"
    shutil.copyfile(scenario, copy)
    return open_store(copy)


@pytest.fixture
def adopted(store: Store) -> Store:
    cycle.adopt(
        store, YEAR, hand_programme(store), decision="Council 2027/14",
        decision_date="2027-02-01", savings=SAVINGS,
    )  # fmt: skip
    return store


# --- tables and targets -----------------------------------------------------------------------
def test_tables_exist_in_a_new_and_an_older_store(tmp_path: Path) -> None:
    import sqlite3

    from ims_geo.store.cycle_tables import TABLES

    path = tmp_path / "old.gpkg"
    open_store(path)
    con = sqlite3.connect(path)
    for table in TABLES:  # an older store: without the cycle tables
        con.execute(f"DROP TABLE {table}")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
    con.commit()
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not names & set(TABLES)
    con.close()
    open_store(path)
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    listed = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    con.close()
    assert set(TABLES) <= names and set(TABLES) <= listed


def test_targets_stored_printed_and_checked(store: Store) -> None:
    before = cycle.targets(store, YEAR)
    assert before["kpi"].tolist() == list(cycle.KPIS)
    assert before.set_index("kpi")["target"].to_dict()["moratorium_violations"] == 0.0
    assert math.isnan(before.set_index("kpi")["target"]["combined_share"])
    after = cycle.set_targets(store, YEAR, {"combined_share": "0.6", "savings_eur": 25_000})
    table = after.set_index("kpi")["target"]
    assert table["combined_share"] == 0.6 and table["savings_eur"] == 25_000.0
    with pytest.raises(InputError, match="combined_shar.*did you mean combined_share.*known KPIs"):
        cycle.set_targets(store, YEAR, {"combined_shar": 0.5})
    with pytest.raises(InputError, match="not a number"):
        cycle.set_targets(store, YEAR, {"savings_eur": "lots"})
    with pytest.raises(InputError, match="between 0 and 1"):
        cycle.set_targets(store, YEAR, {"combined_share": 60})
    custom = cycle.set_targets(store, YEAR, {"trees_planted": 40}, custom=True)
    row = custom[custom["kpi"] == "trees_planted"].iloc[0]
    assert row["target"] == 40.0 and bool(row["custom"])
    assert cycle.targets(store, YEAR + 1).set_index("kpi")["target"].isna().sum() == 4


# --- adoption ------------------------------------------------------------------------------
def test_adopted_programme_projects_leads_and_split(adopted: Store) -> None:
    table = cycle.programme(adopted, YEAR)
    assert list(table.columns[:9]) == list(cycle.PROGRAMME_COLUMNS)
    assert len(table) == 10 and table["revision"].eq(1).all()
    c1 = table[table["project"] == "C001"].set_index("work_id")
    assert c1["order"].tolist() == [1, 2, 3] and c1.index.tolist() == ["W1", "G1", "R1"]
    # trench rule: 20,000 EUR saved, split by the trench metres laid (W1 100 m, G1 60 m)
    assert c1["cost_share_eur"].to_dict() == {"W1": 67_500.0, "G1": 22_500.0, "R1": 60_000.0}
    assert (c1["funding_year"] == 2027).all()
    projects = cycle.projects(adopted, YEAR).set_index("project")
    assert projects.loc["C001", "lead_org"] == "City"  # the sealing member leads
    assert projects.loc["C002", "lead_org"] == "Heat"  # largest own estimate
    assert projects.loc["C001", "cost_eur"] == 150_000.0
    assert projects.loc["C001", "joint_start"] == pd.Timestamp("2027-05-01")
    assert projects.loc["C001", "joint_end"] == pd.Timestamp("2027-06-30")
    for name, group in table[table["project"].notna()].groupby("project"):
        cents = np.round(group["cost_share_eur"].to_numpy() * 100).astype(np.int64)
        assert cents.sum() == round(projects.loc[name, "cost_eur"] * 100)
        own = np.round(group["cost_eur"].to_numpy() * 100).astype(np.int64).sum()
        assert own - cents.sum() == round(SAVINGS[name] * 100)
    solo = table[table["project"].isna()]
    assert (solo["cost_share_eur"] == solo["cost_eur"]).all()
    fin = cycle.financing(adopted, YEAR).set_index("org")
    # V1 saves half of C003's 3,000 EUR (S2 and V1 both lay 100 m of trench)
    assert table.set_index("work_id").loc["V1", "cost_share_eur"] == 8_500.0
    assert fin.loc["Water", "cost_share_eur"] == 67_500.0 + 8_500.0
    assert fin.loc["Water", "works"] == 2


@pytest.mark.parametrize(
    ("rule", "savings", "expected_rule"),
    [("equal", 20_000.0, "equal"), ("cost", 12_345.67, "cost"),
     ("trench", 100_000.0, "cost (fallback from trench)")],
)  # fmt: skip
def test_cost_split_sums_to_the_project_cost(
    store: Store, rule: str, savings: float, expected_rule: str
) -> None:
    cycle.adopt(
        store, YEAR, hand_programme(store), decision="D1", split_rules={"C001": rule},
        savings={"C001": savings},
    )  # fmt: skip
    table = cycle.programme(store, YEAR)
    c1 = table[table["project"] == "C001"].set_index("work_id")
    project = cycle.projects(store, YEAR).set_index("project").loc["C001"]
    assert project["split_rule"] == expected_rule
    cents = np.round(c1["cost_share_eur"].to_numpy() * 100).astype(np.int64)
    assert cents.sum() == 17_000_000 - round(savings * 100)
    assert cents.sum() == round(project["cost_eur"] * 100)
    assert (cents >= 0).all()
    if rule == "equal":
        assert sorted(17_000_000 // 100 * 100 - cents) != []
        parts = np.round(c1["cost_eur"].to_numpy() * 100).astype(np.int64) - cents
        assert sorted(parts.tolist()) == [666_666, 666_667, 666_667]
    if expected_rule.startswith("cost"):
        own = c1["cost_eur"].to_numpy()
        exact = own * 100 - savings * 100 * own / own.sum()
        assert np.all(np.abs(cents - exact) < 1)


def test_adopt_checks_its_input(store: Store) -> None:
    programme = hand_programme(store)
    with pytest.raises(InputError, match="decision"):
        cycle.adopt(store, YEAR, programme, decision=" ")
    with pytest.raises(InputError, match="unknown split rule"):
        cycle.adopt(store, YEAR, programme, decision="D", split_rules={"C001": "fair"})
    with pytest.raises(InputError, match="not a member"):
        cycle.adopt(store, YEAR, programme, decision="D", leads={"C001": "Heat"})
    ghost = programme.copy()
    ghost.loc[0, "work_id"] = "NOPE"
    with pytest.raises(InputError, match="not in the store's current plans"):
        cycle.adopt(store, YEAR, ghost, decision="D")
    with pytest.raises(StoreError, match="no programme adopted"):
        cycle.programme(store, YEAR)
    cycle.adopt(store, YEAR, programme, decision="D1")
    with pytest.raises(InputError, match="--reason"):
        cycle.adopt(store, YEAR, programme, decision="D2")


def test_frozen_programme_survives_imports_proposals_and_rule_changes(adopted: Store) -> None:
    frozen = cycle.programme(adopted, YEAR)
    frozen_projects = cycle.projects(adopted, YEAR)
    # a new import moves and drops works
    rows = [work("W1", "water", "2027-09-01", "2027-09-20", line(0, 2), cost_eur=1.0)]
    adopted.import_plan(plan("Water", rows), org="Water", cycle=2028)
    # a new proposal of the changed works, under other rules
    from ims_geo.programme import propose

    propose(adopted.works(), rules=Rules(distance=500, window_days=30), time_limit=5)
    cycle.kpis(adopted, YEAR, Rules(distance=1, moratorium_years=1))
    pd.testing.assert_frame_equal(
        pd.DataFrame(cycle.programme(adopted, YEAR)), pd.DataFrame(frozen)
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(cycle.projects(adopted, YEAR)), pd.DataFrame(frozen_projects)
    )
    # a new adoption is a new revision; the old one stays readable as it was
    second = cycle.adopt(adopted, YEAR, decision="Council 2027/30", reason="Water moved W1",
                         time_limit=5)  # fmt: skip
    assert second.revision == 2
    pd.testing.assert_frame_equal(
        pd.DataFrame(cycle.programme(adopted, YEAR, revision=1)), pd.DataFrame(frozen)
    )
    table = cycle.revisions(adopted, YEAR)
    assert table["revision"].tolist() == [1, 2]
    assert table["reason"].tolist()[1] == "Water moved W1"
    assert table["decision_date"].tolist()[0] == pd.Timestamp("2027-02-01")
    assert cycle.programme(adopted, YEAR)["revision"].eq(2).all()


def test_fresh_proposal_adopted_combines_flexible_works(tmp_path: Path) -> None:
    store = open_store(tmp_path / "fresh.gpkg")
    store.import_plan(plan("City", [work("R", "road", "2027-06-01", "2027-06-10", line(0),
                                         earliest="2027-01-01", latest="2027-12-31",
                                         cost_eur=10_000)]), org="City", cycle=YEAR)  # fmt: skip
    store.import_plan(plan("Water", [work("W", "water", "2027-03-01", "2027-03-10", line(0, 2),
                                          earliest="2027-01-01", latest="2027-12-31",
                                          cost_eur=20_000)]), org="Water", cycle=YEAR)  # fmt: skip
    result = cycle.adopt(store, YEAR, decision="Steering group 3", time_limit=10)
    assert (result.revision, result.n_projects, result.n_works) == (1, 1, 2)
    table = cycle.programme(store, YEAR).set_index("work_id")
    assert table.loc["W", "order"] == 1 and table.loc["R", "order"] == 2
    assert table.loc["R", "start"] == table.loc["W", "end"] + pd.Timedelta(days=1)
    project = cycle.projects(store, YEAR).iloc[0]
    assert project["savings_eur"] > 0
    assert round(table["cost_share_eur"].sum() * 100) == round(project["cost_eur"] * 100)
    assert round(project["cost_eur"] + project["savings_eur"], 2) == 30_000.0


# --- monitoring ----------------------------------------------------------------------------
def progress_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(cycle.PROGRESS_COLUMNS))


def monitored(store: Store) -> Store:
    """The scenario after a year: progress reports and new plan versions."""
    cycle.record_progress(store, YEAR, "Water", progress_frame(
        [("W1", "done", "2027-05-03", "2027-05-22", "two days late")]))  # fmt: skip
    cycle.record_progress(store, YEAR, "Gas", progress_frame(
        [("G1", "done", "2027-05-03", "2027-05-13", None)]))  # fmt: skip
    cycle.record_progress(store, YEAR, "Elec", progress_frame(
        [("E1", "in_progress", "2027-09-10", "2027-09-25", None)]))  # fmt: skip
    heat = plan("Heat", [work("H1", "heat", "2027-08-01", "2027-08-31", line(500),
                              status="cancelled")])  # fmt: skip
    store.import_plan(heat, org="Heat", cycle=YEAR)
    telecom = plan("Telecom", [work("T1", "telecom", "2027-11-01", "2027-11-10", line(1000))])
    store.import_plan(telecom, org="Telecom", cycle=YEAR)
    lighting = plan("Lighting", [work("L2", "lighting", "2027-04-01", "2027-04-05", line(1600))])
    store.import_plan(lighting, org="Lighting", cycle=YEAR)
    cycle.record_progress(store, YEAR, "Lighting", progress_frame(
        [("L2", "in_progress", "2027-04-01", None, None)]))  # fmt: skip
    sewer = plan("Sewer", [
        work("X1", "sewer", "2027-03-11", "2027-04-10", line(2500), cost_eur=50_000),
        work("S2", "sewer", "2027-07-01", "2027-07-10", line(2000), cost_eur=25_000)])  # fmt: skip
    store.import_plan(sewer, org="Sewer", cycle=YEAR)
    return store


def test_every_deviation_class_exactly(adopted: Store) -> None:
    found = cycle.deviations(monitored(adopted), YEAR)
    assert list(found.columns[:5]) == list(cycle.DEVIATION_COLUMNS)
    got = [
        (o, w, None if pd.isna(p) else p, d, None if pd.isna(n) else int(n))
        for o, w, p, d, n in found.loc[:, list(cycle.DEVIATION_COLUMNS)].itertuples(index=False)
    ]
    assert got == [
        ("Heat", "H1", "C002", "dropped", None),
        ("Lighting", "L1", None, "dropped", None),
        ("Elec", "E1", "C002", "not_combined", 25),
        ("Telecom", "T1", None, "moved", 61),
        ("Sewer", "X1", None, "late", 10),
        ("Water", "W1", "C001", "late", 2),
        ("Gas", "G1", "C001", "early", -2),
        ("Lighting", "L2", None, "unplanned", None),
    ]
    assert set(found["deviation"]) == set(cycle.DEVIATIONS)
    w1 = found.set_index("work_id").loc["W1"]
    assert w1["remark"] == "two days late" and w1["start"] == pd.Timestamp("2027-05-03")


def test_moved_threshold_either_way(adopted: Store) -> None:
    water = plan(
        "Water",
        [
            work("W1", "water", "2027-05-01", "2027-05-20", line(0, 2), cost_eur=80_000),
            work("V1", "water", "2027-05-31", "2027-06-09", line(2000, 2), cost_eur=10_000),
        ],
    )
    adopted.import_plan(water, org="Water", cycle=YEAR)  # V1 31 days earlier
    found = cycle.deviations(adopted, YEAR, moved_days=31).set_index("work_id")
    assert found.loc["V1", "deviation"] == "early" and found.loc["V1", "days"] == -31
    found = cycle.deviations(adopted, YEAR, moved_days=30).set_index("work_id")
    assert found.loc["V1", "deviation"] == "moved" and found.loc["V1", "days"] == -31


def test_red_amber_green_per_project(adopted: Store) -> None:
    assert cycle.project_status(adopted, YEAR)["rag"].tolist() == ["green"] * 3
    states = cycle.project_status(monitored(adopted), YEAR).set_index("project")
    assert states["rag"].to_dict() == {"C001": "amber", "C002": "red", "C003": "green"}
    assert states.loc["C001", "reason"] == "Water W1 late (+2 days); Gas G1 early (-2 days)"
    assert states.loc["C002", "reason"] == "Heat H1 dropped; Elec E1 not_combined (+25 days)"
    assert states.loc["C003", "reason"] == "on programme"


def test_member_planned_outside_the_joint_period_is_red(adopted: Store) -> None:
    gas = plan("Gas", [work("G1", "gas", "2027-07-05", "2027-07-15", line(0, -2, 60),
                            cost_eur=30_000)])  # fmt: skip
    adopted.import_plan(gas, org="Gas", cycle=YEAR)
    states = cycle.project_status(adopted, YEAR).set_index("project")
    assert states.loc["C001", "rag"] == "red"
    assert states.loc["C001", "reason"] == "Gas G1 moved (+61 days), outside the joint period"


def test_progress_rows_rejected_with_reasons(adopted: Store, tmp_path: Path) -> None:
    path = tmp_path / "progress.csv"
    path.write_text(
        "work_id,status,actual_start,actual_end,remark\n"
        "W1,fertig,2027-05-02,2027-05-21,ok\n"
        "NOPE,done,2027-05-02,2027-05-21,\n"
        "V1,done,2027-07-01,,\n"
        "V1,done,2027-07-01,2027-07-09,\n"
        ",done,2027-07-01,2027-07-09,\n",
        encoding="utf-8",
    )
    reports = cycle.read_progress(path)
    result = cycle.record_progress(adopted, YEAR, "Water", reports, source=path.name)
    assert result.accepted["work_id"].tolist() == ["W1"]
    assert result.accepted["status"].tolist() == ["done"]
    reasons = dict(zip(result.rejected["source_row"], result.rejected["reason"], strict=True))
    assert reasons == {
        2: "work_id NOPE is not in the organisation's current plan or the adopted programme; "
        "check the id",
        3: "work_id V1 appears 2 times in the file; report each work once",
        4: "work_id V1 appears 2 times in the file; report each work once",
        5: "missing work_id",
    }
    more = progress_frame([("V1", "done", "2027-07-01", None, None),
                           ("V1x", "planned", "2027-07-09", "2027-07-01", None)])  # fmt: skip
    bad = cycle.record_progress(adopted, YEAR, "Water", more).rejected["reason"].tolist()
    assert bad[0] == "status done needs its actual_end"
    assert bad[1].startswith("work_id V1x is not in")
    latest = cycle.progress(adopted, YEAR)
    assert latest[["org", "work_id", "status"]].values.tolist() == [["Water", "W1", "done"]]


# --- moratoria ------------------------------------------------------------------------------
def test_done_resurfacing_creates_a_moratorium_that_an_exemption_lifts(tmp_path: Path) -> None:
    store = open_store(tmp_path / "moratoria.gpkg")
    store.import_plan(plan("City", [work("R1", "road", "2027-06-01", "2027-06-30", line(0))]),
                      org="City", cycle=YEAR)  # fmt: skip
    store.import_plan(plan("Water", [work("W0", "water", "2026-01-01", "2026-01-05",
                                          line(5000))]), org="Water", cycle=YEAR)  # fmt: skip
    result = cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-02", "2027-06-20", None)]), source="city.csv",
        rules=Rules(moratorium_years=3))  # fmt: skip
    assert len(result.moratoria) == 1
    first = cycle.moratoria(store).iloc[0]
    # a corrected report replaces the moratorium, keeping its id
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-02", "2027-06-28", None)]))  # fmt: skip
    layer = cycle.moratoria(store)
    assert len(layer) == 1
    row = layer.iloc[0]
    assert row["moratorium_id"] == first["moratorium_id"]
    assert row["source"] == "finished resurfacing"
    assert (row["source_org"], row["source_work_id"]) == ("City", "R1")
    assert row["valid_from"] == pd.Timestamp("2027-06-29")
    assert row["valid_until"] == pd.Timestamp("2027-06-28") + pd.Timedelta(days=1095)
    assert shapely.equals(row.geometry, line(0))
    # the next City plan no longer holds the finished R1; Water plans to dig there later
    store.import_plan(plan("City", [work("R2", "road", "2028-01-01", "2028-01-10", line(9000))]),
                      org="City", cycle=2028)  # fmt: skip
    store.import_plan(plan("Water", [work("W7", "water", "2028-03-01", "2028-03-10",
                                          line(0, 3))]), org="Water", cycle=2028)  # fmt: skip
    works = store.works()
    from ims_geo.conflicts import find_conflicts

    assert find_conflicts(works).empty  # without the layer nothing protects the street
    found = cycle.find_conflicts_with_moratoria(works, layer)
    assert len(found) == 1
    hit = found.iloc[0]
    assert (hit["org_a"], hit["work_id_a"], hit["org_b"], hit["work_id_b"], hit["kind"]) == (
        "City",
        "R1",
        "Water",
        "W7",
        "moratorium",
    )
    assert hit["gap_days"] == (pd.Timestamp("2028-03-01") - pd.Timestamp("2027-06-28")).days
    assert hit["moratorium_id"] == row["moratorium_id"]
    # the same from the cycle's KPI: one violation
    kpis = cycle.kpis(store, 2028).set_index("kpi")
    assert kpis.loc["moratorium_violations", "value"] == 1.0
    assert kpis.loc["moratorium_violations", "state"] == "red"
    # an exemption by decision lifts it
    cycle.add_exemption(store, int(row["moratorium_id"]), org="Water", work_id="W7",
                        kind="decision", decision="Council 2028/3")  # fmt: skip
    exempt = cycle.moratoria(store).iloc[0]["exemptions"]
    assert exempt == "Water W7 (decision: Council 2028/3)"
    from ims_geo.cycle.moratoria import exemptions

    assert cycle.find_conflicts_with_moratoria(works, layer, exempt=exemptions(store)).empty
    assert cycle.kpis(store, 2028).set_index("kpi").loc["moratorium_violations", "value"] == 0.0
    with pytest.raises(InputError, match="names the decision"):
        cycle.add_exemption(store, 1, org="Water", kind="decision")


def test_long_moratorium_covers_its_whole_period_and_only_it(tmp_path: Path) -> None:
    store = open_store(tmp_path / "long.gpkg")
    store.import_plan(plan("Water", [
        work("early", "water", "2026-12-31", "2027-01-02", line(0, 3)),
        work("first", "water", "2027-01-01", "2027-01-02", line(150, 3)),
        work("mid", "water", "2030-06-01", "2030-06-02", line(300, 3)),
        work("last", "water", "2033-12-31", "2034-01-02", line(450, 3)),
        work("after", "water", "2034-01-01", "2034-01-02", line(600, 3)),
        work("surface", "lighting", "2030-06-01", "2030-06-02", line(750, 3)),
    ]), org="Water", cycle=YEAR)  # fmt: skip
    register = gpd.GeoDataFrame(
        {"source_org": ["City"], "source_work_id": ["M1"], "valid_from": ["2027-01-01"],
         "valid_until": ["2033-12-31"]},
        geometry=[line(0, 0, 900)], crs=RD,
    )  # fmt: skip
    stored, rejected = cycle.import_moratoria(store, register, org="City", source="register.csv")
    assert rejected.empty and len(stored) == 1
    found = cycle.find_conflicts_with_moratoria(store.works(), cycle.moratoria(store))
    assert sorted(found["work_id_b"]) == ["first", "last", "mid"]
    assert set(found["kind"]) == {"moratorium"} and set(found["work_id_a"]) == {"M1"}
    assert cycle.moratoria(store, active_on="2034-01-01").empty
    assert len(cycle.moratoria(store, active_on="2033-12-31")) == 1


def test_register_read_from_a_csv_with_exemptions(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    wkt = line(0, 10).wkt
    path.write_text(
        "org,id,from,until,exempt_org,exemption,decision,geometry\n"
        f'City,M1,2027-01-01,2029-12-31,Water,emergency,,"{wkt}"\n'
        f'City,M2,2027-01-01,2026-12-31,,,,"{wkt}"\n'
        f"City,M3,2027-01-01,2029-12-31,,,,\n"
        f'City,M4,2027-01-01,2029-12-31,Gas,holiday,,"{wkt}"\n',
        encoding="utf-8",
    )
    register = cycle.read_moratoria(path, crs=RD)
    stored, rejected = cycle.import_moratoria(store, register, org="City")
    assert stored["source_work_id"].tolist() == ["M1"]
    assert rejected["reason"].tolist() == [
        "valid_until is before valid_from", "missing geometry",
        "exemption must be one of emergency, decision",
    ]  # fmt: skip
    assert cycle.moratoria(store)["exemptions"].tolist() == ["Water (all works) (emergency)"]


# --- baseline, KPIs, changes, status ---------------------------------------------------------
def brute_disruption(works: gpd.GeoDataFrame, year: int, size: float = 100.0) -> dict[str, int]:
    """Days per 100 m square, by looping over works, squares and days."""
    days: dict[str, set[dt.date]] = {}
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    for geom, s, e in zip(works.geometry, works["start_date"], works["end_date"], strict=True):
        s, e = max(s.date(), first), min(e.date(), last)
        if s > e:
            continue
        minx, miny, maxx, maxy = geom.bounds
        for ix in range(math.floor(minx / size), math.floor(maxx / size) + 1):
            for iy in range(math.floor(miny / size), math.floor(maxy / size) + 1):
                box = shapely.box(ix * size, iy * size, (ix + 1) * size, (iy + 1) * size)
                if geom.intersects(box):
                    name = f"{size:g} m square {ix * size:.0f} {iy * size:.0f}"
                    bucket = days.setdefault(name, set())
                    d = s
                    while d <= e:
                        bucket.add(d)
                        d += dt.timedelta(days=1)
    return {k: len(v) for k, v in days.items()}


def test_disruption_days_per_segment_against_brute_force(store: Store) -> None:
    works = store.works()
    got = cycle.disruption(works, YEAR)
    assert dict(zip(got["segment"], got["disruption_days"], strict=True)) == brute_disruption(
        works, YEAR
    )
    # C001's squares: W1 (1-20 May, G1 within it) and R1 (June): 20 + 30 days
    assert got["disruption_days"].max() == 50
    named = works.assign(street=np.where(works["org"].isin(["City", "Water"]), "Main St", ""))
    streets = cycle.disruption(named, YEAR)
    main = streets[streets["segment"] == "Main St"].iloc[0]
    assert main["kind"] == "street" and main["works"] == 3
    # R1 1-30 June, W1 1-20 May, V1 1-10 July: 30 + 20 + 10 days
    assert main["disruption_days"] == 60


def test_kpis_recomputed_independently(adopted: Store) -> None:
    store = monitored(adopted)
    cycle.set_targets(
        store,
        YEAR,
        {
            "combined_share": 0.6,
            "savings_eur": 20_000,
            "max_disruption_days": 60,
            "submitted_share": 1.0,
        },
    )
    cycle.set_targets(store, YEAR, {"trees": 5}, custom=True)
    got = cycle.kpis(store, YEAR).set_index("kpi")
    assert list(cycle.kpis(store, YEAR).columns[:4]) == list(cycle.KPI_COLUMNS)
    # independent count from the adopted programme and the deviation classes
    table = cycle.programme(store, YEAR)
    classes = {(o, w): d for o, w, d in
               cycle.deviations(store, YEAR)[["org", "work_id", "deviation"]].itertuples(index=False)}  # fmt: skip
    digging, combined = 0, 0
    for row in table.itertuples(index=False):
        deviation = classes.get((row.org, row.work_id))
        if not row.excavation or deviation == "dropped":
            continue
        digging += 1
        if not pd.isna(row.project) and deviation != "not_combined":
            combined += 1
    assert (combined, digging) == (4, 7)
    assert got.loc["combined_share", "value"] == combined / digging
    assert got.loc["combined_share", "state"] == "amber"  # 0.571 >= 0.9 x 0.6
    failed = {row.project for row in table.itertuples(index=False)
              if classes.get((row.org, row.work_id)) in ("dropped", "not_combined")}  # fmt: skip
    savings = sum(v for k, v in SAVINGS.items() if k not in failed)
    assert got.loc["savings_eur", "value"] == savings == 23_000.0
    assert got.loc["savings_eur", "state"] == "green"
    picture = cycle.picture(store, YEAR)
    assert set(picture["work_id"]) == {"R1", "W1", "V1", "G1", "E1", "T1", "L2", "X1", "S2"}
    assert picture.set_index("work_id").loc["W1", "start_date"] == pd.Timestamp("2027-05-03")
    assert got.loc["max_disruption_days", "value"] == max(brute_disruption(picture, YEAR).values())
    # W1 as executed (3-22 May, G1 within it) and R1 (June): 20 + 30 days
    assert got.loc["max_disruption_days", "value"] == 50.0
    assert got.loc["max_disruption_days", "state"] == "green"
    versions = store.plan_versions()
    orgs = set(versions["org"])
    submitted = set(versions.loc[versions["cycle"] == YEAR, "org"])
    assert got.loc["submitted_share", "value"] == len(submitted) / len(orgs) == 1.0
    assert got.loc["moratorium_violations", "value"] == 0.0
    assert got.loc["moratorium_violations", "state"] == "green"
    assert got.loc["trees", "state"] == "no data"


def test_full_revision_lists_stale_plans(store: Store) -> None:
    assert cycle.stale_plans(store, 2028).empty
    cycle.set_full_revision(store, 2028)
    for org in ("City", "Water"):
        store.import_plan(plan(org, PLANS[org]), org=org, cycle=2028)
    stale = cycle.stale_plans(store, 2028)
    assert stale["org"].tolist() == ["Elec", "Gas", "Heat", "Lighting", "Sewer", "Telecom"]
    assert stale["cycle"].tolist() == [YEAR] * 6
    assert cycle.cycles(store)[["year", "full_revision"]].values.tolist() == [[2028, True]]
    cycle.set_full_revision(store, 2028, False)
    assert cycle.stale_plans(store, 2028).empty


def test_status_says_what_is_done_and_missing(store: Store) -> None:
    store.import_plan(plan("City", PLANS["City"]), org="City", cycle=2028)
    state = cycle.status(store, 2028)
    steps = state.steps.set_index("step")
    assert steps.loc[1, "detail"] == (
        "7 of 8 organisations have not uploaded a 2028 plan: "
        "Elec, Gas, Heat, Lighting, Sewer, Telecom, Water"
    )
    assert steps.loc[3, "detail"] == "programme not adopted"
    assert steps["state"].tolist() == ["partial", "partial", "missing", "missing", "partial"]
    text = state.text()
    assert "Planning cycle 2028" in text and "programme not adopted" in text


def test_changes_since_the_previous_cycle(store: Store) -> None:
    water = plan("Water", [
        work("W1", "water", "2027-05-11", "2027-05-30", line(0, 2)),
        work("W9", "water", "2028-05-01", "2028-05-30", line(0, 40))])  # fmt: skip
    store.import_plan(water, org="Water", cycle=2028)
    got = cycle.changes(store, 2028)
    assert list(got.columns[:4]) == list(cycle.CHANGE_COLUMNS)
    rows = [(o, w, c, None if pd.isna(d) else int(d))
            for o, w, c, d in got.iloc[:, :4].itertuples(index=False)]  # fmt: skip
    assert rows == [("Water", "W9", "added", None), ("Water", "V1", "dropped", None),
                    ("Water", "W1", "moved", 10)]  # fmt: skip


# --- the shared PostGIS store --------------------------------------------------------------------
def test_cycle_on_postgis(postgis_url: str) -> None:
    store = open_store(postgis_url)
    for org, rows in PLANS.items():
        store.import_plan(plan(org, rows), org=org, cycle=YEAR)
    cycle.set_targets(store, YEAR, {"combined_share": 0.5})
    result = cycle.adopt(store, YEAR, hand_programme(store), decision="Council",
                         decision_date=dt.date(2027, 2, 1), savings=SAVINGS)  # fmt: skip
    assert result.revision == 1
    monitored(store)
    states = cycle.project_status(store, YEAR).set_index("project")["rag"].to_dict()
    assert states == {"C001": "amber", "C002": "red", "C003": "green"}
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-01", "2027-06-28", None)]))  # fmt: skip
    layer = cycle.moratoria(store)
    assert layer[["source_org", "source_work_id"]].values.tolist() == [["City", "R1"]]
    assert cycle.targets(store, YEAR).set_index("kpi").loc["combined_share", "target"] == 0.5
    reopened = open_store(postgis_url)  # the tables exist once, opening again is harmless
    assert cycle.revisions(reopened)["revision"].tolist() == [1]
    # a corrected report supersedes the moratorium under the same id; exemptions stay
    first = int(layer.iloc[0]["moratorium_id"])
    cycle.add_exemption(store, first, org="Water", kind="emergency")
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-01", "2027-07-02", None)]))  # fmt: skip
    again = cycle.moratoria(store)
    assert again[["moratorium_id", "valid_from", "exemptions"]].values.tolist() == [
        [first, pd.Timestamp("2027-07-03"), "Water (all works) (emergency)"]
    ]
    register = gpd.GeoDataFrame(
        {"source_org": ["City"], "source_work_id": ["M1"], "valid_from": ["2027-01-01"],
         "valid_until": ["2029-12-31"], "exempt_org": ["Gas"], "exemption": ["decision"],
         "decision": ["Council 2027/9"]},
        geometry=[line(0, 40)], crs=RD,
    )  # fmt: skip
    stored, rejected = cycle.import_moratoria(store, register, org="City", source="register")
    assert rejected.empty and len(cycle.moratoria(store)) == 2
    both = cycle.moratoria(store).set_index("source_work_id")
    assert both.loc["M1", "exemptions"] == "Gas (all works) (decision: Council 2027/9)"
    assert both.loc["R1", "valid_until"] == pd.Timestamp("2030-07-01")
    assert cycle.moratoria(store, active_on="2030-07-01")["source_work_id"].tolist() == ["R1"]
    assert cycle.moratoria(store, active_on="2030-07-02").empty
    cycle.set_full_revision(store, 2028)
    assert cycle.stale_plans(store, 2028)["org"].tolist() == sorted(PLANS)
    cycle.set_targets(store, YEAR, {"trees": 3}, custom=True)
    assert cycle.targets(store, YEAR).set_index("kpi").loc["trees", "custom"]
    # R1 finished two days after C001's joint period: C001 no longer combines
    found = cycle.deviations(store, YEAR).set_index("work_id")
    assert (found.loc["R1", "deviation"], found.loc["R1", "days"]) == ("not_combined", 2)
    kpis = cycle.kpis(store, YEAR).set_index("kpi")
    assert kpis.loc["savings_eur", "value"] == SAVINGS["C003"]


def test_map_draws_the_moratoria_layer(tmp_path: Path) -> None:
    from ims_geo import maps

    store = open_store(tmp_path / "map.gpkg")
    store.import_plan(plan("City", [work("R1", "road", "2027-06-01", "2027-06-30", line(0))]),
                      org="City", cycle=YEAR)  # fmt: skip
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-01", "2027-06-28", None)]))  # fmt: skip
    layer = maps.prepare(cycle.moratoria(store), maps.MORATORIUM_FIELDS, light_fields=None)
    assert layer.count == 1
    fmap = maps.works_map(maps.prepare(store.works()), moratoria=layer)
    page = fmap.get_root().render()
    assert '"source_work_id":"R1"' in page and '"valid_until":"2030-06-27"' in page
    assert "Moratoria" in page
    assert "Moratoria" not in maps.works_map(maps.prepare(store.works())).get_root().render()


def test_progress_edited_as_a_sheet(adopted: Store) -> None:
    sheet = cycle.progress_sheet(adopted, YEAR, "Water")
    assert sheet["work_id"].tolist() == ["W1", "V1"]
    assert sheet["start"].tolist() == [pd.Timestamp("2027-05-01"), pd.Timestamp("2027-07-01")]
    assert sheet["status"].isna().all()
    edited = sheet.copy()  # as the app's editor hands it back: dates as date objects
    for col in ("start", "end", "actual_start", "actual_end"):
        edited[col] = edited[col].dt.date.astype(object)
    assert cycle.changed_progress(sheet, edited).empty
    edited["status"] = edited["status"].astype(object)
    edited.loc[0, ["status", "actual_start", "actual_end", "remark"]] = [
        "done", dt.date(2027, 5, 2), dt.date(2027, 5, 21), "finished"]  # fmt: skip
    changes = cycle.changed_progress(sheet, edited)
    assert changes.values.tolist() == [["W1", "done", "2027-05-02", "2027-05-21", "finished"]]
    result = cycle.record_progress(adopted, YEAR, "Water", changes, source="edited in the app")
    assert result.rejected.empty
    again = cycle.progress_sheet(adopted, YEAR, "Water").set_index("work_id")
    assert again.loc["W1", "status"] == "done"
    assert again.loc["W1", "actual_end"] == pd.Timestamp("2027-05-21")
    assert cycle.changed_progress(again.reset_index(), again.reset_index()).empty


def test_baseline_of_the_cycle(store: Store) -> None:
    from ims_geo.conflicts import find_conflicts

    base = cycle.baseline(store, YEAR)
    kinds = find_conflicts(store.works())["kind"].value_counts()
    assert base.conflict_counts.set_index("kind")["conflicts"].to_dict() == {
        k: int(kinds.get(k, 0)) for k in ("clash", "moratorium", "synergy")
    }
    assert kinds.get("clash", 0) > 0
    assert base.plans["org"].tolist() == sorted(PLANS)
    assert base.plans["submitted"].all() and not base.plans["stale"].any()
    assert dict(
        zip(base.disruption["segment"], base.disruption["disruption_days"], strict=True)
    ) == brute_disruption(store.works(), YEAR)
    assert base.moratoria.empty


def test_register_needs_a_store_with_plans(tmp_path: Path) -> None:
    empty = open_store(tmp_path / "empty.gpkg")
    register = gpd.GeoDataFrame(
        {"source_org": ["City"], "source_work_id": ["M1"], "valid_from": ["2027-01-01"],
         "valid_until": ["2029-12-31"]},
        geometry=[line(0)], crs=RD,
    )  # fmt: skip
    with pytest.raises(InputError, match="import the organisations' plans first"):
        cycle.import_moratoria(empty, register, org="City")
    assert cycle.moratoria(empty).empty


def test_savings_kept_when_plans_carry_no_costs(store: Store) -> None:
    programme = hand_programme(store)
    cycle.adopt(store, YEAR, programme, decision="D", savings={"C001": 500_000.0})
    project = cycle.projects(store, YEAR).set_index("project").loc["C001"]
    # the members' own estimates add up to 170,000 EUR: no more can be credited
    assert (project["cost_eur"], project["savings_eur"]) == (0.0, 500_000.0)
    shares = cycle.programme(store, YEAR).set_index("work_id")["cost_share_eur"]
    assert shares[["W1", "G1", "R1"]].tolist() == [0.0, 0.0, 0.0]


def test_unplanned_from_the_plan_status(adopted: Store) -> None:
    sewer = plan("Sewer", [
        *PLANS["Sewer"],
        work("X9", "sewer", "2027-04-01", "2027-04-10", line(3000), status="in_progress"),
        work("X8", "sewer", "2026-04-01", "2026-04-10", line(3500), status="done"),
        work("X7", "sewer", "2027-09-01", "2027-09-10", line(4000)),
    ])  # fmt: skip
    adopted.import_plan(sewer, org="Sewer", cycle=YEAR)
    found = cycle.deviations(adopted, YEAR)
    assert found[["org", "work_id", "deviation"]].values.tolist() == [["Sewer", "X9", "unplanned"]]
    assert found.iloc[0]["start"] == pd.Timestamp("2027-04-01")
