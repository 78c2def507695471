"""The Map page under AppTest, on the demo store."""

from __future__ import annotations

import pandas as pd
import pytest

from ims_geo import maps
from ims_geo.conflicts import find_conflicts
from ims_geo.store import open_store


@pytest.fixture(scope="module")
def demo(demo_store):
    works = open_store(demo_store).works()
    return works, find_conflicts(works)


def features(script: str) -> int:
    return script.count('"type": "Feature"')


def test_map_shows_every_work_and_the_problem_conflicts_offline(open_app, folium_args, demo):
    works, conflicts = demo
    at = open_app("map")
    args = folium_args(at)
    problems = min(conflicts["kind"].isin(["clash", "moratorium"]).sum(), maps.MAX_DRAWN_CONFLICTS)
    # every work is drawn, so the grey context layer is empty and left out
    assert features(args["script"]) == len(works) + problems
    assert args["js_links"] == [maps.LEAFLET_JS]
    assert args["css_links"] == [maps.LEAFLET_CSS]
    assert "https://" not in args["script"] and "http://" not in args["script"]
    assert args["returned_objects"] == ["last_object_clicked", "last_object_clicked_tooltip"]
    for org in works["org"].unique():
        assert f'"{org}" : ims_layer_' in args["script"]


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
    # the works outside the filters are the one grey context feature
    assert 0 < shown.sum() < len(works)
    drawn = min(drawn.sum(), maps.MAX_DRAWN_CONFLICTS)
    assert features(folium_args(at)["script"]) == shown.sum() + drawn + 1


def test_no_conflict_kind_and_one_organisation(open_app, folium_args, demo):
    works, _ = demo
    org = sorted(works["org"].unique())[2]
    at = open_app("map")
    at.multiselect(key="map_orgs").set_value([org])
    at.multiselect(key="map_kinds").set_value([])
    at.run()
    script = folium_args(at)["script"]
    assert features(script) == (works["org"] == org).sum() + 1
    assert '"Conflicts" : ims_layer_' not in script
