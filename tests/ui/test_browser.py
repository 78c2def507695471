"""One real browser against the running app, with the network beyond 127.0.0.1 cut off.

Headless Debian Chromium through Playwright: the Map page draws the demo
works as vector features with Leaflet served by the app itself, the Upload
page checks a zipped shapefile, the Conflicts page downloads its CSV.
Screenshots go to test-output/screenshots/ (ignored by git, kept for CI
artifacts), and to docs/screenshots/ when IMS_GEO_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
import shapely
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from ims_geo.conflicts import find_conflicts
from ims_geo.store import open_store
from tests.ui.conftest import block_remote, idle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    # pytest-base-url's session fixture (pulled in by pytest-playwright) is an
    # instance method, which pytest 9 warns about
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
UI_TIMEOUT = 30_000


def drawn_paths(frame) -> int:
    """SVG paths Leaflet draws for these features: one per feature, one per member of a collection."""
    geoms = frame.geometry.to_numpy()
    collection = shapely.get_type_id(geoms) == 7
    return int((~collection).sum() + shapely.get_num_geometries(geoms[collection]).sum())


def screenshot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=OUTPUT / f"{name}.png", full_page=True)
    if os.environ.get("IMS_GEO_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=DOCS / f"{name}.png", full_page=True)


def test_map_upload_and_conflicts_in_a_browser(
    page: Page, app_server, tmp_path, zipped_shapefile, sample_plan
):
    url = app_server["url"]
    works = open_store(app_server["store"]).works()
    conflicts = find_conflicts(works)

    aborted = block_remote(page)

    # Map: every work and every clash / moratorium conflict as a clickable SVG path
    page.goto(f"{url}/map")
    page.get_by_test_id("stApp").wait_for()
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    paths = frame.locator("path.leaflet-interactive")
    paths.first.wait_for(state="attached", timeout=60_000)
    problems = conflicts[conflicts["kind"].isin(["clash", "moratorium"])]
    expect(paths).to_have_count(drawn_paths(works) + drawn_paths(problems), timeout=UI_TIMEOUT)
    expect(frame.locator(".ims-legend")).to_contain_text("Conflict")
    screenshot(page, "map")
    # a click on a work opens its popup and shows its details under the map
    last_org = sorted(works["org"].unique())[-1]
    paths.last.dispatch_event("click")
    expect(frame.locator(".leaflet-popup-content")).to_contain_text(last_org)
    expect(page.get_by_test_id("stHeading").filter(has_text=f"{last_org} · ")).to_be_visible(
        timeout=UI_TIMEOUT
    )
    screenshot(page, "map_clicked")

    # Upload: a zipped shapefile built here, checked by the ingest
    upload = tmp_path / "plan_2027.zip"
    upload.write_bytes(zipped_shapefile(sample_plan()))
    page.goto(f"{url}/upload")
    # the plan's uploader by its label (the page also has a "Mapping file" uploader)
    plan_uploader = page.get_by_test_id("stFileUploader").filter(has_text="Works file")
    plan_uploader.wait_for(timeout=UI_TIMEOUT)
    plan_uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    organisation = page.get_by_label("New organisation")
    organisation.fill("Test Utility")
    organisation.press("Enter")
    expect(page.get_by_text("Validation report")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("end_date before start_date: 1")).to_be_visible(timeout=UI_TIMEOUT)
    accepted = page.get_by_test_id("stMetric").filter(has_text="Accepted")
    expect(accepted.get_by_test_id("stMetricValue")).to_have_text("4")
    screenshot(page, "upload")

    # Conflicts: the table's CSV download holds every conflict once
    page.goto(f"{url}/conflicts")
    button = page.get_by_test_id("stDownloadButton").get_by_role("button", name="CSV")
    button.wait_for(timeout=UI_TIMEOUT)
    frame.locator("path.leaflet-interactive").first.wait_for(state="attached", timeout=60_000)
    screenshot(page, "conflicts")
    with page.expect_download(timeout=UI_TIMEOUT) as download:
        button.click()
    assert download.value.suggested_filename == "conflicts.csv"
    table = pd.read_csv(download.value.path(), dtype=str)
    got = sorted(zip(table["work_id_a"], table["work_id_b"], table["kind"], strict=True))
    want = sorted(
        zip(conflicts["work_id_a"], conflicts["work_id_b"], conflicts["kind"], strict=True)
    )
    assert got == want

    assert aborted == []


def test_script_payloads_in_user_strings_are_shown_as_text_and_never_run(page: Page, hostile_app):
    orgs, title, work_id = hostile_app["orgs"], hostile_app["title"], hostile_app["work_id"]
    flags = "() => [window.__xss_org, window.__xss_script, window.__xss_id, window.__xss_col]"
    dialogs: list[str] = []

    def dismiss(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def local_only(route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    page.on("dialog", dismiss)
    page.route("**/*", local_only)

    def nothing_ran() -> None:
        for frame in page.frames:
            assert frame.evaluate(flags) == [None] * 4, frame.url
        assert dialogs == []

    url = hostile_app["url"]
    page.goto(f"{url}/map")
    page.get_by_test_id("stApp").wait_for()
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    paths = frame.locator("path.leaflet-interactive")
    # two clashes (halos under the works) and four works
    expect(paths).to_have_count(6, timeout=60_000)
    # the layer control names each organisation as the text it is
    overlays = frame.locator(".leaflet-control-layers-overlays")
    for org in orgs:
        expect(overlays).to_contain_text(org)
    expect(overlays.locator("img, script")).to_have_count(0)
    # the first organisation's work with the payload title: popup and details show text
    paths.nth(2).dispatch_event("click")
    popup = frame.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(title)
    expect(popup).to_contain_text(orgs[0])
    expect(popup.locator("img, svg, script")).to_have_count(0)
    heading = page.get_by_test_id("stHeading").filter(has_text=f"{orgs[0]} · {work_id}")
    expect(heading).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_test_id("stMain").locator("img[src=x], svg[onload]")).to_have_count(0)
    screenshot(page, "hostile_map")
    nothing_ran()

    for name in ("conflicts", ""):
        page.goto(f"{url}/{name}")
        page.get_by_test_id("stApp").wait_for()
        if name:
            frame.locator("path.leaflet-interactive").first.wait_for(
                state="attached", timeout=60_000
            )
        else:
            expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=UI_TIMEOUT)
        nothing_ran()


def test_a_real_multi_organisation_feed_uploaded_with_a_mapping_built_on_the_page(
    page: Page, empty_app_server, tmp_path
):
    """The UK EToN Ashford export: organisations from a column, the mapping suggested on
    the page and one value translation changed in its table, stored as the promoters'
    plans, and the conflicts between the real promoters listed."""
    import pyogrio

    from ims_geo.ingest import load_mapping, read_works

    from conftest import shared_data

    path = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    raw = pyogrio.read_dataframe(path)
    promoters = raw["responsible_org_name"].value_counts()
    page.goto(f"{empty_app_server['url']}/upload")
    page.get_by_test_id("stFileUploader").first.wait_for(timeout=UI_TIMEOUT)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(path)
    page.get_by_test_id("stSelectbox").filter(has_text="Organisation").click()
    page.get_by_role("option", name="From the file (org column)").click()
    accepted = page.get_by_test_id("stMetric").filter(has_text="Accepted")
    # no mapping yet: the dates are not found, every row is rejected
    expect(accepted.get_by_test_id("stMetricValue")).to_have_text("0", timeout=60_000)
    page.get_by_role("button", name="Suggest a mapping").click()
    expect(accepted.get_by_test_id("stMetricValue")).to_have_text(str(len(raw)), timeout=60_000)
    # one translation table per vocabulary column found: discipline and status
    tables = page.get_by_test_id("stExpander").filter(has_text="Value translation")
    expect(tables.get_by_test_id("stDataFrame")).to_have_count(2, timeout=UI_TIMEOUT)
    expect(tables.get_by_text("status · 5 values")).to_be_visible()
    # the planner corrects one translation in the table: works about to start are committed
    # (rows by count: completed, cancelled, in progress, about to start, forward planning)
    status_table = tables.get_by_test_id("stDataFrame").nth(1)
    row = 35  # header and row height of the data editor, in pixels
    saved = tmp_path / "htdd_ashford_2018-06_mapping.toml"

    def edit_the_translation() -> bool:
        """Type the translation into its cell's editor; False when the editor did not open."""
        status_table.scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
        idle(page)  # a grid laid out again by a rerun drops the keys typed into it
        box = status_table.bounding_box()
        assert box is not None
        page.mouse.dblclick(box["x"] + box["width"] - 40, box["y"] + row * 4 + row / 2)
        # keys typed before the cell's editor (a drop-down in the grid's overlay) is open are lost
        try:
            page.locator("#portal input").first.wait_for(timeout=UI_TIMEOUT)
        except PlaywrightError:
            return False
        page.keyboard.type("committed")
        page.keyboard.press("Enter")
        return True

    def downloaded_translation() -> str | None:
        """The translation in the mapping the page offers now (None: no download)."""
        try:
            with page.expect_download(timeout=UI_TIMEOUT) as download:
                page.get_by_role("button", name="Download this mapping").click()
            if download.value.suggested_filename != saved.name:
                # served while the page reran: the media file of the old run, not the mapping
                return None
            download.value.save_as(saved)
        except PlaywrightError:  # a download started while the page reruns is cancelled
            return None
        return load_mapping(saved).values["status"]["planned work about to start"]

    # the mapping built here, downloaded, reads the same file the same way next year; an edit
    # typed while the grid was being laid out again is lost (its cell does not show it: edit
    # again), and a kept edit reaches the server with a rerun, so a download may still hold
    # the mapping before it (download again once the page is idle)
    cell = (
        status_table.locator("[role=row]")
        .filter(has_text="planned work about to start")
        .locator("[role=gridcell]")
        .last
    )
    for _ in range(5):
        if not edit_the_translation():
            continue
        try:
            expect(cell).to_have_text("committed", timeout=UI_TIMEOUT)
        except AssertionError:
            continue
        screenshot(page, "upload_translation")
        for _ in range(20):
            idle(page)
            if downloaded_translation() == "committed":
                break
        else:
            continue
        break
    assert load_mapping(saved).values["status"]["planned work about to start"] == "committed"
    again = read_works(path, mapping=load_mapping(saved))
    assert len(again.works) == len(raw) and again.warnings == []
    assert again.works.groupby("org").size().to_dict() == promoters.to_dict()
    store_button = page.get_by_role(
        "button", name=f"Store as new plan versions of {len(promoters)} organisations"
    )
    store_button.click()
    top = promoters.index[0]
    expect(page.get_by_text(f"Stored {promoters[top]} works of {top}")).to_be_visible(
        timeout=60_000
    )
    works = open_store(empty_app_server["store"]).works()
    assert works.groupby("org").size().to_dict() == promoters.to_dict()
    about_to_start = int((raw["e__works_state"] == "Planned work about to start").sum())
    assert int((works["status"] == "committed").sum()) == about_to_start == 14
    conflicts = find_conflicts(works)
    between = conflicts[conflicts["kind"] != "internal"]
    pairs = len(between[["org_a", "org_b"]].drop_duplicates())
    assert len(between) > 0 and pairs > 1
    expect(page.get_by_text(f"{len(between)} conflicts (")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"between {pairs} pairs of organisations")).to_be_visible()
    screenshot(page, "upload_feed")


