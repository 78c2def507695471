"""The planning cycle (IMS, DESIGN.md §5): baseline, targets, commitment,
monitoring, evaluation — year after year.

Every function takes the works store (:class:`ims_geo.store.Store`) and a
cycle year, and returns plain frames; the CLI (``ims-geo cycle ...``), the
Planning cycle page and the council pack (:mod:`ims_geo.report`) are thin
over them. No Streamlit here.

Frames the council pack reads (exact leading columns; extra columns follow)
--------------------------------------------------------------------------
``kpis(store, cycle)``
    kpi, target, value, state — then better, unit, description.
``deviations(store, cycle)``
    org, work_id, project, deviation, days — then title, adopted_start,
    adopted_end, start, end, status, remark, reason.
``programme(store, cycle, revision=None)``
    project, org, work_id, start, end, order, cost_eur, cost_share_eur,
    funding_year — then title, discipline, layer, excavation, lead_org,
    planned_start, planned_end, revision, geometry (a GeoDataFrame).
``moratoria(store, active_on=None)``
    source_org, source_work_id, valid_from, valid_until — then
    moratorium_id, org, source, exemptions, geometry (a GeoDataFrame).
``changes(store, cycle)``
    org, work_id, change, days_moved — then title, old_start, old_end,
    new_start, new_end (Fortschreibung since the previous cycle).

More frames
-----------
``in_force(store, cycle)`` / ``projects_in_force(store, cycle)``
    the programme in force in a cycle (what its monitoring follows): its
    own adopted programme and the works of earlier ones still running,
    each row with ``adopted_in`` (the cycle that adopted it); and its
    combined projects.
``projects(store, cycle, revision=None)``
    the adopted combined projects: project, lead_org, members, orgs,
    joint_start, joint_end, cost_eur, savings_eur, split_rule, n_members,
    rag, reason, geometry.
``project_status(store, cycle)``
    project, lead_org, rag (red/amber/awaiting_update/green), reason,
    joint_start, joint_end, members.
``awaiting_update(store, cycle)``
    works whose current plan still holds the dates the programme was
    adopted from (not deviations): org, work_id, project, days, title,
    adopted_start, adopted_end, start, end, uploaded_at, reason.
``financing(store, cycle, revision=None)``
    org, funding_year, cost_share_eur, works: the cost and financing
    overview per organisation and year.
``revisions(store, cycle=None)``
    every adoption: cycle, revision, decision, decision_date, reason,
    source, adopted_at, projects, works.
``targets(store, cycle)`` / ``cycles(store)`` / ``progress(store, cycle)``
    the stored settings and reports; ``stored_targets(store, cycle)`` what a
    cycle set itself (to carry into the next cycle).
``baseline(store, cycle)``
    :class:`Baseline`: plans per organisation, conflicts (moratoria layer
    included) and their counts by kind, active moratoria, disruption days
    per street segment.
``picture(store, cycle)``
    the current works at their actual dates where reported (what KPIs and
    disruption are measured on).
``disruption(works, year)``
    disruption days per street segment in a year (see
    :mod:`ims_geo.cycle.baseline` for what a street segment is).
``status(store, cycle)``
    :class:`CycleStatus`: the five steps with what is done and missing,
    KPIs, deviations, project states, stale plans; ``.text()`` for a terminal.
``stale_plans(store, cycle)``
    organisations whose plan was not re-submitted in a full-revision cycle.
``reports(store, cycle)``
    the reports of a cycle produced so far (step 5 is done with its council
    pack): cycle, kind, formats, revision, produced_at.

Writing
-------
``set_targets(store, cycle, {name: value}, custom=False, clear=())``,
``set_full_revision(store, cycle, True)``,
``adopt(store, cycle, programme=None, decision=..., decision_date=..., reason=...)``
(returns :class:`Adoption` with the revision number),
``read_progress(path, mapping=None)`` + ``record_progress(store, cycle, org, frame)``
(or ``progress_sheet`` edited in the app, ``changed_progress`` its edits)
(returns :class:`ProgressResult`: accepted, rejected with reason, moratoria
created), ``import_moratoria(store, frame, org=...)``, ``add_exemption(...)``,
``record_report(store, cycle, kind, formats, revision=...)`` (a report produced).

The conflict engine with the moratoria layer:
``find_conflicts_with_moratoria(works, moratoria_frame, rules)``; a store's
conflicts (its works, moratoria and exemptions; what the CLI and the app show):
``store_conflicts(store, works=None, rules=None)``.
"""

from __future__ import annotations

from ims_geo.cycle.adopt import (
    PROGRAMME_COLUMNS,
    PROJECT_COLUMNS,
    SPLIT_RULES,
    Adoption,
    adopt,
    financing,
    in_force,
    programme,
    projects,
    projects_in_force,
    revisions,
)
from ims_geo.cycle.baseline import (
    CHANGE_COLUMNS,
    Baseline,
    baseline,
    changes,
    disruption,
    kpis,
    picture,
)
from ims_geo.cycle.evaluation import record_report, reports
from ims_geo.cycle.monitor import (
    AWAITING,
    AWAITING_COLUMNS,
    DEVIATION_COLUMNS,
    DEVIATIONS,
    PROGRESS_COLUMNS,
    ProgressResult,
    awaiting_update,
    changed_progress,
    deviations,
    monitoring,
    progress,
    progress_sheet,
    project_status,
    read_progress,
    record_progress,
)
from ims_geo.cycle.moratoria import (
    MORATORIUM_COLUMNS,
    add_exemption,
    find_conflicts_with_moratoria,
    import_moratoria,
    moratoria,
    read_moratoria,
    store_conflicts,
)
from ims_geo.cycle.status import CycleStatus, stale_plans, status
from ims_geo.cycle.targets import (
    KPIS,
    STATES,
    TARGET_COLUMNS,
    cycles,
    is_full_revision,
    kpi_state,
    load_targets,
    set_full_revision,
    set_targets,
    stored_targets,
    targets,
)

#: Columns of :func:`kpis` (the council pack's ``kpis`` sheet).
KPI_COLUMNS: tuple[str, ...] = ("kpi", "target", "value", "state")

__all__ = [
    "AWAITING",
    "AWAITING_COLUMNS",
    "CHANGE_COLUMNS",
    "DEVIATIONS",
    "DEVIATION_COLUMNS",
    "KPIS",
    "KPI_COLUMNS",
    "MORATORIUM_COLUMNS",
    "PROGRAMME_COLUMNS",
    "PROGRESS_COLUMNS",
    "PROJECT_COLUMNS",
    "SPLIT_RULES",
    "STATES",
    "TARGET_COLUMNS",
    "Adoption",
    "Baseline",
    "CycleStatus",
    "ProgressResult",
    "add_exemption",
    "adopt",
    "awaiting_update",
    "baseline",
    "changes",
    "changed_progress",
    "cycles",
    "deviations",
    "disruption",
    "financing",
    "find_conflicts_with_moratoria",
    "import_moratoria",
    "in_force",
    "is_full_revision",
    "kpi_state",
    "kpis",
    "load_targets",
    "monitoring",
    "moratoria",
    "picture",
    "programme",
    "progress",
    "progress_sheet",
    "project_status",
    "projects",
    "projects_in_force",
    "read_moratoria",
    "read_progress",
    "record_progress",
    "record_report",
    "reports",
    "revisions",
    "set_full_revision",
    "set_targets",
    "stale_plans",
    "status",
    "store_conflicts",
    "stored_targets",
    "targets",
]
