"""The Programme page under AppTest: inputs, keeping and leaving out, compare, Gantt, adopt.

The store is small and built here (six works of five organisations on three
streets, next year), so every expected number is known without the solver:
Main street's sewer, water main and resurfacing (S1, W1, R1, within 2 m of
each other, each a year's window) make one project, the side street's gas
main and fibre (G1, T1, 1 m apart) another, and the valve far away (W2) is
combined with nothing: 5 combined works in 2 projects at most, which a
proposal of six works reaches in well under a second.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from streamlit import dataframe_util

from ims_geo import cycle
from ims_geo.conflicts.rules import Rules
from ims_geo.programme import propose
from ims_geo.schema import validate
from ims_geo.store import open_store
from ims_geo.ui import negotiate, state
from ims_geo.ui.widgets import literal

YEAR = dt.date.today().year + 1
X0, Y0 = 25_496_000, 6_672_800
SECONDS = 4
#: Cost estimates (EUR) of the works, by id.
COSTS = {"W1": 100_000, "S1": 200_000, "R1": 80_000, "G1": 60_000, "T1": 20_000, "W2": 5_000}


def _line(x: float, y: float, length: float = 200) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y), (X0 + x + length, Y0 + y)])


def _plan() -> gpd.GeoDataFrame:
    y, n = YEAR, YEAR + 1
    rows = [
        ("Water", "W1", "Water main, Main street", "water", "subsurface",
         f"{y}-04-01", f"{y}-05-31", f"{y}-01-01", f"{y}-12-31", _line(0, 0)),
        ("Sewer", "S1", "Sewer renewal, Main street", "sewer", "subsurface",
         f"{y}-06-15", f"{y}-08-15", f"{y}-01-01", f"{y}-12-31", _line(0, 2)),
        ("City", "R1", "Resurfacing, Main street", "road", "surface",
         f"{y}-09-01", f"{y}-09-30", f"{y}-01-01", f"{n}-06-30", _line(0, 1)),
        ("Gas", "G1", "Gas main, Side street", "gas", "subsurface",
         f"{n}-03-01", f"{n}-04-30", f"{n}-01-01", f"{n}-12-31", _line(1000, 0)),
        ("Telecom", "T1", "Fibre, Side street", "telecom", "subsurface",
         f"{n}-06-01", f"{n}-06-20", f"{n}-01-01", f"{n}-12-31", _line(1000, 1)),
        ("Water", "W2", "Valve, Far street", "water", "subsurface",
         f"{y}-02-01", f"{y}-02-20", f"{y}-01-01", f"{y}-12-31", _line(5000, 0, 20)),
    ]  # fmt: skip
    columns = ["org", "work_id", "title", "discipline", "layer", "start_date", "end_date",
               "earliest", "latest", "geometry"]  # fmt: skip
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), crs="EPSG:3879")
    frame["cost_eur"] = frame["work_id"].map(COSTS).astype(float)
    return frame


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("programme") / "small.gpkg"
    store = open_store(path)
    plan = _plan()
    for org, part in plan.groupby("org"):
        store.import_plan(validate(part.reset_index(drop=True)).valid, org=org, cycle=YEAR)
    return path


@pytest.fixture
def small_copy(small_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "small.gpkg"
    shutil.copyfile(small_store, copy)
    return copy


# --- helpers ------------------------------------------------------------------------------
def opened(open_app, store: Path, **preset):
    at = open_app("programme", store=store)
    at.slider(key="programme_time").set_value(SECONDS)
    for key, value in preset.items():
        at.session_state[key] = value
    return at


def proposed(at):
    at.button(key="programme_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at):
    """The proposal the page shows (from the app's proposal cache)."""
    found = state.kept_proposal(**at.session_state["programme_request"])
    assert found is not None
    return found


def editor(at, prefix: str):
    (found,) = [e for e in at.data_editor if e.key and e.key.startswith(prefix)]
    return found


def tick(at, prefix: str, rows: dict[int, dict]) -> None:
    key = editor(at, prefix).key
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def table_with(at, column: str) -> pd.DataFrame:
    """The one read-only table of the page that has this column."""
    (found,) = [d.value for d in at.dataframe if d not in at.data_editor and column in d.value]
    return found


def held(at) -> str:
    """The line under the Propose button: what is kept and left out."""
    (found,) = [c.value for c in at.caption if " kept · " in c.value]
    return found


def metric(at, label: str):
    (found,) = [m for m in at.metric if m.label == label]
    return found


def number(text: str) -> float:
    return float(text.replace(",", "").replace("€", "").replace("+", ""))


def by_id(proposal) -> pd.DataFrame:
    return proposal.works.set_index("work_id")


def gantt_data(at) -> pd.DataFrame:
    (chart,) = at.get("vega_lite_chart")
    return dataframe_util.convert_arrow_bytes_to_pandas_df(chart.proto.data.data)


# --- tests -------------------------------------------------------------------------------
def test_first_proposal_combines_the_two_streets_and_explains_every_move(open_app, small_store):
    at = opened(open_app, small_store)
    at.run()
    assert "Propose programme" in at.info[0].value
    proposed(at)
    p = shown(at)
    assert sorted(p.clusters["members"].map(lambda m: tuple(sorted(m.split("; "))))) == [
        ("City:R1", "Sewer:S1", "Water:W1"),
        ("Gas:G1", "Telecom:T1"),
    ]
    assert metric(at, "Combined works").value == "5"
    assert metric(at, "Combined projects").value == "2"
    # euros as money, baseline in the help text: the works' estimates added up
    assert metric(at, "Estimated cost (EUR)").help.endswith(f"€{sum(COSTS.values()):,}")
    w = by_id(p)
    # deepest first, the new surface last
    assert w.loc[["S1", "W1", "R1"], "exec_order"].tolist() == [1, 2, 3]
    moved = w[w["shift_days"] != 0]
    assert len(moved) > 0 and moved["move_reason"].notna().all()
    table = table_with(at, "move_reason")
    assert sorted(table["work_id"]) == sorted(moved.index)
    assert table.set_index("work_id")["move_reason"].to_dict() == moved["move_reason"].to_dict()
    # the projects table lists both, with the savings of the proposal
    projects = editor(at, "programme_projects_").value
    assert projects["savings_eur"].tolist() == sorted(p.clusters["savings_eur"], reverse=True)
    assert not projects["keep"].any()


def test_inputs_reach_the_proposer(open_app, small_store):
    budgets = {"org": "Sewer", "year": YEAR, "budget_eur": 150_000.0}
    at = opened(open_app, small_store)
    at.run()
    at.session_state["programme_budgets"] = {
        "edited_rows": {}, "added_rows": [budgets], "deleted_rows": []
    }  # fmt: skip
    at.number_input(key="programme_parallel").set_value(1)
    at.toggle(key="programme_hard_budgets").set_value(True)
    at.radio(key="programme_unbudgeted").set_value("free")
    at.number_input(key="programme_window").set_value(200)
    at.number_input(key="programme_cell_size").set_value(500.0)
    at.number_input(key="programme_max_cluster").set_value(2)
    at.toggle(key="programme_allow_clashes").set_value(True)
    proposed(at)
    request = at.session_state["programme_request"]
    assert request["max_parallel"] == 1 and request["hard_budgets"]
    assert request["cell_size"] == 500.0 and request["max_cluster"] == 2
    assert request["allow_new_clashes"] and "New clashes" in {m.label for m in at.metric}
    # no project of more than two works: Main street's three make one of two at most
    assert shown(at).clusters["n_works"].max() == 2
    assert request["unbudgeted_years"] == "free" and request["rules"] == {"window_days": 200.0}
    assert request["budgets"][["org", "year", "budget_eur"]].values.tolist() == [
        ["Sewer", YEAR, 150_000.0]
    ]
    # the baseline is the planned dates, the same for any run of the solver
    works = open_store(small_store).works()
    expected = propose(
        works, rules=Rules(window_days=200), budgets=request["budgets"], max_parallel=1,
        time_limit=SECONDS, hard_budgets=True, unbudgeted_years="free", cell_size=500.0,
        max_cluster=2, allow_new_clashes=True,
    ).kpis  # fmt: skip
    figures = table_with(at, "change").set_index("kpi")
    assert set(figures.index) == {negotiate.kpi_name(k) for k in expected["kpi"]}
    for row in expected.itertuples(index=False):
        base = number(figures.loc[negotiate.kpi_name(row.kpi), "baseline"])
        assert base == pytest.approx(row.baseline, abs=0.5), row.kpi  # shown whole
        if negotiate.kpi_name(row.kpi) in {m.label for m in at.metric}:
            m = metric(at, negotiate.kpi_name(row.kpi))
            assert number(m.value) - number(m.delta) == pytest.approx(row.baseline, abs=1), row.kpi
    # Sewer plans EUR 200,000 in a year with a budget of 150,000
    assert number(metric(at, "Organisation-years over budget").help.split(": ")[1]) == 1
    assert "Areas over the parallel-works limit" in {m.label for m in at.metric}


def test_rules_and_not_before_change_the_proposal(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    first = by_id(shown(at))
    # 0.5 m: no two works are that close (the nearest lie 1 m apart), nothing to combine
    at.number_input(key="programme_distance").set_value(0.5)
    proposed(at)
    assert metric(at, "Combined works").value == "0"
    assert len(shown(at).baseline_conflicts) == 0

    # no work moves to start before the day chosen; one planned earlier may move from its
    # own start on (ims_geo.programme.propose): T1, planned for 1 June, joined G1 in May
    floor = dt.date(YEAR + 1, 5, 20)
    assert first.loc["T1", "proposed_start"].date() < floor
    at.number_input(key="programme_distance").set_value(20.0)
    at.date_input(key="programme_not_before").set_value(floor)
    at.run()
    assert "inputs or your choices changed" in at.info[0].value
    proposed(at)
    assert at.session_state["programme_request"]["not_before"] == floor
    w = by_id(shown(at))
    lowest = np.minimum(w["start_date"].dt.date, floor)
    assert (w["proposed_start"].dt.date >= lowest).all()
    assert w.loc["T1", "proposed_start"].date() >= floor
    assert w.loc["T1", "cluster_id"] == w.loc["G1", "cluster_id"] != ""


def test_keep_a_project_and_propose_again(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    first = shown(at)
    projects = editor(at, "programme_projects_").value
    side = int(np.flatnonzero(projects["orgs"].str.contains("Gas"))[0])
    tick(at, "programme_projects_", {side: {"keep": True}})
    assert "1 project kept" in held(at)
    assert "changed since this proposal" in at.info[0].value
    kept = at.session_state["programme_kept"]
    members = by_id(first).loc[["G1", "T1"]]
    assert sorted(kept["work_id"]) == ["G1", "T1"]
    assert kept.set_index("work_id")["proposed_start"].to_dict() == (
        members["proposed_start"].to_dict()
    )
    proposed(at)
    request = at.session_state["programme_request"]
    lock = request["lock"].set_index("work_id")
    assert sorted(lock.index) == ["G1", "T1"] and lock["lock"].all()
    assert lock["proposed_start"].to_dict() == members["proposed_start"].to_dict()
    # the kept project stays one project, at the dates it was kept at
    again = shown(at)
    w = by_id(again)
    assert w.loc[["G1", "T1"], "proposed_start"].to_dict() == members["proposed_start"].to_dict()
    assert w.loc["G1", "cluster_id"] == w.loc["T1", "cluster_id"] != ""
    assert metric(at, "Combined works").value == "5"
    # and it is ticked in the new proposal's table
    listed = editor(at, "programme_projects_").value.set_index("cluster_id")
    assert listed.loc[w.loc["G1", "cluster_id"], "keep"] and listed["keep"].sum() == 1
    # released again: nothing kept
    at.button(key="programme_release").click().run()
    assert "0 projects kept" in held(at)
    assert not editor(at, "programme_projects_").value["keep"].any()


def test_keep_a_work_as_planned_and_leave_one_out(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    works = editor(at, "programme_works_").value
    row = {w: i for i, w in enumerate(works["work_id"])}
    tick(at, "programme_works_", {row["W1"]: {"planned": True}})
    # found by words of its title, in a table of one row
    at.text_input(key="programme_works_find").set_value("FIBRE").run()
    assert editor(at, "programme_works_").value["work_id"].tolist() == ["T1"]
    tick(at, "programme_works_", {0: {"exclude": True}})
    at.text_input(key="programme_works_find").set_value("").run()
    at.multiselect(key="programme_works_org").set_value(["Water"]).run()
    shown_rows = editor(at, "programme_works_").value
    assert shown_rows["work_id"].tolist() == ["W1", "W2"] and shown_rows["planned"].tolist() == [
        True, False
    ]  # fmt: skip
    at.multiselect(key="programme_works_org").set_value([]).run()
    assert "1 work kept as planned · 1 work left out" in held(at)
    proposed(at)
    request = at.session_state["programme_request"]
    assert request["exclude"].values.tolist() == [["Telecom", "T1"]]
    assert request["lock"][["org", "work_id"]].values.tolist() == [["Water", "W1"]]
    w = by_id(shown(at))
    # W1 keeps its dates and joins nothing; T1 is out, so G1 has nobody to join
    assert w.loc["W1", "shift_days"] == 0 and pd.isna(w.loc["W1", "cluster_id"])
    assert w.loc["T1", "shift_days"] == 0 and pd.isna(w.loc["T1", "cluster_id"])
    assert pd.isna(w.loc["G1", "cluster_id"])
    # the sewer and the resurfacing of Main street still go together
    assert w.loc["S1", "cluster_id"] == w.loc["R1", "cluster_id"] != ""
    assert metric(at, "Combined works").value == "2"
    # the table shows the choices ticked
    works = editor(at, "programme_works_").value.set_index("work_id")
    assert works.loc["W1", "planned"] and works.loc["T1", "exclude"]
    assert works["planned"].sum() == 1 and works["exclude"].sum() == 1


def test_compare_with_a_kept_proposal_and_with_a_downloaded_workbook(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    first = shown(at)
    at.text_input(key="programme_save_name").set_value("Both streets")
    at.button(key="programme_save").click().run()
    works = editor(at, "programme_works_").value
    tick(at, "programme_works_", {int(np.flatnonzero(works["work_id"] == "T1")[0]): {
        "exclude": True}})  # fmt: skip
    proposed(at)
    second = shown(at)
    at.selectbox(key="programme_compare_with").set_value("Both streets").run()
    assert not at.exception, [e.value for e in at.exception]
    kpis = table_with(at, "current")
    table = kpis.set_index("kpi")
    for name in ("combined works", "combined projects", "savings eur"):
        a, b = first.kpi(name)[1], second.kpi(name)[1]
        assert table.loc[negotiate.kpi_name(name), "other"] == negotiate.kpi_value(name, a)
        assert table.loc[negotiate.kpi_name(name), "current"] == negotiate.kpi_value(name, b)
    assert table.loc["Combined works", "change"] == "-2"
    # the works the two treat differently, found here from the two proposals
    a, b = by_id(first), by_id(second)
    differ = (a["proposed_start"] != b["proposed_start"]) | (
        a["cluster_id"].astype("string").fillna("") != b["cluster_id"].astype("string").fillna("")
    )
    expected = sorted(a.index[differ])
    assert "G1" in expected and "T1" in expected
    listed = table_with(at, "moved_days")
    assert sorted(listed["work_id"]) == expected
    days = (b.loc[expected, "proposed_start"] - a.loc[expected, "proposed_start"]).dt.days
    assert listed.set_index("work_id")["moved_days"].to_dict() == days.to_dict()

    # the same comparison from the first proposal's workbook, as downloaded
    at.file_uploader(key="programme_compare_file").upload(
        "first.xlsx", negotiate.workbook(first), "application/octet-stream"
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    again = table_with(at, "moved_days")
    assert sorted(again["work_id"]) == expected
    # a file that is no proposal: a message naming it, no traceback
    at.file_uploader(key="programme_compare_file").upload(
        "notes.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream"
    )
    at.run()
    assert not at.exception
    assert any("notes.xlsx" in e.value for e in at.error)


def test_gantt_shows_every_work_one_row_each_grouped(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    data = gantt_data(at)
    # the combined projects: 5 works, two bars each
    assert len(data) == 10 and set(data["schedule"]) == {"planned", "proposed"}
    at.radio(key="programme_gantt_show").set_value("all")
    at.radio(key="programme_gantt_group").set_value("org").run()
    data = gantt_data(at)
    assert len(data) == 12 and data["row"].nunique() == 6
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    order = spec["encoding"]["y"]["scale"]["domain"]
    assert [r for r in order if r.startswith("▸ ")] == [
        "▸ City", "▸ Gas", "▸ Sewer", "▸ Telecom", "▸ Water"
    ]  # fmt: skip
    assert order.index("▸ Water") < order.index("W2 · Valve, Far street")
    assert spec["height"]["step"] == 24


def test_project_link_opens_the_project(open_app, small_store):
    at = proposed(opened(open_app, small_store))
    p = shown(at)
    side = p.clusters.loc[p.clusters["orgs"].str.contains("Gas"), "cluster_id"].iloc[0]
    # a colleague's link: a fresh browser session, the same inputs
    link = open_app("programme", store=small_store)
    link.session_state["programme_time"] = SECONDS
    link.query_params["project"] = side
    link.run()
    assert not link.exception, [e.value for e in link.exception]
    assert link.selectbox(key="programme_project").value == side
    assert sorted(gantt_data(link)["work_id"].unique()) == ["G1", "T1"]
    members = table_with(link, "street")
    assert members["work_id"].tolist() == ["G1", "T1"]  # in execution order: gas deeper
    split = table_with(link, "saved_eur")
    assert split["org"].tolist() == ["Gas", "Telecom"]
    savings = float(p.clusters.loc[p.clusters["cluster_id"] == side, "savings_eur"].iloc[0])
    assert split["cost_eur"].sum() == COSTS["G1"] + COSTS["T1"]
    assert split["cost_share_eur"].sum() == pytest.approx(
        COSTS["G1"] + COSTS["T1"] - savings, abs=0.01
    )
    # a project this proposal does not have: said, and nothing picked
    link.query_params["project"] = "<b>C999</b>"
    link.run()
    assert not link.exception
    assert any("C999" in w.value for w in link.warning)


def test_adopt_the_proposal_in_the_planning_cycle(open_app, small_copy):
    at = proposed(opened(open_app, small_copy))
    p = shown(at)
    main = p.clusters.loc[p.clusters["orgs"].str.contains("Sewer"), "cluster_id"].iloc[0]
    projects = editor(at, "programme_projects_").value
    row = int(np.flatnonzero(projects["cluster_id"] == main)[0])
    tick(at, "programme_projects_", {row: {"split_rule": "equal"}})
    # the rule goes to the proposer by the project's first member (ids change between
    # proposals), and the cost split follows it
    assert at.session_state["programme_split"] == {"Sewer\x1fS1": "equal"}
    proposed(at)
    assert at.session_state["programme_request"]["split"].values.tolist() == [
        ["Sewer", "S1", "equal"]
    ]
    p = shown(at)
    main = p.clusters.loc[p.clusters["orgs"].str.contains("Sewer"), "cluster_id"].iloc[0]
    savings = float(p.clusters.loc[p.clusters["cluster_id"] == main, "savings_eur"].iloc[0])
    split = table_with(at, "saved_eur").set_index("org")
    for org, work in (("Water", "W1"), ("Sewer", "S1"), ("City", "R1")):
        row = split[split["cluster_id"] == main].loc[org]
        assert row["cost_share_eur"] == pytest.approx(COSTS[work] - savings / 3, abs=0.01)
    before = editor(at, "programme_projects_").value
    at.number_input(key="programme_adopt_year").set_value(YEAR)
    at.text_input(key="programme_adopt_decision").set_value("Council 2027/14")
    at.button(key="programme_adopt_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value.startswith(f"Adopted as revision 1 of cycle {YEAR}: 2 combined")
    # the page still shows what was adopted (a new store revision keeps no proposal yet),
    # marked adopted, in this run and the next
    for _run in range(2):
        infos = [i.value for i in at.info]
        assert any(f"This proposal is adopted: revision 1 of cycle {YEAR}" in i for i in infos)
        assert not any("to combine the conflicting works" in i for i in infos), infos
        pd.testing.assert_frame_equal(editor(at, "programme_projects_").value, before)
        at.run()
    store = open_store(small_copy)
    (revision,) = cycle.revisions(store, YEAR).itertuples(index=False)
    assert revision.decision == "Council 2027/14" and revision.revision == 1
    members = cycle.programme(store, YEAR).set_index("work_id")
    w = by_id(p)
    assert members["start"].to_dict() == w["proposed_start"].to_dict()
    # "equal": each of the three organisations pays its estimate less a third of the savings
    for work in ("W1", "S1", "R1"):
        assert members.loc[work, "cost_share_eur"] == pytest.approx(
            COSTS[work] - savings / 3, abs=0.01
        )
    # the adoption is a new revision of the store: propose again, then compare with the
    # adopted programme (no KPIs are kept with it)
    proposed(at)
    again = by_id(shown(at))
    adopted = f"Adopted: cycle {YEAR}, revision 1"
    assert adopted in at.selectbox(key="programme_compare_with").options
    at.selectbox(key="programme_compare_with").set_value(adopted).run()
    assert not at.exception, [e.value for e in at.exception]
    frozen = members.reindex(again.index)
    differ = (frozen["start"] != again["proposed_start"]) | (
        frozen["project"].astype("string").fillna("")
        != again["cluster_id"].astype("string").fillna("")
    )
    assert sorted(table_with(at, "moved_days")["work_id"]) == sorted(again.index[differ])
    figures = table_with(at, "current").set_index("kpi")
    assert figures.loc["Combined works", "current"] == "5"
    assert figures.loc["Combined works", "other"] == "–"


def test_workbook_download_is_the_propose_workbook(small_store):
    works = open_store(small_store).works()
    p = propose(works, time_limit=SECONDS)
    book = openpyxl.load_workbook(io.BytesIO(negotiate.workbook(p)))
    assert book.sheetnames[:3] == ["works", "clusters", "kpis"] and "gantt" in book.sheetnames
    # it reads back as a proposal to compare or adopt
    kpis, listed = negotiate.compare_with(negotiate.saved(p), negotiate.workbook(p), name="p.xlsx")
    assert listed.empty and (kpis["b_minus_a"].fillna(0) == 0).all()


def test_bad_budgets_and_unit_costs_are_named_and_stop_nothing_else(open_app, small_store):
    at = opened(open_app, small_store)
    at.run()
    at.session_state["programme_budgets"] = {
        "edited_rows": {},
        "added_rows": [{"org": "Sewer", "year": YEAR, "budget_eur": -5.0}],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    # the library's words as they are, the values in them as text (no markup from a file)
    expected = "line 1: budget_eur '-5.0' is not an amount >= 0"
    assert any(expected in e.value for e in at.error)
    assert at.button(key="programme_run").disabled
    at.file_uploader(key="programme_budgets_file").upload(
        "budgets.csv", b"\x00\xff\xfe garbage", "text/csv"
    )
    at.file_uploader(key="programme_costs_file").upload(
        "costs.toml", b"[costs]\ntrench_eur_per_m = -3\n", "application/toml"
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "budgets.csv" in errors and literal("trench_eur_per_m") in errors


def test_negotiate_tables():
    works = _plan().assign(start_date=lambda f: pd.to_datetime(f["start_date"]),
                           end_date=lambda f: pd.to_datetime(f["end_date"]))  # fmt: skip
    proposal_works = works.assign(
        cluster_id=["C1", "C1", "C1", None, None, None],
        proposed_start=works["start_date"] + pd.Timedelta(days=10),
        proposed_end=works["end_date"] + pd.Timedelta(days=10),
        exec_order=[2, 1, 3, None, None, None],
    )
    kept = negotiate.project_members(proposal_works, ["C1"])
    assert kept["work_id"].tolist() == ["W1", "S1", "R1"]
    keys = set(negotiate.work_keys(works.iloc[[0, 3]]))  # W1 (also kept in C1) and G1
    lock = negotiate.lock_table(kept, keys, works)
    assert lock[["org", "work_id"]].values.tolist() == [
        ["City", "R1"], ["Gas", "G1"], ["Sewer", "S1"], ["Water", "W1"]
    ]  # fmt: skip
    rows = lock.set_index("work_id")
    # W1 keeps its project's dates, G1 (kept as planned) its own
    assert rows.loc["W1", "proposed_start"] == works.loc[0, "start_date"] + pd.Timedelta(days=10)
    assert rows.loc["G1", "proposed_start"] == works.loc[3, "start_date"]
    assert pd.isna(rows.loc["G1", "cluster_id"]) and rows.loc["W1", "cluster_id"] == "C1"
    # works no longer in the store drop out of the lock
    assert len(negotiate.lock_table(kept, keys, works.iloc[1:])) == 3
    assert negotiate.exclude_table(keys, works).values.tolist() == [["Water", "W1"], ["Gas", "G1"]]
    split = negotiate.split_table({"Sewer\x1fS1": "equal", "Gone\x1fX": "cost"}, works)
    assert split.values.tolist() == [["Sewer", "S1", "equal"]]
    assert negotiate.asked_rule("cost (fallback from trench)") == "trench"
    assert negotiate.asked_rule("equal") == "equal"
    assert negotiate.kpi_value("savings eur", 1234567.4) == "€1,234,567"
    assert negotiate.kpi_name("cells over max_parallel") == "Areas over the parallel-works limit"


def test_a_click_on_the_map_keeps_the_project_or_leaves_the_work_out(
    open_app, small_store, monkeypatch
):
    from ims_geo import maps
    from ims_geo.ui import widgets

    at = proposed(opened(open_app, small_store))
    p = shown(at)
    g1 = p.works[p.works["work_id"] == "G1"]
    # what st_folium returns when the gas main is clicked (AppTest cannot click a map)
    click = {"last_object_clicked_tooltip": maps.work_labels(g1).iloc[0],
             "last_object_clicked": None}  # fmt: skip
    monkeypatch.setattr(
        widgets, "show_map", lambda fmap, *, key, **kw: click if key == "programme_map" else {}
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    project = str(g1["cluster_id"].iloc[0])
    assert at.button(key="programme_map_keep").label == f"Keep project {project}"
    at.button(key="programme_map_keep").click().run()
    assert sorted(at.session_state["programme_kept"]["work_id"]) == ["G1", "T1"]
    assert "1 project kept" in held(at)
    at.button(key="programme_map_exclude").click().run()
    assert at.session_state["programme_excluded"] == {"Gas\x1fG1"}
    at.button(key="programme_map_planned").click().run()
    assert at.session_state["programme_planned"] == {"Gas\x1fG1"}
    assert "1 work kept as planned · 1 work left out" in held(at)


def test_the_page_in_dutch(open_app, small_store):
    from ims_geo import i18n

    at = open_app(store=small_store)
    at.session_state["language"] = "nl"
    at.run()
    at.switch_page("ims_geo/ui/pages/programme.py").run()
    at.slider(key="programme_time").set_value(SECONDS)
    proposed(at)
    # choices whose names are translated work (AppTest formats them in its own thread)
    at.radio(key="programme_gantt_show").set_value("all")
    at.radio(key="programme_unbudgeted").set_value("free").run()
    assert not at.exception, [e.value for e in at.exception]
    try:
        i18n.use("nl")
        title, combined = i18n._("Combined programme"), i18n._("Combined works")
        worth = i18n._("Worth of a fixed violation (in combined works)")
        shown_rows = i18n.ngettext("{n} work, one row each; scroll down, zoom the time axis "
                                   "with the mouse wheel.", "{n} works, one row each; scroll "
                                   "down, zoom the time axis with the mouse wheel.", 6)  # fmt: skip
    finally:
        i18n.use("en")
    assert at.title[0].value == title != "Combined programme"
    assert at.number_input(key="programme_fix_worth").label == worth
    assert worth != "Worth of a fixed violation (in combined works)"
    assert metric(at, combined).value == "5"
    assert shown_rows.format(n="6") in [c.value for c in at.caption]


def test_the_worth_of_a_fixed_violation_trades_a_fix_for_combined_works(open_app, tmp_path):
    from click.testing import CliRunner

    from ims_geo.cli import EXIT_INPUT, main
    from ims_geo.programme.schedule import FIX_WORTH_DEFAULT, FIX_WORTH_MIN, Weights
    from tests.test_programme import fix_or_combine

    # G1 digs after R1's new surface: moving it before R1 fixes the violation, keeping it
    # in July combines it with W1 (2 works); the library's default keeps the violation
    path = tmp_path / "fix.gpkg"
    store = open_store(path)
    for org, part in fix_or_combine().groupby("org"):
        store.import_plan(part.reset_index(drop=True), org=org, cycle=2027)
    floor = dt.date(2027, 1, 1)  # the works' year: the same answer whatever today is
    works = open_store(path).works()
    expected = {
        worth: propose(works, weights=weights, time_limit=SECONDS, not_before=floor).kpis
        for worth, weights in ((FIX_WORTH_DEFAULT, None), (1000.0, Weights(violation=10**6)))
    }
    at = opened(open_app, path, programme_not_before=floor)
    at.run()
    widget = at.number_input(key="programme_fix_worth")
    assert widget.value == FIX_WORTH_DEFAULT == 1.7
    # the smallest worth the page offers is the smallest ims-geo propose takes: one unit of
    # the objective (a smaller one would weigh nothing); no largest, as there
    assert (widget.min, widget.max) == (FIX_WORTH_MIN, None) and FIX_WORTH_MIN == 0.001
    plans = tmp_path / "plans.gpkg"
    fix_or_combine().to_file(plans, layer="works")
    refused = CliRunner().invoke(
        main, ["propose", str(plans), "--out", str(tmp_path / "p.csv"), "--fix-worth", "0.0009"]
    )
    assert refused.exit_code == EXIT_INPUT and "give at least 0.001" in refused.output
    proposed(at)
    default = shown(at)
    assert "weights" not in at.session_state["programme_request"]
    at.number_input(key="programme_fix_worth").set_value(1000.0).run()
    # the proposal's key has the worth: the proposal shown is no longer the one asked for
    assert "inputs or your choices changed" in at.info[0].value
    proposed(at)
    assert at.session_state["programme_request"]["weights"] == Weights(violation=1_000_000)
    first = shown(at)
    assert first is not default
    for worth, proposal, combined, fixed in ((FIX_WORTH_DEFAULT, default, 2, 0),
                                             (1000.0, first, 0, 1)):  # fmt: skip
        kpis = proposal.kpis.set_index("kpi")["proposal"]
        library = expected[worth].set_index("kpi")["proposal"]
        assert (kpis["combined works"], kpis["moratorium violations fixed"]) == (combined, fixed)
        assert (library["combined works"], library["moratorium violations fixed"]) == (
            combined, fixed)  # fmt: skip
    # what the page shows now: the fix, nothing combined
    assert metric(at, negotiate.kpi_name("combined works")).value == "0"
    assert metric(at, negotiate.kpi_name("moratorium violations fixed")).value == "1"
    assert by_id(first).loc["G1", "proposed_start"].date() == dt.date(2027, 5, 12)
    # back at the default: the default proposal again, from the page's cache
    at.number_input(key="programme_fix_worth").set_value(FIX_WORTH_DEFAULT)
    proposed(at)
    assert shown(at) is default
    assert metric(at, negotiate.kpi_name("combined works")).value == "2"
    assert metric(at, negotiate.kpi_name("moratorium violations fixed")).value == "0"
