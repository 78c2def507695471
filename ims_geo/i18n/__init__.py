"""Languages of the app: gettext catalogues and numbers, dates and euros per language.

Every string a user reads goes through :func:`_` (or :func:`ngettext` for counts)
at the moment it is shown, never at import time: the language is chosen per
browser session (the app's language selector) or for the whole installation
(``IMS_GEO_LANG``). Constants that must be declared at import time are marked
with :func:`N_` and translated where they are displayed.

Catalogues are standard gettext ``.po`` files, read directly with Babel (no
compile step): ``ims_geo/locale/<lang>/LC_MESSAGES/ims_geo.po`` ship with the
package (Dutch and German); a municipality adds a language, or overrides a
wording, by putting ``<lang>/LC_MESSAGES/ims_geo.po`` in the directory named
by ``IMS_GEO_LOCALE_DIR`` — no code changes. English is the source language.

The template and the catalogues are refreshed with ``make catalogues``::

    pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output \\
        --project ims_geo -o ims_geo/locale/ims_geo.pot .
    pybabel update -i ims_geo/locale/ims_geo.pot -d ims_geo/locale -D ims_geo \\
        --no-fuzzy-matching --ignore-obsolete

The library's own messages (errors, warnings, the validation report) stay
English for the command line and the API; pages show them through
:func:`ims_geo.i18n.messages.translate`, which translates them by template.

Numbers, dates and euros follow the language's CLDR conventions
(``1,234.5`` / ``1.234,5``; ``3 Mar 2031`` / ``3 mrt 2031`` / ``03.03.2031``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import io
import math
import os
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANG_ENV",
    "LOCALE_DIR_ENV",
    "N_",
    "_",
    "available",
    "bind",
    "default_language",
    "fmt_date",
    "fmt_days",
    "fmt_metres",
    "fmt_money",
    "fmt_number",
    "follow",
    "language",
    "language_name",
    "languages",
    "ngettext",
    "speaking",
    "use",
]

LANG_ENV = "IMS_GEO_LANG"
"""Environment variable: the installation's default language (``en``, ``nl``, ``de``, ...)."""
LOCALE_DIR_ENV = "IMS_GEO_LOCALE_DIR"
"""Environment variable: a directory of extra or overriding catalogues (``<lang>/LC_MESSAGES/ims_geo.po``)."""
DOMAIN = "ims_geo"
DEFAULT_LANGUAGE = "en"
PACKAGE_LOCALE = Path(__file__).resolve().parent.parent / "locale"
MISSING = "–"
"""Shown for an absent date or number."""

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("ims_geo_lang", default=None)
_fallback: Callable[[], str | None] | None = None
_T = TypeVar("_T")


def _locale_dirs() -> list[Path]:
    """Catalogue directories, the installation's own first (it overrides the package's)."""
    extra = os.environ.get(LOCALE_DIR_ENV)
    return ([Path(extra)] if extra else []) + [PACKAGE_LOCALE]


def _catalogue_files(lang: str) -> list[Path]:
    found = [d / lang / "LC_MESSAGES" / f"{DOMAIN}.po" for d in _locale_dirs()]
    return [f for f in found if f.is_file()]


