"""Members of the combined projects with their streets, through the real CLI."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString

from ims_geo.cli import main
from ims_geo.errors import InputError
from ims_geo.programme import MEMBER_COLUMNS, load_split_rules, propose, streets

YEAR = {"earliest": "2027-01-01", "latest": "2027-12-31"}


def line(y: float, x0: float = 0.0, x1: float = 100.0) -> LineString:
    return LineString([(x0, y), (x1, y)])


def plans() -> gpd.GeoDataFrame:
    """Two pairs that combine: one where only the sewer's plan names the street, one nameless."""
    rows = [
        ("S1", "Sewer", "sewer", "2027-03-01", "2027-03-10", line(0), "Kerkstraat"),
        ("W1", "Water", "water", "2027-05-02", "2027-05-21", line(3), None),
        ("T1", "Tel", "telecom", "2027-03-01", "2027-03-05", line(5000), None),
        ("E1", "Power", "electricity", "2027-04-01", "2027-04-20", line(5003), None),
    ]
    return gpd.GeoDataFrame(
        {
            "work_id": [r[0] for r in rows],
            "org": [r[1] for r in rows],
            "title": [f"{r[2]} works" for r in rows],
            "discipline": [r[2] for r in rows],
            "start_date": pd.to_datetime([r[3] for r in rows]),
            "end_date": pd.to_datetime([r[4] for r in rows]),
            "earliest": pd.Timestamp(YEAR["earliest"]),
            "latest": pd.Timestamp(YEAR["latest"]),
            "straat": [r[6] for r in rows],
        },
        geometry=[r[5] for r in rows],
        crs="EPSG:28992",
    )


def test_each_members_street_comes_from_its_plan_a_nearby_work_or_is_a_dash() -> None:
    street, source = streets(plans())
    assert street.tolist() == ["Kerkstraat", "Kerkstraat", "–", "–"]
    assert source.tolist() == ["plan", "nearest work", "", ""]


def test_the_members_sheet_lists_every_member_with_its_street(tmp_path) -> None:
    path = tmp_path / "plans.gpkg"
    plans().to_file(path, layer="works")
    out = tmp_path / "programme.csv"
    result = CliRunner().invoke(main, ["propose", str(path), "--out", str(out), "--time-limit", "20",
                                       "--not-before", "2026-01-01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    members = pd.read_csv(tmp_path / "programme.members.csv", dtype=str, keep_default_na=False)
    assert list(members.columns) == list(MEMBER_COLUMNS)
    by_id = members.set_index("work_id")
    assert by_id.loc[["S1", "W1", "T1", "E1"], "street"].tolist() == [
        "Kerkstraat", "Kerkstraat", "–", "–",
    ]  # fmt: skip
    assert by_id.loc["W1", "street_source"] == "nearest work"
    # the proven bound per part: on the console and in the solver sheet
    assert "components 1" in result.stdout and "exact" in result.stdout
    solver = pd.read_csv(tmp_path / "programme.solver.csv")
    assert solver[["combined", "combined_bound", "bound_proof"]].values.tolist() == [
        [4, 4.0, "exact"]
    ]
    # the projects name their members' streets too
    clusters = pd.read_csv(tmp_path / "programme.clusters.csv", dtype=str, keep_default_na=False)
    assert sorted(clusters["member_streets"]) == ["Kerkstraat", "–"]


def test_no_project_no_members() -> None:
    frame = plans().iloc[[0, 2]].reset_index(drop=True)  # nothing near each other
    proposal = propose(frame, time_limit=2)
    assert proposal.members.empty
    assert list(proposal.members.columns) == list(MEMBER_COLUMNS)


# --- the cost split rule, an input of the proposal ---------------------------------------

COSTS = {"S1": 100_000.0, "W1": 300_000.0, "T1": 60_000.0, "E1": 80_000.0}


def test_the_split_table_sets_each_projects_rule(tmp_path) -> None:
    frame = plans().assign(cost_eur=lambda f: f["work_id"].map(COSTS))
    path = tmp_path / "split.csv"
    # every project by equal shares, except the sewer's project: by cost
    pd.DataFrame(
        {"project": ["*", ""], "org": ["", "Sewer"], "work_id": ["", "S1"],
         "rule": ["equal", "cost"]}
    ).to_csv(path, index=False)  # fmt: skip
    proposal = propose(frame, split=path, time_limit=20)
    works = proposal.works.set_index("work_id")
    clusters = proposal.clusters.set_index("cluster_id")
    sewer, tel = works.loc["S1", "cluster_id"], works.loc["T1", "cluster_id"]
    assert clusters.loc[sewer, "split_rule"] == "cost"
    assert clusters.loc[tel, "split_rule"] == "equal"
    # by cost: everyone saves the same share of their own estimate
    saved = min(clusters.loc[sewer, "savings_eur"], 400_000.0)
    for w in ("S1", "W1"):
        assert works.loc[w, "cost_share_eur"] == pytest.approx(
            COSTS[w] - saved * COSTS[w] / 400_000.0, abs=0.01
        )
    # equally per organisation: each of the two saves half
    saved = min(clusters.loc[tel, "savings_eur"], 140_000.0)
    for w in ("T1", "E1"):
        assert works.loc[w, "cost_share_eur"] == pytest.approx(COSTS[w] - saved / 2, abs=0.01)
    # the per-organisation table adds up to the members' shares
    table = proposal.cost_split.set_index(["cluster_id", "org"])
    assert table.loc[(sewer, "Water"), "cost_share_eur"] == works.loc["W1", "cost_share_eur"]
    assert table["saved_eur"].sum() == pytest.approx(
        sum(COSTS.values()) - works["cost_share_eur"].sum(), abs=0.01
    )
    assert set(table["split_rule"]) == {"cost", "equal"}


def test_split_rules_through_the_cli(tmp_path) -> None:
    path = tmp_path / "plans.gpkg"
    plans().assign(cost_eur=lambda f: f["work_id"].map(COSTS)).to_file(path, layer="works")
    split = tmp_path / "split.csv"
    split.write_text("project,rule\n*,cost\n", encoding="utf-8")
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["propose", str(path), "--out", str(out), "--time-limit",
                                       "20", "--split", str(split)])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.cost_split.csv")
    assert set(table["split_rule"]) == {"cost"}
    assert sorted(table["org"]) == ["Power", "Sewer", "Tel", "Water"]
    split.write_text("project,rule\n*,halves\nC001,\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["propose", str(path), "--out", str(out), "--split",
                                       str(split)])  # fmt: skip
    assert result.exit_code != 0
    assert "split.csv: line 2: rule 'halves' is not one of trench, equal, cost" in result.output


