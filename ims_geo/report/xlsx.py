"""The report's tables as an Excel workbook: one sheet per table, in a language.

Written with xlsxwriter: a frozen header, an autofilter, real Excel dates,
numbers as numbers and every text written as text (``strings_to_formulas=False``:
a work title ``=HYPERLINK(...)`` stays a title, never becomes a formula). Each
sheet has exactly the columns of its table in :mod:`ims_geo.report.data`, its
name and headers in words of the report's language
(:func:`ims_geo.i18n.labels.label`), and identifiers the cycle library writes
(states, deviations, statuses, KPI names) in words too; values from users
are written as they are.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ims_geo import schema as S
from ims_geo.i18n import N_, _
from ims_geo.i18n.labels import label
from ims_geo.maps import value_name
from ims_geo.report.data import (
    AWAITING_REPORT_COLUMNS,
    CHANGE_COLUMNS,
    CONFLICT_COLUMNS,
    DEVIATION_COLUMNS,
    FINANCING_COLUMNS,
    KPI_COLUMNS,
    MORATORIUM_COLUMNS,
    PROGRAMME_COLUMNS,
    PROGRESS_COLUMNS,
    PROJECT_COLUMNS,
    ReportData,
)
from ims_geo.report.words import TITLES, reason, say, speaking

#: xlsxwriter options: text stays text, whatever it looks like.
WORKBOOK_OPTIONS: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
#: Widest column, in characters.
_MAX_WIDTH = 60

#: Sheet names in words (at most 31 characters in every language, Excel's limit).
SHEET_NAMES: dict[str, str] = {
    "cycle": N_("Cycle"),
    "kpis": N_("KPIs"),
    "conflicts": N_("Conflicts"),
    "projects": N_("Combined projects"),
    "programme": N_("Programme"),
    "financing": N_("Financing"),
    "deviations": N_("Deviations"),
    "progress": N_("Progress"),
    "moratoria": N_("Moratoria"),
    "changes": N_("Changes"),
    "awaiting": N_("Awaiting plan update"),
}

#: Sheets of each kind of report, in order: sheet (a key of :data:`SHEET_NAMES`),
#: ReportData field, columns.
SHEETS: dict[str, tuple[tuple[str, str, Sequence[str]], ...]] = {
    "council": (
        ("kpis", "kpis", KPI_COLUMNS),
        ("conflicts", "conflicts", CONFLICT_COLUMNS),
        ("projects", "projects", PROJECT_COLUMNS),
        ("programme", "programme", PROGRAMME_COLUMNS),
        ("financing", "financing", FINANCING_COLUMNS),
        ("deviations", "deviations", DEVIATION_COLUMNS),
        ("progress", "progress", PROGRESS_COLUMNS),
        ("moratoria", "moratoria", MORATORIUM_COLUMNS),
        ("changes", "changes", CHANGE_COLUMNS),
    ),
    "status": (
        ("projects", "projects", PROJECT_COLUMNS),
        ("progress", "progress", PROGRESS_COLUMNS),
        ("deviations", "deviations", DEVIATION_COLUMNS),
        ("awaiting", "awaiting", AWAITING_REPORT_COLUMNS),
        ("programme", "programme", PROGRAMME_COLUMNS),
    ),
}

#: A conflict's state in a cell (short: the column says "at adoption and now").
_CONFLICT_CELLS: dict[str, str] = {
    "resolved": N_("resolved"),
    "open": N_("open"),
    "new": N_("new"),
}


#: Columns of each sheet whose identifiers are written in words, and how.
_WORDS: dict[str, dict[str, Callable[[str], str]]] = {
    "kpis": {"kpi": label, "state": say},
    "conflicts": {
        "kind": lambda v: value_name("kind", v),
        "status": lambda v: say(v, _CONFLICT_CELLS),
    },
    "projects": {"rag": say, "reason": reason},
    "deviations": {"deviation": say},
    "progress": {"status": lambda v: value_name(S.STATUS, v)},
    "changes": {"change": say},
}


def _in_words(frame: pd.DataFrame, words: Mapping[str, Callable[[str], str]]) -> pd.DataFrame:
    """``frame`` with the identifiers of the ``words`` columns in words (each distinct once)."""
    out = frame.copy()
    for column, say_it in words.items():
        values = out[column].astype(object)
        present = values.notna().to_numpy()
        text = values[present].astype(str)
        lookup = {v: say_it(v) for v in text.unique()}
        values[present] = text.map(lookup)
        out[column] = values
    return out


def _cells(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Exactly ``columns``; datetimes as dates (Excel dates), missing values as empty cells."""
    out = pd.DataFrame(frame.loc[:, list(columns)]).reset_index(drop=True)
    for column in columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(series):
            out[column] = pd.Series(series.dt.date, dtype=object).where(series.notna(), None)
    return out


