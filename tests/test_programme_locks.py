"""Locks that keep an earlier proposal's dates and projects."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString

from ims_geo import export
from ims_geo.errors import InputError
from ims_geo.programme import propose
from ims_geo.schema import validate

YEAR = {"earliest": "2027-01-01", "latest": "2027-12-31"}


def works(*rows: dict) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        pd.DataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows]),
        geometry=[r["geometry"] for r in rows],
        crs="EPSG:28992",
    )
    checked = validate(frame)
    assert checked.rejected.empty, checked.rejected
    return checked.valid


def line(y: float) -> LineString:
    return LineString([(0, y), (100, y)])


def three() -> gpd.GeoDataFrame:
    """A sewer and a water main that combine, and a telecom job far away."""
    return works(
        {"work_id": "S1", "org": "Sewer", "discipline": "sewer", "start_date": "2027-03-01",
         "end_date": "2027-03-10", **YEAR, "geometry": line(0)},
        {"work_id": "W1", "org": "Water", "discipline": "water", "start_date": "2027-05-02",
         "end_date": "2027-05-21", **YEAR, "geometry": line(3)},
        {"work_id": "T1", "org": "Tel", "discipline": "telecom", "start_date": "2027-08-01",
         "end_date": "2027-08-05", **YEAR, "geometry": line(5000)},
    )  # fmt: skip


def starts(frame: pd.DataFrame) -> dict[str, str]:
    return {
        w: str(pd.Timestamp(d).date())
        for w, d in zip(frame["work_id"], frame["proposed_start"], strict=True)
    }


def test_an_earlier_proposals_workbook_keeps_its_dates_and_project(tmp_path) -> None:
    first = propose(three())
    assert first.works["cluster_id"].fillna("").tolist() == ["C001", "C001", ""]
    # the earlier proposal as ims-geo propose writes it, a lock column added to its works
    book = tmp_path / "earlier.xlsx"
    sheet = first.works.assign(lock=["x", "", ""])
    export.write_layers({"works": sheet, "kpis": first.kpis}, book)
    # the plan changed since: the sewer's planned dates moved
    later = three()
    later.loc[later["work_id"] == "S1", ["start_date", "end_date"]] = [
        pd.Timestamp("2027-02-01"),
        pd.Timestamp("2027-02-10"),
    ]
    kept = propose(later, lock=book)
    # the marked member took its whole project: both at the earlier proposal's dates,
    # still one combined project, not the plan's dates
    assert starts(kept.works)["S1"] == starts(first.works)["S1"]
    assert starts(kept.works)["W1"] == starts(first.works)["W1"]
    assert kept.works["cluster_id"].fillna("").tolist() == ["C001", "C001", ""]
    assert kept.kpi("new clashes") == (0.0, 0.0)
    reasons = dict(zip(kept.works["work_id"], kept.works["move_reason"], strict=True))
    assert "kept at an earlier proposal's dates (lock)" in reasons["S1"]
    assert any("earlier proposal's dates" in w for w in kept.warnings)


def test_a_lock_csv_with_a_proposed_start_keeps_that_date(tmp_path) -> None:
    path = tmp_path / "lock.csv"
    pd.DataFrame({"org": ["Tel"], "work_id": ["T1"], "proposed_start": ["2027-09-14"]}).to_csv(
        path, index=False
    )
    kept = propose(three(), lock=path)
    assert starts(kept.works)["T1"] == "2027-09-14"
    # the duration is the plan's, the work joins no project
    row = kept.works.set_index("work_id").loc["T1"]
    assert (row["proposed_end"] - row["proposed_start"]).days == 4
    assert pd.isna(row["cluster_id"])
    # an empty proposed_start keeps the plan's dates
    pd.DataFrame({"org": ["Tel"], "work_id": ["T1"], "proposed_start": [""]}).to_csv(
        path, index=False
    )
    assert starts(propose(three(), lock=path).works)["T1"] == "2027-08-01"


def test_a_bad_lock_date_names_the_file_and_row(tmp_path) -> None:
    path = tmp_path / "lock.csv"
    pd.DataFrame(
        {"org": ["Tel", "Sewer"], "work_id": ["T1", "S1"], "proposed_start": ["2027-09-14", "soon"]}
    ).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"lock.csv: 1 row\(s\) .* \(first: row 3, 'soon'\)"):
        propose(three(), lock=path)
    with pytest.raises(InputError, match="not a readable lock table"):
        (tmp_path / "broken.xlsx").write_bytes(b"not a workbook")
        propose(three(), lock=tmp_path / "broken.xlsx")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(-40, 40), min_size=3, max_size=3), st.data())
def test_locked_works_start_exactly_where_the_lock_says(shifts: list[int], data) -> None:
    frame = three()
    marked = data.draw(st.lists(st.booleans(), min_size=3, max_size=3))
    planned = frame["start_date"].to_numpy(dtype="datetime64[D]")
    wanted = planned + np.asarray(shifts, dtype="timedelta64[D]")
    lock = pd.DataFrame(
        {
            "org": frame["org"],
            "work_id": frame["work_id"],
            "proposed_start": [str(d) for d in wanted],
            "lock": ["x" if m else "" for m in marked],
        }
    )
    proposal = propose(frame, lock=lock, time_limit=20)
    got = proposal.works["proposed_start"].to_numpy(dtype="datetime64[D]")
    duration = (proposal.works["proposed_end"] - proposal.works["proposed_start"]).dt.days
    assert (duration.to_numpy() == (frame["end_date"] - frame["start_date"]).dt.days).all()
    for k, m in enumerate(marked):
        if m:
            assert got[k] == wanted[k]
            assert pd.isna(proposal.works["cluster_id"].iloc[k])


def test_ids_with_leading_zeros_round_trip_through_a_csv_proposal(tmp_path) -> None:
    from click.testing import CliRunner

    from ims_geo.cli import main
    from ims_geo.programme import read_proposal

    plans = three()
    plans["work_id"] = ["007", "010", "0900"]
    plans["org"] = ["0042", "Water", "Tel"]
    path = tmp_path / "plans.gpkg"
    plans.to_file(path, layer="works")
    common = ["--time-limit", "10", "--not-before", "2026-01-01"]
    first = CliRunner().invoke(
        main, ["propose", str(path), "--out", str(tmp_path / "a.csv"), *common]
    )
    assert first.exit_code == 0, first.output
    _, works_a = read_proposal(tmp_path / "a.csv")
    assert works_a["work_id"].tolist() == ["007", "010", "0900"]
    assert works_a["org"].tolist() == ["0042", "Water", "Tel"]
    assert works_a["cluster_id"].tolist() == ["C001", "C001", ""]
    # the whole earlier proposal as the lock: every work found and kept where it was
    again = CliRunner().invoke(
        main,
        ["propose", str(path), "--lock", str(tmp_path / "a.csv"), "--out",
         str(tmp_path / "b.xlsx"), *common],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "not among the works" not in again.output
    _, works_b = read_proposal(tmp_path / "b.xlsx")
    assert starts(works_b) == starts(works_a)
    # a .csv and a .xlsx of the same programme: no work differs
    compared = CliRunner().invoke(
        main,
        ["propose", "--compare", str(tmp_path / "a.csv"), str(tmp_path / "b.xlsx"),
         "--out", str(tmp_path / "d.csv")],
    )  # fmt: skip
    assert compared.exit_code == 0, compared.output
    assert "0 works differ" in compared.output
    kpis = pd.read_csv(tmp_path / "d.csv").set_index("kpi")
    assert kpis.loc["combined works", ["a", "b"]].tolist() == [2.0, 2.0]
