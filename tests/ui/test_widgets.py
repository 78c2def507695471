"""Tables as people read them, and what a map click returns (ims_geo.ui.widgets)."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ims_geo import i18n
from ims_geo.i18n import LANG_ENV, LOCALE_DIR_ENV
from ims_geo.i18n.labels import LABELS, label
from ims_geo.ui import widgets


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def _page() -> None:
    import pandas as pd

    from ims_geo.ui import widgets

    frame = pd.DataFrame(
        {
            "work_id": ["00017", "B2"],
            "start_date": pd.to_datetime(["2028-08-21", "2031-03-03"]),
            "cost_eur": [1234567.4, 950.0],
            "distance_m": [3.456, 12.0],
            "overlap_m": [1234.5, None],
            "gap_days": [-3, 1200],
            "version": [2027, 3],
            "Voltage_kV": [0.4, 10.0],
            "excavation": [True, False],
            "uploaded_at": pd.to_datetime(["2026-12-04 03:05:00", "2026-12-04 00:00:00"]),
            "discipline": ["heat", "water"],
        }
    )
    widgets.show_table(frame, key="t", config={"version": {"label": "Plan version"}})


def _shown(monkeypatch: pytest.MonkeyPatch, lang: str) -> tuple[pd.DataFrame, dict]:
    monkeypatch.setenv(LANG_ENV, lang)
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    (frame,) = at.dataframe
    return frame.value, json.loads(frame.proto.columns)


def test_a_table_keeps_its_values_and_reads_in_words(monkeypatch):
    values, config = _shown(monkeypatch, "en")
    # the values are the frame's own (sortable): dates without a time of day, numbers as numbers
    assert values["start_date"].tolist() == [date(2028, 8, 21), date(2031, 3, 3)]
    assert values["cost_eur"].tolist() == [1234567.4, 950.0]
    assert values["work_id"].tolist() == ["00017", "B2"]
    assert config["work_id"] == {"label": "Work"}
    assert config["start_date"] == {
        "label": "Start", "type_config": {"type": "date", "format": "D MMM YYYY"},
    }  # fmt: skip
    assert config["cost_eur"] == {
        "label": "Estimated cost (EUR)", "type_config": {"type": "number", "format": "€%,.0f"},
    }  # fmt: skip
    assert config["distance_m"]["type_config"]["format"] == "%.1f"
    assert config["overlap_m"] == {
        "label": "Shared length (m)", "type_config": {"type": "number", "format": "%,.0f"},
    }  # fmt: skip
    assert config["gap_days"]["type_config"]["format"] == "%,d"
    # a year-like number gets no thousands separator; the page's own label wins
    assert config["version"] == {"label": "Plan version"}
    # a column the user's file brought keeps the user's name
    assert config["Voltage_kV"] == {"label": "Voltage_kV"}
    assert config["excavation"]["label"] == "Opens the street"
    assert config["excavation"]["type_config"]["type"] == "checkbox"
    # an enum value reads in words, the code stays the value
    assert values["discipline"].tolist() == ["heat", "water"]
    assert config["discipline"]["label"] == "Discipline"
    assert config["discipline"]["type_config"]["options"] == [
        {"value": "heat", "label": "district heat"}, {"value": "water", "label": "water"},
    ]  # fmt: skip
    # a moment keeps its time of day
    assert values["uploaded_at"].tolist() == [
        pd.Timestamp("2026-12-04 03:05"), pd.Timestamp("2026-12-04")
    ]  # fmt: skip
    assert config["uploaded_at"] == {
        "label": "Uploaded", "type_config": {"type": "datetime", "format": "D MMM YYYY HH:mm"},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "when", "euros", "count"),
    [
        ("nl", "DD-MM-YYYY", "€\xa0%'.,.0f", "%'.,d"),
        ("de", "DD.MM.YYYY", "%'.,.0f\xa0€", "%'.,d"),
    ],
)
def test_dates_and_euros_read_as_the_language_writes_them(monkeypatch, lang, when, euros, count):
    _, config = _shown(monkeypatch, lang)
    assert config["start_date"]["type_config"]["format"] == when
    assert config["cost_eur"]["type_config"]["format"] == euros
    assert config["gap_days"]["type_config"]["format"] == count
    # the same conventions as the app's own formatting of one value
    i18n.use(lang)
    assert i18n.fmt_money(1234567.4) == euros.replace("%'.,.0f", "1.234.567")
    assert i18n.fmt_date(date(2031, 3, 3)) in ("03.03.2031", "3 mrt 2031")


def test_labels_are_translated_where_they_are_shown(monkeypatch, tmp_path):
    catalogue = tmp_path / "nl" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    (catalogue / "ims_geo.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Estimated cost (EUR)"\nmsgstr "Geraamde kosten (EUR)"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(LOCALE_DIR_ENV, str(tmp_path))
    assert label("cost_eur") == "Estimated cost (EUR)"
    i18n.use("nl")
    assert label("cost_eur") == "Geraamde kosten (EUR)"
    assert label("estimated cost eur") == "Geraamde kosten (EUR)"  # the KPI of that name
    assert label("katu") == "katu"


def test_every_column_of_the_data_model_and_of_the_conflicts_has_words():
    from ims_geo.conflicts import CONFLICT_COLUMNS
    from ims_geo.schema import COLUMNS

    missing = [c for c in (*COLUMNS, *CONFLICT_COLUMNS) if c != "geometry" and c not in LABELS]
    assert missing == []
    assert all(label(c) != c for c in COLUMNS)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ({"last_active_drawing": {"type": "Feature", "properties": {"key": "clash~A~1~B~2"}}},
         "clash~A~1~B~2"),
        # a work of the highlight layer, a click on the map's background, nothing yet
        ({"last_active_drawing": {"type": "Feature", "properties": {"org": "A"}}}, None),
        ({"last_active_drawing": None, "last_object_clicked": {"lat": 1, "lng": 2}}, None),
        ({}, None),
        (None, None),
        # hostile or broken values from the browser
        ({"last_active_drawing": {"properties": {"key": 17}}}, None),
        ({"last_active_drawing": {"properties": "key"}}, None),
        ({"last_active_drawing": ["key"]}, None),
        ({"last_active_drawing": {"properties": {"key": ""}}}, None),
    ],
)  # fmt: skip
def test_the_clicked_feature_gives_its_link_key(returned, expected):
    assert widgets.clicked_key(returned) == expected


def test_month_names_follow_the_language():
    march = pd.Timestamp("2031-03-01")
    assert widgets.month_name(march) == "Mar 2031"
    i18n.use("de")
    assert widgets.month_name(march) == "März 2031"
    i18n.use("nl")
    assert widgets.month_name(march) == "mrt 2031"


def test_the_works_left_out_read_as_the_library_writes_them_in_english(demo_store):
    from ims_geo.conflicts import describe_left_out, left_out
    from ims_geo.store import open_store

    works = open_store(demo_store).works()
    first = works["start_date"].min() + pd.DateOffset(months=6)
    tables = [
        left_out(works),
        left_out(works, start=first, end=first + pd.DateOffset(months=5)),
        left_out(works.iloc[:0]),
    ]
    assert [len(t) for t in tables[:2]] == [3, 4]  # the period adds "outside the period"
    for table in tables:
        assert widgets.left_out_sentence(table, len(works)) == describe_left_out(table, len(works))
        words = widgets.left_out_words(table)
        assert words["reason"].tolist() == table["reason"].tolist()
        assert words["part"].tolist() == table["part"].tolist()
    # a status reads as the language names it; an unknown reason stays as written
    odd = pd.DataFrame({"reason": ["status in_progress", "moon phase"], "works": [2, 1],
                        "part": ["none", "none"]})  # fmt: skip
    assert widgets.left_out_words(odd)["reason"].tolist() == ["status in progress", "moon phase"]
    assert widgets.left_out_sentence(odd, 9) == (
        "3 of 9 works took no part: 2 status in progress, 1 moon phase."
    )
