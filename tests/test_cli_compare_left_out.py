"""``ims-geo compare`` says how many works it left out, as the app's comparison does.

B's second plan version makes two works private and moves its public one by
seven days. Whoever compares the versions is told the move, and on stderr
how many works were left out: those another organisation may no longer
see (made private since) are compared in neither version and never listed
as dropped. Everything runs through the real command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from access_data import PASSWORD, line, plan
from click.testing import CliRunner

from ims_geo import cli as ims_cli
from ims_geo.cli import main
from ims_geo.store import open_store

CLEAN = {"IMS_GEO_USER": "", "IMS_GEO_PASSWORD": "", "IMS_GEO_TOKEN": "", "IMS_GEO_STORE": ""}
SECRET_IDS = ("W2027-017", "W2027-018")
NONE_LEFT = "0 works left out: every work of both versions you may see was compared."


def b_plan(hidden: str, public_start: str) -> Any:
    """B's plan: one public work starting ``public_start``, two of visibility ``hidden``."""
    return plan("B", [
        {"work_id": "W2027-002", "title": "Water main", "discipline": "water",
         "start_date": public_start, "end_date": "2027-04-30", "visibility": "public",
         "geometry": line(0, 2)},
        {"work_id": SECRET_IDS[0], "title": "Secret one", "discipline": "water",
         "start_date": "2027-03-15", "end_date": "2027-05-15", "visibility": hidden,
         "geometry": line(5, -2)},
        {"work_id": SECRET_IDS[1], "title": "Secret two", "discipline": "sewer",
         "start_date": "2027-04-01", "end_date": "2027-05-31", "visibility": hidden,
         "geometry": line(10, 4)},
    ])  # fmt: skip


def compare(store: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(
        main, ["compare", "B", "1", "2", "--store", store], env={**CLEAN, **(env or {})}
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    return result.stdout.splitlines() + [result.stderr.strip()]


def moved_public_work_only(lines: list[str]) -> None:
    """The one change (7 days later), and none of the private works by id."""
    assert lines[0] == "1 moved"
    (row,) = [text for text in lines if "W2027-002" in text]
    assert row.split()[:2] == ["W2027-002", "moved"]
    assert row.split()[-2:] == ["7", "0"]  # shift_days, end_shift_days
    assert not [text for text in lines if any(s in text for s in SECRET_IDS)]


def two_versions(path: Path) -> None:
    with open_store(path) as store:
        store.import_plan(b_plan("public", "2027-03-01"), org="B", cycle=2027)
        store.import_plan(b_plan("private", "2027-03-08"), org="B", cycle=2027)


def test_a_geopackage_store_compares_every_work(tmp_path: Path) -> None:
    path = tmp_path / "works.gpkg"
    two_versions(path)
    lines = compare(str(path))
    moved_public_work_only(lines)
    assert lines[-1] == NONE_LEFT


def test_a_reader_who_may_not_see_the_private_works_is_told_how_many_were_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store as organisation A sees it (the app's view of a GeoPackage for A)."""
    path = tmp_path / "works.gpkg"
    two_versions(path)
    monkeypatch.setattr(
        ims_cli, "_open_store", lambda location: open_store(location, acting_org="A")
    )
    lines = compare(str(path))
    moved_public_work_only(lines)
    assert lines[-1] == (
        f"{len(SECRET_IDS)} works left out: no longer visible to you (made private or dropped "
        "since), so compared in neither version."
    )


@pytest.mark.postgis
def test_on_a_shared_store_the_count_is_zero_by_design(populated_installation: Any) -> None:
    """The database hides B's private works in both versions: neither compared nor counted."""
    installation, _ = populated_installation
    with open_store(installation.app_url, user="b_plan", password=PASSWORD) as b:
        first = b.import_plan(b_plan("public", "2027-03-01"), org="B", cycle=2027)
        second = b.import_plan(b_plan("private", "2027-03-08"), org="B", cycle=2027)
    env = {"IMS_GEO_USER": "a_plan", "IMS_GEO_PASSWORD": PASSWORD}
    result = CliRunner().invoke(
        main,
        ["compare", "B", str(first.version), str(second.version), "--store", installation.app_url],
        env={**CLEAN, **env},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines() + [result.stderr.strip()]
    moved_public_work_only(lines)
    assert lines[-1] == NONE_LEFT
