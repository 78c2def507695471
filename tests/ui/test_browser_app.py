"""The whole app in a real browser: accessibility of every page, and a planner's session.

Headless Debian Chromium through Playwright against one app server over a copy
of the demo store (network to anything but 127.0.0.1 aborted and recorded).

* Accessibility: axe-core (``tests/vendor/axe-core/``, from the npm registry) is
  injected into every frame of every page the navigation offers, and after the
  programme page's main action (a proposed programme); a violation of
  impact ``serious`` or ``critical`` fails the test with the rule, the element and
  axe's own explanation.
* A planner's session: find a street and see the map zoom to it, open a conflict
  by its link, switch to Dutch (and German by the address) and read every page in
  it, keep a combined project and propose again.

Screenshots of every page in every language go to ``test-output/screenshots/app/``
(ignored by git; CI keeps them as artifacts). ``IMS_GEO_SCREENSHOTS=1`` also
refreshes the README's pictures in ``docs/screenshots/`` (map, conflicts,
programme, planning cycle).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from ims_geo import i18n
from ims_geo.cycle.moratoria import store_conflicts
from ims_geo.store import open_store
from ims_geo.ui import links
from tests.ui.conftest import block_remote, idle

pytestmark = [
    pytest.mark.browser,
    # a group of its own (its own app server): the other browser tests run meanwhile on the
    # other worker
    pytest.mark.xdist_group("browser_app"),
    # pytest-base-url's session fixture (pulled in by pytest-playwright) is an
    # instance method, which pytest 9 warns about
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-output" / "screenshots" / "app"
DOCS = ROOT / "docs" / "screenshots"
UI_TIMEOUT = 30_000
MAP_TIMEOUT = 60_000
FOLIUM_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: The impacts that fail the accessibility check (axe-core: minor < moderate < serious < critical).
FAILING_IMPACTS = ("serious", "critical")
#: Violations that come from Streamlit's or Leaflet's own markup and cannot be fixed from the
#: app: ``{rule id: (CSS selector of the exact target, why)}``. Empty: the app passes as it is.
EXCLUDED: dict[str, tuple[str, str]] = {}

#: Runs axe in one document only (each frame is checked on its own: the Leaflet map
#: is a srcdoc iframe) and returns the failing violations in a plain form.
RUN_AXE = """async ([impacts]) => {
    const result = await axe.run(document, {resultTypes: ["violations"], iframes: false});
    return result.violations
        .filter((v) => impacts.includes(v.impact))
        .map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(" "), why: n.failureSummary})),
        }));
}"""


@pytest.fixture(scope="module")
def served(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One app server for this module, over a copy of the demo store it may write to."""
    from tests.ui.conftest import serve_app

    folder = tmp_path_factory.mktemp("app")
    store = folder / "store.gpkg"
    shutil.copyfile(demo_store, store)
    with serve_app(store, folder) as url:
        yield {"url": url, "store": store}


@pytest.fixture
def local(page: Page) -> Iterator[Page]:
    """The browser page with every request beyond 127.0.0.1 aborted; none may be made."""
    aborted = block_remote(page)
    yield page
    assert aborted == []


def open_page(page: Page, url: str) -> None:
    """Navigate and wait for the run to end and any Leaflet map on it to draw."""
    page.goto(url)
    page.get_by_test_id("stApp").wait_for(timeout=UI_TIMEOUT)
    settle(page)


def settle(page: Page) -> None:
    """Wait for the page's run to end and any Leaflet map on it to draw (a reader's pace)."""
    idle(page)
    for i in range(page.locator(FOLIUM_FRAME).count()):
        frame = page.frame_locator(FOLIUM_FRAME).nth(i)
        frame.locator(".leaflet-container").wait_for(state="attached", timeout=MAP_TIMEOUT)


def pages_offered(page: Page, url: str) -> list[str]:
    """The URL paths of every page in the navigation (the default page is ``""``)."""
    open_page(page, f"{url}/")
    links = page.get_by_test_id("stSidebarNav").locator("a")
    links.first.wait_for(timeout=UI_TIMEOUT)
    paths = [
        urlparse(h or "").path.strip("/") for h in links.evaluate_all("l => l.map(a => a.href)")
    ]
    assert "" in paths and "map" in paths, paths
    return paths


