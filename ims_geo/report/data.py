"""What a council pack or status report is made of: :class:`ReportData`.

The renderers (:mod:`ims_geo.report.html`, :mod:`ims_geo.report.xlsx`,
:mod:`ims_geo.report.pdf`) read nothing but a :class:`ReportData`; it is
assembled from the store by :func:`ims_geo.report.assemble.report_data`, or
built by hand (tests, other front ends). Every frame is checked once, here,
for the columns the report relies on, so a renderer never meets a missing
column half-way through a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from ims_geo.cycle import (
    CHANGE_COLUMNS,
    DEVIATION_COLUMNS,
    KPI_COLUMNS,
    MORATORIUM_COLUMNS,
    PROGRAMME_COLUMNS,
)
from ims_geo.cycle.adopt import FINANCING_COLUMNS
from ims_geo.cycle.monitor import AWAITING
from ims_geo.errors import InputError

#: The two kinds of report: the yearly council pack and the six-monthly status report.
KINDS: tuple[str, ...] = ("council", "status")

# --- columns of the tables (the .xlsx sheets have exactly these) ------------------
# The five tables the council pack shares with the planning-cycle library are
# spelled there, once: KPI_COLUMNS (kpi, target, value, state), DEVIATION_COLUMNS
# (org, work_id, project, deviation, days), PROGRAMME_COLUMNS (project, org,
# work_id, start, end, order, cost_eur, cost_share_eur, funding_year),
# MORATORIUM_COLUMNS (source_org, source_work_id, valid_from, valid_until) and
# CHANGE_COLUMNS (org, work_id, change, days_moved); so is the financing overview,
# FINANCING_COLUMNS (org, funding_year, cost_share_eur, works).
#: One row per combined project: its lead, joint period and red/amber/green state.
PROJECT_COLUMNS: tuple[str, ...] = (
    "project",
    "lead_org",
    "joint_start",
    "joint_end",
    "rag",
    "reason",
)
#: Conflicts between organisations at adoption and now; ``status`` is one of
#: :data:`CONFLICT_STATUSES`.
CONFLICT_COLUMNS: tuple[str, ...] = ("org_a", "work_id_a", "org_b", "work_id_b", "kind", "status")
CONFLICT_STATUSES: tuple[str, ...] = ("resolved", "open", "new")
#: Reported progress per work (status as in :data:`ims_geo.schema.STATUSES`).
PROGRESS_COLUMNS: tuple[str, ...] = ("org", "work_id", "status", "actual_start", "actual_end")

__all__ = [
    "AWAITING_REPORT_COLUMNS",
    "CHANGE_COLUMNS",
    "CONFLICT_COLUMNS",
    "CONFLICT_STATUSES",
    "DEVIATION_COLUMNS",
    "FINANCING_COLUMNS",
    "KINDS",
    "KPI_COLUMNS",
    "MORATORIUM_COLUMNS",
    "PROGRAMME_COLUMNS",
    "PROGRESS_COLUMNS",
    "PROJECT_COLUMNS",
    "RAG",
    "CycleInfo",
    "ReportData",
    "empty",
]

#: States of a combined project, worst first: red, amber, awaiting_update (no member deviates
#: but a member's plan is not yet updated to the adopted dates), green.
RAG: tuple[str, ...] = ("red", "amber", AWAITING, "green")
#: Works whose current plan still holds the dates the programme was adopted from (not
#: deviations): start and end are the plan's, days how far its start is from the adopted one.
AWAITING_REPORT_COLUMNS: tuple[str, ...] = (
    "org", "work_id", "project", "days", "start", "end", "adopted_start", "adopted_end",
)  # fmt: skip


@dataclass(frozen=True)
class CycleInfo:
    """The cycle a report speaks about and the decision behind its programme."""

    #: The cycle year.
    year: int
    #: Number of the adopted programme revision the report is measured against
    #: (None: no programme adopted for this cycle yet).
    revision: int | None = None
    #: Decision reference of that revision (council or steering-group decision).
    decision: str | None = None
    #: Date of that decision.
    decision_date: dt.date | None = None
    #: Earlier cycles whose adopted programme still runs in this one: their works in force
    #: are monitored here (:func:`ims_geo.cycle.in_force`).
    carried_from: tuple[int, ...] = ()
    #: The cycle the changes are counted from (None: no earlier cycle).
    previous_year: int | None = None
    #: True when this cycle is a full revision (every plan re-submitted).
    full_revision: bool = False
    #: Name of the area or partnership, shown in the title.
    area: str = ""
    #: The day the report describes (progress and moratoria as of this day).
    as_of: dt.date = field(default_factory=dt.date.today)


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows.

    The table frames carry at least the columns of the matching ``*_COLUMNS``
    tuple of this module; extra columns are ignored. ``works`` and, when they
    have a geometry, ``moratoria`` and ``programme`` are drawn on the maps
    (any metric CRS; :func:`ims_geo.crs.ensure_metric` refuses degrees).
    """

    info: CycleInfo
    #: kpi, target, value, state (state: red, amber, green, or empty without a target).
    kpis: pd.DataFrame
    #: The adopted programme, one row per member work of a combined project.
    programme: pd.DataFrame
    #: project, lead_org, joint_start, joint_end, rag (:data:`RAG`), reason.
    projects: pd.DataFrame
    #: org, work_id, project, deviation, days.
    deviations: pd.DataFrame
    #: source_org, source_work_id, valid_from, valid_until (+ geometry when known).
    moratoria: pd.DataFrame
    #: org, work_id, change (added, dropped, moved), days_moved: since the previous cycle.
    changes: pd.DataFrame
    #: org_a, work_id_a, org_b, work_id_b, kind, status (resolved, open, new).
    conflicts: pd.DataFrame
    #: org, work_id, status, actual_start, actual_end.
    progress: pd.DataFrame
    #: org, funding_year, cost_share_eur, works: the programme's cost shares per
    #: organisation and funding year.
    financing: pd.DataFrame
    #: The current works of every organisation (canonical columns, metric CRS).
    works: gpd.GeoDataFrame
    #: :data:`AWAITING_REPORT_COLUMNS`: plans not yet updated to the adopted dates.
    awaiting: pd.DataFrame = field(default_factory=lambda: empty(AWAITING_REPORT_COLUMNS))

    def __post_init__(self) -> None:
        for name, columns in _REQUIRED.items():
            frame = getattr(self, name)
            if not isinstance(frame, pd.DataFrame):
                raise InputError(f"report data: {name} must be a DataFrame, got {type(frame)}")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise InputError(
                    f"report data: the {name} table lacks the column(s) {', '.join(missing)}; "
                    f"it needs {', '.join(columns)}"
                )
        if not isinstance(self.works, gpd.GeoDataFrame):
            raise InputError("report data: works must be a GeoDataFrame")


_REQUIRED: Mapping[str, Sequence[str]] = {
    "kpis": KPI_COLUMNS,
    "programme": PROGRAMME_COLUMNS,
    "projects": PROJECT_COLUMNS,
    "deviations": DEVIATION_COLUMNS,
    "moratoria": MORATORIUM_COLUMNS,
    "changes": CHANGE_COLUMNS,
    "conflicts": CONFLICT_COLUMNS,
    "progress": PROGRESS_COLUMNS,
    "financing": FINANCING_COLUMNS,
    "awaiting": AWAITING_REPORT_COLUMNS,
}


def empty(columns: Sequence[str]) -> pd.DataFrame:
    """An empty table with ``columns`` (for parts a cycle does not have yet)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
