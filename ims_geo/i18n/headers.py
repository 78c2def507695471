"""Column headers of an export in words of a language, for a spreadsheet a person reads.

Exports keep the canonical, shapefile-safe column names by default: they are
machine-readable and round-trip through ``ims-geo import``. Asked for a
language (``ims-geo conflicts ... --lang nl``), a CSV or Excel file gets the
headers a planner reads in the app instead (:func:`ims_geo.i18n.labels.label`
in that language: ``cost_eur`` → "Geraamde kosten (EUR)"). Only the headers
change, never the values.
"""

from __future__ import annotations

import pandas as pd

from ims_geo import i18n
from ims_geo.errors import InputError
from ims_geo.i18n.labels import label

__all__ = ["HEADED_FORMATS", "headed"]

#: Formats whose headers may be words: tables for people (spatial formats keep field names).
HEADED_FORMATS: tuple[str, ...] = ("csv", "xlsx")


def headed(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` with its column headers in words of language ``lang``.

    Parameters
    ----------
    frame
        A table to export (works, conflicts...); a geometry column keeps its name.
    lang
        A language code of :func:`ims_geo.i18n.available`.

    Returns
    -------
    DataFrame
        A copy with renamed columns; two columns that would get the same words keep
        their own name after the words (``Current (is_current)``).

    Raises
    ------
    InputError
        When ``lang`` is not an available language.
    """
    if lang not in i18n.available():
        raise InputError(
            f"unknown language {lang!r}; use one of {', '.join(i18n.available())} "
            f"(or add its catalogue in {i18n.LOCALE_DIR_ENV})"
        )
    with i18n.speaking(lang):
        words = [label(c) for c in frame.columns]
    geometry = getattr(frame, "_geometry_column_name", None)
    counts = pd.Series(words).value_counts()
    names = {
        column: column if column == geometry
        else f"{text} ({column})" if counts[text] > 1 and text != column
        else text
        for column, text in zip(frame.columns, words, strict=True)
    }  # fmt: skip
    return frame.rename(columns=names)
