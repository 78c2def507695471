"""``ims-geo import`` as a signed-in planner of a shared (PostGIS) store uses it.

Signed in, the organisation of the plan is the signed-in one: a file without
an org column needs no ``--org``; another organisation's name is refused in
words by the command, and by the database's row-level security when the
command's own check is bypassed. Without a sign-in the command says how to
sign in. The embedded GeoPackage store keeps ``--org``. Every test runs the
real command against a fresh copy of a shared installation
(``tests/access_data.py``) on the PostGIS server the test set-up starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from access_data import PASSWORD, plan_a, plan_b
from click.testing import CliRunner

from ims_geo.access.admin import Administration
from ims_geo.cli import main
from ims_geo.errors import StoreError
from ims_geo.ingest import read_works
from ims_geo.store import open_store

postgis = pytest.mark.postgis

#: No credentials from the machine's environment leak into a run.
CLEAN = {"IMS_GEO_USER": "", "IMS_GEO_PASSWORD": "", "IMS_GEO_TOKEN": "", "IMS_GEO_STORE": ""}


def cli(*args: object, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], env={**CLEAN, **(env or {})})
    assert PASSWORD not in result.output, "a password was printed"
    return result


def as_user(user: str, store: str) -> dict[str, str]:
    return {"IMS_GEO_USER": user, "IMS_GEO_PASSWORD": PASSWORD, "IMS_GEO_STORE": store}


def without_org(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """``frame`` written as GeoJSON without its org column (a planner's own export)."""
    frame.drop(columns="org").to_file(path, driver="GeoJSON")
    return path


def versions(owner_url: str) -> pd.DataFrame:
    """Every plan version as the schema owner sees it: (org, version, n_works) by org."""
    with open_store(owner_url) as owner:
        table = owner.plan_versions()
    return table[["org", "version", "n_works", "is_current"]].sort_values(["org", "version"])


def current_ids(owner_url: str, org: str) -> list[str]:
    with open_store(owner_url) as owner:
        return sorted(owner.works(orgs=[org])["work_id"])


@pytest.fixture
def inst(populated_installation: Any) -> Any:
    made, _versions = populated_installation
    return made


@postgis
def test_a_signed_in_planner_imports_without_org(inst: Any, tmp_path: Path) -> None:
    plan = plan_a().iloc[:1]  # a1 only: the new version differs from the stored a1, a2
    path = without_org(plan, tmp_path / "a_plan.geojson")
    result = cli("import", path, "--cycle", 2027, env=as_user("a_plan", inst.app_url))
    assert result.exit_code == 0, result.output
    assert "Stored 1 works of A as plan version 2 (cycle 2027)" in result.output
    assert current_ids(inst.owner_url, "A") == sorted(plan["work_id"])
    table = versions(inst.owner_url)
    assert table[table["org"] == "A"]["n_works"].tolist() == [2, 1]
    assert table[table["org"] == "B"]["version"].tolist() == [1]  # B untouched
    # the same organisation named again is no error
    result = cli("import", path, "--org", "A", "--cycle", 2027, env=as_user("a_plan", inst.app_url))
    assert result.exit_code == 0, result.output
    assert "as plan version 3" in result.output


@postgis
def test_an_api_token_imports_as_its_organisation(inst: Any, tmp_path: Path) -> None:
    with Administration(open_store(inst.owner_url)) as adm:
        token = adm.new_token("B", label="asset system")
    plan = plan_b().iloc[1:]
    path = without_org(plan, tmp_path / "b_feed.geojson")
    env = {"IMS_GEO_TOKEN": token, "IMS_GEO_STORE": inst.app_url}
    result = cli("import", path, "--cycle", 2027, env=env)
    assert result.exit_code == 0, result.output
    assert "Stored 2 works of B as plan version 2" in result.output
    assert token not in result.output
    assert current_ids(inst.owner_url, "B") == sorted(plan["work_id"])


@postgis
def test_another_organisation_is_refused_by_the_command_and_by_the_database(
    inst: Any, tmp_path: Path
) -> None:
    before = versions(inst.owner_url)
    path = without_org(plan_b(), tmp_path / "b_plan.geojson")
    result = cli("import", path, "--org", "B", "--cycle", 2027, env=as_user("a_plan", inst.app_url))
    assert result.exit_code == 1, result.output
    assert (
        "signed in as a_plan of 'A', you may import only the plans of 'A', not of 'B'; "
        "leave out --org" in result.output
    )
    pd.testing.assert_frame_equal(versions(inst.owner_url), before)
    # the database refuses the same works without the command's check, and without the
    # store's own check of the organisation: row-level security decides, not Python
    read = read_works(str(path), org="B")
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        a.acting_org = None
        with pytest.raises(StoreError, match=r"a_plan \(planner of A\) may not"):
            a.import_plans(read.works, read.rejected, cycle=2027, org="B")
    pd.testing.assert_frame_equal(versions(inst.owner_url), before)


@postgis
def test_a_file_of_two_organisations_stores_only_the_signed_in_ones_plan(
    inst: Any, tmp_path: Path
) -> None:
    both = pd.concat([plan_a(), plan_b()], ignore_index=True)
    path = tmp_path / "both.geojson"
    both.to_file(path, driver="GeoJSON")
    result = cli("import", path, "--cycle", 2027, env=as_user("b_plan", inst.app_url))
    assert result.exit_code == 0, result.output
    assert "Stored 3 works of B as plan version 2" in result.output
    assert "Left out (not stored): 1 other organisation(s) of the file" in result.output
    assert "a user of each organisation imports its own plan" in result.output
    assert "  A: 2 works, 0 rejected" in result.output
    assert current_ids(inst.owner_url, "B") == sorted(plan_b()["work_id"])
    table = versions(inst.owner_url)
    assert table[table["org"] == "A"]["version"].tolist() == [1]


@postgis
def test_without_sign_in_the_message_says_how_to_sign_in(inst: Any, tmp_path: Path) -> None:
    before = versions(inst.owner_url)
    path = without_org(plan_a(), tmp_path / "a_plan.geojson")
    for org in ((), ("--org", "A")):
        result = cli("import", path, *org, env={"IMS_GEO_STORE": inst.app_url})
        assert result.exit_code == 1, result.output
        assert "needs a sign-in: ims-geo --user NAME import FILE" in result.output
        assert "IMS_GEO_TOKEN" in result.output
    pd.testing.assert_frame_equal(versions(inst.owner_url), before)


def test_the_geopackage_store_keeps_org(tmp_path: Path) -> None:
    """No users in the embedded store: --org names the plan, as before (no server needed)."""
    store = tmp_path / "ims.gpkg"
    path = without_org(plan_a(), tmp_path / "a_plan.geojson")
    result = cli("import", path, "--store", store)
    assert result.exit_code == 2, result.output
    assert "ims-geo import --org NAME" in result.output
    result = cli("import", path, "--org", "B", "--cycle", 2027, "--store", store)
    assert result.exit_code == 0, result.output
    assert "Stored 2 works of B as plan version 1" in result.output
    with open_store(store) as opened:
        assert sorted(opened.works(orgs=["B"])["work_id"]) == sorted(plan_a()["work_id"])