def page_heading(page: Page) -> str:
    """The page's title as it reads."""
    heading = page.locator("[data-testid=stMain] h1").first
    heading.wait_for(timeout=UI_TIMEOUT)
    return heading.inner_text().strip()


def screenshot(page: Page, name: str, docs: str | None = None) -> None:
    """A full-page screenshot to :data:`SHOTS`; with ``IMS_GEO_SCREENSHOTS=1`` also the
    README's picture ``docs/screenshots/<docs>.png`` (what the window shows)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    if docs is not None and os.environ.get("IMS_GEO_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        # the page from its top (a step may have scrolled a table into view)
        page.evaluate(
            "() => document.querySelectorAll('*').forEach((e) => { if (e.scrollTop) e.scrollTop = 0; })"
        )
        page.wait_for_timeout(300)
        page.screenshot(path=DOCS / f"{docs}.png")


def axe_violations(page: Page, where: str) -> list[str]:
    """Serious and critical axe-core violations in every frame of the page, one line each."""
    source = AXE.read_text(encoding="utf-8")
    found: list[str] = []
    for frame in page.frames:
        if frame.is_detached() or frame.url.startswith("chrome-error:"):
            continue
        if not frame.evaluate("() => typeof axe !== 'undefined'"):
            frame.evaluate(source)
        for rule in frame.evaluate(RUN_AXE, [list(FAILING_IMPACTS)]):
            for node in rule["nodes"]:
                excluded = EXCLUDED.get(rule["id"])
                if excluded is not None and node["target"] == excluded[0]:
                    continue
                found.append(
                    f"{where} [{rule['impact']}] {rule['id']} ({rule['help']}): "
                    f"{node['target']} — {node['why']}"
                )
    return found


#: Seconds the solver may take in these tests (the demo store's parts solve well within it).
SOLVER_SECONDS = 5


def propose(page: Page) -> None:
    """Press Propose programme with a short solver time limit (the same in every test: the
    app keeps a proposal per inputs, so a second test reuses the first one's)."""
    limit = page.get_by_role("group", name="Solver time limit (s)").locator("input")
    if limit.input_value() != str(SOLVER_SECONDS):
        limit.fill(str(SOLVER_SECONDS))
        limit.press("Enter")
        expect(limit).to_have_value(str(SOLVER_SECONDS))
        idle(page)
    page.get_by_role("button", name="Propose programme").click()


@pytest.fixture(scope="module")
def english_walk(browser: Browser, browser_context_args: dict, served: dict) -> dict:
    """Every page the navigation offers, opened once in English and kept for the checks of
    the tests below (what each one reads of the walk is what it would read walking again):
    ``paths`` (the pages' URL paths), ``headings`` (each page's title), ``violations``
    (axe-core's serious and critical ones), ``aborted`` (requests beyond 127.0.0.1).
    A screenshot of each page goes to :data:`SHOTS` as ``<page>_en.png``."""
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    aborted = block_remote(page)
    url = served["url"]
    headings: dict[str, str] = {}
    found: list[str] = []
    try:
        paths = pages_offered(page, url)
        for path in paths:
            open_page(page, f"{url}/{path}")
            headings[path] = page_heading(page)
            screenshot(page, f"{path or 'overview'}_en", docs="cycle" if path == "cycle" else None)
            found += axe_violations(page, f"/{path}")
    finally:
        context.close()
    return {"paths": paths, "headings": headings, "violations": found, "aborted": aborted}


def test_every_page_has_no_serious_accessibility_violation(
    local: Page, served: dict, english_walk: dict
) -> None:
    page, url = local, served["url"]
    # the walk opened every page the navigation offers
    assert english_walk["aborted"] == [] and list(english_walk["headings"]) == english_walk["paths"]
    found = list(english_walk["violations"])
    # the programme page's main content appears only once a programme is proposed
    open_page(page, f"{url}/programme")
    propose(page)
    expect(page.get_by_test_id("stTab").first).to_be_visible(timeout=MAP_TIMEOUT * 2)
    idle(page, MAP_TIMEOUT * 2)
    found += axe_violations(page, "/programme (proposed)")
    assert found == [], "\n".join(found)


# --- a planner's session ---------------------------------------------------------------------
def leaflet(page: Page) -> Frame:
    """The frame of the page's (first) Leaflet map, once it has drawn features."""
    page.frame_locator(FOLIUM_FRAME).first.locator("path.leaflet-interactive").first.wait_for(
        state="attached", timeout=MAP_TIMEOUT
    )
    frames = [f for f in page.frames if f.url.split("?")[0].endswith("st_folium/index.html")]
    assert len(frames) >= 1, [f.url for f in page.frames]
    return frames[0]


def test_a_street_searched_for_zooms_the_map_onto_its_works(local: Page, served: dict) -> None:
    page, url = local, served["url"]
    works = open_store(served["store"]).works()
    street = "Mikonkatu"
    # brute force: every work whose street column names the street, in map coordinates
    on_street = works[works["street"].astype("string").str.casefold() == street.casefold()]
    assert len(on_street) > 5
    west, south, east, north = on_street.to_crs(4326).total_bounds
    open_page(page, f"{url}/map")
    frame = leaflet(page)
    before = frame.evaluate("() => window.map.getZoom()")
    search = page.get_by_test_id("stTextInput").filter(has_text="Search").locator("input")
    search.fill(street)
    search.press("Enter")
    frame.wait_for_function("z => window.map.getZoom() > z", arg=before, timeout=UI_TIMEOUT)
    idle(page)
    frame = leaflet(page)
    view = frame.evaluate(
        """() => { const b = window.map.getBounds(), c = window.map.getCenter();
                   return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth(), c.lng, c.lat,
                           window.map.getZoom()]; }"""
    )
    assert view[6] > before
    # the map looks at the street: centred inside its works' box, every one of them in view
    assert west <= view[4] <= east and south <= view[5] <= north, (view, on_street.total_bounds)
    assert view[0] <= west and view[1] <= south and view[2] >= east and view[3] >= north, view
    screenshot(page, "map_search_en", docs="map")
    # the search's outlines and results table pass the accessibility check too
    problems = axe_violations(page, "/map (searched)")
    assert problems == [], "\n".join(problems)


def test_a_conflict_opened_by_its_link_is_selected_and_explained(local: Page, served: dict) -> None:
    page, url = local, served["url"]
    store = open_store(served["store"])
    found = store_conflicts(store, store.works())
    # the fourth worst, not the first (that one the list shows first anyway): the link picks
    # it, and the grid has it among the rows it renders
    ranked = found.sort_values("score", ascending=False, kind="stable")
    chosen = ranked.iloc[3]
    assert ranked["score"].iloc[2] > chosen["score"] > ranked["score"].iloc[4]
    key = links.conflict_key(chosen)
    open_page(page, f"{url}/conflicts?{links.CONFLICT}={quote(key)}")
    pair = f"{chosen['org_a']} · {chosen['work_id_a']} ↔ {chosen['org_b']} · {chosen['work_id_b']}"
    expect(page.get_by_test_id("stHeading").filter(has_text=pair)).to_be_visible(timeout=UI_TIMEOUT)
    expect(
        page.get_by_test_id("stExpander").filter(has_text="Why, and how to resolve it")
    ).to_be_visible()
    # the table's selected row is that conflict, and the address still names it
    selected = page.locator("[data-testid=stDataFrame] [role=row][aria-selected=true]")
    expect(selected.first).to_contain_text(str(chosen["work_id_a"]), timeout=UI_TIMEOUT)
    assert parse_qs(urlparse(page.url).query)[links.CONFLICT] == [key]
    screenshot(page, "conflict_linked_en", docs="conflicts")
    # and so do the selected conflict and its explain panel
    problems = axe_violations(page, "/conflicts (a conflict linked)")
    assert problems == [], "\n".join(problems)


def test_every_page_speaks_dutch_and_german_once_chosen(
    local: Page, served: dict, english_walk: dict
) -> None:
    page, url = local, served["url"]
    # every page's English title, as the walk through every page read it
    paths, english = english_walk["paths"], english_walk["headings"]
    assert english_walk["aborted"] == [] and set(english) == set(paths)
    # Dutch chosen in the sidebar, then every page reached through the navigation
    open_page(page, f"{url}/")
    page.get_by_test_id("stSelectbox").filter(has_text="Language").click()
    page.get_by_role("option", name=i18n.language_name("nl")).click()
    idle(page)
    browser = page.context.browser
    assert browser is not None
    # German by the address, as a link shared by a colleague opens it: another browser
    german = browser.new_page(viewport={"width": 1400, "height": 1000})
    aborted = block_remote(german)
    try:
        for lang in ("nl", "de"):
            i18n.use(lang)
            if lang == "de":
                page = german
                open_page(page, f"{url}/?lang=de")
            nav = page.get_by_test_id("stSidebarNav")
            for path in paths:
                if path:
                    nav.locator(f'a[href$="/{path}"]').first.click()
                    page.wait_for_url(f"**/{path}?**", timeout=UI_TIMEOUT)
                    settle(page)
                want = i18n._(english[path])
                assert want != english[path], f"no {lang} translation of {english[path]!r}"
                expect(page.locator("[data-testid=stMain] h1").first).to_have_text(
                    want, timeout=UI_TIMEOUT
                )
                assert parse_qs(urlparse(page.url).query).get("lang") == [lang]
                for name in ("Map", "Conflicts", "Programme"):
                    expect(nav).to_contain_text(i18n._(name))
                screenshot(page, f"{path or 'overview'}_{lang}")
    finally:
        i18n.use("en")
        german.close()
    assert aborted == []


def project_rows(page: Page) -> list[list[str]]:
    """The combined projects table's rows as its cells read (the grid's accessible table)."""
    grid = page.get_by_test_id("stDataFrame").filter(
        has=page.locator("[role=columnheader]", has_text="Keep")
    )
    rows = grid.locator("[role=row]:has([role=gridcell])")
    return [r.locator("[role=gridcell]").all_inner_texts() for r in rows.all()]


def test_a_kept_project_stays_as_it_was_when_proposing_again(local: Page, served: dict) -> None:
    page, url = local, served["url"]
    open_page(page, f"{url}/programme")
    propose(page)
    grid = page.get_by_test_id("stDataFrame").filter(
        has=page.locator("[role=columnheader]", has_text="Keep")
    )
    grid.wait_for(timeout=MAP_TIMEOUT * 2)
    idle(page, MAP_TIMEOUT * 2)
    first = project_rows(page)[0]
    assert first[0] == "false"
    expect(page.get_by_text("0 projects kept")).to_be_visible()
    # tick Keep on the first project (the checkbox column is the grid's first)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    row = 35  # header and row height of the data editor, in pixels
    page.mouse.click(box["x"] + 30, box["y"] + row + row / 2)
    expect(page.get_by_text("1 project kept")).to_be_visible(timeout=UI_TIMEOUT)
    changed = page.get_by_text("The inputs or your choices changed since this proposal")
    expect(changed).to_be_visible(timeout=UI_TIMEOUT)
    screenshot(page, "programme_kept_en")
    propose(page)
    expect(changed).to_have_count(0, timeout=MAP_TIMEOUT * 2)
    # the new proposal's table: its one kept project ticked (the grid is drawn anew)
    ticked = grid.locator("[role=row]").filter(
        has=page.locator("[role=gridcell][aria-colindex='1']", has_text=re.compile(r"^true$"))
    )
    expect(ticked).to_have_count(1, timeout=MAP_TIMEOUT * 2)
    idle(page, MAP_TIMEOUT * 2)
    # a grid drawn anew by a late rerun lists its rows a moment after it appears: read again
    deadline = time.monotonic() + MAP_TIMEOUT / 1000
    while not (kept := [r for r in project_rows(page) if r[0] == "true"]):
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    # the same project (numbers are given anew): same organisations, works, dates, savings
    assert len(kept) == 1, project_rows(page)
    assert kept[0][2:7] == first[2:7], (kept[0], first)
    expect(page.get_by_text("1 project kept")).to_be_visible()
    screenshot(page, "programme_reproposed_en", docs="programme")
