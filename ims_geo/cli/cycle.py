"""``ims-geo cycle ...`` and ``ims-geo moratoria``: the planning cycle on the command line.

Thin over :mod:`ims_geo.cycle`: targets, adoption of a programme, progress
reports, where the cycle stands, the moratoria layer.
"""

from __future__ import annotations

from typing import Any

import click
import pandas as pd

from ims_geo.cli import (
    EXIT_REJECTED,
    ProposalOptions,
    _fail,
    _handle_errors,
    _open_store,
    _write_rejects,
    main,
    proposal_options,
    rules_options,
    store_option,
)

cycle_option = click.option("--cycle", "year", type=int, required=True, help="Cycle year.")


def _assignments(items: tuple[str, ...], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            _fail(f"{what} {item!r}: write it as PROJECT=VALUE, e.g. C001=equal")
        out[key.strip()] = value.strip()
    return out


#: Characters past which a text column is printed after the others.
_LONG_TEXT = 40


def _table(frame: pd.DataFrame) -> str:
    """``frame`` for a terminal: text columns left-aligned under their names (as psql prints
    them), and long texts (a project's members, a reason) last, so every short column stays
    on screen and a long text reads from the left."""
    shown = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame]))
    types = pd.api.types
    text = [
        c for c in shown.columns
        if not (types.is_numeric_dtype(shown[c]) or types.is_datetime64_any_dtype(shown[c]))
    ]  # fmt: skip
    # a missing text prints empty (as psql prints NULL), not as nan or <NA>
    shown[text] = shown[text].astype(object).where(shown[text].notna(), "")
    width = {c: max(len(str(c)), int(shown[c].astype(str).str.len().max())) for c in text}
    long = [c for c in text if width[c] > _LONG_TEXT]
    shown = shown.loc[:, [c for c in shown.columns if c not in long] + long]

    def left(width: int) -> Any:
        return lambda value: str(value).ljust(width)

    formatters = {c: left(width[c]) for c in text}
    table = shown.to_string(index=False, formatters=formatters, justify="left")
    return "\n".join(line.rstrip() for line in table.splitlines())


@main.group("cycle")
def cycle_group() -> None:
    """The yearly planning cycle: targets, adopted programme, progress, status."""


@cycle_group.command("targets")
@cycle_option
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="Set a target, e.g. --set combined_share=0.6 (repeatable).")  # fmt: skip
@click.option("--from", "from_file", type=click.Path(exists=True, dir_okay=False),
              help="Targets from a TOML file (name = number lines).")  # fmt: skip
@click.option("--custom", is_flag=True, help="Accept names that are not known KPIs.")
@click.option("--carry-from", "carry_from", type=int, metavar="YEAR",
              help="Start from the targets stored for cycle YEAR (e.g. last year's, "
                   "custom KPIs included); --from and --set change them.")  # fmt: skip
@click.option("--clear", "cleared", multiple=True, metavar="NAME",
              help="Remove the target of NAME (a known KPI back to its default; repeatable).")  # fmt: skip
@store_option
@_handle_errors
def targets_cmd(
    year: int,
    assignments: tuple[str, ...],
    from_file: str | None,
    custom: bool,
    carry_from: int | None,
    cleared: tuple[str, ...],
    store_path: str,
) -> None:
    """Store the cycle's targets; without --set/--from/--carry-from/--clear, print them.

    Known KPIs: combined_share, moratorium_violations, max_disruption_days,
    savings_eur, submitted_share. Other names need --custom.
    """
    from ims_geo import cycle
    from ims_geo.cycle.targets import check_targets, parse_assignments
    from ims_geo.errors import InputError

    store = _open_store(store_path)
    values: dict[str, Any] = {}
    if carry_from is not None:
        values.update(cycle.stored_targets(store, carry_from))
        if not values:
            raise InputError(f"cycle {carry_from} has no targets stored; nothing to carry over")
        custom = custom or any(name not in cycle.KPIS for name in values)
    if from_file:
        values.update(cycle.load_targets(from_file))
        try:
            check_targets(values, custom=custom)
        except InputError as exc:
            raise InputError(f"{from_file}: {exc}") from exc
    values.update(parse_assignments(assignments))
    table = (
        cycle.set_targets(store, year, values, custom=custom, clear=cleared)
        if values or cleared
        else cycle.targets(store, year)
    )
    if values:
        click.echo(f"Stored {len(values)} targets for cycle {year}", err=True)
    if cleared:
        click.echo(f"Removed the targets of {', '.join(cleared)} for cycle {year}", err=True)
    click.echo(table.loc[:, ["kpi", "target", "custom", "better"]].to_string(index=False))


