"""The Conflicts page under AppTest, on the demo store."""

from __future__ import annotations

import pandas as pd
import pytest

from ims_geo.conflicts import find_conflicts
from ims_geo.rules import Rules
from ims_geo.store import open_store


@pytest.fixture(scope="module")
def demo(demo_store):
    works = open_store(demo_store).works()
    return works, find_conflicts(works)


def table(at):
    (frame,) = [d for d in at.dataframe if d.key == "conflicts_table"]
    return frame.value


def test_every_conflict_ranked_by_score(open_app, demo, folium_args):
    _, conflicts = demo
    at = open_app("conflicts")
    shown = table(at)
    assert len(shown) == len(conflicts)
    assert shown["score"].is_monotonic_decreasing
    assert list(shown.columns[:3]) == ["kind", "severity", "score"]
    assert folium_args(at)["script"].count('"type": "Feature"') == len(conflicts) + 1


def test_filters_change_the_table(open_app, demo):
    works, conflicts = demo
    org = "Helsinki Water"
    at = open_app("conflicts")
    at.multiselect(key="conflict_kinds").set_value(["clash", "moratorium"])
    at.multiselect(key="conflict_severities").set_value(["high"])
    at.multiselect(key="conflict_orgs").set_value([org])
    first = works["start_date"].min().to_period("M").to_timestamp() + pd.DateOffset(months=6)
    last = first + pd.DateOffset(months=23)
    at.select_slider(key="conflict_period").set_range(first, last)
    at.run()
    assert not at.exception
    last_day = last + pd.offsets.MonthEnd(0)
    expected = conflicts[
        conflicts["kind"].isin(["clash", "moratorium"])
        & (conflicts["severity"] == "high")
        & ((conflicts["org_a"] == org) | (conflicts["org_b"] == org))
        & (conflicts[["start_a", "start_b"]].min(axis=1) <= last_day)
        & (conflicts[["end_a", "end_b"]].max(axis=1) >= first)
    ]
    assert 0 < len(expected) < len(conflicts)
    shown = table(at)
    assert len(shown) == len(expected)
    assert sorted(shown["work_id_a"] + "|" + shown["work_id_b"]) == sorted(
        expected["work_id_a"] + "|" + expected["work_id_b"]
    )


def test_rules_change_the_conflicts(open_app, demo):
    works, _ = demo
    at = open_app("conflicts")
    at.number_input(key="rule_distance").set_value(5.0)
    at.number_input(key="rule_window").set_value(90)
    at.run()
    expected = find_conflicts(works, Rules(distance=5.0, window_days=90))
    assert len(table(at)) == len(expected)


def test_selecting_a_row_zooms_the_map_to_it(open_app, demo, folium_args):
    _, conflicts = demo
    at = open_app("conflicts")
    before = folium_args(at)
    assert before["center"] is None and before["zoom"] is None
    at.session_state["conflicts_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception
    top = conflicts.iloc[0]
    assert at.subheader[0].value.startswith(f"{top['kind']}: {top['org_a']} · {top['work_id_a']}")
    after = folium_args(at)
    assert after["zoom"] >= 16
    spot = conflicts.iloc[[0]].geometry.centroid.to_crs(4326).iloc[0]
    lat, lon = after["center"]
    assert abs(lat - spot.y) < 0.002 and abs(lon - spot.x) < 0.004
    # the same map, moved: only the highlight is added
    assert after["script"] == before["script"]
    assert after["feature_group"].count('"type": "Feature"') == 2


def test_the_page_says_which_works_took_no_part(open_app, demo):
    works, _ = demo
    status = works["status"]
    protects = (status == "done") & (works["discipline"] == "road") & (works["layer"] == "surface")
    cancelled, done = (
        int((status == "cancelled").sum()),
        int(((status == "done") & ~protects).sum()),
    )
    assert (cancelled, done, int(protects.sum())) == (16, 20, 1)  # the demo plans
    at = open_app("conflicts")
    labels = [e.label for e in at.expander]
    assert (
        f"{cancelled + done} of {len(works):,} works took no part: {cancelled} status cancelled, "
        f"{done} status done; only as a protected surface: 1 status done, a finished resurfacing."
    ) in labels

    first = works["start_date"].min().to_period("M").to_timestamp() + pd.DateOffset(months=6)
    last = first + pd.DateOffset(months=5)
    at.select_slider(key="conflict_period").set_range(first, last)
    at.run()
    assert not at.exception
    last_day = last + pd.offsets.MonthEnd(0)
    outside = ~status.isin(["cancelled", "done"]) & (
        (works["start_date"] > last_day) | (works["end_date"] < first)
    )
    (table,) = [
        d.value for d in at.dataframe if list(d.value.columns) == ["reason", "works", "part"]
    ]
    assert table.values.tolist() == [
        ["status cancelled", cancelled, "none"],
        ["status done", done, "none"],
        ["status done, a finished resurfacing", 1, "protects its surface only"],
        ["outside the period", int(outside.sum()), "none"],
    ]
    assert 0 < outside.sum() < len(works)
