"""The pages' CSV and Excel downloads with column headers in the chosen language.

Expected headers are the shipped catalogues' translations of each canonical
column's words (``ims_geo/locale``), read here, not built by the code under
test; the canonical file (the checkbox unticked) is the reference for values.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ims_geo import i18n
from ims_geo.i18n.labels import LABELS
from ims_geo.ui.state import LANGUAGE_KEY

from .conftest import APP, PAGES
from .test_languages import catalogue
from .test_programme_page import opened, proposed, small_store  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    i18n.use("en")


def words(lang: str, columns: list[str]) -> list[str]:
    """The headers a person reads in ``lang``: the catalogue's words of each canonical column
    (a column of no listed words keeps its name; two columns of the same words keep their
    names after them)."""
    found = [catalogue(lang)[LABELS[c]] if c in LABELS else c for c in columns]
    return [
        f"{w} ({c})" if found.count(w) > 1 and w != c else w
        for w, c in zip(found, columns, strict=True)
    ]


def open_in(monkeypatch, store, lang: str, page: str, **preset) -> AppTest:
    monkeypatch.setenv("IMS_GEO_STORE", str(store))
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.session_state[LANGUAGE_KEY] = lang
    at.run()
    at.switch_page(f"{PAGES}/{page}.py")
    for key, value in preset.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # AppTest formats the widgets' values again in this thread: in the page's language
    i18n.use(lang)
    return at


def both(at: AppTest, downloaded, key: str, fmt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table of download ``key`` (``csv`` or ``xlsx``) in words, then with canonical
    headers (the checkbox unticked)."""

    def read(data: bytes) -> pd.DataFrame:
        buffer = io.BytesIO(data)
        if fmt == "csv":
            return pd.read_csv(buffer, dtype=str, keep_default_na=False)
        return pd.read_excel(buffer, dtype=str, keep_default_na=False)

    at.checkbox(key=f"{key}_headers").uncheck().run()
    machine = read(downloaded(at, f"{key}_{fmt}"))
    at.checkbox(key=f"{key}_headers").check().run()
    people = read(downloaded(at, f"{key}_{fmt}"))
    return people, machine


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_conflict_list_downloads_with_headers_in_the_chosen_language(
    monkeypatch, demo_store, downloaded, lang, fmt
):
    at = open_in(monkeypatch, demo_store, lang, "conflicts")
    box = at.checkbox(key="conflicts_download_headers")
    assert box.value is True  # a list people read: in words at first
    assert box.label == catalogue(lang)["Column headers in {language}"].format(
        language={"nl": "Nederlands", "de": "Deutsch"}[lang]
    )
    people, machine = both(at, downloaded, "conflicts_download", fmt)
    assert {"work_id_a", "org_b", "kind", "distance_m"} <= set(machine.columns)
    assert list(people.columns) == words(lang, list(machine.columns))
    assert (catalogue(lang)["Organisation A"] in people.columns) and len(people) > 0
    # only the headers change
    pd.testing.assert_frame_equal(people.set_axis(machine.columns, axis=1), machine)
    # spatial files keep their field names whatever the checkbox says
    assert b"work_id_a" in downloaded(at, "conflicts_download_geojson")


def test_in_english_the_downloads_have_the_canonical_headers_and_no_choice(
    monkeypatch, demo_store, downloaded
):
    at = open_in(monkeypatch, demo_store, "en", "conflicts")
    assert not [b for b in at.checkbox if b.key == "conflicts_download_headers"]
    table = pd.read_csv(io.BytesIO(downloaded(at, "conflicts_download_csv")))
    assert {"kind", "work_id_a", "org_b", "distance_m"} <= set(table.columns)
    assert not set(table.columns) & {"Work A", "Organisation B", "Kind"}


def test_an_excel_download_in_words_writes_ids_and_dates_as_text(
    monkeypatch, demo_store, downloaded
):
    at = open_in(monkeypatch, demo_store, "de", "conflicts")
    book = openpyxl.load_workbook(io.BytesIO(downloaded(at, "conflicts_download_xlsx")))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    column = header.index(catalogue("de")["Work A"]) + 1
    cells = [sheet.cell(row, column) for row in range(2, min(sheet.max_row, 20) + 1)]
    assert cells and all(c.data_type == "s" and isinstance(c.value, str) for c in cells)


def sheets(data: bytes) -> dict[str, pd.DataFrame]:
    return pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_the_programme_downloads_offer_headers_in_words_and_start_canonical(
    open_app,
    small_store,  # noqa: F811 (the fixture imported above)
    downloaded,
    lang,
):
    at = opened(open_app, small_store)
    at.session_state[LANGUAGE_KEY] = lang
    proposed(at)
    i18n.use(lang)
    box = at.checkbox(key="programme_download_headers")
    assert box.value is False  # the workbook is read back (compare, adopt): canonical at first
    machine = sheets(downloaded(at, "programme_workbook"))
    works = pd.read_csv(io.BytesIO(downloaded(at, "programme_works_download_csv")), dtype=str)
    assert {"works", "clusters", "kpis", "gantt"} <= set(machine)
    assert {"work_id", "proposed_start", "cluster_id"} <= set(works.columns)
    box.check().run()
    people = sheets(downloaded(at, "programme_workbook"))
    assert list(people) == list(machine)
    for name, sheet in machine.items():
        assert list(people[name].columns) == words(lang, list(sheet.columns)), name
        pd.testing.assert_frame_equal(people[name].set_axis(sheet.columns, axis=1), sheet)
    assert catalogue(lang)["Proposed start"] in people["works"].columns
    for key in ("programme_works_download", "programme_projects_download"):
        table = pd.read_excel(io.BytesIO(downloaded(at, f"{key}_xlsx")), dtype=str)
        assert catalogue(lang)["Combined project"] in table.columns, key
    kpis = pd.read_csv(io.BytesIO(downloaded(at, "programme_kpis_download_csv")))
    assert list(kpis.columns) == words(lang, ["kpi", "baseline", "proposal"])


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_the_rejected_rows_download_offers_headers_in_words(
    monkeypatch, store_copy, downloaded, lang
):
    at = open_in(monkeypatch, store_copy, lang, "upload")
    plan = (
        "work_id,org,start_date,end_date,geometry\n"
        'A1,Water,2030-01-01,2030-02-01,"POINT (155000 463000)"\n'
        "A2,Water,2030-01-01,2030-02-01,\n"
    )
    at.file_uploader(key="upload_file").upload("plan.csv", plan.encode(), "text/csv")
    at.text_input(key="upload_crs").input("EPSG:28992")
    at.text_input(key="upload_org_new").input("Water")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    key = "upload_rejected_download"
    assert at.checkbox(key=f"{key}_headers").value is False  # fixed and uploaded again
    machine = pd.read_csv(io.BytesIO(downloaded(at, f"{key}_csv")), dtype=str)
    assert machine["work_id"].tolist() == ["A2"]
    at.checkbox(key=f"{key}_headers").check().run()
    people = pd.read_csv(io.BytesIO(downloaded(at, f"{key}_csv")), dtype=str)
    assert list(people.columns) == words(lang, list(machine.columns))
    assert catalogue(lang)["Reason"] in people.columns