@cycle_group.command("adopt")
@cycle_option
@click.option("--programme", "programme_file", type=click.Path(exists=True, dir_okay=False),
              help="Programme to adopt (.gpkg/.xlsx from 'ims-geo propose', possibly edited); "
              "without it a fresh proposal of the store's current works.")  # fmt: skip
@click.option("--decision", required=True, help="Decision reference, e.g. 'Council 2027/14'.")
@click.option("--date", "decision_date", help="Date of the decision, YYYY-MM-DD (default today).")
@click.option("--reason", help="Why this revision (needed from the second adoption on).")
@click.option("--split", "splits", multiple=True, metavar="PROJECT=RULE",
              help="Cost split rule of a project: trench (default), equal or cost.")  # fmt: skip
@click.option("--lead", "leads", multiple=True, metavar="PROJECT=ORG",
              help="Lead organisation of a project (default: the sealing member's).")  # fmt: skip
@rules_options
@proposal_options
@store_option
@_handle_errors
def adopt_cmd(
    year: int,
    programme_file: str | None,
    decision: str,
    decision_date: str | None,
    reason: str | None,
    splits: tuple[str, ...],
    leads: tuple[str, ...],
    rules: Any,
    proposing: ProposalOptions,
    store_path: str,
) -> None:
    """Adopt a programme for the cycle: a frozen, numbered revision. Prints its number.

    Without --programme, a fresh proposal of the store's current works is
    adopted, with the options of 'ims-geo propose'.
    """
    from ims_geo import cycle

    store = _open_store(store_path)
    options: dict[str, Any] = {}
    if programme_file is None:
        options = {"rules": rules, **proposing.arguments()}
    result = cycle.adopt(
        store,
        year,
        programme_file,
        decision=decision,
        decision_date=decision_date,
        reason=reason,
        split_rules=_assignments(splits, "--split"),
        leads=_assignments(leads, "--lead"),
        **options,
    )
    click.echo(
        f"Adopted revision {result.revision} of the {year} programme ({result.decision}, "
        f"{result.decision_date}): {result.n_projects} combined projects, {result.n_works} works",
        err=True,
    )
    click.echo(result.revision)


@cycle_group.command("progress")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", required=True, help="The organisation reporting.")
@cycle_option
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False),
              help="Column mapping (TOML); extras for actual_start, actual_end, remark.")  # fmt: skip
@click.option("--layer", help="Layer of a GeoPackage or zip with several layers.")
@click.option("--rejects", type=click.Path(dir_okay=False),
              help="Write rejected rows with their reason here (.csv, .xlsx).")  # fmt: skip
@click.option("--strict", is_flag=True, help="Store nothing when any row is rejected.")
@rules_options
@store_option
@_handle_errors
def progress_cmd(
    file: str,
    org: str,
    year: int,
    mapping: str | None,
    layer: str | None,
    rejects: str | None,
    strict: bool,
    rules: Any,
    store_path: str,
) -> None:
    """Store progress reports (work_id, status, actual_start, actual_end, remark) from FILE.

    Any supported format, geometry optional. Unknown work ids and unreadable
    rows are rejected with their reason; a finished resurfacing creates a moratorium.
    """
    from pathlib import Path

    from ims_geo import cycle

    store = _open_store(store_path)
    reports = cycle.read_progress(file, mapping=mapping, layer=layer)
    if strict:
        from ims_geo.cycle.monitor import problems

        reason = problems(store, year, org, reports)
        if reason.notna().any():
            rejected = reports[reason.notna().to_numpy()].assign(
                reason=reason[reason.notna()].to_numpy()
            )
            click.echo(rejected.to_string(index=False), err=True)
            _write_rejects(rejected, rejects)
            _fail(f"{len(rejected)} rows rejected; nothing stored (--strict)", EXIT_REJECTED)
    result = cycle.record_progress(store, year, org, reports, source=Path(file).name, rules=rules)
    click.echo(result.report())
    _write_rejects(result.rejected, rejects)


