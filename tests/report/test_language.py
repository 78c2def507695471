"""The council pack and the status report in Dutch and German.

Every expected word is read from the shipped catalogues (the translations a
council reads), never from the report's own code; numbers, dates and euros
are written out as Dutch and German write them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import shapely
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from ims_geo import cycle, i18n
from ims_geo.cli import EXIT_INPUT
from ims_geo.errors import InputError
from ims_geo.report import render_html, report_bytes, write_report
from ims_geo.report.assemble import ReportData, report_data
from ims_geo.report.svg import Layer, map_svg
from ims_geo.ui.state import LANGUAGE_KEY

from .conftest import FIBRE, HOSTILE_ORG, HOSTILE_TITLE, WATER, build_data, kpi_table
from .htmltree import Node, parse
from .test_cli import _run
from .test_html import by_heading

ROOT = Path(__file__).resolve().parents[2]
REPORT_CODE = sorted((ROOT / "ims_geo" / "report").glob("*.py"))
LANGUAGES = ("nl", "de")
NBSP = "\xa0"

#: The sections of each report, in English (the catalogues' msgids), in order.
COUNCIL = [
    "Overview map",
    "KPIs against targets",
    "Conflicts found and resolved since adoption",
    "Combined projects",
    "The adopted programme per organisation",
    "Cost and financing per organisation and year",
    "Changes since the previous cycle",
]
STATUS = [
    "State of the combined projects",
    "Progress reported",
    "Deviations from the adopted programme",
    "Plans not yet updated to the adopted dates",
    "The programme and what was reported",
]


def _catalogue(lang: str) -> Catalog:
    path = i18n.PACKAGE_LOCALE / lang / "LC_MESSAGES" / "ims_geo.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


class Words:
    """The catalogue of one language: ``words("Overview map")`` is its translation."""

    def __init__(self, lang: str) -> None:
        self.catalogue = _catalogue(lang)

    def __call__(self, msgid: str) -> str:
        message = self.catalogue.get(msgid)
        assert message is not None and message.string, f"{msgid!r} is not translated"
        return message.string if isinstance(message.string, str) else message.string[0]

    def plural(self, singular: str, n: int) -> str:
        message = self.catalogue.get(singular)
        assert message is not None and all(message.string)
        return message.string[0 if n == 1 else 1]


@pytest.fixture(autouse=True)
def _installation_language_after() -> Iterator[None]:
    yield
    i18n.use(None)


def _text_pieces(root: Node) -> list[str]:
    """Every piece of text of the document's body, stripped (style and script excluded)."""
    pieces = []
    for node in root.iter():
        if node.tag in ("style", "script"):
            continue
        pieces += [c.strip() for c in node.children if isinstance(c, str) and c.strip()]
    return pieces


def _english(lang: str) -> set[str]:
    """The English words of the report's code (extracted as ``make catalogues`` does) that
    ``lang`` writes otherwise: each form of a plural on its own."""
    catalogue = _catalogue(lang)
    found = set()
    for path in REPORT_CODE:
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"_": None, "N_": None, "ngettext": (1, 2)}
        ):
            forms = [message] if isinstance(message, str) else list(message)
            translated = catalogue.get(forms[0])
            assert translated is not None and translated.string, f"{forms[0]!r} not translated"
            shown = translated.string
            found.update(set(forms) - set([shown] if isinstance(shown, str) else shown))
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_council_pack_headings_and_title_in_the_language(lang: str) -> None:
    words = Words(lang)
    root, _ = parse(render_html(build_data(), lang=lang))
    assert root.find_all("html")[0].attrs["lang"] == lang
    title = words("{report}: planning cycle {year}").format(report=words("Council pack"), year=2027)
    # the area is the user's own text: as it is, and escaped
    assert root.find_all("h1")[0].text == f"{title} — Kallio <b>pilot</b>"
    assert [h.text for h in root.find_all("h2")] == [words(h) for h in COUNCIL] + [
        words("Measure sheet: project {project}").format(project=p) for p in ("P1", "P2")
    ]
    assert root.find_all("title")[0].text == f"{words('Council pack')} 2027"
    status, _ = parse(render_html(build_data(), "status", lang=lang))
    assert status.find_all("html")[0].attrs["lang"] == lang
    assert [h.text for h in status.find_all("h2")] == [words(h) for h in STATUS]


