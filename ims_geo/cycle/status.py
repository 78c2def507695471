"""Where the area stands: the five steps of a cycle with what is done and missing."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ims_geo.store.base import Store


@dataclass
class CycleStatus:
    """The five steps, KPIs, deviations and stale plans of a cycle."""

    cycle: int
    steps: pd.DataFrame
    kpis: pd.DataFrame
    deviations: pd.DataFrame
    projects: pd.DataFrame
    stale: pd.DataFrame

    def text(self) -> str:
        """A plain-text summary."""
        raise NotImplementedError


def status(store: Store, cycle: int) -> CycleStatus:
    """Where cycle ``cycle`` stands."""
    raise NotImplementedError


def stale_plans(store: Store, cycle: int) -> pd.DataFrame:
    """Plans not re-submitted in a full-revision cycle."""
    raise NotImplementedError
