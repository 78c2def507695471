"""A store without plans or sign-in in a real browser: an old ``/login`` link on a
GeoPackage store lands on a page that says sign-in is for shared stores (no "Page not
found" pop-up, no sign-in in the menu), and the planning cycle of the empty store says
there is nothing to measure yet."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import block_remote, idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    # pytest-base-url's session fixture (pulled in by pytest-playwright) is an
    # instance method, which pytest 9 warns about
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

UI_TIMEOUT = 30_000


def test_old_sign_in_link_and_empty_cycle_on_a_geopackage_store(
    page: Page, empty_app_server: dict
) -> None:
    aborted = block_remote(page)
    url = empty_app_server["url"]
    page.goto(f"{url}/login")
    expect(page.get_by_text("This store has one user and no sign-in")).to_be_visible(
        timeout=UI_TIMEOUT
    )
    idle(page)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_role("dialog").count() == 0
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Planning cycle")).to_be_visible()
    assert nav.get_by_text("Sign in / out").count() == 0
    nav.get_by_text("Planning cycle").click()
    expect(page.get_by_text("Nothing to measure yet: the store holds no plan.")).to_be_visible(
        timeout=UI_TIMEOUT
    )
    expect(page.get_by_text("no KPI can be measured against a target yet")).to_be_visible()
    assert page.get_by_text("KPIs against targets").count() == 0
    assert aborted == []
