"""``ims-geo report``: the council pack or the six-monthly status report of a cycle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from ims_geo.cli import (
    _fail,
    _handle_errors,
    _open_store,
    language_option,
    main,
    out_option,
    rules_options,
    store_option,
)


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a day; give it as YYYY-MM-DD") from None


@main.command("report")
@click.option("--cycle", "year", type=int, required=True, help="The cycle year.")
@out_option("Report file: .html (one self-contained file), .xlsx (one sheet per table) or .pdf.")
@click.option(
    "--kind",
    type=click.Choice(["council", "status"]),
    default="council",
    show_default=True,
    help="council: the yearly council pack; status: the six-monthly status report "
    "(deviations, state per project, progress).",
)
@click.option(
    "--as-of",
    callback=_day,
    help="The day the report describes (active moratoria), YYYY-MM-DD [today].",
)
@click.option("--area", default="", help="Name of the area or partnership, shown in the title.")
@language_option(
    "Write the report in this language (en, nl, de, or an installed catalogue): its "
    "headings, labels, numbers, dates and sheet names. Default: the installation's "
    "language (IMS_GEO_LANG), else English."
)
@rules_options
@store_option
@_handle_errors
def report_cmd(
    year: int,
    out: str,
    kind: str,
    as_of: dt.date | None,
    area: str,
    lang: str | None,
    rules: Any,
    store_path: str,
) -> None:
    """Write the council pack (or, with --kind status, the status report) of a cycle.

    The suffix of --out picks the format: .html is one file with its maps and
    charts inside (it loads nothing, so it opens from a USB stick), .xlsx has
    one sheet per table (kpis, deviations, programme, moratoria, changes...),
    .pdf is the HTML printed by headless Chromium. --lang nl writes it in Dutch
    (organisation names and titles stay as they are).
    """
    from ims_geo.cycle.evaluation import record_report
    from ims_geo.report import find_chromium, report_format, write_report
    from ims_geo.report.assemble import report_data
    from ims_geo.report.words import check_language

    fmt = report_format(out)
    check_language(lang)
    if fmt == "pdf":
        find_chromium()  # no printer: say so before the work, not after
    if "://" not in store_path and not Path(store_path).exists():
        _fail(
            f"no works store at {store_path}; import plans with 'ims-geo import' "
            "(or 'ims-geo demo') first, or give --store"
        )
    store = _open_store(store_path)
    data = report_data(store, year, as_of=as_of, rules=rules, area=area)
    path = write_report(data, out, kind=kind, lang=lang)
    # the cycle's step 5 (evaluation and reporting) is done once its council pack was produced
    recorded = record_report(store, year, kind, [fmt], revision=data.info.revision)
    what = "Council pack" if kind == "council" else "Status report"
    revision = (
        f"programme revision {data.info.revision}"
        if data.info.revision is not None
        else "no programme adopted yet"
    )
    click.echo(f"{what} of cycle {year} ({revision}) written to {path}", err=True)
    if not recorded:
        click.echo(
            f"Not recorded as produced in cycle {year}: only coordinators and admins record "
            "the cycle's reports",
            err=True,
        )
