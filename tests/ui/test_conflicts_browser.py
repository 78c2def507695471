"""The conflict list in a real browser: a conflict clicked on the map selects its row.

AppTest cannot click a Leaflet feature (st_folium returns its defaults there);
headless Debian Chromium can. The worst conflict is drawn last (on top), so the
last interactive path of the conflicts map is the list's first row.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, expect

from ims_geo.cycle.moratoria import store_conflicts
from ims_geo.store import open_store
from ims_geo.ui import links

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

ROOT = Path(__file__).resolve().parents[2]
UI_TIMEOUT = 30_000
MAP_TIMEOUT = 90_000
FOLIUM_FRAME = 'iframe[title="streamlit_folium.st_folium"]'


def test_a_conflict_clicked_on_the_map_is_selected_explained_and_linked(page: Page, app_server):
    url = app_server["url"]
    store = open_store(app_server["store"])
    found = store_conflicts(store, store.works()).sort_values(
        "score", ascending=False, kind="stable"
    )
    worst = found.iloc[0]
    page.goto(f"{url}/conflicts")
    page.get_by_test_id("stApp").wait_for(timeout=UI_TIMEOUT)
    frame = page.frame_locator(FOLIUM_FRAME)
    paths = frame.locator("path.leaflet-interactive")
    paths.first.wait_for(timeout=MAP_TIMEOUT)
    assert paths.count() == len(found)  # every conflict listed is drawn (one path each)
    expect(
        page.get_by_test_id("stExpander").filter(has_text="Why, and how to resolve it")
    ).to_have_count(0)

    # the click goes to the worst conflict's own path (drawn last, on top): a pointer click at
    # the centre of its bounding box could land on another conflict where a line bends
    paths.nth(paths.count() - 1).dispatch_event("click")

    pair = f"{worst['org_a']} · {worst['work_id_a']} ↔ {worst['org_b']} · {worst['work_id_b']}"
    expect(page.get_by_test_id("stHeading").filter(has_text=pair)).to_be_visible(timeout=UI_TIMEOUT)
    expect(
        page.get_by_test_id("stExpander").filter(has_text="Why, and how to resolve it")
    ).to_be_visible(timeout=UI_TIMEOUT)
    selected = page.locator("[data-testid=stDataFrame] [role=row][aria-selected=true]")
    expect(selected.first).to_contain_text(str(worst["work_id_a"]), timeout=UI_TIMEOUT)
    # the address bar names the conflict: a link to share
    page.wait_for_function("() => location.search.includes('conflict=')", timeout=UI_TIMEOUT)
    assert parse_qs(urlparse(page.url).query)[links.CONFLICT] == [links.conflict_key(worst)]

    # the page as the README shows it (written there when IMS_GEO_SCREENSHOTS=1)
    page.get_by_test_id("stExpander").filter(
        has_text="Why, and how to resolve it"
    ).scroll_into_view_if_needed()
    folders = [ROOT / "test-output" / "screenshots"]
    if os.environ.get("IMS_GEO_SCREENSHOTS") == "1":
        folders.append(ROOT / "docs" / "screenshots")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=folder / "conflicts_explained.png", full_page=True)
