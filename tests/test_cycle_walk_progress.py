"""Progress filed for the wrong organisation: the rejection names the organisation whose
plan holds the work (only among the works the caller may see), on a real GeoPackage store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from ims_geo import cycle
from ims_geo.cli import EXIT_REJECTED, main
from ims_geo.store import open_store
from tests.test_cycle import PLANS, YEAR, build, progress_frame

UNKNOWN = "is not in the organisation's current plan or the adopted programme; check the id"


def test_a_work_of_another_organisation_is_rejected_naming_it(tmp_path: Path) -> None:
    store = build(tmp_path / "store.gpkg")
    result = cycle.record_progress(store, YEAR, "City", progress_frame([
        ("W1", "done", "2027-05-03", "2027-05-22", None),  # Water's
        ("R1", "in_progress", "2027-06-02", None, None),  # City's own
        ("Z9", "done", "2027-05-03", "2027-05-22", None),  # nobody's
        ("S2", "done", "2027-07-01", "2027-07-09", None),  # Sewer's
    ]))  # fmt: skip
    owner = {wid["work_id"]: org for org, rows in PLANS.items() for wid in rows}
    assert (owner["W1"], owner["S2"], owner["R1"]) == ("Water", "Sewer", "City")
    assert result.rejected[["work_id", "reason"]].values.tolist() == [
        ["W1", "work_id W1 is not in the plan of City but in that of Water; report its "
               "progress as that organisation"],
        ["Z9", f"work_id Z9 {UNKNOWN}"],
        ["S2", "work_id S2 is not in the plan of City but in that of Sewer; report its "
               "progress as that organisation"],
    ]  # fmt: skip
    assert cycle.progress(store, YEAR)[["org", "work_id"]].values.tolist() == [["City", "R1"]]


def test_the_cli_refuses_the_file_under_strict_naming_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "store.gpkg"
    build(path)
    report = tmp_path / "city.csv"
    progress_frame([("W1", "done", "2027-05-03", "2027-05-22", None)]).to_csv(report, index=False)
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(main, [
        "cycle", "progress", str(report), "--org", "City", "--cycle", str(YEAR), "--strict",
        "--rejects", str(rejects), "--store", str(path),
    ])  # fmt: skip
    assert result.exit_code == EXIT_REJECTED, result.output
    assert pd.read_csv(rejects)["reason"].tolist() == [
        "work_id W1 is not in the plan of City but in that of Water; report its progress as "
        "that organisation"
    ]
    assert cycle.progress(open_store(path), YEAR).empty
