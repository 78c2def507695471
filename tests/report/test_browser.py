"""The HTML report in real headless Chromium: nothing requested from outside, the map drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from ims_geo.report import write_report

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("kind", ["council", "status"])
def test_report_opens_offline_with_the_map_drawn(data, tmp_path: Path, page, kind: str) -> None:
    path = write_report(data, tmp_path / f"{kind}.html", kind=kind)
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert failed == []
    assert errors == []
    # the document itself is the only thing loaded
    assert requests == [path.as_uri()]
    charts = page.locator("svg.gantt rect.bar")
    assert charts.count() == 6
    if kind == "council":
        paths = page.locator("svg.map path")
        assert paths.count() >= 6
        box = page.locator("svg.map").first.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 100
        # the programme in the RAG colour of its project: red lines, green lines, a green point
        drawn = page.locator("svg.map").first.locator("path.programme")
        assert drawn.count() == 3
        assert drawn.first.bounding_box()["width"] > 10
        assert page.locator("section.sheet").count() == 2
    else:
        assert page.locator("svg.map").count() == 0
