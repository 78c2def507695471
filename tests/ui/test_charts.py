"""The Gantt chart of a programme: planned against proposed bars, one row per work."""

from __future__ import annotations

import pandas as pd
import pytest

from ims_geo import i18n
from ims_geo.ui import charts

day = pd.Timestamp


def programme() -> pd.DataFrame:
    """Six works: project C002 (three, in execution order), C001 (one) and two alone;
    two organisations use the id s1 with the same title."""
    return pd.DataFrame(
        {
            "work_id": ["s1", "w1", "r1", "x9", "s1", "k1"],
            "org": ["Sewer", "Water", "City", "Gas", "Water", "City"],
            "title": ["Main sewer", "Water main " + "x" * 80, "Resurfacing", "Gas", "Main sewer", "Kerb"],
            "discipline": ["sewer", "water", "road", "gas", "water", "road"],
            "cluster_id": ["C002", "C002", "C002", None, None, "C001"],
            "exec_order": [1, 2, 3, None, None, 1],
            "start_date": [day("2027-03-01"), day("2027-05-01"), day("2027-01-01"),
                           day("2026-01-01"), day("2026-02-01"), day("2026-06-01")],
            "end_date": [day("2027-03-31"), day("2027-05-31"), day("2027-01-31"),
                         day("2026-01-10"), day("2026-02-10"), day("2026-06-30")],
            "proposed_start": [day("2027-04-01"), day("2027-04-01"), day("2027-05-02"),
                               day("2026-01-01"), day("2026-03-01"), day("2026-06-01")],
            "proposed_end": [day("2027-04-30"), day("2027-04-30"), day("2027-06-01"),
                             day("2026-01-10"), day("2026-03-10"), day("2026-06-30")],
            "shift_days": [31, -30, 121, 0, 28, 0],
            "move_reason": ["to join C002", "to join C002", "to resurface last", None,
                            "away from a clash", None],
        }
    ).iloc[[2, 0, 5, 3, 1, 4]]  # fmt: skip


def test_rows_by_project_heading_then_members_in_execution_order_then_works_alone():
    rows = charts.gantt_rows(programme(), group_by="project")
    order = list(dict.fromkeys(rows["row"]))
    long_title = "Water main " + "x" * (charts.TITLE_CHARS - 12) + "…"
    assert order == [
        # C001 starts first (2026-06-01), C002 on 2027-04-01; works alone last
        "▸ C001 · City", "k1 · Kerb",
        "▸ C002 · City, Sewer, Water", "s1 · Main sewer (Sewer)", "w1 · " + long_title, "r1 · Resurfacing",
        "▸ Not combined", "x9 · Gas", "s1 · Main sewer (Water)",
    ]  # fmt: skip
    assert len(long_title) == charts.TITLE_CHARS
    bars = rows[~rows["heading"]]
    assert len(bars) == 12 and rows["heading"].sum() == 3
    # two bars per work, planned first, with inclusive end dates
    sewer = bars[bars["row"] == "s1 · Main sewer (Sewer)"]
    assert sewer["schedule"].tolist() == ["planned", "proposed"]
    assert sewer["start"].tolist() == [day("2027-03-01"), day("2027-04-01")]
    assert sewer["bar_end"].tolist() == [day("2027-04-01"), day("2027-05-01")]
    assert sewer["planned"].iloc[0] == "1 Mar 2027 – 31 Mar 2027"
    assert sewer["proposed"].iloc[0] == "1 Apr 2027 – 30 Apr 2027"
    assert sewer["shift"].iloc[0] == "31 days" and sewer["reason"].iloc[0] == "to join C002"
    assert (bars["bar_end"] - bars["end"] == pd.Timedelta(days=1)).all()


def test_rows_by_organisation_in_order_of_proposed_start():
    rows = charts.gantt_rows(programme(), group_by="org")
    assert list(dict.fromkeys(rows["row"])) == [
        "▸ City", "k1 · Kerb", "r1 · Resurfacing",
        "▸ Gas", "x9 · Gas",
        "▸ Sewer", "s1 · Main sewer (Sewer)",
        "▸ Water", "s1 · Main sewer (Water)", "w1 · Water main " + "x" * (charts.TITLE_CHARS - 12) + "…",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="group_by"):
        charts.gantt_rows(programme(), group_by="street")


def test_rows_speak_the_language_in_use():
    try:
        i18n.use("de")
        rows = charts.gantt_rows(programme())
        assert rows.loc[rows["row"] == "x9 · Gas", "planned"].iloc[0] == "01.01.2026 – 10.01.2026"
    finally:
        i18n.use("en")


def test_chart_has_a_fixed_row_height_quarter_ticks_and_zoom_on_time():
    works = programme()
    spec = charts.gantt(works).to_dict()
    assert spec["height"] == {"step": charts.ROW_PX, "for": "position"}
    assert spec["encoding"]["x2"]["field"] == "bar_end"
    rows = charts.gantt_rows(works)
    # every row, headings too, keeps its place on the y axis
    assert spec["encoding"]["y"]["scale"]["domain"] == list(dict.fromkeys(rows["row"]))
    # the works span 17 months: quarters; a project of 5 months: months; of one month: weeks
    axis = spec["encoding"]["x"]["axis"]
    assert axis["tickCount"] == {"interval": "month", "step": 3} and "quarter" in axis["labelExpr"]
    short = charts.gantt(works[works["cluster_id"] == "C001"]).to_dict()["encoding"]["x"]["axis"]
    assert (
        short["tickCount"] == {"interval": "week", "step": 1} and "%d/%m/%Y" in short["labelExpr"]
    )
    year = charts.gantt(works[works["cluster_id"] == "C002"]).to_dict()["encoding"]["x"]["axis"]
    assert year["tickCount"] == {"interval": "month", "step": 1} and "%m/%Y" in year["labelExpr"]
    (zoom,) = spec["params"]
    assert zoom["select"] == {"type": "interval", "encodings": ["x"]} and zoom["bind"] == "scales"
    tips = [t["field"] for t in spec["encoding"]["tooltip"]]
    assert {"planned", "proposed", "shift", "reason", "title"} <= set(tips)
    # a few works or many: the same pixels per row
    assert charts.gantt_height(works) == charts.ROW_PX * 9 + charts.FRAME_PX
    assert charts.gantt_height(works.iloc[:1]) == charts.ROW_PX * 2 + charts.FRAME_PX


def test_no_works_no_bars():
    rows = charts.gantt_rows(programme().iloc[:0])
    assert rows.empty and "row" in rows.columns


def test_spec_for_the_page_is_the_chart_without_its_data():
    works = programme()
    spec, bars, height = charts.gantt_spec(works, group_by="org")
    chart = charts.gantt(works, group_by="org").to_dict()
    assert "data" not in spec and "datasets" not in spec
    assert spec["encoding"] == chart["encoding"] and spec["height"] == chart["height"]
    assert len(bars) == 12 and not bars["heading"].any()
    assert set(bars["schedule_label"]) == {"planned", "proposed"}
    assert height == charts.gantt_height(works, group_by="org")
