"""Column and KPI names in words, for every table the app shows.

Frames keep their canonical, shapefile-safe column names (``cost_eur``,
``start_a``): tests, exports and the pages' code use those. What a reader
sees in a table header or a KPI tile is :func:`label` of the name, in the
language in use: ``cost_eur`` → "Estimated cost (EUR)", ``estimated cost eur``
(a KPI) → "Estimated cost (EUR)". The words are marked with :func:`N_` here
and translated by the catalogues like every other string.

A name that is not listed (an extra column a user's file brought, such as
``Voltage_kV`` or ``katu``) is shown as it is: it is the user's own word.

Examples
--------
>>> label("cost_eur")
'Estimated cost (EUR)'
>>> label("work_id_b")
'Work B'
>>> label("estimated cost eur")
'Estimated cost (EUR)'
>>> label("Voltage_kV")
'Voltage_kV'
"""

from __future__ import annotations

from ims_geo.i18n import N_, _

__all__ = ["KPI_NAMES", "LABELS", "label"]

#: KPIs in words, the one wording of each: a proposal's (:mod:`ims_geo.programme`, by their
#: names, e.g. ``savings eur``) and the planning cycle's (``ims_geo.cycle.KPIS``, identifiers).
KPI_NAMES: dict[str, str] = {
    # a proposal's
    "clashes": N_("Clashes"),
    "moratorium violations": N_("Moratorium violations"),
    "combined works": N_("Combined works"),
    "combined projects": N_("Combined projects"),
    "disruption days": N_("Disruption days"),
    "works moved": N_("Works moved"),
    "total shift days": N_("Days moved in total"),
    "estimated cost eur": N_("Estimated cost (EUR)"),
    "savings eur": N_("Savings (EUR)"),
    "new moratorium violations": N_("New moratorium violations"),
    "new clashes": N_("New clashes"),
    "moratorium violations fixed": N_("Moratorium violations fixed"),
    "fixable violations (upper bound)": N_("Fixable violations (at most)"),
    "combined works (upper bound)": N_("Combinable works (at most)"),
    "org-years over budget": N_("Organisation-years over budget"),
    "cells over max_parallel": N_("Areas over the parallel-works limit"),
    # the planning cycle's
    "combined_share": N_("Share of excavating works combined"),
    "moratorium_violations": N_("Moratorium violations"),
    "max_disruption_days": N_("Most disruption days on a street segment"),
    "savings_eur": N_("Savings (EUR)"),
    "submitted_share": N_("Share of organisations that submitted"),
}

