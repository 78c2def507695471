"""The planning cycle and programme pages of a shared store, walked by each role.

A planner or a viewer meets no control that silently does nothing: where
the role may not set targets, adopt, mark a full revision or report
progress, the page says so (role and organisation named) and offers no
button; a coordinator sees the controls and no such note.
"""

from __future__ import annotations

from typing import Any

import pytest
from access_data import PASSWORD, plan_a, plan_b
from streamlit.testing.v1 import AppTest

from ims_geo.store import STORE_ENV, open_store
from ims_geo.ui import state

from .conftest import APP, PAGES

pytestmark = pytest.mark.postgis

LOCK = ":material/lock: "


def _page(monkeypatch: pytest.MonkeyPatch, installation: Any, user: str, page: str) -> AppTest:
    """``page`` of the app as ``user`` of the shared installation, signed in."""
    monkeypatch.setenv(STORE_ENV, installation.app_url)
    session = open_store(installation.app_url, user=user, password=PASSWORD)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[state.SESSION_KEY] = session.session_token
    at.run()
    at.switch_page(f"{PAGES}/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _notes(at: AppTest) -> list[str]:
    """The page's lock notes, in the order shown (main area and sidebar)."""
    return [c.value for c in at.caption if c.value.startswith(LOCK)]


def _escaped(text: str) -> str:
    """``text`` as widgets.literal writes it into markdown (colons escaped)."""
    return LOCK + text.replace(":", "\\:")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "a_plan",
            [
                "A planner of A: you may not mark a full revision.",
                "A planner of A: you may not set the cycle's targets.",
                "A planner of A: you may not adopt a programme.",
                "A planner of A: you may not record the report as the cycle's evaluation.",
            ],
        ),
        (
            "a_view",
            [
                "A viewer of A: you may not mark a full revision.",
                "A viewer of A: you may not set the cycle's targets.",
                "A viewer of A: you may not adopt a programme.",
                "A viewer of A: you may not report progress.",
                "A viewer of A: you may not record the report as the cycle's evaluation.",
            ],
        ),
        ("a_coord", []),
    ],
)
def test_the_cycle_page_says_what_a_role_may_not_do(
    monkeypatch: pytest.MonkeyPatch,
    populated_installation: tuple[Any, dict[str, int]],
    user: str,
    expected: list[str],
) -> None:
    installation, _ = populated_installation
    at = _page(monkeypatch, installation, user, "cycle")
    assert sorted(_notes(at)) == sorted(_escaped(t) for t in expected)
    buttons = {b.key for b in at.button}
    coordinates = user == "a_coord"
    assert ("cycle_save_targets" in buttons) is coordinates
    assert ("cycle_custom_add" in buttons) is coordinates
    assert at.text_input(key="cycle_custom_name").disabled is not coordinates
    (full,) = [t for t in at.toggle if str(t.key).startswith("cycle_full_")]
    assert full.disabled is not coordinates
    (uploader,) = at.get("file_uploader")
    assert uploader.proto.disabled is (user == "a_view")


def test_a_planner_may_not_propose_a_programme(
    monkeypatch: pytest.MonkeyPatch, populated_installation: tuple[Any, dict[str, int]]
) -> None:
    installation, _ = populated_installation
    at = _page(monkeypatch, installation, "a_plan", "programme")
    assert _notes(at) == [_escaped("A planner of A: you may not propose a programme.")]
    assert at.button(key="programme_run").disabled
    assert [i.value for i in at.info] == []  # no "press Propose programme" either


def test_a_coordinator_proposes_and_may_adopt(
    monkeypatch: pytest.MonkeyPatch, populated_installation: tuple[Any, dict[str, int]]
) -> None:
    installation, _ = populated_installation
    at = _page(monkeypatch, installation, "a_coord", "programme")
    assert _notes(at) == []
    assert not at.button(key="programme_run").disabled
    at.button(key="programme_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _notes(at) == []
    assert not at.button(key="programme_adopt_submit").disabled


def test_the_overview_compares_the_own_organisations_versions_only(
    monkeypatch: pytest.MonkeyPatch, populated_installation: tuple[Any, dict[str, int]]
) -> None:
    installation, _ = populated_installation
    for user, org, made in (("a_plan", "A", plan_a()), ("b_plan", "B", plan_b())):
        with open_store(installation.app_url, user=user, password=PASSWORD) as store:
            store.import_plan(made, org=org, cycle=2028, source="again.gpkg")
    at = _page(monkeypatch, installation, "a_plan", "overview")
    assert at.selectbox(key="compare_org").options == ["A"]
    assert "Versions 1 and 2 of A hold the same works." in [c.value for c in at.caption]
