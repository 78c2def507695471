"""Evaluation and reporting (step 5): which reports of a cycle were produced, and when.

The council pack (:mod:`ims_geo.report`) is the year's evaluation report:
step 5 of a cycle is done once it has been produced. Whoever writes a report
of a cycle (``ims-geo report``, the Planning cycle page) records it with
:func:`record_report`; :func:`reports` lists what was recorded. A record is
added, never changed, in the store's ``cycle_reports`` table; in a shared
store only coordinators and admins add one (row-level security), the same
people who adopt the programme the report is about.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ims_geo.cycle._common import checked_cycle, now_text
from ims_geo.errors import InputError
from ims_geo.store.base import Store
from ims_geo.store.cycle_tables import transaction

#: The kind of report whose production completes step 5 (of :data:`ims_geo.report.data.KINDS`:
#: the six-monthly ``status`` report is the monitoring part).
EVALUATION = "council"
#: Columns of :func:`reports`.
REPORT_COLUMNS: tuple[str, ...] = ("cycle", "kind", "formats", "revision", "produced_at")


def may_record(store: Store) -> bool:
    """Whether the store's user may record a report (a coordinator or admin; anyone
    in a store without sign-in)."""
    identity = store.identity
    return identity is None or bool(identity.can_coordinate)


def record_report(
    store: Store,
    cycle: int,
    kind: str,
    formats: Sequence[str],
    *,
    revision: int | None = None,
) -> bool:
    """Record that a report of ``cycle`` was produced.

    Parameters
    ----------
    store
        The works store.
    cycle
        The cycle year the report is about.
    kind
        One of :data:`ims_geo.report.data.KINDS`.
    formats
        The formats written, e.g. ``["html"]`` or ``["html", "xlsx"]``.
    revision
        The programme revision the report is about (None: none adopted).

    Returns
    -------
    bool
        Whether it was recorded: False, and nothing written, when the
        signed-in user may not (:func:`may_record`): their report is a
        reading, not the cycle's evaluation.
    """
    from ims_geo.report.data import KINDS

    year = checked_cycle(cycle)
    if kind not in KINDS:
        raise InputError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    if not may_record(store):
        return False
    with transaction(store, write=True) as tx:
        tx.run(
            "INSERT INTO {t}cycle_reports (cycle, kind, formats, revision, produced_at) "
            "VALUES (:y, :k, :f, :r, :at)",
            {
                "y": year,
                "k": kind,
                "f": ", ".join(str(f) for f in formats),
                "r": None if revision is None else int(revision),
                "at": now_text(),
            },
        )
    return True


def reports(store: Store, cycle: int) -> pd.DataFrame:
    """The reports of ``cycle`` recorded so far, oldest first: :data:`REPORT_COLUMNS`.

    ``produced_at`` is UTC; ``revision`` is empty for a report made before
    any programme was adopted.
    """
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT cycle, kind, formats, revision, produced_at FROM {t}cycle_reports "
            "WHERE cycle = :y ORDER BY report_id",
            {"y": year},
        )
    frame = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return frame.assign(
        cycle=frame["cycle"].astype("int64"),
        revision=pd.array(frame["revision"].tolist(), dtype="Int64"),
        produced_at=pd.to_datetime(frame["produced_at"], utc=True, format="ISO8601"),
    )
