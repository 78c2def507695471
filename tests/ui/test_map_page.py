"""The Map page under AppTest, on the demo store: layers, filters, search, zoom and links."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ims_geo import maps
from ims_geo.conflicts import find_conflicts
from ims_geo.cycle import moratoria
from ims_geo.store import open_store
from ims_geo.ui import links

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="module")
def demo(demo_store):
    store = open_store(demo_store)
    works = store.works()
    assert moratoria(store).empty  # no moratoria layer on the demo map
    return works, find_conflicts(works)


def features(script: str) -> int:
    """Features in a map's script, GeoJSON or compact (checked in tests/test_maps.py)."""
    return maps.feature_count(script)


def table_with(at, column: str) -> pd.DataFrame:
    """The page's table that has ``column`` (tables without selection have no widget key)."""
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


def view_centre(bounds) -> tuple[float, float]:
    west, south, east, north = bounds
    return ((south + north) / 2, (west + east) / 2)


def test_map_shows_every_work_and_the_problem_conflicts_offline(open_app, folium_args, demo):
    works, conflicts = demo
    at = open_app("map")
    args = folium_args(at)
    problems = min(conflicts["kind"].isin(["clash", "moratorium"]).sum(), maps.MAX_DRAWN_CONFLICTS)
    # every work is drawn, so no work is outside the filters; the streets drawn
    # from the plans are the one basemap feature
    assert features(args["script"]) == len(works) + problems + 1
    assert args["js_links"] == [maps.LEAFLET_JS]
    assert args["css_links"] == [maps.LEAFLET_CSS]
    assert "https://" not in args["script"] and "http://" not in args["script"]
    assert args["returned_objects"] == ["last_object_clicked", "last_object_clicked_tooltip"]
    for org in works["org"].unique():
        assert f'"{org}" : ims_layer_' in args["script"]
    # one area: the map opens on every work
    box = works.to_crs(4326).total_bounds
    assert args["center"] == pytest.approx(view_centre(box), abs=1e-6)
    # every drawn conflict carries its link key, and its popup links the conflict list
    found = re.findall(
        r'"kind":"([^"]*)","severity":"[^"]*","score":[^,]*,"org_a":"([^"]*)",'
        r'"work_id_a":"([^"]*)","org_b":"([^"]*)","work_id_b":"([^"]*)"',
        args["script"],
    )
    keys = {"~".join(parts) for parts in found}
    problem_rows = conflicts[conflicts["kind"].isin(["clash", "moratorium"])]
    assert keys == set(links.conflict_keys(problem_rows))
    assert '"conflicts?conflict="' in args["script"]


def test_period_layer_and_kind_filters(open_app, folium_args, demo):
    works, conflicts = demo
    at = open_app("map")
    slider = at.select_slider(key="map_period")
    first = works["start_date"].min().to_period("M").to_timestamp() + pd.DateOffset(months=12)
    last = first + pd.DateOffset(months=11)
    assert slider.options[12] == first.strftime("%b %Y")
    slider.set_range(first, last)
    at.radio(key="map_layer").set_value("subsurface")
    at.multiselect(key="map_kinds").set_value(["clash", "moratorium", "synergy"])
    at.run()
    assert not at.exception
    last_day = last + pd.offsets.MonthEnd(0)
    shown = (
        (works["start_date"] <= last_day)
        & (works["end_date"] >= first)
        & (works["layer"] == "subsurface")
    )
    span_first = conflicts[["start_a", "start_b"]].min(axis=1)
    span_last = conflicts[["end_a", "end_b"]].max(axis=1)
    drawn = (span_first <= last_day) & (span_last >= first)
    # the works outside the filters are one thin dashed feature, the basemap another
    assert 0 < shown.sum() < len(works)
    drawn = min(drawn.sum(), maps.MAX_DRAWN_CONFLICTS)
    script = folium_args(at)["script"]
    assert features(script) == shown.sum() + drawn + 1 + 1
    assert maps.OUTSIDE_COLOUR in script and "Works outside the filters" in script


def test_no_conflict_kind_and_one_organisation(open_app, folium_args, demo):
    works, _ = demo
    org = sorted(works["org"].unique())[2]
    at = open_app("map")
    at.multiselect(key="map_orgs").set_value([org])
    at.multiselect(key="map_kinds").set_value([])
    at.run()
    script = folium_args(at)["script"]
    assert features(script) == (works["org"] == org).sum() + 1 + 1
    assert '"Conflicts" : ims_layer_' not in script


