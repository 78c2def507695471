"""The works map's own JavaScript in real Chromium, without the app: what the browser builds.

A map from :func:`ims_geo.maps.works_map` is rendered to HTML with the app's
copy of Leaflet inlined and opened in headless Chromium (no network): the
compact layers decode to exactly the features of their GeoJSON, and a
conflict's popup link carries its key, escaped, whatever the organisations
are called.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import pytest
import shapely
from playwright.sync_api import Page

from ims_geo import maps
from ims_geo.schema import validate
from ims_geo.ui import links

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]

STATIC = Path(__file__).resolve().parents[2] / "static" / "leaflet"
RD = 28992
HOSTILE = "Quote ' Co\" <b>&amp;</b>"


def works() -> gpd.GeoDataFrame:
    rows = [
        dict(work_id=f"W{i}", org=org, title=f"Work {i}", discipline=d,
             start_date="2027-01-01", end_date="2027-03-01",
             geometry=shapely.LineString([(155000 + 40 * i, 463000), (155000 + 40 * i, 463080)]))
        for i, (org, d) in enumerate([("City", "road"), (HOSTILE, "water"), ("City", "sewer"),
                                      (HOSTILE, "gas"), ("City", "green")])
    ]  # fmt: skip
    return validate(gpd.GeoDataFrame(rows, geometry="geometry", crs=RD)).valid


def open_map(page: Page, fmap) -> None:  # type: ignore[no-untyped-def]
    html = fmap.get_root().render()
    # Leaflet inlined: the page needs nothing but itself
    html = html.replace(
        f'<script src="{maps.LEAFLET_JS}"></script>',
        "<script>" + (STATIC / "leaflet.js").read_text() + "</script>",
    ).replace(
        f'<link rel="stylesheet" href="{maps.LEAFLET_CSS}"/>',
        "<style>" + (STATIC / "leaflet.css").read_text() + "</style>",
    )
    assert maps.LEAFLET_JS not in html
    page.route("**/*", lambda route: route.abort())
    page.set_content(html)
    page.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length")


def test_compact_layers_decode_to_their_geojson_in_the_browser(page: Page):
    every = works()
    data = maps.prepare(every, fast_threshold=2)
    assert data.compact is not None
    open_map(page, maps.works_map(data))
    name = next(
        line.split("=")[0].replace("var", "").strip()
        for line in page.content().splitlines()
        if "ims features" in line or ("var ims_data_" in line and "function(d)" in line)
    )
    built = page.evaluate(f"() => {name}")
    assert built == json.loads(data.geojson)
    assert page.locator("path.leaflet-interactive").count() == len(every)


def test_a_conflict_popup_links_its_key_escaped(page: Page):
    every = works()
    pairs = gpd.GeoDataFrame(
        {
            "work_id_a": ["W0"], "org_a": ["City"], "work_id_b": ["W1"], "org_b": [HOSTILE],
            "kind": ["clash"], "severity": ["high"], "score": [3.0],
            "distance_m": [0.0], "gap_days": [-10],
        },
        geometry=[shapely.Point(155020, 463040)],
        crs=RD,
    )  # fmt: skip
    fmap = maps.works_map(
        maps.prepare(every),
        conflicts=maps.prepare(pairs, maps.CONFLICT_FIELDS),
        link="conflicts?conflict=",
    )
    open_map(page, fmap)
    # the conflicts are drawn first, under the works
    page.locator("path.leaflet-interactive").first.dispatch_event("click")
    anchor = page.locator(".leaflet-popup-content a")
    anchor.wait_for()
    assert anchor.inner_text() == "Open in the conflict list"
    assert anchor.get_attribute("target") == "_blank"
    href = anchor.get_attribute("href")
    # the whole key, nothing broke out of the attribute, and it opens the conflict list
    assert anchor.evaluate("a => a.attributes.length") == 3
    query = parse_qs(urlparse(href).query)
    # relative to the app's own folder (the page here is about:blank: no folder)
    assert urlparse(href).path == "conflicts"
    assert query[links.CONFLICT] == [links.conflict_key(pairs.iloc[0])]
    assert page.locator(".leaflet-popup-content b").count() == 0
    assert HOSTILE in page.locator(".leaflet-popup-content").inner_text()
