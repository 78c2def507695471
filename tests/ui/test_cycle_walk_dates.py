"""The decision dates of an adoption (Planning cycle and Programme pages) and the
proposal's first day are typed as the language writes dates, under AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ims_geo.ui.state import LANGUAGE_KEY

from .conftest import APP, PAGES

#: st.date_input formats, written out by hand per language (day first; Dutch and German
#: with their own separators).
FORMATS = {"en": "DD/MM/YYYY", "nl": "DD-MM-YYYY", "de": "DD.MM.YYYY"}


@pytest.mark.parametrize("lang", sorted(FORMATS))
def test_date_inputs_of_the_cycle_follow_the_language(
    monkeypatch: pytest.MonkeyPatch, demo_store: Path, lang: str
) -> None:
    monkeypatch.setenv("IMS_GEO_STORE", str(demo_store))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[LANGUAGE_KEY] = lang
    at.run()
    at.switch_page(f"{PAGES}/cycle.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.date_input(key="cycle_decided").proto.format == FORMATS[lang]
    at.switch_page(f"{PAGES}/programme.py").run()
    assert at.date_input(key="programme_not_before").proto.format == FORMATS[lang]
    at.button(key="programme_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.date_input(key="programme_adopt_date").proto.format == FORMATS[lang]
