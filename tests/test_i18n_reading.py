"""Refusals and reasons of reading a file, built by the library, in the page's language."""

from __future__ import annotations

import io
import zipfile

import pytest

from ims_geo import i18n
from ims_geo.errors import InputError
from ims_geo.i18n import messages
from ims_geo.ingest import read_works

_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>{placemarks}</Document></kml>"""
_PLACEMARK = """<Placemark><name>{name}</name><TimeSpan>{span}</TimeSpan><ExtendedData>
<Data name="work_id"><value>{name}</value></Data><Data name="org"><value>W</value></Data>
</ExtendedData><Point><coordinates>5.1,52.1</coordinates></Point></Placemark>"""


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def _shown(english: str, lang: str, *, reasons: bool = False) -> str:
    i18n.use(lang)
    try:
        return messages.translate_reasons(english) if reasons else messages.translate(english)
    finally:
        i18n.use("en")


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("nl", "plan.zip is een leeg archief (het bevat geen bestanden); "),
        ("de", "plan.zip ist ein leeres Archiv (es enthält keine Dateien); "),
    ],
)
def test_an_empty_zip_is_refused_in_its_language(lang, says):
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(InputError) as refused:
        read_works(empty.getvalue(), name="plan.zip")
    english = str(refused.value)
    assert english.startswith("plan.zip is an empty archive (it holds no files); ")
    assert _shown(english, lang).startswith(says)


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_placemark_without_its_timespan_dates_is_rejected_in_its_language(lang):
    spans = {
        "Begin only": "<begin>2027-03-01</begin>",
        "End only": "<end>2027-06-30</end>",
        "Neither": "",
    }
    placemarks = "".join(_PLACEMARK.format(name=n, span=s) for n, s in spans.items())
    result = read_works(_KML.format(placemarks=placemarks).encode(), name="plan.kml")
    reasons = dict(zip(result.rejected["work_id"], result.rejected["reason"], strict=True))
    assert sorted(reasons) == sorted(spans)
    lacking = {"Begin only": "no <end>", "End only": "no <begin>",
               "Neither": "neither a <begin> nor an <end>"}  # fmt: skip
    for name, what in lacking.items():
        assert reasons[name].startswith(
            f"plan.kml: placemark '{name}' has {what} date in its TimeSpan that can be read"
        ), reasons[name]
    said = {
        "nl": {
            "Begin only": "in zijn TimeSpan geen leesbare <end>-datum",
            "End only": "in zijn TimeSpan geen leesbare <begin>-datum",
            "Neither": "in zijn TimeSpan geen leesbare <begin>- en geen leesbare <end>-datum",
        },
        "de": {
            "Begin only": "in seinem TimeSpan kein lesbares <end>-Datum",
            "End only": "in seinem TimeSpan kein lesbares <begin>-Datum",
            "Neither": "in seinem TimeSpan weder ein lesbares <begin>- noch ein lesbares <end>-Datum",
        },
    }[lang]
    for name, words in said.items():
        shown = _shown(reasons[name], lang, reasons=True)
        assert shown.startswith("plan.kml: ") and f"'{name}'" in shown, shown
        assert words in shown and "can be read" not in shown, shown
