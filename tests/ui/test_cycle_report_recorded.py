"""The Planning cycle page records the report it builds: step 5 is done with the council pack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ims_geo import cycle
from ims_geo.store import open_store
from tests.test_cycle import SAVINGS, YEAR, build, hand_programme
from tests.ui.test_cycle_walk_roles import _page


def step5(at) -> str:
    (line,) = [m.value for m in at.markdown if "**5. " in m.value]
    return line


def test_building_the_council_pack_completes_step_5(open_app, tmp_path: Path) -> None:
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    at = open_app("cycle", store=path)
    assert step5(at).startswith(":orange[**partial**]")
    at.radio(key="cycle_report_kind").set_value("status").run()
    at.button(key="cycle_report_build").click().run()
    assert not at.exception and not at.error
    at.run()
    assert step5(at).startswith(":orange[**partial**]")  # the status report is no evaluation
    at.radio(key="cycle_report_kind").set_value("council").run()
    at.button(key="cycle_report_build").click().run()
    assert not at.exception and not at.error
    produced = cycle.reports(open_store(path), YEAR)
    assert produced[["kind", "formats", "revision"]].values.tolist() == [
        ["status", "html, xlsx", 1], ["council", "html, xlsx", 1]
    ]  # fmt: skip
    at.run()
    day = produced["produced_at"].iloc[-1].date().isoformat()
    assert step5(at).startswith(":green[**done**]")
    assert step5(at).endswith(f"council pack produced on {day}")


@pytest.mark.postgis
def test_a_viewer_s_report_is_read_only_a_coordinator_s_is_recorded(
    monkeypatch: pytest.MonkeyPatch, populated_installation: tuple[Any, dict[str, int]]
) -> None:
    installation, _ = populated_installation
    year = 2027
    for user, recorded in (("a_view", []), ("a_coord", ["council"])):
        at = _page(monkeypatch, installation, user, "cycle")
        at.number_input(key="cycle_year").set_value(year).run()
        at.button(key="cycle_report_build").click().run()
        assert not at.exception and not at.error
        assert len(at.get("download_button")) == 2  # built either way
        with open_store(installation.owner_url) as owner:
            assert cycle.reports(owner, year)["kind"].tolist() == recorded