@cycle_group.command("baseline")
@cycle_option
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write plans, conflicts, moratoria and disruption (.gpkg or .xlsx).")  # fmt: skip
@rules_options
@store_option
@_handle_errors
def baseline_cmd(year: int, out: str | None, rules: Any, store_path: str) -> None:
    """The cycle's baseline: plans, conflicts by kind, moratoria, disruption per street segment."""
    from ims_geo import cycle, export
    from ims_geo.cycle.baseline import SEALED_CLASH_NOTE

    base = cycle.baseline(_open_store(store_path), year, rules)
    click.echo(base.plans.to_string(index=False) if len(base.plans) else "No plans stored.")
    click.echo("")
    click.echo(base.conflict_counts.to_string(index=False))
    click.echo(SEALED_CLASH_NOTE)
    n = len(base.moratoria)
    click.echo(f"\n{n} {'moratorium' if n == 1 else 'moratoria'} in force during {year}")
    if len(base.disruption):
        top = base.disruption.iloc[0]
        days, works = int(top["disruption_days"]), int(top["works"])
        click.echo(
            f"Most disrupted street segment in {year}: {top['segment']} "
            f"({days} {'day' if days == 1 else 'days'}, {works} {'work' if works == 1 else 'works'})"
        )
    if out:
        if export.format_of(out) not in ("gpkg", "xlsx"):
            _fail(f"--out {out}: the baseline has several layers; write .gpkg or .xlsx")
        # every layer, even empty (its header only): a planner's template keeps its shape
        layers = {
            "plans": base.plans,
            "conflicts": base.conflicts,
            "moratoria": base.moratoria,
            "disruption": base.disruption,
        }
        export.write_layers(layers, out)
        click.echo(f"Baseline written to {out}", err=True)


@cycle_group.command("status")
@cycle_option
@rules_options
@store_option
@_handle_errors
def status_cmd(year: int, rules: Any, store_path: str) -> None:
    """Where the cycle stands: the five steps, KPIs, deviations, stale plans."""
    from ims_geo import cycle

    click.echo(cycle.status(_open_store(store_path), year, rules).text())


@cycle_group.command("full-revision")
@cycle_option
@click.option("--off", is_flag=True, help="Unmark the cycle.")
@store_option
@_handle_errors
def full_revision_cmd(year: int, off: bool, store_path: str) -> None:
    """Mark the cycle a full revision: every organisation must re-submit its plan."""
    from ims_geo import cycle

    store = _open_store(store_path)
    cycle.set_full_revision(store, year, not off)
    stale = cycle.stale_plans(store, year)
    click.echo(
        f"Cycle {year} is {'not ' if off else ''}a full revision"
        + (f"; stale plans: {', '.join(stale['org'])}" if len(stale) else "")
    )


@cycle_group.command("programme")
@cycle_option
@click.option("--revision", type=int, help="Revision number (default the latest).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write works and projects (.gpkg or .xlsx).")  # fmt: skip
@store_option
@_handle_errors
def programme_cmd(year: int, revision: int | None, out: str | None, store_path: str) -> None:
    """Show the adopted programme of the cycle (its combined projects)."""
    from ims_geo import cycle, export

    store = _open_store(store_path)
    works = cycle.programme(store, year, revision)
    projects = cycle.projects(store, year, revision)
    click.echo(_table(projects) if len(projects) else "No combined projects.")
    if out:
        if export.format_of(out) not in ("gpkg", "xlsx"):
            _fail(f"--out {out}: the programme has two layers; write .gpkg or .xlsx")
        export.write_layers({"programme": works, "projects": projects}, out)
        click.echo(f"Programme written to {out}", err=True)


@cycle_group.command("deviations")
@cycle_option
@click.option("--moved-days", type=int, default=30, show_default=True,
              help="Days a period may change before a work counts as moved.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False),
              help="Also write the deviations and the works awaiting the plan's update as one "
                   "table (.csv, .xlsx): column 'state' holds the deviation kind or "
                   "'awaiting_update', 'adopted_in' the cycle that adopted the work.")  # fmt: skip
@store_option
@_handle_errors
def deviations_cmd(year: int, moved_days: int, out: str | None, store_path: str) -> None:
    """Deviations from the adopted programme, and the state of every combined project.

    Works whose current plan still holds the dates the programme was adopted
    from are no deviations: they are listed apart, as plans not yet updated.
    --out writes both in one table: the deviations first, in their usual
    columns, then the works awaiting the update; 'state' tells them apart.
    """
    from ims_geo import cycle, export
    from ims_geo.cycle.status import awaiting_text
    from ims_geo.report.data import AWAITING_REPORT_COLUMNS

    store = _open_store(store_path)
    found, states, awaiting = cycle.monitoring(store, year, moved_days=moved_days)
    click.echo(_table(found) if len(found) else "No deviations from the adopted programme.")
    if len(awaiting):
        click.echo("")
        click.echo(awaiting_text(awaiting))
        click.echo(_table(awaiting.loc[:, list(AWAITING_REPORT_COLUMNS)]))
    if len(states):
        click.echo("")
        click.echo(_table(states.loc[:, ["project", "lead_org", "rag", "reason"]]))
    if out:
        export.write(_deviations_table(found, awaiting), out, layer="deviations")
        click.echo(
            f"{len(found)} deviations and {len(awaiting)} works awaiting the plan's update "
            f"written to {out}",
            err=True,
        )


