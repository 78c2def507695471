"""The words of a report in its language: the language scope, titles and fixed vocabulary.

A report is written in one language, chosen per call (:func:`speaking`), so
the app's page writes it in the language of the browser session and
``ims-geo report --lang nl`` in Dutch. Every heading and label is marked with
:func:`~ims_geo.i18n.N_` or :func:`~ims_geo.i18n._` and translated by the
catalogues; values the cycle library writes as identifiers (``not_combined``,
``resolved``) are turned into words here; values from users (titles,
organisation names) are never translated.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from ims_geo import i18n
from ims_geo.errors import InputError
from ims_geo.i18n import N_, _, fmt_days
from ims_geo.i18n.messages import translate

__all__ = [
    "CONFLICT_STATES",
    "TITLES",
    "VOCABULARY",
    "check_language",
    "reason",
    "say",
    "speaking",
]

#: The two kinds of report by name, as their titles read.
TITLES: dict[str, str] = {"council": N_("Council pack"), "status": N_("Status report")}

#: Changes since the previous cycle, deviations, states and other identifiers in words.
VOCABULARY: dict[str, str] = {
    "added": N_("added"),
    "dropped": N_("dropped"),
    "moved": N_("moved"),
    "not_combined": N_("not combined"),
    "late": N_("late"),
    "early": N_("early"),
    "unplanned": N_("unplanned"),
    "awaiting_update": N_("awaiting update"),
    "not reported": N_("not reported"),
    "red": N_("red"),
    "amber": N_("amber"),
    "green": N_("green"),
    "no target": N_("no target"),
    "no data": N_("no data"),
}

#: A conflict's state at adoption and now (:data:`ims_geo.report.data.CONFLICT_STATUSES`).
CONFLICT_STATES: dict[str, str] = {
    "resolved": N_("found at adoption, resolved"),
    "open": N_("still open"),
    "new": N_("new since adoption"),
}


def say(value: str, words: dict[str, str] = VOCABULARY) -> str:
    """``value`` in words of the language in use when ``words`` knows it, else as it is."""
    found = words.get(value)
    return value if found is None else _(found)


#: A project's state as the cycle library explains it (``ims_geo.cycle.project_status``):
#: "on programme", or its deviating members joined by "; ", each
#: "<org> <work> <deviation>[ (+N days)][, outside the joint period]".
_MEMBER = re.compile(
    r"(?P<who>.+) (?P<deviation>dropped|not_combined|moved|late|early|unplanned|awaiting_update)"
    r"(?: \((?P<days>[+-]\d+) days\))?(?P<outside>, outside the joint period)?"
)
_ON_PROGRAMME = N_("on programme")
_OUTSIDE = N_("outside the joint period")


def _member(text: str) -> str | None:
    found = _MEMBER.fullmatch(text)
    if found is None:
        return None
    words = f"{found['who']} {say(found['deviation'])}"
    if found["days"] is not None:
        days = int(found["days"])
        words += f" ({'+' if days > 0 else '-' if days < 0 else ''}{fmt_days(abs(days))})"
    return words + (", " + _(_OUTSIDE) if found["outside"] else "")


def reason(text: str) -> str:
    """Why a combined project has its state, in words of the language in use.

    The cycle library writes it in English (``Water W1 late (+2 days); Gas G1
    early (-2 days)``, ``on programme``); the organisations and works in it are
    kept as they are. A reason in another form (written by hand) is translated
    by :func:`ims_geo.i18n.messages.translate` when a template matches, else
    kept as it is.
    """
    if text == "on programme":
        return _(_ON_PROGRAMME)
    members = [_member(part) for part in text.split("; ")]
    if all(m is not None for m in members):
        return "; ".join(m for m in members if m is not None)
    return translate(text)


def check_language(lang: str | None) -> None:
    """Refuse a ``lang`` that is not a language of this installation (``None`` is the default).

    Raises
    ------
    InputError
        Naming the languages there are.
    """
    if lang is not None and lang not in i18n.available():
        raise InputError(
            f"the report cannot be written in {lang!r}: not a language of this installation; "
            f"use one of {', '.join(i18n.available())} (or add its catalogue in "
            f"{i18n.LOCALE_DIR_ENV})"
        )


@contextlib.contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Everything inside speaks ``lang`` (words, numbers, dates); the language before after.

    Parameters
    ----------
    lang
        A language of :func:`ims_geo.i18n.available`; ``None`` keeps the language in use.

    Yields
    ------
    str
        The language in use inside.

    Raises
    ------
    InputError
        When ``lang`` is not a language of this installation.
    """
    check_language(lang)
    with i18n.speaking(lang) as spoken:
        yield spoken
