"""The report's tables as an Excel workbook: one sheet per table.

Written with xlsxwriter: a frozen header, an autofilter, real Excel dates,
and every text written as text (``strings_to_formulas=False``: a work title
``=HYPERLINK(...)`` stays a title, never becomes a formula). Each sheet has
exactly the columns of its table in :mod:`ims_geo.report.data`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ims_geo.report.data import (
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

#: xlsxwriter options: text stays text, whatever it looks like.
WORKBOOK_OPTIONS: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
#: Widest column, in characters.
_MAX_WIDTH = 60

#: Sheets of each kind of report, in order: sheet name, ReportData field, columns.
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
        ("programme", "programme", PROGRAMME_COLUMNS),
    ),
}


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
        ("report", "council pack" if kind == "council" else "status report"),
        ("cycle", info.year),
        ("area", info.area),
        ("programme revision", info.revision),
        ("decision", info.decision),
        ("decision date", info.decision_date),
        ("state as of", info.as_of),
        ("previous cycle", info.previous_year),
        ("full revision", "yes" if info.full_revision else "no"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})


def sheets(data: ReportData, kind: str = "council") -> dict[str, pd.DataFrame]:
    """The tables of a report by sheet name, with exactly their columns (``cycle`` first)."""
    out = {"cycle": _about(data, kind)}
    for name, field, columns in SHEETS[kind]:
        out[name] = _cells(getattr(data, field), columns)
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


def xlsx_bytes(data: ReportData, kind: str = "council") -> bytes:
    """The report as the bytes of an .xlsx workbook (for downloads)."""
    buffer = io.BytesIO()
    _write(sheets(data, kind), buffer)
    return buffer.getvalue()