def _about(data: ReportData, kind: str) -> pd.DataFrame:
    info = data.info
    rows = [
        (_("Report"), _(TITLES[kind])),
        (_("Cycle"), info.year),
        (_("Area"), info.area),
        (_("Programme revision"), info.revision),
        (_("Decision"), info.decision),
        (_("Decision date"), info.decision_date),
        (_("State as of"), info.as_of),
        # text, as several cycles may be named ("2025, 2026"); empty when nothing is carried
        (_("Programme carried from"), ", ".join(str(y) for y in info.carried_from)),
        (_("Previous cycle"), info.previous_year),
        (_("Full revision"), _("yes") if info.full_revision else _("no")),
    ]
    return pd.DataFrame(rows, columns=[_("Item"), label("value")]).astype(object)


def sheets(
    data: ReportData, kind: str = "council", *, lang: str | None = None
) -> dict[str, pd.DataFrame]:
    """The tables of a report by sheet name, in a language (the cycle sheet first).

    Parameters
    ----------
    data
        What the report shows.
    kind
        ``council`` or ``status`` (see :data:`SHEETS`).
    lang
        The language of the sheet names, headers and identifiers in words;
        default the language in use.

    Returns
    -------
    dict of str to pandas.DataFrame
        Sheet name (:data:`SHEET_NAMES` in words) to its table: exactly the
        columns of the table, headed by :func:`~ims_geo.i18n.labels.label`.
    """
    with speaking(lang):
        names = {key: _(words) for key, words in SHEET_NAMES.items()}
        out = {names["cycle"]: _about(data, kind)}
        for name, field, columns in SHEETS[kind]:
            table = _in_words(_cells(getattr(data, field), columns), _WORDS.get(name, {}))
            out[names[name]] = table.rename(columns=label)
        return out


def _write(tables: Mapping[str, pd.DataFrame], target: Path | io.BytesIO) -> None:
    with pd.ExcelWriter(
        target,
        engine="xlsxwriter",
        date_format="yyyy-mm-dd",
        datetime_format="yyyy-mm-dd",
        engine_kwargs={"options": WORKBOOK_OPTIONS},
    ) as writer:
        for name, table in tables.items():
            table.to_excel(writer, sheet_name=name, index=False, freeze_panes=(1, 0))
            sheet = writer.sheets[name]
            ncols = max(len(table.columns), 1)
            sheet.autofilter(0, 0, len(table), ncols - 1)
            for i, column in enumerate(table.columns):
                lengths = table[column].astype(object).map(str).str.len()
                longest = int(lengths.max()) if len(table) else 0
                width = min(max(len(str(column)), longest, 8) + 2, _MAX_WIDTH)
                sheet.set_column(i, i, width)


def xlsx_bytes(data: ReportData, kind: str = "council", *, lang: str | None = None) -> bytes:
    """The report as the bytes of an .xlsx workbook (for downloads), in ``lang`` (see
    :func:`sheets`)."""
    buffer = io.BytesIO()
    _write(sheets(data, kind, lang=lang), buffer)
    return buffer.getvalue()
