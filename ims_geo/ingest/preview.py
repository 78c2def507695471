"""What storing an import would change: per organisation, against its current plan.

:func:`plan_changes` compares the works of an import with each
organisation's current plan in a store (the store's own
:func:`~ims_geo.store.base.compare_works`), so a user sees before storing
how many works a new version adds, drops and moves — and is asked to
confirm when it drops more than half of an organisation's current works.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from ims_geo import schema
from ims_geo.store import Store
from ims_geo.store.base import compare_works

#: Columns of :func:`plan_changes`.
CHANGE_COLUMNS: tuple[str, ...] = (
    schema.ORG, "current", "new", "added", "dropped", "moved", "geometry_changed", "drops_most",
)  # fmt: skip
#: Share of an organisation's current works a new plan may drop without a confirmation.
DROP_LIMIT = 0.5


def plan_changes(
    store: Store, works: gpd.GeoDataFrame, *, orgs: list[str] | None = None
) -> pd.DataFrame:
    """Per organisation of ``works``: its current plan and what the new one changes.

    Parameters
    ----------
    store
        The works store.
    works
        The accepted works of an import (``IngestResult.works``).
    orgs
        The organisations the import will store (default: those in ``works``);
        one without works in ``works`` would get an empty plan.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`, sorted by organisation: ``current`` and
        ``new`` works, works ``added``, ``dropped``, ``moved`` (dates) and
        ``geometry_changed`` by ``work_id``, and ``drops_most`` when the new
        plan drops more than :data:`DROP_LIMIT` of the current works.
    """
    names = sorted(set(works[schema.ORG]) if orgs is None else set(orgs))
    current = store.works(orgs=names) if names else works.iloc[:0]
    crs = store.crs or (CRS.from_user_input(works.crs) if works.crs is not None else None)
    new_all = works if crs is None or works.crs is None else works.to_crs(crs)
    rows = []
    for org in names:
        old = current[current[schema.ORG] == org]
        new = new_all[new_all[schema.ORG] == org]
        changes = compare_works(old, new, crs)["change"]
        counts = changes.value_counts()
        dropped = int(counts.get("dropped", 0))
        rows.append(
            {
                schema.ORG: org,
                "current": len(old),
                "new": len(new),
                "added": int(counts.get("added", 0)),
                "dropped": dropped,
                "moved": int(changes.str.startswith("moved").sum()),
                "geometry_changed": int(changes.str.endswith("geometry changed").sum()),
                "drops_most": bool(len(old) and dropped > DROP_LIMIT * len(old)),
            }
        )
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS))
