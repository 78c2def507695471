"""What the Conflicts page says when nothing conflicts: the rules it really searched with.

The page shows :func:`ims_geo.ui.widgets.no_conflicts_sentence` of its rules; the
rules a page's sidebar cannot set (distances per discipline pair) are given here
through a page of that sentence alone. The page itself: ``test_conflicts_empty.py``.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from ims_geo.i18n import LANG_ENV

START = "No conflicts under these rules: no two works of different organisations within "
END = " Widen the **Rules** in the sidebar to look further."


def _page(distance: float, pairs: list[tuple[str, str, float]], years: float) -> None:
    import streamlit as st

    from ims_geo.conflicts.rules import Rules
    from ims_geo.ui import widgets

    rules = Rules(
        distance=distance,
        pair_distance={(a, b): metres for a, b, metres in pairs},
        moratorium_years=years,
    )
    st.info(widgets.no_conflicts_sentence(rules))


@pytest.mark.parametrize(
    ("distance", "pairs", "years", "expected"),
    [
        (
            20.0, [], 3,
            "20 m of each other are planned at most 365 days apart, and none digs within "
            "3 years of the other's new surface.",
        ),
        (
            20.0, [("road", "sewer", 50.0), ("gas", "water", 35.0)], 3,
            "20 m (up to 50 m for some discipline pairs) of each other are planned at most "
            "365 days apart, and none digs within 3 years of the other's new surface.",
        ),
        (
            25.0, [("gas", "water", 10.0)], 1,
            "25 m (less for some discipline pairs) of each other are planned at most 365 days "
            "apart, and none digs within 1 year of the other's new surface.",
        ),
        (
            20.0, [("road", "sewer", 20.0)], 2.5,
            "20 m of each other are planned at most 365 days apart, and none digs within "
            "2.5 years of the other's new surface.",
        ),
        (
            20.0, [("road", "sewer", 50.0)], 0,
            "20 m (up to 50 m for some discipline pairs) of each other are planned at most "
            "365 days apart.",
        ),
    ],
)  # fmt: skip
def test_the_empty_answer_names_the_distances_and_the_moratorium_searched(
    monkeypatch, distance, pairs, years, expected
):
    monkeypatch.setenv(LANG_ENV, "en")
    at = AppTest.from_function(_page, args=(distance, pairs, years), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == [START + expected + END]


def test_the_empty_answer_is_in_the_language_in_use(monkeypatch):
    monkeypatch.setenv(LANG_ENV, "de")
    at = AppTest.from_function(_page, args=(20.0, [("road", "sewer", 50.0)], 0)).run(timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == [
        "Keine Konflikte unter diesen Regeln: keine zwei Baumaßnahmen verschiedener "
        "Organisationen im Abstand von höchstens 20 m (für einige Spartenpaare bis 50 m) sind "
        "höchstens 365 Tage auseinander geplant. Erweitern Sie die **Regeln** in der "
        "Seitenleiste, um weiter zu suchen."
    ]
