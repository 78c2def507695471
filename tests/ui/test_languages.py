"""The app in Dutch and German under AppTest: every page, the selector, the URL, the defaults.

Expected words are read from the shipped catalogues (``ims_geo/locale``), never
written here: a label is right when it is the catalogue's translation of its
English text (with the values filled in), and wrong when it is an English
text the catalogue translates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from ims_geo import i18n
from ims_geo.schema import COLUMNS, GEOMETRY
from ims_geo.ui.state import LANGUAGE_KEY, LANGUAGE_PARAM

from .conftest import APP, PAGES

LANGUAGES = ("nl", "de")
#: Pages of the app over a GeoPackage store (no sign-in page there).
PAGE_FILES = ("overview", "map", "upload", "conflicts", "programme", "cycle", "public")
#: The pages whose every label is checked against the catalogue, with their title's msgid.
OWN_TITLES = {
    "overview": "Integral programming of the public space",
    "upload": "Upload a plan",
    "cycle": "Planning cycle",
    "public": "Planned street works",
}
#: Labels that are data or the canonical column names of the data model, not UI words.
NOT_WORDS = {*COLUMNS, GEOMETRY}


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    i18n.use("en")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """English text -> translation (plural forms: singular and plural, each to its forms)."""
    path = i18n.PACKAGE_LOCALE / lang / "LC_MESSAGES" / "ims_geo.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=lang)
    out: dict[str, str] = {}
    for message in parsed:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for english, translated in zip(message.id, message.string, strict=False):
                out[english] = translated
            out[message.id[1]] = message.string[-1]
        else:
            out[message.id] = message.string
    return out


def translation(lang: str, english: str) -> str:
    found = catalogue(lang)[english]
    assert found, english
    return found


@cache
def _patterns(lang: str) -> list[re.Pattern[str]]:
    out = []
    for text in set(catalogue(lang).values()):
        parts = re.split(r"\{\w+\}", text)
        out.append(re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL))
    return out


def is_translated(lang: str, label: str) -> bool:
    """Whether ``label`` is one of the catalogue's translations, its placeholders filled."""
    return any(p.fullmatch(label) for p in _patterns(lang))


def english_left(lang: str, label: str) -> bool:
    """Whether ``label`` is an English text of the catalogue that has another translation."""
    translated = catalogue(lang).get(label)
    return bool(translated) and translated != label


def labels(at: AppTest, *, sidebar: bool = False) -> list[tuple[str, str]]:
    """(kind, text) of every title, heading, caption, tab, expander, metric and widget label."""
    root = at.sidebar if sidebar else at.main
    found: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "caption"):
        found += [(kind, e.value) for e in getattr(root, kind)]
    for kind in ("tabs", "expander", "metric"):
        found += [(kind, e.label) for e in getattr(root, kind)]
    for kind in (
        "button", "checkbox", "date_input", "multiselect", "number_input", "radio",
        "select_slider", "selectbox", "slider", "text_input", "toggle", "text_area",
    ):  # fmt: skip
        found += [(kind, w.label) for w in getattr(root, kind)]
    for kind in ("download_button", "file_uploader"):
        found += [(kind, w.proto.label) for w in root.get(kind)]
    return [(k, t) for k, t in found if t and t not in NOT_WORDS]