def test_a_split_table_without_a_rule_column_or_with_two_rules_for_one_project() -> None:
    with pytest.raises(InputError, match="columns rule and project"):
        load_split_rules(pd.DataFrame({"project": ["*"]}))
    frame = plans()
    both = pd.DataFrame(
        {"org": ["Sewer", "Water"], "work_id": ["S1", "W1"], "rule": ["cost", "equal"]}
    )
    with pytest.raises(InputError, match="lines 2, 3 name members of project C00. with different"):
        propose(frame, split=both, time_limit=2)


def test_an_adopted_proposal_keeps_the_split_its_table_asked_for(tmp_path) -> None:
    from ims_geo import cycle
    from ims_geo.schema import validate
    from ims_geo.store import open_store

    store = open_store(tmp_path / "store.gpkg")
    frame = plans().assign(cost_eur=lambda f: f["work_id"].map(COSTS))
    for org, rows in frame.groupby("org"):
        checked = validate(gpd.GeoDataFrame(rows.drop(columns="org")), org=org)
        store.import_plan(checked.valid, org=org, cycle=2027)
    split = pd.DataFrame({"project": ["*"], "rule": ["cost"]})
    cycle.adopt(store, 2027, decision="Council 1", time_limit=20, split=split)
    projects = cycle.projects(store, 2027)
    assert len(projects) == 2
    assert projects["split_rule"].tolist() == ["cost", "cost"]
    # a rule named at adoption still wins
    cycle.adopt(store, 2027, decision="Council 2", reason="re-split", time_limit=20,
                split=split, split_rules={"C001": "equal"})  # fmt: skip
    projects = cycle.projects(store, 2027).set_index("project")
    assert projects.loc["C001", "split_rule"] == "equal"
    assert projects.loc["C002", "split_rule"] == "cost"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 200), st.floats(0, 200), st.sampled_from([None, "A", "B", ""])),
        min_size=1,
        max_size=8,
    )
)
def test_streets_match_a_brute_force_nearest_search(rows) -> None:
    frame = gpd.GeoDataFrame(
        {"street": [r[2] for r in rows]},
        geometry=[LineString([(x, y), (x + 10, y)]) for x, y, _ in rows],
        crs="EPSG:28992",
    )
    street, source = streets(frame)
    for i, (_, _, own) in enumerate(rows):
        if own:
            assert (street[i], source[i]) == (own, "plan")
            continue
        named = [
            (frame.geometry[i].distance(frame.geometry[j]), j)
            for j, (_, _, other) in enumerate(rows)
            if other and frame.geometry[i].distance(frame.geometry[j]) <= 25.0
        ]
        if not named:
            assert (street[i], source[i]) == ("–", "")
        else:
            nearest = min(d for d, _ in named)
            # ties may pick either of the equally near works
            assert street[i] in {rows[j][2] for d, j in named if d == nearest}
            assert source[i] == "nearest work"
