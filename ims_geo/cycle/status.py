"""Where the area stands: the five steps of a cycle with what is done and missing.

:func:`status` reads the store and says, per step of the IMS cycle
(baseline, targets, commitment, implementation and monitoring, evaluation
and reporting), whether it is ``done``, ``partial`` or ``missing`` and what
is missing in words a coordinator forwards ("3 of 6 organisations have not
uploaded a 2027 plan: ..."; "programme not adopted"). Evaluation and reporting
is done once the year's council pack was produced (recorded by
:func:`ims_geo.cycle.evaluation.record_report`), partial while KPIs are
measured but no council pack was. In a full-revision
cycle every organisation must re-submit; the plans that were not are
listed as stale (:func:`stale_plans`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ims_geo.conflicts.rules import Rules
from ims_geo.cycle import evaluation
from ims_geo.cycle._common import checked_cycle
from ims_geo.cycle.adopt import has_programme, in_force, revisions
from ims_geo.cycle.baseline import kpis, plans
from ims_geo.cycle.monitor import AWAITING, monitoring, reports_in_force
from ims_geo.cycle.targets import KPIS, is_full_revision, targets
from ims_geo.store.base import Store

#: Columns of :attr:`CycleStatus.steps`.
STEP_COLUMNS: tuple[str, ...] = ("step", "name", "state", "detail")
#: Columns of :func:`stale_plans`.
STALE_COLUMNS: tuple[str, ...] = ("org", "cycle", "version", "uploaded_at")
#: The command a terminal user runs for a step once it can be done (the app has its own tab).
_COMMANDS = {5: "council pack: ims-geo report --cycle {year} --out pack.html"}
_NAMES = (
    "Baseline", "Targets", "Commitment", "Implementation and monitoring",
    "Evaluation and reporting",
)  # fmt: skip


@dataclass
class CycleStatus:
    """The five steps, KPIs, deviations, project states and stale plans of a cycle."""

    cycle: int
    full_revision: bool
    #: step (1-5), name, state (done / partial / missing), detail.
    steps: pd.DataFrame
    #: :func:`ims_geo.cycle.kpis`.
    kpis: pd.DataFrame
    #: :func:`ims_geo.cycle.deviations` (empty before adoption).
    deviations: pd.DataFrame
    #: :func:`ims_geo.cycle.project_status` (empty before adoption).
    projects: pd.DataFrame
    #: :func:`stale_plans`.
    stale: pd.DataFrame
    #: :func:`ims_geo.cycle.monitor.awaiting_update`: works whose plan still holds the dates
    #: the programme was adopted from (not deviations; empty before adoption).
    awaiting: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The cycles whose adopted programme is monitored (:func:`ims_geo.cycle.in_force`): the
    #: cycle itself once it adopted its own, and earlier ones whose works still run.
    monitored: tuple[int, ...] = ()

    def text(self) -> str:
        """A plain-text summary for a terminal."""
        title = f"Planning cycle {self.cycle}" + (" (full revision)" if self.full_revision else "")
        lines = [title, ""]
        for step, name, state, detail in self.steps.itertuples(index=False):
            hint = _COMMANDS.get(step) if state != "missing" else None
            detail = f"{detail}; {hint.format(year=self.cycle)}" if hint else detail
            lines.append(f"{step}. {name:<32} {state:<8} {detail}")
        lines += ["", "KPIs against targets:"]
        for row in self.kpis.itertuples(index=False):
            target = "-" if pd.isna(row.target) else f"{row.target:g}"
            value = "-" if pd.isna(row.value) else f"{row.value:.4g}"
            lines.append(f"  {row.kpi:<24} target {target:>10}  value {value:>10}  {row.state}")
        if len(self.projects):
            lines += ["", "Combined projects:"]
            for row in self.projects.itertuples(index=False):
                lines.append(f"  {row.project:<8} {row.rag:<6} {row.reason}")
        if len(self.deviations):
            counts = self.deviations["deviation"].value_counts()
            lines += ["", "Deviations: " + ", ".join(f"{n} {k}" for k, n in counts.items())]
        if len(self.awaiting):
            lines += ["", awaiting_text(self.awaiting)]
        if len(self.stale):
            lines += ["", "Stale plans (not re-submitted in this full revision): "
                      + ", ".join(self.stale["org"])]  # fmt: skip
        return "\n".join(lines)


def awaiting_text(awaiting: pd.DataFrame) -> str:
    """One line on the works whose plan is not yet updated to the adopted dates, per organisation.

    ``awaiting`` is :func:`ims_geo.cycle.monitor.awaiting_update`.
    """
    per_org = awaiting.groupby("org", sort=True).size()
    return (
        f"Plans not yet updated to the adopted dates (not deviations): {len(awaiting)} works of "
        + ", ".join(f"{org} ({n})" for org, n in per_org.items())
    )


def stale_plans(store: Store, cycle: int) -> pd.DataFrame:
    """Organisations whose plan was not re-submitted in a full-revision ``cycle``.

    Empty when the cycle is not a full revision. Columns :data:`STALE_COLUMNS`:
    the organisation and its current plan's cycle, version and upload time.
    """
    year = checked_cycle(cycle)
    table = plans(store, year)
    stale = table[table["stale"].astype(bool)] if len(table) else table
    return stale.loc[:, list(STALE_COLUMNS)].reset_index(drop=True)


def status(store: Store, cycle: int, rules: Rules | None = None) -> CycleStatus:
    """Where cycle ``cycle`` stands (see the module docstring)."""
    year = checked_cycle(cycle)
    full = is_full_revision(store, year)
    table = plans(store, year)
    steps = []
    # 1. baseline
    missing = table.loc[~table["submitted"].astype(bool), "org"].tolist() if len(table) else []
    if table.empty:
        steps.append((1, "missing", "no plans stored; import every organisation's plan"))
    elif missing:
        steps.append(
            (
                1,
                "partial",
                f"{len(missing)} of {len(table)} organisations have not uploaded a {year} plan: "
                + ", ".join(missing),
            )  # fmt: skip
        )
    else:
        steps.append((1, "done", f"all {len(table)} organisations uploaded a {year} plan"))
    # 2. targets
    wanted = targets(store, year)
    known = wanted[wanted["kpi"].isin(list(KPIS))]
    unset = known.loc[known["target"].isna(), "kpi"].tolist()
    if len(unset) == len(known):
        steps.append((2, "missing", "no targets set; ims-geo cycle targets --set ..."))
    elif unset:
        steps.append((2, "partial", f"{len(known) - len(unset)} of {len(known)} KPIs have a "
                                    f"target; none for {', '.join(unset)}"))  # fmt: skip
    else:
        steps.append((2, "done", f"targets set for all {len(known)} KPIs"))
    # 3. commitment
    adopted = has_programme(store, year)
    if adopted:
        last = revisions(store, year).iloc[-1]
        steps.append(
            (
                3,
                "done",
                f"programme adopted: revision {last['revision']} ({last['decision']}, "
                f"{pd.Timestamp(last['decision_date']).date()}), {last['projects']} combined "
                f"projects, {last['works']} works",
            )  # fmt: skip
        )
    else:
        steps.append((3, "missing", "programme not adopted"))
    # 4. monitoring: the programme in force runs on until this cycle adopts its own
    running = in_force(store, year)
    monitored = len(running) > 0
    devs, states, awaiting = (
        monitoring(store, year) if monitored else (pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    )
    if not monitored:
        steps.append((4, "missing", "nothing to monitor before the programme is adopted"))
    else:
        reports = reports_in_force(store, year, running)
        in_programme = sorted(set(running["org"]))
        silent = [o for o in in_programme if o not in set(reports["org"])]
        counts = states["rag"].value_counts() if len(states) else pd.Series(dtype=int)
        rag = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("red", "amber", "green"))
        detail = (
            f"{len(in_programme) - len(silent)} of {len(in_programme)} organisations reported "
            f"progress; {len(devs)} deviations; projects {rag}"
        )
        if len(awaiting):
            detail += (
                f"; works awaiting plans updated to the adopted dates: {len(awaiting)} "
                f"(organisations: {awaiting['org'].nunique()}, projects: "
                f"{counts.get(AWAITING, 0)})"
            )
        if silent:
            detail += f"; no progress from {', '.join(silent)}"
        earlier = running["adopted_in"] != year
        if earlier.any():
            years = ", ".join(str(y) for y in sorted(set(running.loc[earlier, "adopted_in"])))
            if adopted:
                n = int(earlier.sum())
                detail += f"; works still running from the programme adopted in {years}: {n}"
            else:
                detail += f"; monitoring the programme adopted in {years}"
        steps.append((4, "partial" if silent else "done", detail))
    # 5. evaluation
    values = kpis(store, year, rules, deviations=devs if monitored else None)
    measured = values[values["state"].isin(["green", "amber", "red"])]
    if measured.empty:
        detail = "no KPI can be measured against a target yet"
    else:
        counts = measured["state"].value_counts()
        summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("green", "amber", "red"))
        detail = f"KPIs against targets: {summary}"
    # done once the year's evaluation report (the council pack) was produced and recorded
    produced = evaluation.reports(store, year)
    packs = produced[produced["kind"] == evaluation.EVALUATION]
    if len(packs):
        day = packs["produced_at"].iloc[-1].date().isoformat()
        steps.append((5, "done", f"{detail}; council pack produced on {day}"))
    elif measured.empty:
        steps.append((5, "missing", detail))
    else:
        steps.append((5, "partial", f"{detail}; council pack not produced yet"))
    if full:
        stale = stale_plans(store, year)
        if len(stale):
            step, state, detail = steps[0]
            steps[0] = (step, "partial", detail + f"; full revision: {len(stale)} stale plans")
    frame = pd.DataFrame(
        [(n, _NAMES[n - 1], s, d) for n, s, d in steps], columns=list(STEP_COLUMNS)
    )
    return CycleStatus(
        cycle=year,
        full_revision=full,
        steps=frame,
        kpis=values,
        deviations=devs,
        projects=states,
        stale=stale_plans(store, year),
        awaiting=awaiting,
        monitored=tuple(sorted({int(c) for c in running["adopted_in"]})),
    )