def open_in(monkeypatch, store, lang: str, page: str | None = None, *, url: bool = False):
    monkeypatch.setenv("IMS_GEO_STORE", str(store))
    at = AppTest.from_file(str(APP), default_timeout=90)
    if url:
        at.query_params[LANGUAGE_PARAM] = lang
    else:
        at.session_state[LANGUAGE_KEY] = lang
    at.run()
    if page is not None and page != "overview":
        at.switch_page(f"{PAGES}/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_speaks_the_chosen_language(monkeypatch, demo_store, lang, page):
    at = open_in(monkeypatch, demo_store, lang, page)
    (selector,) = [s for s in at.sidebar.selectbox if s.key == LANGUAGE_KEY]
    assert selector.label == translation(lang, "Language")
    assert selector.value == lang
    assert at.title, page
    if page in OWN_TITLES:
        assert at.title[0].value == translation(lang, OWN_TITLES[page])
    else:
        assert is_translated(lang, at.title[0].value), at.title[0].value
    shown = labels(at) + labels(at, sidebar=True)
    left = [(k, t) for k, t in shown if english_left(lang, t)]
    assert not left, f"English left on {page}: {left}"
    if page in OWN_TITLES:
        untranslated = [(k, t) for k, t in shown if not is_translated(lang, t)]
        assert not untranslated, f"not from the catalogue on {page}: {untranslated}"


def test_a_link_with_lang_opens_the_app_in_that_language(monkeypatch, demo_store):
    at = open_in(monkeypatch, demo_store, "de", url=True)
    assert at.title[0].value == translation("de", OWN_TITLES["overview"])
    assert at.session_state[LANGUAGE_KEY] == "de"
    # the choice is switched in the sidebar and written back to the URL for a copied link
    at.selectbox(key=LANGUAGE_KEY).select("nl").run()
    assert at.title[0].value == translation("nl", OWN_TITLES["overview"])
    assert at.query_params[LANGUAGE_PARAM] == "nl"
    at.switch_page(f"{PAGES}/cycle.py").run()
    assert at.title[0].value == translation("nl", "Planning cycle")
    at.selectbox(key=LANGUAGE_KEY).select("en").run()
    assert at.title[0].value == "Planning cycle"


def test_an_unknown_or_hostile_lang_falls_back_to_the_installation_language(
    monkeypatch, demo_store
):
    monkeypatch.setenv(i18n.LANG_ENV, "de")
    at = open_in(monkeypatch, demo_store, "<script>alert(1)</script>", url=True)
    assert at.title[0].value == translation("de", OWN_TITLES["overview"])
    assert at.query_params[LANGUAGE_PARAM] == "de"
    monkeypatch.setenv(i18n.LANG_ENV, "xx")
    at = open_in(monkeypatch, demo_store, "../../etc", url=True)
    assert at.title[0].value == OWN_TITLES["overview"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_upload_is_reported_in_the_chosen_language(
    monkeypatch, store_copy, zipped_shapefile, sample_plan, lang
):
    at = open_in(monkeypatch, store_copy, lang, "upload")
    at.file_uploader(key="upload_file").upload(
        "plan.zip", zipped_shapefile(sample_plan()), "application/zip"
    )
    at.text_input(key="upload_org_new").input("Test Utility")
    at.run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        translation(lang, "Accepted"): "4",
        translation(lang, "Repaired"): "0",
        translation(lang, "Rejected"): "1",
    }
    (report,) = [c.value for c in at.code]
    lines = [line.strip() for line in report.splitlines()]
    assert translation(lang, "accepted: {count}").format(count=4) in lines
    problem = translation(lang, "end_date before start_date")
    assert translation(lang, "{problem}: {count}").format(problem=problem, count=1) in lines
    (reasons,) = [d.value for d in at.dataframe if "problem" in d.value.columns]
    assert list(reasons["problem"]) == [problem]
    (rejected,) = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert list(rejected["reason"]) == [problem]
    shown = labels(at)
    assert not [t for _, t in shown if english_left(lang, t)]
    assert not [t for _, t in shown if not is_translated(lang, t)]
    at.button(key="upload_store").click().run()
    assert not at.exception
    expected = catalogue(lang)[
        "Stored {works} works of {org} as version {version} of cycle {cycle}; "
        "{rejected} rejected rows kept with it."
    ]
    assert at.success[0].value.startswith(expected.split("{org}")[0].format(works=4))


# --- a shared store: the sign-in page and a role's refusal ----------------------------------
@pytest.mark.postgis
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_page_and_a_refusal_speak_the_chosen_language(
    monkeypatch, shared_installation, lang
):
    from access_data import PASSWORD, populate

    inst = populate(shared_installation.owner_url, shared_installation.app_url)
    at = open_in(monkeypatch, inst.app_url, lang, "login")
    assert at.title[0].value == translation(lang, "Sign in")
    shown = labels(at)
    assert not [t for _, t in shown if not is_translated(lang, t)], shown
    at.text_input(key="login_user").input("a_view")
    at.text_input(key="login_password").input("wrong password!")
    at.button(key="login_submit").click().run()
    assert is_translated(lang, at.error[0].value) and not english_left(lang, at.error[0].value)
    assert at.error[0].value.startswith(translation(lang, "sign-in to {store} refused for "
                                                          "{who}: wrong user name, password or "
                                                          "token, or the account is "
                                                          "disabled").split("{")[0])  # fmt: skip
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    at.switch_page(f"{PAGES}/login.py").run()
    signed_in = translation(lang, "Signed in as {user}, {role} of {org}, until {until} UTC.")
    assert is_translated(lang, at.success[0].value), at.success[0].value
    assert at.success[0].value.startswith(signed_in.split("{")[0] + "a\\_view")
    assert translation(lang, "viewer") in at.success[0].value
    at.switch_page(f"{PAGES}/overview.py").run()
    assert not at.exception
    shown = labels(at) + labels(at, sidebar=True)
    assert not [t for _, t in shown if english_left(lang, t)], shown


def test_links_between_pages_carry_a_language_other_than_the_default(monkeypatch):
    from ims_geo.ui import links

    assert links.LANG == LANGUAGE_PARAM
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    assert links.work_link("A", "W 1") == "map?org=A&work=W+1"
    i18n.use("nl")
    assert links.work_link("A", "W 1") == "map?org=A&work=W+1&lang=nl"
    assert links.project_link(3) == "programme?project=3&lang=nl"
    assert links.conflict_prefix() == "conflicts?lang=nl&conflict="
    monkeypatch.setenv(i18n.LANG_ENV, "nl")  # the installation's own language needs no mark
    assert links.work_link("A", "W 1") == "map?org=A&work=W+1"
    assert links.conflict_prefix() == "conflicts?conflict="


NAVIGATION = {
    "overview": "Overview", "map": "Map", "upload": "Upload", "conflicts": "Conflicts",
    "programme": "Programme", "cycle": "Planning cycle", "public": "Public view",
    # out of a GeoPackage store's menu, but its old links still open it
    "login": "Sign in / out",
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_navigation_names_the_pages_in_the_language_and_keeps_their_urls(
    monkeypatch, demo_store, lang
):
    at = open_in(monkeypatch, demo_store, lang)
    # AppTest keeps what st.navigation registered (no public accessor in streamlit 1.67)
    pages = {
        info["script_path"].rsplit("/", 1)[-1].removesuffix(".py"): info
        for info in at._registered_pages.values()
    }
    assert {p: i["page_name"] for p, i in pages.items()} == {
        p: translation(lang, title) for p, title in NAVIGATION.items()
    }
    # the URL of a page is the same in every language: a link works for everyone
    assert {p: i["url_pathname"] for p, i in pages.items() if p != "overview"} == {
        p: p for p in NAVIGATION if p != "overview"
    }
