"""What changed since a moment that concerns an organisation: the API's ``/changes`` feed.

Everything is computed over what the caller may see (the store it opened
with its token): others' private works are anonymous signals there, so the
feed never names their owner, title, cost, exact place or exact dates.

Rows (``change``)
-----------------
``new conflict`` / ``changed conflict`` / ``resolved conflict``
    Conflicts with one of the caller's works, found over the current works
    and over the works that were current at ``since`` (each organisation's
    newest plan version uploaded by then): a pair found now but not then is
    new, found then but not now is resolved, found in both with another
    kind, severity, period or distance is changed.
``plan version``
    Another organisation's plan version uploaded since then (and current)
    with works within the rules' ``distance`` of the caller's works:
    ``org``, ``version``, ``uploaded_at``, ``works_near``; the geometry is
    the union of those works.
``confidential plan``
    Private works near the caller's works, as anonymous signals: no
    organisation, no version, month dates, grid-cell geometry. Listed when
    another organisation uploaded a plan since then; in a shared (PostGIS)
    store every current signal near the caller's works, since the database
    ties no signal to a plan version (that would name its owner).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ims_geo import schema as s
from ims_geo.conflicts import CONFLICT_COLUMNS, find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.store import PRIVATE_ORG, Store

#: Columns of :func:`changes` (then ``geometry``).
CHANGE_COLUMNS: tuple[str, ...] = (
    "change", "org", "version", "uploaded_at", "works_near",
    *(c for c in CONFLICT_COLUMNS if c != "geometry"),
)  # fmt: skip
#: Values of the ``change`` column.
CHANGES: tuple[str, ...] = (
    "new conflict", "changed conflict", "resolved conflict", "plan version", "confidential plan",
)  # fmt: skip
# what makes a conflict "the same" and what makes it "changed"
_SIDE = ("org", "work_id", "start", "end")


def _uploaded(store: Store) -> pd.DataFrame:
    versions = store.plan_versions()
    versions["uploaded_at"] = pd.to_datetime(versions["uploaded_at"], utc=True)
    return versions


def works_at(store: Store, since: pd.Timestamp) -> gpd.GeoDataFrame:
    """The works that were current at ``since``: each organisation's newest version by then."""
    versions = _uploaded(store)
    then = versions[versions["uploaded_at"] <= since].sort_values("uploaded_at")
    chosen = then.groupby(s.ORG, sort=True).tail(1)
    frames = [store.version_works(int(v)) for v in chosen["version_id"]]
    if store.database_anonymises:
        # signals carry no plan version in a shared store (it would name the owner):
        # taken as they are now, so a conflict with one is neither new nor resolved
        frames.append(store.works(orgs=[PRIVATE_ORG]))
        frames = [f for f in frames if len(f)]
    if not frames:
        empty = store.works().iloc[0:0]
        return empty
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def _keyed(conflicts: gpd.GeoDataFrame, org: str) -> pd.DataFrame:
    """The conflicts with ``org`` on a side, keyed independently of which side is a or b."""
    mine = conflicts[(conflicts["org_a"] == org) | (conflicts["org_b"] == org)].copy()
    a = mine["org_a"].astype(str) + "\x1f" + mine["work_id_a"].astype(str)
    b = mine["org_b"].astype(str) + "\x1f" + mine["work_id_b"].astype(str)
    low, high = np.minimum(a.to_numpy(), b.to_numpy()), np.maximum(a.to_numpy(), b.to_numpy())
    mine["_key"] = pd.Series(low, index=mine.index) + "\x1e" + high + "\x1e" + mine["kind"]
    swapped = a.to_numpy() > b.to_numpy()
    parts = []
    for side, other in (("a", "b"), ("b", "a")):
        parts.append(
            np.where(
                swapped,
                mine[f"start_{other}"].astype(str) + "/" + mine[f"end_{other}"].astype(str),
                mine[f"start_{side}"].astype(str) + "/" + mine[f"end_{side}"].astype(str),
            )
        )
    mine["_sig"] = (
        mine["severity"].astype(str)
        + "|" + pd.Series(parts[0], index=mine.index)
        + "|" + pd.Series(parts[1], index=mine.index)
        + "|" + mine["distance_m"].round(1).astype(str)
    )  # fmt: skip
    return mine


