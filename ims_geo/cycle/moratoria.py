"""Moratoria as their own layer: protected new surfaces the conflict engine reads."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from ims_geo.rules import Rules
from ims_geo.store.base import Store

#: Columns of :func:`moratoria` before its extra columns.
MORATORIUM_COLUMNS: tuple[str, ...] = ("source_org", "source_work_id", "valid_from", "valid_until")


def moratoria(store: Store, *, active_on: object = None) -> gpd.GeoDataFrame:
    """Every moratorium (active on a date): :data:`MORATORIUM_COLUMNS` first."""
    raise NotImplementedError


def read_moratoria(path: str | Path) -> gpd.GeoDataFrame:
    """Read a moratoria register."""
    raise NotImplementedError


def import_moratoria(
    store: Store, register: gpd.GeoDataFrame, *, org: str, source: str = ""
) -> gpd.GeoDataFrame:
    """Store moratoria of an existing register."""
    raise NotImplementedError


def add_exemption(
    store: Store,
    moratorium_id: int,
    *,
    org: str,
    work_id: str | None = None,
    kind: str = "decision",
    decision: str = "",
) -> None:
    """Allow a work (or an organisation's works) to dig in a moratorium."""
    raise NotImplementedError


def find_conflicts_with_moratoria(
    works: gpd.GeoDataFrame, layer: pd.DataFrame, rules: Rules | None = None
) -> gpd.GeoDataFrame:
    """Conflicts of ``works``, the moratoria layer read like sealing works."""
    raise NotImplementedError
