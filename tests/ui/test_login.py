"""Sign-in to a shared (PostGIS) store through the app, under AppTest.

The app runs over a real shared installation (``tests/access_data.py``:
organisations A and B, users of every role, B's private work next to A's
works) with the application role's URL, exactly as deployed. Every page a
signed-in user of A opens is searched for B's private work: owner, title,
cost, funding, code, exact dates.
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from access_data import B_SECRET_TITLE, PASSWORD, RD, Installation, line, populate
from streamlit.testing.v1 import AppTest

from ims_geo.access.admin import Administration
from ims_geo.store import STORE_ENV, open_store
from ims_geo.ui import state
from tests.api.conftest import restart_cluster

from .conftest import APP, FOLIUM, PAGES

pytestmark = pytest.mark.postgis

B_SECRETS = (B_SECRET_TITLE, "987654", "B fund", "K2-secret-code", "2027-03-17", "2027-04-09",
             "2027-02-11", "2027-05-13")  # fmt: skip


@pytest.fixture
def inst(shared_installation: Any) -> Installation:
    return populate(shared_installation.owner_url, shared_installation.app_url)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, inst: Installation) -> AppTest:
    """The app over the shared store, as a visitor (nobody signed in)."""
    monkeypatch.setenv(STORE_ENV, inst.app_url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sign_in(at: AppTest, user: str, password: str = PASSWORD) -> AppTest:
    at.switch_page(f"{PAGES}/login.py").run()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_text(at: AppTest) -> str:
    """Everything a page shows: texts, tables (every cell) and the map's payload."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code",
                 "success", "info", "warning", "error", "metric"):  # fmt: skip
        for element in at.get(kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for component in at.get("component_instance"):
        parts.append(component.proto.json_args)
    return "\n".join(parts)


def assert_no_secret(at: AppTest) -> str:
    text = page_text(at)
    for secret in B_SECRETS:
        assert secret not in text, f"{secret!r} shown"
    return text


def test_a_visitor_sees_the_public_view_and_the_sign_in_only(app: AppTest) -> None:
    assert app.title[0].value == "Planned street works"
    (table,) = [d.value for d in app.dataframe if "work_id" in d.value.columns]
    assert sorted(table["work_id"]) == ["a1", "b3"]
    text = assert_no_secret(app)
    assert "B for partners" not in text and "A secret" not in text
    for page in ("overview", "map", "upload", "conflicts", "programme", "cycle"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(f"{PAGES}/{page}.py")  # not a page of a visitor


def test_signed_in_pages_show_own_and_partners_works_and_others_private_as_signals(
    app: AppTest,
) -> None:
    at = sign_in(app, "a_plan")
    assert state.SESSION_KEY in at.session_state
    token = at.session_state[state.SESSION_KEY]
    for page in ("overview", "map", "conflicts", "programme", "cycle", "public"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        text = assert_no_secret(at)
        assert token not in text
    at.switch_page(f"{PAGES}/map.py").run()
    maps = [c for c in at.get("component_instance") if c.proto.component_name == FOLIUM]
    script = json.loads(maps[0].proto.json_args)["script"]
    assert "A secret" in script  # A's own private work, in full

    # and B's private work is nowhere at its exact place (only as 50 m grid cells)
    def places(geom: Any) -> set[str]:
        xy = gpd.GeoSeries([geom], crs=RD).to_crs(4326).get_coordinates()
        return {f"{round(x, 5)}{sep}{round(y, 5)}" for x, y in xy.itertuples(index=False)
                for sep in (", ", ",")}  # fmt: skip

    assert any(p in script for p in places(line(300)))  # A's a2, exactly where it is
    assert not any(p in script for p in places(line(20, 3)))
    assert "B for partners" in script and "private" in script
    at.switch_page(f"{PAGES}/overview.py").run()
    (summary,) = [
        d.value for d in at.dataframe if "works" in d.value.columns and "org" in d.value.columns
    ][:1]
    assert set(summary["org"]) >= {"A", "B"}


def test_wrong_password_unknown_user_and_disabled_user_cannot_sign_in(
    app: AppTest, inst: Installation
) -> None:
    with Administration.open(inst.owner_url) as adm:
        adm.disable_user("a_view")
    for user, password in (
        ("a_plan", "wrong password!"),
        ("nobody", PASSWORD),
        ("a_view", PASSWORD),
    ):
        at = sign_in(app, user, password)
        assert at.error and "refused" in at.error[0].value
        assert state.SESSION_KEY not in at.session_state
        assert PASSWORD not in page_text(at)
    with Administration.open(inst.owner_url) as adm:
        audit = adm.audit()
    failed = audit[audit["action"] == "login failed"]
    assert list(failed["detail"])[-3:] == ["wrong password", "unknown user", "account disabled"]


def test_a_viewer_sees_no_upload_and_no_restore_button(app: AppTest) -> None:
    at = sign_in(app, "a_view")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"{PAGES}/upload.py")  # hidden from viewers
    at.switch_page(f"{PAGES}/overview.py").run()
    assert not at.exception
    assert "restore_button" not in {b.key for b in at.button}
    assert any("planners and coordinators" in c.value for c in at.caption)


def test_a_planner_cannot_store_another_organisations_plan(
    app: AppTest, inst: Installation, zipped_shapefile: Any
) -> None:
    at = sign_in(app, "a_plan")
    at.switch_page(f"{PAGES}/upload.py").run()
    plan = gpd.GeoDataFrame(
        {"work_id": ["x1"], "org": ["B"], "title": ["forged"], "discipline": ["road"],
         "start_date": ["2027-03-01"], "end_date": ["2027-04-01"]},
        geometry=[line(0)], crs=RD,
    )  # fmt: skip
    at.file_uploader(key="upload_file").upload(
        "forged.zip", zipped_shapefile(plan), "application/zip"
    )
    assert at.selectbox(key="upload_org").options == ["A", "From the file (org column)"]
    at.selectbox(key="upload_org").set_value("From the file (org column)")
    at.run()
    assert not at.exception
    (confirm,) = [c for c in at.checkbox if c.label == "Yes, replace these plans"]
    confirm.check().run()
    before = open_store(inst.owner_url).plan_versions()
    at.button(key="upload_store").click().run()
    assert not at.exception
    assert at.error and "B" in at.error[0].value
    after = open_store(inst.owner_url).plan_versions()
    pd.testing.assert_frame_equal(before, after)


def test_the_session_ends_when_the_user_is_disabled_and_on_sign_out(
    app: AppTest, inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "RECHECK_SECONDS", 0.0)
    at = sign_in(app, "a_plan")
    assert at.session_state[state.SESSION_KEY]
    with Administration.open(inst.owner_url) as adm:
        adm.disable_user("a_plan")
    at.switch_page(f"{PAGES}/login.py").run()
    assert state.SESSION_KEY not in at.session_state
    assert "session has ended" in at.warning[0].value
    at = sign_in(at, "a_coord")
    at.switch_page(f"{PAGES}/login.py").run()
    assert "coordinator of A" in at.success[0].value
    at.button(key="login_sign_out").click().run()
    assert state.SESSION_KEY not in at.session_state
    assert at.title[0].value == "Sign in" or at.title[0].value == "Planned street works"


def test_the_app_reconnects_after_the_database_server_restarts(
    app: AppTest, postgis_cluster: Any
) -> None:
    at = sign_in(app, "a_plan")
    at.switch_page(f"{PAGES}/map.py").run()
    assert not at.exception
    restart_cluster(postgis_cluster)
    at.switch_page(f"{PAGES}/overview.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert state.SESSION_KEY in at.session_state  # still signed in
    assert_no_secret(at)


def test_the_upload_page_itself_refuses_a_viewer(
    monkeypatch: pytest.MonkeyPatch, inst: Installation
) -> None:
    """Reached directly (not through the navigation), the page still refuses the role."""
    monkeypatch.setenv(STORE_ENV, inst.app_url)
    viewer = open_store(inst.app_url, user="a_view", password=PASSWORD)
    at = AppTest.from_file(str(APP.parent / PAGES / "upload.py"), default_timeout=60)
    at.session_state[state.SESSION_KEY] = viewer.session_token
    at.run()
    assert not at.exception
    assert not at.get("file_uploader")
    assert "viewer of A: you may not import plans" in at.warning[0].value


PAYLOADS = (
    "' OR '1'='1",
    "a_plan' --",
    "x'; DROP TABLE ims_geo.users; --",
    "$$; DROP SCHEMA ims_geo CASCADE; $$",
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_injection_through_the_sign_in_form_is_harmless(
    app: AppTest, inst: Installation, payload: str
) -> None:
    for user, password in ((payload, payload), ("a_plan", payload), (payload, PASSWORD)):
        at = sign_in(app, user, password)
        assert at.error and "refused" in at.error[0].value
        assert state.SESSION_KEY not in at.session_state
    with Administration.open(inst.owner_url) as adm:
        assert len(adm.users()) == 5
    assert len(open_store(inst.owner_url).works()) == 5


@pytest.mark.parametrize(("user", "may_coordinate"), [("a_plan", False), ("a_coord", True)])
def test_planning_cycle_buttons_follow_the_role(
    app: AppTest, user: str, may_coordinate: bool
) -> None:
    at = sign_in(app, user)
    at.switch_page(f"{PAGES}/cycle.py").run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {b.key for b in at.button}
    assert ("cycle_save_targets" in keys) is may_coordinate
    (adopt,) = [b for b in at.button if b.key == "cycle_adopt_submit"]
    assert adopt.disabled is not may_coordinate


def test_an_unreachable_shared_store_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STORE_ENV, "postgresql://ims_app:secret-pw@127.0.0.1:1/ims")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "could not open the store" in at.error[0].value
    assert "secret-pw" not in page_text(at)