def test_planning_cycle_page_in_a_browser(page: Page, tmp_path):
    from ims_geo import cycle
    from tests.test_cycle import SAVINGS, YEAR, build, hand_programme, monitored
    from tests.ui.conftest import serve_app

    store_path = tmp_path / "cycle.gpkg"
    store = build(store_path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14",
                decision_date="2027-02-01", savings=SAVINGS)  # fmt: skip
    monitored(store)
    aborted = block_remote(page)
    with serve_app(store_path, tmp_path) as url:
        page.goto(f"{url}/cycle")
        expect(
            page.get_by_test_id("stHeading").filter(has_text=f"Where {YEAR} stands")
        ).to_be_visible(timeout=UI_TIMEOUT)
        expect(page.get_by_text("programme adopted: revision 1 (Council 2027/14")).to_be_visible(
            timeout=UI_TIMEOUT
        )
        expect(page.get_by_text("4 of 8 organisations reported progress")).to_be_visible()
        page.get_by_role("tab", name="Adopted programme").click()
        expect(page.get_by_text("Revision 1 adopted on 1 Feb 2027: Council 2027/14")).to_be_visible(
            timeout=UI_TIMEOUT
        )
        page.locator("[data-testid=stDataFrame]:visible").first.wait_for(timeout=UI_TIMEOUT)
        screenshot(page, "cycle")
        page.get_by_role("tab", name="Council pack").click()
        page.get_by_role("button", name="Build the report").click()
        button = page.get_by_test_id("stDownloadButton").get_by_role("button", name="Download HTML")
        button.wait_for(timeout=60_000)
        with page.expect_download(timeout=UI_TIMEOUT) as download:
            button.click()
        assert download.value.suggested_filename == f"council_report_{YEAR}.html"
        html = Path(download.value.path()).read_text(encoding="utf-8")
        assert "Council 2027/14" in html
        # self-contained: nothing is fetched from anywhere
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?:|url\(\s*["']?https?:""", html)
    assert aborted == []


@pytest.mark.postgis
def test_sign_in_then_the_map_of_a_shared_store_in_a_browser(
    page: Page, shared_installation, tmp_path
):
    from access_data import B_SECRET_TITLE, PASSWORD, populate

    from .conftest import serve_app

    inst = populate(shared_installation.owner_url, shared_installation.app_url)
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as seen:
        works = seen.works()  # what A's planner may see: B's private work as a signal
    conflicts = find_conflicts(works)
    problems = conflicts[conflicts["kind"].isin(["clash", "moratorium"])]
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlparse(route.request.url).hostname == "127.0.0.1"
            else route.abort()
        ),
    )
    with serve_app(inst.app_url, tmp_path) as url:
        # a visitor gets the public view and the sign-in, nothing else
        page.goto(f"{url}/")
        page.get_by_test_id("stApp").wait_for()
        expect(page.get_by_text("Planned street works")).to_be_visible(timeout=UI_TIMEOUT)
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_text("Map", exact=True)).to_have_count(0)
        nav.get_by_text("Sign in / out").click()
        page.get_by_role("textbox", name="User name").fill("a_plan")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("planner of A")).to_be_visible(timeout=UI_TIMEOUT)
        # the map, reached through the navigation (the sign-in lives in this browser session)
        nav.get_by_text("Map", exact=True).click()
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        paths = frame.locator("path.leaflet-interactive")
        paths.first.wait_for(state="attached", timeout=60_000)
        expect(paths).to_have_count(drawn_paths(works) + drawn_paths(problems), timeout=UI_TIMEOUT)
        html = frame.locator("html").inner_html()
        assert "A secret" in html  # A's own private work, in full
        for secret in (B_SECRET_TITLE, "987654", "B fund", "K2-secret-code", "2027-03-17"):
            assert secret not in html and secret not in page.content()
        screenshot(page, "shared_map_signed_in")
        # signing out leaves the public view only
        nav.get_by_text("Sign in / out").click()
        page.get_by_role("button", name="Sign out").click()
        expect(nav.get_by_text("Map", exact=True)).to_have_count(0, timeout=UI_TIMEOUT)