def _deviations_table(found: pd.DataFrame, awaiting: pd.DataFrame) -> pd.DataFrame:
    """Deviations and works awaiting the plan's update as one table, for ``--out``.

    Parameters
    ----------
    found
        :func:`ims_geo.cycle.deviations`.
    awaiting
        :func:`ims_geo.cycle.awaiting_update`.

    Returns
    -------
    pandas.DataFrame
        The deviations' columns in their order (``deviation`` empty for a work
        awaiting the update, as it is no deviation; ``adopted_in`` the cycle
        whose programme adopted the work, empty for an unplanned one), then ``state`` (the
        deviation kind, or ``awaiting_update``) and ``uploaded_at`` (when the
        plan awaiting the update was uploaded); deviations first, then the
        works awaiting the update by org and work_id.
    """
    from ims_geo.cycle.monitor import AWAITING

    deviations = found.assign(state=found["deviation"], uploaded_at=pd.NaT)
    waiting = awaiting.assign(deviation=None, state=AWAITING)
    columns = [*found.columns, "state", "uploaded_at"]
    parts = [part.reindex(columns=columns) for part in (deviations, waiting) if len(part)]
    table = pd.concat(parts, ignore_index=True) if parts else deviations.loc[:, columns]
    # one UTC column (a spreadsheet takes the time without its zone), not objects
    return table.assign(uploaded_at=pd.to_datetime(table["uploaded_at"], utc=True))


@main.group("moratoria", invoke_without_command=True)
@click.option("--active-on", help="Only moratoria in force on this date (YYYY-MM-DD).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write them (.gpkg, .geojson, .csv, .xlsx).")  # fmt: skip
@store_option
@click.pass_context
@_handle_errors
def moratoria_cmd(
    ctx: click.Context, active_on: str | None, out: str | None, store_path: str
) -> None:
    """The moratoria layer: protected new surfaces, their source and exemptions."""
    if ctx.invoked_subcommand is not None:
        return  # the subcommand takes its own --store
    from ims_geo import cycle, export

    layer = cycle.moratoria(_open_store(store_path), active_on=active_on)
    when = f" in force on {active_on}" if active_on else ""
    if layer.empty:
        click.echo(f"No moratoria{when}.")
    else:
        click.echo(_table(layer))
    if out:
        export.write(layer, out, layer="moratoria")
        click.echo(f"{len(layer)} moratoria{when} written to {out}", err=True)


@moratoria_cmd.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", required=True, help="The organisation registering them.")
@click.option("--crs", "source_crs", help="CRS of a file without one, e.g. EPSG:28992.")
@click.option("--layer", help="Layer of a GeoPackage or zip with several layers.")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write rejected rows here.")
@store_option
@_handle_errors
def moratoria_import_cmd(
    file: str,
    org: str,
    source_crs: str | None,
    layer: str | None,
    rejects: str | None,
    store_path: str,
) -> None:
    """Import an existing moratoria register (source_org, source_work_id, valid_from,
    valid_until, geometry; optional exempt_org, exempt_work_id, exemption, decision)."""
    from pathlib import Path

    from ims_geo import cycle

    register = cycle.read_moratoria(file, layer=layer, crs=source_crs)
    stored, rejected = cycle.import_moratoria(
        _open_store(store_path), register, org=org, source=Path(file).name
    )
    click.echo(f"Stored {len(stored)} moratoria, {len(rejected)} rows rejected")
    for reason, n in rejected["reason"].value_counts().items() if len(rejected) else []:
        click.echo(f"  rejected {n}: {reason}", err=True)
    _write_rejects(rejected, rejects)


@moratoria_cmd.command("exempt")
@click.argument("moratorium_id", type=int)
@click.option("--org", required=True, help="Organisation whose work may dig.")
@click.option("--work-id", help="The work (default: every work of --org).")
@click.option("--kind", type=click.Choice(["emergency", "decision"]), default="decision",
              show_default=True)  # fmt: skip
@click.option("--decision", help="The decision that granted it.")
@store_option
@_handle_errors
def moratoria_exempt_cmd(
    moratorium_id: int,
    org: str,
    work_id: str | None,
    kind: str,
    decision: str | None,
    store_path: str,
) -> None:
    """Exempt a work (or an organisation's works) from moratorium MORATORIUM_ID."""
    from ims_geo import cycle

    cycle.add_exemption(
        _open_store(store_path), moratorium_id, org=org, work_id=work_id, kind=kind,
        decision=decision,
    )  # fmt: skip
    click.echo(f"Moratorium {moratorium_id}: exemption stored for {org} {work_id or '(all works)'}")
