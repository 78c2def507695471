"""Languages: catalogues found and merged, formatting per language."""

from datetime import date

import pandas as pd
import pytest

from ims_geo import i18n


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def test_the_shipped_languages_are_english_dutch_and_german():
    assert i18n.available()[0] == "en"
    assert {"nl", "de"} <= set(i18n.available())
    assert dict(i18n.languages())["nl"] == "Nederlands"


@pytest.mark.parametrize(
    ("lang", "when", "money", "number", "days"),
    [
        ("en", "3 Mar 2031", "€1,234,567", "12,345.7", "41 days"),
        ("nl", "3 mrt 2031", "€ 1.234.567", "12.345,7", "41 dagen"),
        ("de", "03.03.2031", "1.234.567\xa0€", "12.345,7", "41 Tage"),
    ],
)
def test_dates_numbers_euros_and_days_are_written_as_each_language_writes_them(
    lang, when, money, number, days
):
    assert i18n.use(lang) == lang
    assert i18n.fmt_date(pd.Timestamp("2031-03-03 00:00:00")) == when
    assert i18n.fmt_date(date(2031, 3, 3)) == when
    assert i18n.fmt_money(1234567.4).replace("\xa0", " ") == money.replace("\xa0", " ")
    assert i18n.fmt_number(12345.678, decimals=1) == number
    assert i18n.fmt_days(41) == days
    assert i18n.fmt_date(None) == i18n.fmt_date(pd.NaT) == i18n.MISSING


def test_metres_are_rounded_to_what_a_planner_reads():
    i18n.use("en")
    assert i18n.fmt_metres(3.456) == "3.46 m"
    assert i18n.fmt_metres(1234.5) == "1,234 m"
    assert i18n.fmt_metres(25_300) == "25.3 km"


def test_an_unknown_language_falls_back_to_the_installation_default(monkeypatch):
    monkeypatch.setenv(i18n.LANG_ENV, "de-DE")
    assert i18n.use("xx") == "de"
    monkeypatch.delenv(i18n.LANG_ENV)
    assert i18n.use("xx") == "en"


def test_a_municipality_adds_a_language_and_overrides_a_wording_without_code(tmp_path, monkeypatch):
    header = (
        'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n'
        '"Content-Type: text/plain; charset=utf-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
    )
    fr = tmp_path / "fr" / "LC_MESSAGES"
    fr.mkdir(parents=True)
    (fr / "ims_geo.po").write_text(
        header.format(lang="fr")
        + 'msgid "{n} day"\nmsgid_plural "{n} days"\nmsgstr[0] "{n} jour"\nmsgstr[1] "{n} jours"\n',
        encoding="utf-8",
    )
    nl = tmp_path / "nl" / "LC_MESSAGES"
    nl.mkdir(parents=True)
    (nl / "ims_geo.po").write_text(
        header.format(lang="nl")
        + 'msgid "{n} day"\nmsgid_plural "{n} days"\nmsgstr[0] "{n} werkdag"\nmsgstr[1] "{n} werkdagen"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(i18n.LOCALE_DIR_ENV, str(tmp_path))
    assert "fr" in i18n.available()
    i18n.use("fr")
    assert i18n.fmt_days(2) == "2 jours"
    i18n.use("nl")
    assert i18n.fmt_days(2) == "2 werkdagen"  # the installation's wording wins
