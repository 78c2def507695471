"""One planning cycle walked in a real browser (Chromium), as its users would: the page
says what comes next and who does it; a coordinator adopts; a planner reports progress;
the council pack downloads as a workbook whose ids are text."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from ims_geo import cycle
from ims_geo.store import open_store
from tests.test_cycle import YEAR, build
from tests.ui.conftest import block_remote, idle, serve_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

UI_TIMEOUT = 30_000


@pytest.fixture
def cycle_server(tmp_path: Path) -> Iterator[dict]:
    """The app over the cycle scenario's store (every organisation's 2027 plan)."""
    store = tmp_path / "cycle.gpkg"
    build(tmp_path / "built.gpkg")
    shutil.copyfile(tmp_path / "built.gpkg", store)
    with serve_app(store, tmp_path) as url:
        yield {"url": url, "store": store}


def test_a_year_of_the_cycle_in_the_browser(page: Page, cycle_server: dict) -> None:
    aborted = block_remote(page)
    page.set_default_timeout(2 * UI_TIMEOUT)  # a busy machine reruns slowly; never a sleep
    page.goto(f"{cycle_server['url']}/cycle")
    expect(page.get_by_text(f"Where {YEAR} stands")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("A coordinator adopts the programme under")).to_be_visible()
    idle(page)

    page.get_by_role("tab", name="Adopted programme").click()
    page.get_by_label("Decision reference").fill("Council 2027/14")
    page.get_by_role("button", name="Adopt", exact=True).click()
    expect(page.get_by_text("Adopted revision 1.")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Planners report their works' progress under")).to_be_visible()
    store = open_store(cycle_server["store"])
    assert cycle.revisions(store, YEAR)["decision"].tolist() == ["Council 2027/14"]
    idle(page)

    page.get_by_role("tab", name="Monitoring").click()
    _choose(page, "Organisation", "Water")
    idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "water.csv", "mimeType": "text/csv",
                "buffer": b"work_id,status,actual_start,actual_end\nW1,done,2027-05-03,2027-05-22\n"}]
    )  # fmt: skip
    idle(page)  # the upload's rerun, which shows the button
    page.get_by_role("button", name="Store progress").click()
    expect(page.get_by_text("1 progress reports stored, 0 rejected")).to_be_visible(
        timeout=UI_TIMEOUT
    )
    reported = cycle.progress(store, YEAR)
    assert reported[["org", "work_id", "status"]].values.tolist() == [["Water", "W1", "done"]]
    idle(page)

    page.get_by_role("tab", name="Council pack").click()
    page.get_by_role("button", name="Build the report").click()
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Download Excel").click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = list(book["Progress"].iter_rows(values_only=False))
    assert [c.value for c in rows[0]][:3] == ["Organisation", "Work", "Status"]
    (water,) = rows[1:]
    assert (water[0].value, water[1].value, water[1].data_type) == ("Water", "W1", "s")
    programme = {(r[1].value, r[2].value) for r in book["Programme"].iter_rows(min_row=2)}
    expected = cycle.programme(store, YEAR)
    assert programme == set(zip(expected["org"], expected["work_id"], strict=True))
    assert aborted == []


def _choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the select box ``label``; a rerun that lands while the list is
    open closes it, so the list is opened again (a few times at most) until it shows."""
    box = page.get_by_role("combobox", name=label)
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        idle(page)
        box.click()
        try:
            choice.click(timeout=UI_TIMEOUT)
            return
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    raise AssertionError(f"the select box {label!r} never listed {option!r}")
