"""Baseline of a cycle, KPIs and the changes since the previous cycle."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from ims_geo.rules import Rules
from ims_geo.store.base import Store

#: Columns of :func:`changes` before its extra columns.
CHANGE_COLUMNS: tuple[str, ...] = ("org", "work_id", "change", "days_moved")


@dataclass
class Baseline:
    """Step 1 of the cycle."""

    cycle: int
    plans: pd.DataFrame
    conflicts: gpd.GeoDataFrame
    conflict_counts: pd.DataFrame
    moratoria: gpd.GeoDataFrame
    disruption: gpd.GeoDataFrame


def baseline(store: Store, cycle: int, rules: Rules | None = None) -> Baseline:
    """Every organisation's current plan, conflicts by kind, moratoria, disruption."""
    raise NotImplementedError


def disruption(works: gpd.GeoDataFrame, year: int) -> gpd.GeoDataFrame:
    """Disruption days per street segment in ``year``."""
    raise NotImplementedError


def kpis(store: Store, cycle: int, rules: Rules | None = None) -> pd.DataFrame:
    """KPIs of ``cycle`` against its targets: kpi, target, value, state."""
    raise NotImplementedError


def changes(store: Store, cycle: int) -> pd.DataFrame:
    """Works added, dropped or moved since the previous cycle, per organisation."""
    raise NotImplementedError
