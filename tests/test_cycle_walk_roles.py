"""Planning-cycle writes on a shared store, by roles that may not make them.

A viewer reporting progress (library and ``ims-geo cycle progress``),
registering moratoria or granting an exemption is refused before anything
is read or written, in words that name the user
and what the role may do, not in the database's row-level-security words;
nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from access_data import PASSWORD, RD, line
from click.testing import CliRunner
from postgis_server import APP_PASSWORD

from ims_geo import cycle
from ims_geo.cli import main
from ims_geo.cycle.moratoria import exemptions
from ims_geo.errors import StoreError
from ims_geo.store import open_store

pytestmark = pytest.mark.postgis

REPORT = pd.DataFrame(
    {"work_id": ["a1"], "status": ["in_progress"], "actual_start": ["2027-03-01"],
     "actual_end": [None], "remark": ["started"]}
)  # fmt: skip


def _stored(owner_url: str) -> int:
    """Progress reports in the store, every organisation's (read as the owner)."""
    return len(cycle.progress(open_store(owner_url), 2027))


def test_a_viewer_may_not_report_progress(
    populated_installation: tuple[Any, dict[str, int]],
) -> None:
    installation, _ = populated_installation
    viewer = open_store(installation.app_url, user="a_view", password=PASSWORD)
    location = viewer.location
    with pytest.raises(StoreError) as refused:
        cycle.record_progress(viewer, 2027, "A", REPORT, source="r.csv")
    assert str(refused.value) == (
        f"store {location}: a_view (viewer of A) may not report progress; a viewer reads, "
        "planners, coordinators and admins make changes"
    )
    assert _stored(installation.owner_url) == 0
    planner = open_store(installation.app_url, user="a_plan", password=PASSWORD)
    cycle.record_progress(planner, 2027, "A", REPORT, source="r.csv")
    assert _stored(installation.owner_url) == 1


def test_the_cli_refuses_a_viewers_progress_in_words(
    populated_installation: tuple[Any, dict[str, int]], tmp_path: Path
) -> None:
    installation, _ = populated_installation
    path = tmp_path / "progress.csv"
    REPORT.to_csv(path, index=False)
    env = {"IMS_GEO_USER": "a_view", "IMS_GEO_PASSWORD": PASSWORD, "IMS_GEO_TOKEN": "",
           "IMS_GEO_STORE": installation.app_url}  # fmt: skip
    args = ["cycle", "progress", str(path), "--org", "A", "--cycle", "2027"]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    location = open_store(installation.app_url, user="a_view", password=PASSWORD).location
    assert APP_PASSWORD not in location  # the store is named without its password
    assert result.output.splitlines() == [
        f"Error: store {location}: a_view (viewer of A) may not report progress; a viewer "
        "reads, planners, coordinators and admins make changes"
    ]
    assert _stored(installation.owner_url) == 0


def test_a_viewer_may_not_register_moratoria_or_grant_exemptions(
    populated_installation: tuple[Any, dict[str, int]],
) -> None:
    installation, _ = populated_installation
    register = gpd.GeoDataFrame(
        {"source_org": ["A"], "source_work_id": ["a1"], "valid_from": ["2027-01-01"],
         "valid_until": ["2029-12-31"]},
        geometry=[line(0)], crs=RD,
    )  # fmt: skip
    viewer = open_store(installation.app_url, user="a_view", password=PASSWORD)
    refusal = (
        f"store {viewer.location}: a_view (viewer of A) may not {{}}; a viewer reads, "
        "planners, coordinators and admins make changes"
    )
    with pytest.raises(StoreError) as refused:
        cycle.import_moratoria(viewer, register, org="A", source="register.gpkg")
    assert str(refused.value) == refusal.format("register moratoria")
    assert cycle.moratoria(open_store(installation.owner_url)).empty

    planner = open_store(installation.app_url, user="a_plan", password=PASSWORD)
    stored, rejected = cycle.import_moratoria(planner, register, org="A", source="register.gpkg")
    assert rejected.empty and len(stored) == 1
    (number,) = stored["moratorium_id"]
    with pytest.raises(StoreError) as refused:
        cycle.add_exemption(viewer, int(number), org="B", kind="emergency")
    assert str(refused.value) == refusal.format("grant a moratorium exemption")
    assert exemptions(open_store(installation.owner_url)).empty
    cycle.add_exemption(planner, int(number), org="B", kind="emergency")
    assert exemptions(open_store(installation.owner_url))["exempt_org"].tolist() == ["B"]


def test_progress_of_anothers_work_names_its_owner_only_when_the_work_is_visible(
    populated_installation: tuple[Any, dict[str, int]],
) -> None:
    installation, _ = populated_installation
    planner = open_store(installation.app_url, user="a_plan", password=PASSWORD)
    report = pd.DataFrame(
        {"work_id": ["b1", "b2"], "status": ["done", "done"],
         "actual_start": ["2027-03-05", "2027-03-17"], "actual_end": ["2027-04-01", "2027-04-09"],
         "remark": [None, None]}
    )  # fmt: skip
    result = cycle.record_progress(planner, 2027, "A", report, source="r.csv")
    assert result.rejected[["work_id", "reason"]].values.tolist() == [
        ["b1", "work_id b1 is not in the plan of A but in that of B; report its progress as "
               "that organisation"],  # B shares b1 with its partners
        ["b2", "work_id b2 is not in the organisation's current plan or the adopted "
               "programme; check the id"],  # B's private work: its owner is not told
    ]  # fmt: skip
    assert _stored(installation.owner_url) == 0