@pytest.mark.parametrize("kind", ["council", "status"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_english_word_of_the_report_is_left(lang: str, kind: str) -> None:
    root, _ = parse(render_html(build_data(), kind, lang=lang))
    pieces = _text_pieces(root)
    english = _english(lang)
    assert english, "the report's messages were not found"
    # a message with placeholders is left English when a piece of text matches its words
    patterns = {
        m: re.compile(re.sub(r"\\\{\w+\\\}", ".*", re.escape(m))) for m in english if "{" in m
    }
    left = [p for p in pieces if p in english]
    left += [p for p in pieces for m, found in patterns.items() if found.fullmatch(p)]
    assert left == []
    # and the English report does show them: the comparison can fail
    english_pieces = _text_pieces(parse(render_html(build_data(), kind, lang="en"))[0])
    assert {words_en for words_en in english_pieces if words_en in english}


def test_numbers_dates_and_euros_as_dutch_and_german_write_them() -> None:
    kpis = kpi_table(1_234_567.0)
    expected = {
        "nl": [
            ["60 %", "32 %"],
            [f"€{NBSP}2.000.000", f"€{NBSP}2.919.798"],
            ["60 dagen", "154 dagen"],
            ["", "1.234.567,00"],
        ],
        "de": [
            ["60 %", "32 %"],
            [f"2.000.000{NBSP}€", f"2.919.798{NBSP}€"],
            ["60 Tage", "154 Tage"],
            ["", "1.234.567,00"],
        ],
    }
    money = {"nl": lambda n: f"€{NBSP}{n}", "de": lambda n: f"{n}{NBSP}€"}
    period = {"nl": "1 mei 2027 – 31 okt 2027", "de": "01.05.2027 – 31.10.2027"}
    for lang in LANGUAGES:
        words, eur = Words(lang), money[lang]
        root, tags = parse(render_html(build_data(kpis=kpis), lang=lang))
        assert "script" not in tags
        table = root.find_all("table", class_="kpis")[0].rows()
        assert table[0] == [words(w) for w in ("Indicator", "Target", "Value", "State")]
        assert [r[0] for r in table[1:]] == [
            words("Share of excavating works combined"),
            words("Savings (EUR)"),
            words("Most disruption days on a street segment"),
            "<i>x</i>",
        ]
        assert [r[1:3] for r in table[1:]] == expected[lang]
        assert [r[3] for r in table[1:]] == [words(s) for s in ("red", "green", "red", "no target")]
        financing = by_heading(root, words("Cost and financing per organisation and year"))
        assert financing.rows() == [
            [words("Organisation"), "2027", "2028", words("total")],
            [FIBRE, eur("30.000"), eur("15.000"), eur("45.000")],
            [HOSTILE_ORG, eur("230.000"), "", eur("230.000")],
            [WATER, eur("110.000"), eur("45.000"), eur("155.000")],
            [words("all organisations"), eur("370.000"), eur("60.000"), eur("430.000")],
        ]
        sheet = root.find_all("section", class_="sheet")[0]
        facts = dict(r for r in sheet.find_all("table", class_="facts")[0].rows())
        assert facts[words("Joint period")] == period[lang]
        assert facts[words("Members")] == (
            words.plural("{count} work", 3).format(count=3)
            + " "
            + words.plural("of {count} organisation", 3).format(count=3)
        )
        assert facts[words("Cost")] == ", ".join(
            [
                words("{amount} separately").format(amount=eur("360.000")),
                words("{amount} combined").format(amount=eur("360.000")),
            ]
        )
        members = sheet.find_all("table")[1].rows()
        assert members[3][3] == HOSTILE_TITLE
        assert members[1][4] == words("water") and members[1][-1] == words("in progress")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_workbook_in_the_language_numbers_stay_numbers(lang: str, tmp_path: Path) -> None:
    words = Words(lang)
    book = openpyxl.load_workbook(write_report(build_data(), tmp_path / "council.xlsx", lang=lang))
    assert book.sheetnames == [
        words(s)
        for s in (
            "Cycle", "KPIs", "Conflicts", "Combined projects", "Programme", "Financing",
            "Deviations", "Progress", "Moratoria", "Changes",
        )
    ]  # fmt: skip
    kpis = [tuple(c.value for c in row) for row in book[words("KPIs")].iter_rows()]
    assert kpis == [
        tuple(words(w) for w in ("Indicator", "Target", "Value", "State")),
        (words("Share of excavating works combined"), 0.5, 0.6, words("green")),
        (words("Moratorium violations"), 0, 1, words("red")),
        ("<b>custom</b> trees", 3, 2, words("amber")),
    ]
    sheet = book[words("KPIs")]
    assert [sheet.cell(row=r, column=1).data_type for r in (2, 3, 4)] == ["s", "s", "s"]
    assert [sheet.cell(row=r, column=2).data_type for r in (2, 3, 4)] == ["n", "n", "n"]
    deviations = [tuple(c.value for c in row) for row in book[words("Deviations")].iter_rows()]
    assert deviations[0] == tuple(
        words(w) for w in ("Organisation", "Work", "Combined project", "Deviation", "Days")
    )
    assert [r[3] for r in deviations[1:]] == [
        words(w) for w in ("not combined", "unplanned", "late")
    ]
    programme = book[words("Programme")]
    assert programme["D2"].is_date and programme["G2"].value == 120000
    cycle_sheet = dict(
        tuple(c.value for c in row) for row in book[words("Cycle")].iter_rows(min_row=2)
    )
    assert cycle_sheet[words("Report")] == words("Council pack")
    assert cycle_sheet[words("Full revision")] == words("no")
    assert cycle_sheet[words("Area")] == "Kallio <b>pilot</b>"


def test_the_language_is_scoped_to_the_call() -> None:
    i18n.use("nl")
    data = build_data()
    # no lang: the language in use
    assert '<html lang="nl">' in render_html(data)
    assert '<html lang="de">' in report_bytes(data, "html", lang="de").decode()
    assert i18n.language() == "nl"
    with pytest.raises(InputError, match="cannot be written in 'fr'.*use one of en, "):
        render_html(data, lang="fr")
    assert i18n.language() == "nl"


def test_report_command_lang(cycle_store, tmp_path: Path) -> None:
    store = str(cycle_store.location)
    html = tmp_path / "raad.html"
    result = _run("report", "--cycle", "2026", "--out", str(html), "--store", store,
                  "--area", "Kallio", "--lang", "nl")  # fmt: skip
    assert result.exit_code == 0, result.output
    words = Words("nl")
    root, _ = parse(html.read_text("utf-8"))
    assert root.find_all("html")[0].attrs["lang"] == "nl"
    title = words("{report}: planning cycle {year}").format(report=words("Council pack"), year=2026)
    assert root.find_all("h1")[0].text == f"{title} — Kallio"
    xlsx = tmp_path / "status.xlsx"
    result = _run("report", "--cycle", "2026", "--out", str(xlsx), "--kind", "status",
                  "--store", store, "--lang", "de")  # fmt: skip
    assert result.exit_code == 0, result.output
    german = Words("de")
    assert openpyxl.load_workbook(xlsx).sheetnames == [
        german(s)
        for s in (
            "Cycle", "Combined projects", "Progress", "Deviations", "Awaiting plan update",
            "Programme",
        )
    ]  # fmt: skip
    # without --lang: the installation's language (English here)
    english = tmp_path / "council.html"
    assert _run("report", "--cycle", "2026", "--out", str(english), "--store", store).exit_code == 0
    assert '<html lang="en">' in english.read_text("utf-8")
    refused = tmp_path / "r.html"
    result = _run("report", "--cycle", "2026", "--out", str(refused), "--store", store,
                  "--lang", "fr")  # fmt: skip
    assert result.exit_code == EXIT_INPUT
    assert "cannot be written in 'fr'" in result.output and "use one of en, de, nl" in result.output
    assert not refused.exists()


def test_cycle_page_builds_the_report_in_the_page_language(monkeypatch, tmp_path: Path) -> None:
    from tests.test_cycle import SAVINGS, YEAR, build, hand_programme

    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Raad 2027/14", savings=SAVINGS)
    monkeypatch.setenv("IMS_GEO_STORE", str(path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[LANGUAGE_KEY] = "nl"
    at.run()
    at.switch_page("ims_geo/ui/pages/cycle.py").run()
    at.button(key="cycle_report_build").click().run()
    assert not at.exception and not at.error
    built = at.session_state["cycle_report"]
    words = Words("nl")
    root, _ = parse(built[2].decode("utf-8"))
    assert root.find_all("html")[0].attrs["lang"] == "nl"
    assert [h.text for h in root.find_all("h2")][: len(COUNCIL)] == [words(h) for h in COUNCIL]
    book = openpyxl.load_workbook(io.BytesIO(built[3]))
    assert book.sheetnames[:2] == [words("Cycle"), words("KPIs")]


@pytest.mark.parametrize(("lang", "expected"), [("en", "0.5 m"), ("de", "0,5 m"), ("nl", "0,5 m")])
def test_the_scale_bar_writes_the_language_decimal_sign(lang: str, expected: str) -> None:
    # 2 m drawn 200 px wide: a quarter is 0.5 m, the largest 1/2/5 x 10^k not above it
    line = shapely.LineString([(0, 0), (2, 2)])
    i18n.use(lang)
    drawing = map_svg([Layer(np.array([line]), "#123456", 2.0)], bounds=(0, 0, 2, 2), width=200)
    root, _ = parse(drawing)
    assert root.find_all("g", class_="scale")[0].find_all("text")[0].text == expected


@pytest.fixture(scope="module")
def monitored_report(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    """The report data of the planning cycle's scenario a year on (tests/test_cycle.py), built
    once for the languages it is written in."""
    from tests.test_cycle import SAVINGS, YEAR, build, hand_programme, monitored

    store = build(tmp_path_factory.mktemp("monitored") / "cycle.gpkg")
    cycle.adopt(store, YEAR, hand_programme(store), decision="Raad 2027/14", savings=SAVINGS)
    return report_data(monitored(store), YEAR)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_why_a_project_has_its_state_in_the_language(
    lang: str, monitored_report: ReportData
) -> None:
    data = monitored_report
    words = Words(lang)

    def days(n: int) -> str:
        return words.plural("{n} day", n).format(n=n)

    # the cycle library's reasons (English) of the three projects, worst first
    expected = [
        ("C002", f"Heat H1 {words('dropped')}; Elec E1 {words('not combined')} (+{days(25)})"),
        ("C001", f"Water W1 {words('late')} (+{days(2)}); Gas G1 {words('early')} (-{days(2)})"),
        ("C003", words("on programme")),
    ]
    root, _ = parse(render_html(data, "status", lang=lang))
    rows = by_heading(root, words("State of the combined projects")).rows()[1:]
    assert [(r[0], r[-1]) for r in rows] == expected
    sheets_ = openpyxl.load_workbook(io.BytesIO(report_bytes(data, "xlsx", lang=lang)))
    projects = sheets_[words("Combined projects")].iter_rows(min_row=2, values_only=True)
    assert sorted((r[0], r[-1]) for r in projects) == sorted(expected)