def changes(store: Store, since: pd.Timestamp, rules: Rules | None = None) -> gpd.GeoDataFrame:
    """What changed since ``since`` that concerns the store's signed-in organisation.

    Parameters
    ----------
    store
        A store signed in as an organisation (``store.acting_org``).
    since
        A moment (timezone-aware, or taken as UTC).
    rules
        The conflict rules (default :class:`~ims_geo.conflicts.rules.Rules`).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CHANGE_COLUMNS` and ``geometry`` in the store CRS, one row per change.
    """
    org = store.acting_org
    if org is None:
        raise ValueError("changes() needs a store signed in as an organisation")
    since = pd.Timestamp(since)
    since = since.tz_localize("UTC") if since.tzinfo is None else since.tz_convert("UTC")
    rules = rules or Rules()
    now = store.works()
    rows: list[gpd.GeoDataFrame] = []

    # --- conflicts with the caller's works: now against then ------------------------------
    then = works_at(store, since)
    current = _keyed(_conflicts(now, rules), org)
    before = _keyed(_conflicts(then, rules), org)
    new = current[~current["_key"].isin(before["_key"])].assign(change="new conflict")
    gone = before[~before["_key"].isin(current["_key"])].assign(change="resolved conflict")
    both = current.merge(before[["_key", "_sig"]], on="_key", suffixes=("", "_then"))
    changed = both[both["_sig"] != both["_sig_then"]].assign(change="changed conflict")
    for part in (new, changed, gone):
        if len(part):
            rows.append(gpd.GeoDataFrame(part, geometry="geometry", crs=now.crs))

    # --- other organisations' new plan versions near the caller's works -------------------
    mine = now[now[s.ORG] == org]
    versions = _uploaded(store)
    fresh = versions[
        (versions["uploaded_at"] > since) & versions["is_current"] & (versions[s.ORG] != org)
    ]
    if len(mine) and len(fresh):
        tree = shapely.STRtree(mine.geometry.to_numpy())
        signals: list[gpd.GeoDataFrame] = []
        for record in fresh.itertuples(index=False):  # one per new plan version (few)
            theirs = store.version_works(int(record.version_id))
            hits, _ = tree.query(
                theirs.geometry.to_numpy(), predicate="dwithin", distance=rules.distance
            )
            near = theirs.iloc[np.unique(hits)]
            private = near[s.ORG] == PRIVATE_ORG
            visible = near[~private]
            if len(visible):
                rows.append(
                    gpd.GeoDataFrame(
                        {
                            "change": ["plan version"],
                            "org": [record.org],
                            "version": [int(record.version)],
                            "uploaded_at": [record.uploaded_at.isoformat()],
                            "works_near": [len(visible)],
                        },
                        geometry=[shapely.union_all(visible.geometry.to_numpy())],
                        crs=now.crs,
                    )
                )
            if private.any():
                signals.append(near[private])
        if store.database_anonymises:
            # a shared store ties no signal to a plan version: every current signal
            # near the caller's works, whoever uploaded since
            hidden = store.works(orgs=[PRIVATE_ORG])
            hits, _ = tree.query(
                hidden.geometry.to_numpy(), predicate="dwithin", distance=rules.distance
            )
            signals.append(hidden.iloc[np.unique(hits)])
        signals = [f for f in signals if len(f)]
        if signals:
            hidden = pd.concat(signals, ignore_index=True).drop_duplicates(s.WORK_ID)
            rows.append(
                gpd.GeoDataFrame(
                    {
                        "change": "confidential plan",
                        "start_a": hidden[s.START].to_numpy(),
                        "end_a": hidden[s.END].to_numpy(),
                        "discipline_a": hidden[s.DISCIPLINE].to_numpy(),
                    },
                    geometry=hidden.geometry.to_numpy(),
                    crs=now.crs,
                )
            )
    if not rows:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in CHANGE_COLUMNS}, geometry=[], crs=now.crs
        )
    out = pd.concat(rows, ignore_index=True)
    out = out.reindex(columns=[*CHANGE_COLUMNS, "geometry"])
    return gpd.GeoDataFrame(out, geometry="geometry", crs=now.crs)


def _conflicts(works: gpd.GeoDataFrame, rules: Rules) -> gpd.GeoDataFrame:
    if works.empty:
        from ims_geo.conflicts import empty_conflicts

        return empty_conflicts(works.crs)
    return find_conflicts(works, rules)