#: Canonical name (a column, or a KPI's name) -> its words (English, marked for translation).
LABELS: dict[str, str] = {
    # works (DESIGN.md §1)
    "work_id": N_("Work"),
    "org": N_("Organisation"),
    "title": N_("Title"),
    "discipline": N_("Discipline"),
    "layer": N_("Layer"),
    "start_date": N_("Start"),
    "end_date": N_("End"),
    "earliest": N_("Earliest start"),
    "latest": N_("Latest end"),
    "excavation": N_("Opens the street"),
    "depth_min": N_("Depth from (m)"),
    "depth_max": N_("Depth to (m)"),
    "status": N_("Status"),
    "cost_eur": N_("Estimated cost (EUR)"),
    "funding": N_("Funding"),
    "visibility": N_("Visibility"),
    "reason": N_("Reason"),
    "source_row": N_("Row in the file"),
    "source_file": N_("File"),
    "street": N_("Street"),
    # conflicts (DESIGN.md §3)
    "kind": N_("Kind"),
    "severity": N_("Severity"),
    "score": N_("Score"),
    "work_id_a": N_("Work A"),
    "org_a": N_("Organisation A"),
    "title_a": N_("Title A"),
    "discipline_a": N_("Discipline A"),
    "start_a": N_("Start A"),
    "end_a": N_("End A"),
    "work_id_b": N_("Work B"),
    "org_b": N_("Organisation B"),
    "title_b": N_("Title B"),
    "discipline_b": N_("Discipline B"),
    "start_b": N_("Start B"),
    "end_b": N_("End B"),
    "distance_m": N_("Distance (m)"),
    "gap_days": N_("Gap (days)"),
    "overlap_m": N_("Shared length (m)"),
    "depth_overlap": N_("Shared depth (m)"),
    "moratorium_id": N_("Moratorium"),
    "works": N_("Works"),
    "part": N_("Takes part"),
    # plans and versions
    "first_start": N_("First start"),
    "last_end": N_("Last end"),
    "cycle": N_("Cycle"),
    "version": N_("Version"),
    "version_id": N_("Version id"),
    "uploaded_at": N_("Uploaded"),
    "source": N_("Source"),
    "n_works": N_("Works"),
    "n_rejected": N_("Rejected rows"),
    "is_current": N_("Current"),
    "current": N_("Current"),
    "rejected": N_("Rejected rows"),
    "submitted": N_("Submitted"),
    "stale": N_("Stale"),
    # the programme (DESIGN.md §4)
    "proposed_start": N_("Proposed start"),
    "proposed_end": N_("Proposed end"),
    "cluster_id": N_("Combined project"),
    "exec_order": N_("Order of execution"),
    "shift_days": N_("Moved (days)"),
    "move_reason": N_("Why it moved"),
    "cost_share_eur": N_("Cost share (EUR)"),
    "members": N_("Members"),
    "member_titles": N_("Members' titles"),
    "orgs": N_("Organisations"),
    "joint_start": N_("Joint start"),
    "joint_end": N_("Joint end"),
    "trench_m": N_("Shared trench (m)"),
    "resurfacing_avoided_m2": N_("Resurfacing avoided (m²)"),
    "resurfacing_avoided_n": N_("Resurfacings avoided"),
    "disruption_days_saved": N_("Disruption days saved"),
    "savings_eur": N_("Savings (EUR)"),
    "savings_explained": N_("How it saves"),
    "split_rule": N_("Cost split"),
    "constraint": N_("Limit"),
    "subject": N_("Applies to"),
    "amount": N_("Amount"),
    "kpi": N_("Indicator"),
    "baseline": N_("Baseline"),
    "proposal": N_("Proposal"),
    # the planning cycle (DESIGN.md §5)
    "project": N_("Combined project"),
    "lead_org": N_("Lead organisation"),
    "start": N_("Start"),
    "end": N_("End"),
    "order": N_("Order of execution"),
    "funding_year": N_("Funding year"),
    "planned_start": N_("Planned start"),
    "planned_end": N_("Planned end"),
    "length_m": N_("Length (m)"),
    "revision": N_("Revision"),
    "decision": N_("Decision"),
    "decision_date": N_("Decision date"),
    "adopted_at": N_("Adopted"),
    "projects": N_("Combined projects"),
    "n_members": N_("Members"),
    "segment": N_("Street segment"),
    "year": N_("Year"),
    "disruption_days": N_("Disruption days"),
    "change": N_("Change"),
    "days_moved": N_("Moved (days)"),
    "old_start": N_("Old start"),
    "old_end": N_("Old end"),
    "new_start": N_("New start"),
    "new_end": N_("New end"),
    "actual_start": N_("Actual start"),
    "actual_end": N_("Actual end"),
    "remark": N_("Remark"),
    "adopted_start": N_("Adopted start"),
    "adopted_in": N_("Adopted in"),
    "adopted_end": N_("Adopted end"),
    "deviation": N_("Deviation"),
    "days": N_("Days"),
    "rag": N_("State"),
    "target": N_("Target"),
    "value": N_("Value"),
    "state": N_("State"),
    "step": N_("Step"),
    "name": N_("Name"),
    "detail": N_("Detail"),
    "source_org": N_("Protected by"),
    "source_work_id": N_("Work"),
    "valid_from": N_("Protected from"),
    "valid_until": N_("Protected until"),
    "exemptions": N_("Exemptions"),
    "exempt_org": N_("Exempted organisation"),
    "exempt_work_id": N_("Exempted work"),
    "reported_at": N_("Reported"),
    # the KPIs, one wording each
    **KPI_NAMES,
}


def label(name: object) -> str:
    """The words for a column or KPI name in the language in use (unknown names as they are)."""
    text = str(name)
    words = LABELS.get(text)
    return text if words is None else _(words)
