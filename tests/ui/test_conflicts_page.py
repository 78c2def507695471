"""The Conflicts page under AppTest, on the demo store."""

from __future__ import annotations

import json
import re
from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from ims_geo import cycle
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.explain import explain, sentences
from ims_geo.conflicts.rules import Rules
from ims_geo.cycle.moratoria import moratoria
from ims_geo.schema import validate
from ims_geo.store import STORE_ENV, open_store
from ims_geo.ui import links
from ims_geo.ui.widgets import literal
from tests.ui.conftest import APP, PAGES


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


# --- the list people work from ------------------------------------------------------------------
#: The columns the list shows until others are chosen.
DEFAULT_COLUMNS = [
    "kind", "severity", "score", "org_a", "work_id_a", "title_a", "start_a", "end_a",
    "org_b", "work_id_b", "title_b", "start_b", "end_b", "distance_m", "gap_days", "overlap_m",
]  # fmt: skip


def _linked(monkeypatch, store, key: str) -> AppTest:
    """The app opened on ``conflicts?conflict=KEY``."""
    monkeypatch.setenv(STORE_ENV, str(store))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params[links.CONFLICT] = key
    at.run()
    at.switch_page(f"{PAGES}/conflicts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _config(at, key: str = "conflicts_table") -> dict:
    (frame,) = [d for d in at.dataframe if d.key == key]
    return json.loads(frame.proto.columns)


def test_the_list_names_both_works_with_titles_and_periods_as_dates(open_app, demo):
    works, conflicts = demo
    at = open_app("conflicts")
    shown = table(at)
    assert list(shown.columns) == DEFAULT_COLUMNS
    titles = dict(
        zip(zip(works["org"], works["work_id"], strict=True), works["title"], strict=True)
    )
    for side in ("a", "b"):
        pairs = zip(shown[f"org_{side}"], shown[f"work_id_{side}"], strict=True)
        expected = [titles[pair] for pair in pairs]
        assert shown[f"title_{side}"].tolist() == expected
    top = conflicts.iloc[0]
    assert shown.loc[0, "start_a"] == top["start_a"].date()  # a date, no time of day
    config = _config(at)
    assert config["title_a"]["label"] == "Title A"
    assert config["start_b"] == {
        "label": "Start B",
        "type_config": {"type": "date", "format": "D MMM YYYY"},
    }
    assert config["distance_m"]["label"] == "Distance (m)"
    assert config["distance_m"]["type_config"]["format"] == "%.1f"
    assert config["gap_days"]["type_config"]["format"] == "%,d"


def test_columns_are_chosen_and_the_list_sorts_by_any_of_them(open_app, demo):
    _, conflicts = demo
    at = open_app("conflicts")
    at.multiselect(key="conflicts_columns").set_value(["org_b", "distance_m", "kind", "score"])
    at.selectbox(key="conflicts_sort").set_value("distance_m")
    at.toggle(key="conflicts_descending").set_value(False)
    at.run()
    assert not at.exception
    shown = table(at)
    assert list(shown.columns) == ["org_b", "distance_m", "kind", "score"]  # in the order chosen
    # nearest first, the worst first among equally near ones
    expected = conflicts.assign(d=conflicts["distance_m"].round(2)).sort_values(
        ["d", "score"], ascending=[True, False], kind="stable"
    )
    assert shown["distance_m"].tolist() == expected["d"].tolist()
    assert shown["score"].tolist() == expected["score"].tolist()


def test_the_table_and_the_map_show_the_same_conflicts(open_app, demo, folium_args):
    _, conflicts = demo
    at = open_app("conflicts")
    at.multiselect(key="conflict_kinds").set_value(["moratorium"])
    at.run()
    shown = table(at)
    script = folium_args(at)["script"]
    drawn = re.findall(r'"key": ?"([^"]*)"', script)
    listed = (shown["kind"] + "~" + shown["org_a"] + "~" + shown["work_id_a"] + "~"
              + shown["org_b"] + "~" + shown["work_id_b"])  # fmt: skip
    assert (
        sorted(drawn) == sorted(listed) and len(drawn) == (conflicts["kind"] == "moratorium").sum()
    )


def _explained(conflict, works) -> dict[str, list[str]]:
    """The explanation the page gives: nothing moved into the past."""
    return sentences(explain(conflict, works, Rules(), not_before=date.today()))


def test_a_link_opens_the_conflict_selected_on_the_map_and_explained(
    demo_store, demo, folium_args, monkeypatch
):
    works, conflicts = demo
    wanted = conflicts.iloc[7]
    at = _linked(monkeypatch, demo_store, links.conflict_key(wanted))
    assert at.session_state["conflicts_table"]["selection"]["rows"] == [7]
    assert at.subheader[0].value.endswith(
        f"{wanted['org_a']} · {wanted['work_id_a']} ↔ {wanted['org_b']} · {wanted['work_id_b']}"
    )
    args = folium_args(at)
    assert args["zoom"] >= 16 and args["feature_group"].count('"type": "Feature"') == 2
    # the view is set again once the browser has drawn the map (its first fit undoes it)
    lat, lon = args["center"]
    assert f"map.setView([{lat}, {lon}], {args['zoom']})" in args["feature_group"]
    (panel,) = [e for e in at.expander if e.label == "Why, and how to resolve it"]
    text = "\n".join(m.value for m in panel.markdown)
    lines = _explained(wanted, works)
    assert lines["resolve"] and lines["why"]
    for line in lines["why"] + lines["resolve"]:
        assert literal(line) in text
    # only those moves: none into the past
    moves = [line for line in text.splitlines() if line.startswith("- Move ")]
    assert len(moves) == sum(line.startswith("Move ") for line in lines["resolve"])
    assert at.query_params[links.CONFLICT] == links.conflict_key(wanted)

    # sorting the list keeps the same conflict selected
    at.selectbox(key="conflicts_sort").set_value("work_id_b")
    at.run()
    rows = at.session_state["conflicts_table"]["selection"]["rows"]
    shown = table(at)
    assert len(rows) == 1 and shown.iloc[rows[0]]["work_id_b"] == wanted["work_id_b"]
    assert shown.iloc[rows[0]]["work_id_a"] == wanted["work_id_a"]

    # a filter that keeps it: still selected, wherever its row went; one that drops it: none
    at.multiselect(key="conflict_kinds").set_value([wanted["kind"]])
    at.run()
    rows = at.session_state["conflicts_table"]["selection"]["rows"]
    shown = table(at)
    assert (shown["kind"] == wanted["kind"]).all() and len(shown) < len(conflicts)
    assert len(rows) == 1 and links.conflict_key(shown.iloc[rows[0]]) == links.conflict_key(wanted)
    other = next(k for k in ("clash", "synergy", "moratorium") if k != wanted["kind"])
    at.multiselect(key="conflict_kinds").set_value([other])
    at.run()
    assert at.session_state["conflicts_table"]["selection"]["rows"] == []
    assert not [e for e in at.expander if e.label == "Why, and how to resolve it"]
    assert links.CONFLICT not in at.query_params
    at.multiselect(key="conflict_kinds").set_value(["clash", "moratorium", "synergy"])
    at.run()

    # another row picked: the URL names it (a link to share); none picked: no conflict in it
    at.session_state["conflicts_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    top = table(at).iloc[0]
    assert at.query_params[links.CONFLICT] == links.conflict_key(top)
    assert len([e for e in at.expander if e.label == "Why, and how to resolve it"]) == 1
    at.session_state["conflicts_table"] = {"selection": {"rows": [], "columns": []}}
    at.run()
    assert links.CONFLICT not in at.query_params
    assert not [e for e in at.expander if e.label == "Why, and how to resolve it"]


def test_a_link_to_an_unknown_conflict_says_so_and_selects_nothing(demo_store, monkeypatch):
    at = _linked(monkeypatch, demo_store, "clash~<img src=x>~1~B~2")
    assert links.CONFLICT not in at.query_params  # the address names no conflict
    assert "The linked conflict is not in the list" in at.warning[0].value
    assert not [e for e in at.expander if e.label == "Why, and how to resolve it"]


# --- the moratoria layer: the page reads a store's conflicts as the CLI does ------------------
RD = "EPSG:28992"


def _line(dy: float) -> shapely.LineString:
    return shapely.LineString([(121_000.0, 487_000.0 + dy), (121_100.0, 487_000.0 + dy)])


def _plan(org: str, wid: str, discipline: str, start: str, end: str, dy: float):
    frame = gpd.GeoDataFrame(
        {"work_id": [wid], "discipline": [discipline], "start_date": [start], "end_date": [end]},
        geometry=[_line(dy)], crs=RD,
    )  # fmt: skip
    checked = validate(frame, org=org, source=f"{org}.gpkg")
    assert checked.rejected.empty
    return checked.valid


@pytest.fixture
def resurfaced(tmp_path):
    """City resurfaces R1 (June 2027); Water digs W7 3 m beside it in January 2031.

    W7 starts after R1's planned end + 3 years (the page's moratorium rule),
    and far outside the synergy window: the works alone have no conflict.
    """
    path = tmp_path / "cycle.gpkg"
    store = open_store(path)
    store.import_plan(_plan("City", "R1", "road", "2027-06-01", "2027-06-30", 0.0),
                      org="City", cycle=2027)  # fmt: skip
    store.import_plan(_plan("Water", "W7", "water", "2031-01-06", "2031-01-15", 3.0),
                      org="Water", cycle=2031)  # fmt: skip
    assert find_conflicts(store.works()).empty
    return path


def _finish_r1(path) -> int:
    """City reports R1 done (actual 2 to 20 June 2027): its 5-year moratorium's id."""
    reports = pd.DataFrame(
        [("R1", "done", "2027-06-02", "2027-06-20", None)], columns=list(cycle.PROGRESS_COLUMNS)
    )
    result = cycle.record_progress(open_store(path), 2027, "City", reports, source="city.csv",
                                   rules=Rules(moratorium_years=5))  # fmt: skip
    assert result.rejected.empty and len(result.moratoria) == 1
    return int(result.moratoria["moratorium_id"].iloc[0])


def test_a_moratorium_recorded_in_the_session_shows_and_an_exemption_lifts_it(open_app, resurfaced):
    at = open_app("conflicts", store=resurfaced)
    assert len(table(at)) == 0
    before = open_store(resurfaced).revision()

    mid = _finish_r1(resurfaced)  # progress recorded while the page is open
    assert open_store(resurfaced).revision() != before  # the cached conflicts are stale now
    at.run()
    assert not at.exception
    shown = table(at)
    assert shown[["kind", "org_a", "work_id_a", "org_b", "work_id_b"]].values.tolist() == [
        ["moratorium", "City", "R1", "Water", "W7"]
    ]
    # protected from the day after the actual end for 5 x 365 days; W7 digs 1296 days after
    # it (1096 days to 20 June 2030, 2028 a leap year, then 200), 3 m away
    row = shown.iloc[0]
    assert row["gap_days"] == (pd.Timestamp("2031-01-06") - pd.Timestamp("2027-06-20")).days
    assert row["gap_days"] == 1296
    assert row["distance_m"] == pytest.approx(3.0)
    # the same single row as the CLI's library function
    expected = cycle.store_conflicts(open_store(resurfaced))
    assert expected["moratorium_id"].tolist() == [mid]

    # explained: the registered moratorium protects the surface for 5 x 365 days from
    # 21 June 2027, to 18 June 2032; W7 (10 days) may dig from the day after; R1 is done
    at.session_state["conflicts_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    (panel,) = [e for e in at.expander if e.label == "Why, and how to resolve it"]
    text = "\n".join(m.value for m in panel.markdown)
    assert f"registered moratorium {mid} protects" in text
    (until,) = moratoria(open_store(resurfaced))["valid_until"]
    assert pd.Timestamp(until) == pd.Timestamp("2027-06-21") + pd.Timedelta(days=5 * 365 - 1)
    start = pd.Timestamp("2032-06-19")
    shift = (start - pd.Timestamp("2031-01-06")).days
    assert shift == 365 + 165  # 2031-01-06 to 2032-01-06, then to 19 June in a leap year
    moves = [line for line in text.splitlines() if line.startswith("- Move ")]
    assert moves == [
        "- Move Water · W7 to start after 18 Jun 2032 \\(19 Jun 2032 to 28 Jun 2032, "
        f"{shift} days later\\)\\: outside its flexibility window."
    ]

    at.switch_page(f"{PAGES}/overview.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Moratorium violations"], metrics["Clashes"], metrics["Synergies"]) == (
        "1", "0", "0",
    )  # fmt: skip

    cycle.add_exemption(open_store(resurfaced), mid, org="Water", work_id="W7",
                        kind="emergency")  # fmt: skip
    at.run()
    assert at.metric[3].label == "Moratorium violations" and at.metric[3].value == "0"
    at.switch_page(f"{PAGES}/conflicts.py").run()
    assert not at.exception
    assert len(table(at)) == 0


def test_the_map_draws_the_moratorium_conflict_recorded_in_the_session(
    open_app, resurfaced, folium_args
):
    def drawn(at) -> tuple[int, list[str]]:
        captions = [c.value.split(" · ")[0] for c in at.caption if " drawn" in c.value]
        return folium_args(at)["script"].count('"type": "Feature"'), captions

    at = open_app("map", store=resurfaced)
    # the two works, and the streets of every plan as the basemap (one feature)
    assert drawn(at) == (3, ["2 works drawn", "0 conflicts drawn"])
    _finish_r1(resurfaced)
    at.run()
    assert not at.exception
    # R1, W7, their moratorium conflict, the protected surface and the basemap
    assert drawn(at) == (
        5, ["2 works drawn", "1 conflicts drawn", "1 moratoria (protected new surfaces) drawn"],
    )  # fmt: skip


def test_the_programme_page_proposes_on_a_store_with_a_registered_moratorium(open_app, tmp_path):
    from tests.test_cycle_store_conflicts import build

    path = tmp_path / "layered.gpkg"
    store = build(open_store(path))
    assert cycle.store_conflicts(store)["moratorium_id"].notna().sum() == 1  # names REG-9
    at = open_app("programme", store=path)
    at.slider(key="programme_time").set_value(5)
    at.button(key="programme_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    # the works' own conflicts only: one synergy (R1 and W1), no clash, no moratorium
    assert (metrics["Clashes"], metrics["Moratorium violations"]) == ("0", "0")


def test_the_list_and_its_explanation_read_in_german(demo_store, demo, monkeypatch):
    from ims_geo import i18n
    from ims_geo.i18n.labels import label

    works, conflicts = demo
    monkeypatch.setenv(i18n.LANG_ENV, "de")
    wanted = conflicts.iloc[2]
    at = _linked(monkeypatch, demo_store, links.conflict_key(wanted))
    try:
        i18n.use("de")
        headers = {c: label(c) for c in ("org_a", "start_b", "distance_m")}
        lines = _explained(wanted, works)
        heading = i18n._("Why, and how to resolve it")
    finally:
        i18n.use("en")
    assert headers["distance_m"] != "Distance (m)" and heading != "Why, and how to resolve it"
    config = _config(at)
    assert {c: config[c]["label"] for c in headers} == headers
    assert config["start_b"]["type_config"]["format"] == "DD.MM.YYYY"
    (panel,) = [e for e in at.expander if e.label == heading]
    text = "\n".join(m.value for m in panel.markdown)
    for line in lines["why"] + lines["resolve"]:
        assert literal(line) in text