def available() -> list[str]:
    """Language codes the app can be shown in: English plus every catalogue found.

    Returns
    -------
    list of str
        ``en`` first, then the catalogues' languages in alphabetical order.
    """
    codes: set[str] = set()
    for directory in _locale_dirs():
        if directory.is_dir():
            codes.update(p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    codes.discard(DEFAULT_LANGUAGE)
    return [DEFAULT_LANGUAGE, *sorted(codes)]


def language_name(code: str) -> str:
    """The language's own name for itself (``Nederlands``, ``Deutsch``), for the selector."""
    try:
        return (Locale.parse(code).get_display_name(code) or code).capitalize()
    except (ValueError, UnknownLocaleError):
        return code


def default_language() -> str:
    """The installation's language: ``IMS_GEO_LANG`` when it names an available one, else English."""
    wanted = (os.environ.get(LANG_ENV) or "").strip().lower().replace("-", "_")
    for code in (wanted, wanted.split("_")[0]):
        if code and code in available():
            return code
    return DEFAULT_LANGUAGE


def use(code: str | None) -> str:
    """Show everything from now on (in this thread/context) in language ``code``.

    Parameters
    ----------
    code
        A language code; ``None`` or an unknown code falls back to :func:`default_language`.

    Returns
    -------
    str
        The language now in use.
    """
    chosen = code if code in available() else default_language()
    _current.set(chosen)
    return chosen


def language() -> str:
    """The language in use in this context (the installation's default until :func:`use`).

    A context where :func:`use` was not called (e.g. a thread the app started) asks the
    function given to :func:`follow`, if any, before the installation's default.
    """
    chosen = _current.get()
    if chosen is None and _fallback is not None:
        wanted = _fallback()
        chosen = wanted if wanted in available() else None
    return chosen or default_language()


@contextlib.contextmanager
def speaking(code: str | None) -> Iterator[str]:
    """Everything inside the ``with`` block speaks ``code``; the language before afterwards.

    ``None`` keeps the language in use. The caller checks ``code`` against
    :func:`available` first when an unknown code must be refused rather than
    fall back as :func:`use` does.
    """
    if code is None:
        yield language()
        return
    token = _current.set(None)
    try:
        yield use(code)
    finally:
        _current.reset(token)


def bind(func: Callable[..., _T]) -> Callable[..., _T]:
    """``func`` that always runs in the language in use now (:func:`use` of this context).

    For functions called later, outside this context: a widget's ``format_func``, a
    callback, a thread. Returns a wrapper; ``func`` itself is unchanged.
    """
    fixed = language()

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> _T:
        token = _current.set(fixed)
        try:
            return func(*args, **kwargs)
        finally:
            _current.reset(token)

    return run


def follow(source: Callable[[], str | None] | None) -> None:
    """Ask ``source`` for the language of a context where :func:`use` was not called.

    The app passes a function that reads the browser session's choice, so code
    that runs outside the page's own run (a fragment, a callback) still speaks the
    session's language. ``None`` stops following.
    """
    global _fallback
    _fallback = source


@functools.lru_cache(maxsize=32)
def _load(lang: str, stamp: tuple[tuple[str, float], ...]) -> gettext.NullTranslations:
    """The merged catalogue of ``lang`` (``stamp`` = files and mtimes, so edits are picked up)."""
    merged: gettext.NullTranslations = gettext.NullTranslations()
    # the package's catalogue is the fallback of the installation's own
    for path, _mtime in reversed(stamp):
        with open(path, "rb") as handle:
            catalog = read_po(handle, locale=lang, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        layer = gettext.GNUTranslations(buffer)
        layer.add_fallback(merged)
        merged = layer
    return merged


#: Seconds the catalogue files found for a language (and their times) are trusted before
#: they are looked at again: every string shown asks for its catalogue, and a page shows
#: hundreds (a look at the files per string cost a page about 0.1 s); an edited or added
#: catalogue is still picked up within this time.
_RECHECK_SECONDS = 1.0
_stamps: dict[tuple[str, str | None], tuple[float, tuple[tuple[str, float], ...]]] = {}


def _stamp(lang: str) -> tuple[tuple[str, float], ...]:
    """The catalogue files of ``lang`` with their modification times (rechecked each second)."""
    key = (lang, os.environ.get(LOCALE_DIR_ENV))
    now = time.monotonic()
    seen = _stamps.get(key)
    if seen is None or now - seen[0] > _RECHECK_SECONDS:
        seen = (now, tuple((str(p), p.stat().st_mtime) for p in _catalogue_files(lang)))
        _stamps[key] = seen
    return seen[1]


def _translations(lang: str) -> gettext.NullTranslations:
    stamp = _stamp(lang)
    if lang == DEFAULT_LANGUAGE and not stamp:
        return gettext.NullTranslations()
    return _load(lang, stamp)


def _(message: str) -> str:
    """``message`` in the language in use (itself when no translation exists)."""
    return _translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for count ``n`` in the language in use (not yet formatted)."""
    return _translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction only; translate it with :func:`_` where it is shown."""
    return message


def _cldr() -> str:
    """The CLDR locale for formatting: British conventions for English (``3 Mar 2031``)."""
    lang = language()
    return "en_GB" if lang == DEFAULT_LANGUAGE else lang


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def fmt_date(value: object, *, style: str = "medium") -> str:
    """A date as the language writes it (``3 Mar 2031``; ``3 mrt 2031``; ``03.03.2031``).

    Parameters
    ----------
    value
        A date, datetime, pandas Timestamp or ISO string; missing values give ``–``.
    style
        Babel's format name: ``short``, ``medium``, ``long``.
    """
    if _missing(value):
        return MISSING
    if isinstance(value, str):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return str(value)
    return dates.format_date(value, format=style, locale=_cldr())


def fmt_number(value: object, *, decimals: int = 0) -> str:
    """A number with the language's thousands separator and decimal sign, rounded to ``decimals``."""
    if _missing(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return MISSING
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return numbers.format_decimal(round(number, decimals), format=pattern, locale=_cldr())


def fmt_money(value: object) -> str:
    """Euros, whole, with the language's separators and symbol position (``€1,234``, ``1.234 €``)."""
    if _missing(value):
        return MISSING
    amount = float(value)  # type: ignore[arg-type]
    if not math.isfinite(amount):
        return MISSING
    return numbers.format_currency(
        round(amount), "EUR", locale=_cldr(), currency_digits=False, format_type="standard"
    ).replace(numbers.get_decimal_symbol(_cldr()) + "00", "")


def fmt_metres(value: object) -> str:
    """A distance: centimetres below 10 m (``2.35 m``), whole metres above, km from 10 km."""
    if _missing(value):
        return MISSING
    metres = float(value)  # type: ignore[arg-type]
    if abs(metres) >= 10_000:
        return f"{fmt_number(metres / 1000, decimals=1)} km"
    return f"{fmt_number(metres, decimals=2 if abs(metres) < 10 else 0)} m"


def fmt_days(value: object) -> str:
    """A number of days in words (``1 day``, ``41 days``; ``41 dagen``; ``41 Tage``)."""
    if _missing(value):
        return MISSING
    n = int(value)  # type: ignore[call-overload]
    return ngettext("{n} day", "{n} days", n).format(n=fmt_number(n))


def languages() -> Iterator[tuple[str, str]]:
    """``(code, own name)`` of every available language, for a selector."""
    for code in available():
        yield code, language_name(code)
