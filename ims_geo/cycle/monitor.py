"""Implementation and monitoring: progress reports and deviations from the adopted programme."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ims_geo.store.base import Store

#: Columns of a progress report (input) and of :func:`progress` (then org, cycle, source...).
PROGRESS_COLUMNS: tuple[str, ...] = ("work_id", "status", "actual_start", "actual_end", "remark")
#: Columns of :func:`deviations` before its extra columns.
DEVIATION_COLUMNS: tuple[str, ...] = ("org", "work_id", "project", "deviation", "days")
#: Deviation classes, most serious first.
DEVIATIONS: tuple[str, ...] = ("dropped", "not_combined", "unplanned", "moved", "late", "early")
#: Days a period may change before a work counts as ``moved``.
MOVED_DAYS = 30


@dataclass
class ProgressResult:
    """What :func:`record_progress` stored, rejected and created."""

    accepted: pd.DataFrame
    rejected: pd.DataFrame
    moratoria: gpd.GeoDataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def read_progress(path: str | Path, *, mapping: Any = None) -> pd.DataFrame:
    """Read a progress file (any supported format, geometry optional)."""
    raise NotImplementedError


def record_progress(
    store: Store, cycle: int, org: str, reports: pd.DataFrame, *, source: str = ""
) -> ProgressResult:
    """Check and store one organisation's progress reports of ``cycle``."""
    raise NotImplementedError


def progress(store: Store, cycle: int) -> pd.DataFrame:
    """The latest progress report per work of ``cycle``."""
    raise NotImplementedError


def deviations(store: Store, cycle: int, *, moved_days: int = MOVED_DAYS) -> pd.DataFrame:
    """Deviations from the adopted programme: :data:`DEVIATION_COLUMNS` first."""
    raise NotImplementedError


def project_status(store: Store, cycle: int, *, moved_days: int = MOVED_DAYS) -> pd.DataFrame:
    """Red, amber or green per combined project, with the reason."""
    raise NotImplementedError
