"""Members of the combined projects with their streets, through the real CLI."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from click.testing import CliRunner
from shapely import LineString

from ims_geo.cli import main
from ims_geo.programme import MEMBER_COLUMNS, propose, streets

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
    result = CliRunner().invoke(main, ["propose", str(path), "--out", str(out), "--time-limit", "5",
                                       "--not-before", "2026-01-01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    members = pd.read_csv(tmp_path / "programme.members.csv", dtype=str, keep_default_na=False)
    assert list(members.columns) == list(MEMBER_COLUMNS)
    by_id = members.set_index("work_id")
    assert by_id.loc[["S1", "W1", "T1", "E1"], "street"].tolist() == [
        "Kerkstraat", "Kerkstraat", "–", "–",
    ]  # fmt: skip
    assert by_id.loc["W1", "street_source"] == "nearest work"
    # the projects name their members' streets too
    clusters = pd.read_csv(tmp_path / "programme.clusters.csv", dtype=str, keep_default_na=False)
    assert sorted(clusters["member_streets"]) == ["Kerkstraat", "–"]


def test_no_project_no_members() -> None:
    frame = plans().iloc[[0, 2]].reset_index(drop=True)  # nothing near each other
    proposal = propose(frame, time_limit=2)
    assert proposal.members.empty
    assert list(proposal.members.columns) == list(MEMBER_COLUMNS)