# --- search -------------------------------------------------------------------------------
def plain(text: object) -> str:
    """Casefolded, without accents: how a search box compares (written out independently)."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_search_a_street_zooms_to_and_outlines_every_work_on_it(open_app, folium_args, demo):
    works, _ = demo
    at = open_app("map")
    before = folium_args(at)
    at.text_input(key="map_search").input("Etelaesplanadi").run()
    assert not at.exception
    # the street is in the titles and in the plans' own street columns, with its accent
    streets = [c for c in works.columns if c.casefold() in {"street", "katu", "gata"}]
    hit = [
        any("etelaesplanadi" in plain(v) for v in [row["title"], *(row[c] for c in streets)]
            if isinstance(v, str))
        for _, row in works.iterrows()
    ]  # fmt: skip
    expected = works[hit]
    assert 5 < len(expected) < len(works)
    args = folium_args(at)
    assert features(args["feature_group"]) == len(expected)
    # the same map, moved and outlined: not drawn again in the browser
    assert args["key"] == before["key"] and args["script"] == before["script"]
    centre, zoom = maps.view_of(tuple(expected.to_crs(4326).total_bounds), width=800, height=560)
    assert args["center"] == pytest.approx(centre, abs=1e-4)
    assert args["zoom"] == zoom
    assert [h.value for h in at.subheader] == [f"{len(expected)} works match"]
    results = at.dataframe(key="map_search_results").value
    assert sorted(results["Work"]) == sorted(expected["work_id"])


def test_search_a_work_id_then_a_street_nobody_works_in(open_app, folium_args, demo):
    works, _ = demo
    at = open_app("map")
    # punctuation and case do not count; the exact id comes first
    at.text_input(key="map_search").input("w2028 010").run()
    results = table_with(at, "Found by")
    assert list(results["Work"]) == ["W2028-010"]
    assert list(results["Found by"]) == ["work id"]
    expected = works[works["work_id"] == "W2028-010"]
    args = folium_args(at)
    assert features(args["feature_group"]) == 1
    centre, zoom = maps.view_of(tuple(expected.to_crs(4326).total_bounds), width=800, height=560)
    assert args["center"] == pytest.approx(centre, abs=1e-6) and args["zoom"] == min(zoom, 18)
    # nothing matches: no outline, the view stays, the page says so
    at.text_input(key="map_search").input("no such street 12345").run()
    assert not at.exception
    assert [h.value for h in at.subheader] == ["0 works match"]
    assert not folium_args(at).get("feature_group")
    assert at.query_params.get("work") is None


# --- links --------------------------------------------------------------------------------
def test_a_work_link_opens_the_map_on_the_work_with_its_conflicts(
    open_app, folium_args, demo, monkeypatch, demo_store
):
    works, conflicts = demo
    involved_counts = pd.concat(
        [conflicts[["org_a", "work_id_a"]].set_axis(["org", "work_id"], axis=1),
         conflicts[["org_b", "work_id_b"]].set_axis(["org", "work_id"], axis=1)]
    ).value_counts()  # fmt: skip
    org, work_id = involved_counts.index[0]
    work = works[(works["org"] == org) & (works["work_id"] == work_id)]
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("IMS_GEO_STORE", str(demo_store))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update({"org": org, "work": work_id})
    at.run()
    at.switch_page("ims_geo/ui/pages/map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"{org} · {work_id}" in [h.value for h in at.subheader]
    args = folium_args(at)
    assert features(args["feature_group"]) == 1
    centre, zoom = maps.view_of(tuple(work.to_crs(4326).total_bounds), width=800, height=560)
    assert args["center"] == pytest.approx(centre, abs=1e-6) and args["zoom"] == min(zoom, 18)
    table = table_with(at, "Conflict list")
    mine = conflicts[
        ((conflicts["org_a"] == org) & (conflicts["work_id_a"] == work_id))
        | ((conflicts["org_b"] == org) & (conflicts["work_id_b"] == work_id))
    ]
    assert len(table) == len(mine) == involved_counts.iloc[0]
    assert sorted(table["Conflict list"]) == sorted(
        links.conflict_link(row) for row in mine.to_dict("records")
    )
    details = table_with(at, "Field")
    assert dict(zip(details["Field"], details["Value"], strict=True))["Work"] == work_id


def test_a_link_to_an_unknown_work_says_so(monkeypatch, demo_store, folium_args):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("IMS_GEO_STORE", str(demo_store))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update({"org": "<b>Nobody</b>", "work": "W-0"})
    at.run()
    at.switch_page("ims_geo/ui/pages/map.py").run()
    assert not at.exception
    (warning,) = at.warning
    assert "not in the store" in warning.value and "\\<b\\>Nobody\\</b\\>" in warning.value
    assert not folium_args(at).get("feature_group")


# --- areas far apart ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_towns(demo_store, tmp_path_factory):
    """The demo store plus a copy of one plan 200 km east (another town)."""
    from ims_geo.schema import validate

    path = tmp_path_factory.mktemp("towns") / "towns.gpkg"
    shutil.copyfile(demo_store, path)
    store = open_store(path)
    works = store.works()
    fibre = works[works["org"] == "Nordic Fibre Networks"].copy()
    fibre["geometry"] = shapely.transform(fibre.geometry.to_numpy(), lambda xy: xy + [200_000, 0])
    fibre["org"] = "Savo Fibre"
    plan = validate(gpd.GeoDataFrame(fibre, crs=works.crs)).valid
    store.import_plan(plan, org="Savo Fibre", cycle=2026, source="savo.gpkg")
    return path


def test_far_apart_works_open_on_the_largest_area_and_zoom_to_another(
    open_app, folium_args, two_towns
):
    works = open_store(two_towns).works()
    at = open_app("map", store=two_towns)
    zoom = at.selectbox(key="map_zoom")
    savo = works[works["org"] == "Savo Fibre"]
    helsinki = works[works["org"] != "Savo Fibre"]
    assert list(zoom.options[:3]) == [
        "All works",
        f"Area: Helsinki Water ({len(helsinki):,} works)",
        f"Area: Savo Fibre ({len(savo)} works)",
    ]
    assert "Organisation: Savo Fibre" in zoom.options
    before = folium_args(at)
    centre, level = maps.view_of(tuple(helsinki.to_crs(4326).total_bounds), width=800, height=560)
    assert before["center"] == pytest.approx(centre, abs=1e-6) and before["zoom"] == level
    zoom.set_value("area:1").run()
    after = folium_args(at)
    centre, level = maps.view_of(tuple(savo.to_crs(4326).total_bounds), width=800, height=560)
    assert after["center"] == pytest.approx(centre, abs=1e-6) and after["zoom"] == level
    # the filters did not change: the same map is moved, not drawn again
    assert after["key"] == before["key"]
    zoom.set_value("all").run()
    everything = tuple(works.to_crs(4326).total_bounds)
    centre, level = maps.view_of(everything, width=800, height=560)
    assert folium_args(at)["center"] == pytest.approx(centre, abs=1e-6)
    assert folium_args(at)["zoom"] == level


# --- clicks (st_folium's return value set as the browser would) -----------------------------
def click(at, folium_args, tooltip: str, lat: float = 60.17, lng: float = 24.94) -> None:
    """Report a click on the map's feature with ``tooltip``, then run the page."""
    at.session_state[folium_args(at)["key"]] = {
        "last_object_clicked": {"lat": lat, "lng": lng},
        "last_object_clicked_tooltip": tooltip,
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_click_on_a_work_selects_it_and_puts_its_address_in_the_url(open_app, folium_args, demo):
    works, _ = demo
    at = open_app("map")
    before = folium_args(at)
    click(at, folium_args, "Helsinki Water · W2028-010")
    assert at.query_params["org"] == "Helsinki Water"
    assert at.query_params["work"] == "W2028-010"
    assert "Helsinki Water · W2028-010" in [h.value for h in at.subheader]
    args = folium_args(at)
    # outlined where it is: the view does not jump, the map is not drawn again
    assert features(args["feature_group"]) == 1
    assert args["key"] == before["key"] and args.get("zoom") is None


def test_a_click_on_a_conflict_links_it_in_the_conflict_list(open_app, folium_args, demo):
    works, conflicts = demo
    row = conflicts[conflicts["kind"] == "clash"].iloc[0]
    at = open_app("map")
    tooltip = " · ".join(str(row[c]) for c in ("kind", "org_a", "work_id_a", "org_b", "work_id_b"))
    click(at, folium_args, tooltip)
    (link,) = at.get("page_link")
    assert link.proto.page == "conflicts"
    assert link.proto.label == "Open in the conflict list"
    assert link.proto.query_string == links.conflict_link(row).split("?", 1)[1]
    # a conflict is not a work: nothing is selected, the address stays
    assert "work" not in at.query_params
    heading = [h.value for h in at.subheader][0]
    assert heading.startswith("Conflict: clash · ")


def test_zoom_to_an_organisation(open_app, folium_args, demo):
    works, _ = demo
    at = open_app("map")
    zoom = at.selectbox(key="map_zoom")
    orgs = sorted(works["org"].unique())
    # one area: no area to choose, every organisation to zoom to
    assert list(zoom.options) == ["All works", *(f"Organisation: {o}" for o in orgs)]
    zoom.set_value("org:3").run()
    mine = works[works["org"] == orgs[3]]
    centre, level = maps.view_of(tuple(mine.to_crs(4326).total_bounds), width=800, height=560)
    args = folium_args(at)
    assert args["center"] == pytest.approx(centre, abs=1e-6) and args["zoom"] == level
