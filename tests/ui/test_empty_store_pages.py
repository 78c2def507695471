"""Pages of a store without plans or without sign-in, under AppTest: the planning cycle
says there is nothing to measure yet, and the sign-in page of a GeoPackage store is
reachable by an old link (out of the menu) and says sign-in is for shared stores."""

from __future__ import annotations

from pathlib import Path

from ims_geo import cycle
from ims_geo.store import open_store
from tests.ui.conftest import PAGES
from tests.ui.test_cycle_page import frame, steps, steps_of

YEAR = 2030


def test_cycle_page_of_an_empty_store_measures_nothing_and_says_what_comes_first(
    open_app, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.gpkg"
    at = open_app("cycle", store=empty)
    at.number_input(key="cycle_year").set_value(YEAR).run()
    assert not at.exception and not at.error
    shown = steps(at)
    assert shown == steps_of(open_store(empty), YEAR)
    assert shown[4] == (
        ":red[**missing**]  **5. Evaluation and reporting** — "
        "no KPI can be measured against a target yet"
    )
    assert not any("green" in line.split("—", 1)[1] for line in shown)
    (info,) = [i.value for i in at.info if i.value.startswith("Nothing to measure yet")]
    assert "**Upload** page" in info and "**Targets and KPIs**" in info
    kpis = frame(at, "cycle_kpis")
    assert len(kpis) == len(cycle.KPIS)
    # the default target (no moratorium violation) stays a target, unmeasured
    assert kpis["state"].tolist() == ["no target", "no data", "no target", "no target", "no target"]
    assert kpis["value"].isna().all()


def test_cycle_page_with_plans_has_no_nothing_to_measure_note(open_app) -> None:
    at = open_app("cycle")
    assert not [i for i in at.info if i.value.startswith("Nothing to measure yet")]


def test_an_old_sign_in_link_on_a_geopackage_store_says_sign_in_is_for_shared_stores(
    open_app, tmp_path: Path
) -> None:
    at = open_app(store=tmp_path / "store.gpkg")
    at.switch_page(f"{PAGES}/login.py").run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Sign in"
    (info,) = at.info
    assert info.value.startswith("This store has one user and no sign-in (a GeoPackage file")
    assert "Shared installations (PostGIS" in info.value
    assert not at.text_input  # no user name or password asked for
