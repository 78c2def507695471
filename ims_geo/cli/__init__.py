"""The ``ims-geo`` command line: thin commands over the library.

Every command that reads or writes the works store takes ``--store``
(default: the ``IMS_GEO_STORE`` environment variable, then
``data/ims.gpkg``). Commands that read planning files accept every format
the ingest understands; rejected rows never stop a run: they are reported
on stderr, written with ``--rejects``, and turn the exit status non-zero
only under ``--strict``.
"""

from __future__ import annotations

import functools
import inspect
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd

from ims_geo import schema
from ims_geo.errors import ImsGeoError, InputError, StoreError
from ims_geo.redact import redact, redact_url

#: Exit status when rows were rejected under ``--strict``.
EXIT_REJECTED = 3
#: Exit status for unusable input (missing CRS, hostile file, bad rules...).
EXIT_INPUT = 2

ROOT = Path(__file__).resolve().parents[2]


# --- shared options (defined once) -------------------------------------------
def store_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        "store_path",
        envvar="IMS_GEO_STORE",
        default="data/ims.gpkg",
        show_default=True,
        help="Works store: a GeoPackage path or a postgresql:// URL (env IMS_GEO_STORE).",
    )(f)


#: INPUT planning files of a command (none: the store's current works).
inputs_argument = click.argument("inputs", nargs=-1, type=click.Path(exists=True, dir_okay=False))
#: Organisation of INPUT files without an org column: once for all, or once per file.
input_orgs_option = click.option(
    "--org",
    "orgs",
    multiple=True,
    help="Organisation of INPUT files that have no org column: give it once for all "
    "files, or once per file in the order of the files.",
)


def language_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--lang LANG``: a language of the installation (en, nl, de, or an installed catalogue)."""
    return click.option("--lang", default=None, metavar="LANG", help=help)


#: ``--lang``: an export's column headers in words of a language (CSV and Excel only).
lang_option = language_option(
    "Write the column headers in words of this language (en, nl, de, or an installed "
    "catalogue) instead of the canonical names; .csv and .xlsx only. Default: the "
    "canonical, machine-readable names."
)


def _check_lang(out: str, lang: str | None) -> None:
    """Refuse ``--lang`` for a spatial ``out`` or an unknown language, before any work."""
    if lang is None:
        return
    from ims_geo import export, i18n
    from ims_geo.i18n.headers import HEADED_FORMATS

    if export.format_of(out) not in HEADED_FORMATS:
        raise InputError(
            f"--lang applies to .csv and .xlsx files, not {out}; spatial formats keep the "
            "canonical field names"
        )
    if lang not in i18n.available():
        raise InputError(
            f"--lang {lang!r} is not a language of this installation; use one of "
            f"{', '.join(i18n.available())}"
        )


def _headed(frame: Any, out: str, lang: str | None) -> Any:
    """``frame`` with its headers in ``lang`` (when given) for the table ``out``."""
    if lang is None:
        return frame
    from ims_geo.i18n.headers import headed

    _check_lang(out, lang)
    return headed(frame, lang)


def out_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The required ``--out FILE`` option; the file's suffix picks the format."""
    return click.option("--out", required=True, type=click.Path(dir_okay=False), help=help_text)


def _local_limits(given: Sequence[str] = ()) -> Any:
    """Limits for files on the user's own disk (larger sizes), with ``--limit name=value``."""
    from dataclasses import fields

    from ims_geo.ingest import Limits, parse_limit

    names = [f.name for f in fields(Limits)]
    changes = {}
    for item in given:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            _fail(f"--limit {item!r}: give name=value with a name from {', '.join(names)}")
        changes[key] = parse_limit(key, value)
    return Limits.for_local_files(**changes)


@dataclass(frozen=True)
class InputOptions:
    """How the INPUT planning files of a command are read."""

    mapping: str | None = None
    layer: str | None = None
    source_crs: str | None = None
    encoding: str | None = None
    rejects: str | None = None
    strict: bool = False
    limits: tuple[str, ...] = ()


def _grouped(
    options: list[Callable[..., Any]], into: str, build: Callable[..., Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``options`` to a command and hand them to it as ONE keyword ``into``."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            params = inspect.signature(build).parameters
            grouped = {k: kwargs.pop(k) for k in list(kwargs) if k in params}
            return f(*args, **{into: build(**grouped)}, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


ingest_options = _grouped(
    [
        click.option(
            "--mapping",
            type=click.Path(exists=True, dir_okay=False),
            help="Column mapping file (TOML).",
        ),
        click.option(
            "--layer",
            help="Layer to read from a GeoPackage or a zip with several shapefiles, the sheet "
            "of an Excel workbook (.xlsx; default: its first sheet) or the list of a JSON "
            "object holding several lists of records.",
        ),
        click.option(
            "--crs",
            "source_crs",
            help="CRS of files that carry none, e.g. EPSG:28992 (never guessed).",
        ),
        click.option(
            "--encoding",
            help="Text encoding of shapefile attributes (default: the .cpg, else cp1252).",
        ),
        click.option(
            "--rejects",
            type=click.Path(dir_okay=False),
            help="Write rejected rows with their reason here (.csv, .xlsx, .gpkg).",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Exit non-zero when any row was rejected or any warning was given "
            "(e.g. a value read as its fallback).",
        ),
        click.option(
            "--limit",
            "limits",
            multiple=True,
            metavar="NAME=VALUE",
            help="Change a reading safety limit, e.g. --limit max_memory_bytes=6G "
            "--limit max_read_seconds=900 (names and defaults: README, Limits).",
        ),
    ],
    "read",
    InputOptions,
)


def _rules(
    rules_file: str | None = None,
    distance: float | None = None,
    window_days: int | None = None,
    moratorium_years: float | None = None,
) -> Any:
    """Rules from the rules file (if any) with the command-line values on top."""
    from ims_geo.conflicts.rules import Rules, load_rules

    given: dict[str, Any] = {
        "distance": distance,
        "window_days": window_days,
        "moratorium_years": moratorium_years,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    return load_rules(rules_file, **overrides) if rules_file else Rules(**overrides)


rules_options = _grouped(
    [
        click.option(
            "--rules",
            "rules_file",
            type=click.Path(exists=True, dir_okay=False),
            help="Rules file (TOML), see data/rules.example.toml.",
        ),
        click.option(
            "--distance", type=float, help="Distance in metres within which works meet [20]."
        ),
        click.option("--window-days", type=int, help="Synergy window in days [365]."),
        click.option(
            "--moratorium-years", type=float, help="Dig-after-pave protection in years [3]."
        ),
    ],
    "rules",
    _rules,
)


@dataclass(frozen=True)
class ProposalOptions:
    """How a combined programme is proposed (``propose`` and ``cycle adopt``)."""

    budgets: str | None = None
    max_parallel: int | None = None
    time_limit: float = 30.0
    costs: str | None = None
    cell_size: float = 250.0
    workers: int = 2
    hard_budgets: bool = False
    unbudgeted_years: str = "frozen"
    allow_new_clashes: bool = False
    not_before: str | None = None
    lock_file: str | None = None
    exclude_file: str | None = None
    fix_worth: float | None = None

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`ims_geo.programme.propose`; nothing before today."""
        from datetime import date

        from ims_geo.programme.schedule import Weights

        weights = Weights.fixing(self.fix_worth) if self.fix_worth is not None else None
        return {
            "weights": weights,
            "budgets": self.budgets,
            "max_parallel": self.max_parallel,
            "time_limit": self.time_limit,
            "costs": self.costs,
            "cell_size": self.cell_size,
            "workers": self.workers,
            "hard_budgets": self.hard_budgets,
            "unbudgeted_years": self.unbudgeted_years,
            "allow_new_clashes": self.allow_new_clashes,
            "not_before": self.not_before if self.not_before is not None else date.today(),
            "lock": self.lock_file,
            "exclude": self.exclude_file,
            "progress": _progress(err=True),
        }


proposal_options = _grouped(
    [
        click.option(
            "--budgets",
            type=click.Path(exists=True, dir_okay=False),
            help="Yearly budgets per organisation (CSV: org,year,budget_eur).",
        ),
        click.option(
            "--max-parallel", type=int, help="At most K simultaneous works per area cell."
        ),
        click.option(
            "--time-limit",
            type=float,
            default=30.0,
            show_default=True,
            help="Solver time budget in seconds for the whole run.",
        ),
        click.option(
            "--costs",
            type=click.Path(exists=True, dir_okay=False),
            help="Unit costs for the savings (TOML), see data/costs.example.toml.",
        ),
        click.option(
            "--cell-size",
            type=float,
            default=250.0,
            show_default=True,
            help="Side in metres of the area cells that --max-parallel counts in.",
        ),
        click.option(
            "--workers", type=int, default=2, show_default=True, help="Solver worker threads."
        ),
        click.option(
            "--hard-budgets",
            is_flag=True,
            help="Remove euros over a budget before anything else (default: a penalty per euro).",
        ),
        click.option(
            "--unbudgeted-years",
            type=click.Choice(["frozen", "free"]),
            default="frozen",
            show_default=True,
            help="A year without a budget row: no more spending than planned (frozen), or unlimited.",
        ),
        click.option(
            "--allow-new-clashes",
            is_flag=True,
            help="Let the proposal create clashes (reported as new) to combine works or fix violations.",
        ),
        click.option(
            "--not-before",
            metavar="DATE",
            help="No work is moved to start before this date (YYYY-MM-DD; default today).",
        ),
        click.option(
            "--lock",
            "lock_file",
            type=click.Path(exists=True, dir_okay=False),
            help="CSV, or an earlier proposal's .xlsx/.gpkg, with org,work_id[,lock][,cluster_id]"
            "[,proposed_start]: works (or a marked work's whole project) kept at their planned "
            "dates, or at the proposed_start given (an earlier proposal's; its project kept).",
        ),
        click.option(
            "--exclude",
            "exclude_file",
            type=click.Path(exists=True, dir_okay=False),
            help="CSV org,work_id: works left out of the programme.",
        ),
        click.option(
            "--fix-worth",
            type=click.FloatRange(min=0.0, min_open=True),
            help="How many combined works a dig-after-pave violation of the plan that is fixed "
            "is worth, at least 0.001 [default: 1.7: a fix is given up only for a project that gains more]; "
            "1000 fixes every violation the windows allow before combining anything.",
        ),
    ],
    "proposing",
    ProposalOptions,
)


def _fail(message: str, code: int = EXIT_INPUT) -> None:
    click.echo(f"Error: {redact(message)}", err=True)  # never a store password
    sys.exit(code)


def _progress(err: bool) -> Callable[[float, str], None]:
    """A progress callback that prints ``[ 40%] message`` lines."""

    def progress(fraction: float, message: str) -> None:
        click.echo(f"[{fraction:4.0%}] {message}", err=err)

    return progress


def _open_store(store_path: str) -> Any:
    from ims_geo.cli.signin import open_signed_in  # --user / IMS_GEO_TOKEN for PostGIS

    return open_signed_in(store_path)


def _write_rejects(rejected: pd.DataFrame, path: str | None) -> None:
    if path is None:
        return
    from ims_geo import export

    export.write(rejected, path, layer="rejected")
    click.echo(f"Rejected rows written to {path}", err=True)


def _strict_failure(result: Any) -> str:
    """Why ``--strict`` stops: rejected rows and warnings (unknown values, repairs...)."""
    return (
        f"{len(result.rejected)} rows rejected, {len(result.warnings)} warnings "
        "(--strict fails on both)"
    )


def _read_inputs(
    inputs: Sequence[str], store_path: str, read: InputOptions, orgs: Sequence[str] = ()
) -> Any:
    """Works from the INPUT files, or the store's current works when none are given."""
    if orgs and not inputs:
        _fail("--org names the organisation of INPUT files; the store's works have theirs")
    if len(orgs) not in (0, 1, len(inputs)):
        _fail(
            f"--org given {len(orgs)} times for {len(inputs)} files; "
            "give it once for all files or once per file, in the same order"
        )
    if not inputs:
        store = _open_store(store_path)
        works = store.works()
        if works.empty:
            _fail(
                f"the store {store.location} holds no works; import plans first or pass INPUT files"
            )
        click.echo(f"Read {len(works)} works from {store.location}", err=True)
        return works
    from ims_geo.ingest import read_many

    result = read_many(
        list(inputs),
        org=orgs[0] if len(orgs) == 1 else (list(orgs) or None),
        mapping=read.mapping,
        layer=read.layer,
        crs=read.source_crs,
        encoding=read.encoding,
        limits=_local_limits(read.limits),
    )
    click.echo(result.report(), err=True)
    _write_rejects(result.rejected, read.rejects)
    if read.strict and (len(result.rejected) or result.warnings):
        _fail(_strict_failure(result), EXIT_REJECTED)
    return result.works


# --- commands -----------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ims_geo")
@click.option(
    "--user",
    envvar="IMS_GEO_USER",
    help="Sign in to a shared (PostGIS) store as this user (env IMS_GEO_USER); the password "
    "comes from env IMS_GEO_PASSWORD or a prompt. An API token: env IMS_GEO_TOKEN.",
)
def main(user: str | None) -> None:
    """ims-geo: every organisation's planned street works on one map, conflicts found,
    combined programmes proposed."""


def _handle_errors(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's own errors into one clear line and an exit status."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ImsGeoError as exc:
            _fail(str(exc), EXIT_INPUT if isinstance(exc, ValueError) else 1)

    return wrapper


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--org",
    help="Only this organisation's plan. Without it, each organisation of the file's org "
    "column gets a new plan version; a file without an org column needs it. Signed in to "
    "a shared store, the organisation is the signed-in one (another is refused).",
)
@click.option(
    "--cycle",
    type=int,
    default=lambda: pd.Timestamp.now().year,
    show_default="this year",
    help="Planning-cycle year of this plan version.",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Store a plan with no accepted works (it empties the organisation's current plan).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Store a plan that shares no work_id with the organisation's current plan "
    "of more than 10 works (refused otherwise: it looks like the wrong file).",
)
@ingest_options
@store_option
@_handle_errors
def import_cmd(
    file: str,
    org: str | None,
    cycle: int,
    allow_empty: bool,
    replace: bool,
    read: InputOptions,
    store_path: str,
) -> None:
    """Import a plan FILE as a new plan version of its organisation(s).

    FILE: a zipped shapefile, GeoPackage, GeoJSON, FlatGeobuf, GML, KML,
    GeoParquet, CSV, JSON records (.json: a list of flat objects, also in a
    .zip) or Excel workbook (.xlsx).

    Prints a validation report (accepted, repaired, rejected by reason).
    A file whose org column names several organisations is stored as one
    plan version per organisation, in one transaction; --org stores only
    that organisation's rows and reports the others as left out. A plan
    with no accepted works, or one sharing no work_id with a current plan
    of more than 10 works, is refused (exit 2) unless --allow-empty or
    --replace says it is meant. Under --strict nothing is stored when any
    row is rejected.

    On a shared (PostGIS) store a planner signs in (--user, or an API
    token in IMS_GEO_TOKEN) and imports the plan of the signed-in
    organisation: --org is not needed, and another organisation's name is
    refused. The GeoPackage store has no users: --org names the plan.
    """
    from ims_geo.ingest import read_works
    from ims_geo.store import organisations_of

    # a store that exists says its CRS first; a new GeoPackage store is created only once
    # the file has been read (a file that cannot be read leaves no empty store behind)
    store = _open_store(store_path) if _store_exists(store_path) else None
    org, signed_in = _import_org(store_path, store, org)
    result = read_works(
        file,
        org=org,
        mapping=read.mapping,
        layer=read.layer,
        crs=read.source_crs,
        encoding=read.encoding,
        # the file's coordinates converted once, straight into the CRS the store keeps
        target_crs=None if store is None else _metric_or_none(store.crs),
        limits=_local_limits(read.limits),
    )
    click.echo(_from_file_crs(result.report(), result.crs, result.source_crs))
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    _write_rejects(result.rejected, read.rejects)
    if read.strict and (len(result.rejected) or result.warnings):
        _fail(f"{_strict_failure(result)}; nothing stored", EXIT_REJECTED)
    if result.works.empty and result.rejected.empty and not allow_empty:
        # said before the organisations are looked for: a file without rows names none
        _fail(
            f"nothing was stored: {Path(file).name} has no rows (at most a header), so no "
            "works; check that it is the right file, or store an empty plan on purpose with: "
            "ims-geo import --org NAME --allow-empty"
        )
    store = _open_store(store_path) if store is None else store
    table = organisations_of(result.works, result.rejected, org=org)
    versions = store.import_plans(
        result.works,
        result.rejected,
        cycle=cycle,
        source=Path(file).name,
        org=org,
        allow_empty=allow_empty,
        replace=replace,
    )
    if store.crs is not None:
        click.echo(_kept_in(store.crs, result.source_crs))
    _import_report(table, versions, store.location, signed_in=signed_in)


def _import_org(store_path: str, store: Any, org: str | None) -> tuple[str | None, bool]:
    """The organisation an import stores, and whether it comes from a sign-in.

    On a shared store it is the signed-in organisation, never a name the
    caller passes (the database refuses another anyway; this says it in
    words before the file is read). The GeoPackage store has no users, and
    the owner of a shared store's schema administers it: both keep ``--org``.
    """
    from ims_geo.cli.signin import TOKEN_ENV
    from ims_geo.store import is_shared

    if store is None or not is_shared(store_path) or getattr(store, "is_owner", False):
        return org, False
    me = store.identity
    if me is None:
        raise StoreError(
            f"importing a plan into the shared store {store.location} needs a sign-in: "
            "ims-geo --user NAME import FILE (the password from env IMS_GEO_PASSWORD or a "
            f"prompt), or an organisation's API token in env {TOKEN_ENV}; the plan is then "
            "stored as the signed-in organisation's"
        )
    given = None if org is None else org.strip()
    if given is not None and given != me.org:
        raise StoreError(
            f"signed in as {me.user} of {me.org!r}, you may import only the plans of "
            f"{me.org!r}, not of {given!r}; leave out --org (the organisation comes from the "
            "sign-in), or sign in as a user of the other organisation"
        )
    return me.org, True


def _store_exists(store_path: str | None) -> bool:
    """Whether the store is a shared one (a server) or a GeoPackage file that exists."""
    from ims_geo.store import is_shared, store_location

    return is_shared(store_path) or Path(store_location(store_path)).exists()


def _metric_or_none(crs: Any) -> Any:
    """``crs`` when works can be measured in it (a local metric CRS), else None."""
    from ims_geo.crs import check_metric

    if crs is None:
        return None
    try:
        return check_metric(crs)
    except InputError:  # a store written in another CRS: the reader picks one, the store converts
        return None


def _from_file_crs(report: str, crs: Any, file_crs: Any) -> str:
    """The validation report, its first line naming the file's CRS as where the works came from.

    The report says ``-> CRS`` of the works as read (``crs``); the first line names the
    file's own CRS instead, and :func:`_kept_in` names the store's once they are stored.
    """
    if crs is None:
        return report
    first, newline, rest = report.partition("\n")
    arrow = f" -> {crs.to_string()}"
    if first.endswith(arrow):
        source = f" from {file_crs.to_string()}" if file_crs is not None else ""
        first = first[: -len(arrow)] + source
    return first + newline + rest


def _kept_in(store_crs: Any, file_crs: Any) -> str:
    """The line saying in which CRS the store keeps the works (and the file's, when it differs)."""
    from pyproj import CRS

    kept = f"Works kept in {store_crs.to_string()}, the store's CRS"
    if file_crs is not None and CRS.from_user_input(file_crs) != CRS.from_user_input(store_crs):
        kept += f" (converted from the file's {file_crs.to_string()})"
    return kept


def _import_report(
    table: pd.DataFrame, versions: Sequence[Any], location: str, *, signed_in: bool = False
) -> None:
    """What an import stored, per organisation, and what it left out (``signed_in``: the
    others are for their own organisations to import)."""
    if len(versions) == 1:
        (v,) = versions
        kept = f"; {v.n_rejected} rejected rows kept with it" if v.n_rejected else ""
        click.echo(
            f"Stored {v.n_works} works of {v.org} as plan version {v.version} "
            f"(cycle {v.cycle}) in {location}{kept}"
        )
    else:
        click.echo(
            f"Stored the plans of {len(versions)} organisations (cycle {versions[0].cycle}) "
            f"in {location}, in one transaction:"
        )
        stored = pd.DataFrame(
            {
                "organisation": [v.org for v in versions],
                "works": [v.n_works for v in versions],
                "rejected": [v.n_rejected for v in versions],
                "version": [v.version for v in versions],
            }
        )
        width = int(stored["organisation"].str.len().max())
        names = {"organisation": lambda name: f"{name:<{width}}"}  # names read left-aligned
        click.echo(stored.to_string(index=False, formatters=names, justify="left"))
    left = table[~table["stored"] & table[schema.ORG].notna()]
    if len(left):
        click.echo(
            f"Left out (not stored): {len(left)} other organisation(s) of the file; "
            + (
                "a user of each organisation imports its own plan:"
                if signed_in
                else "import them without --org:"
            )
        )
        for row in left.itertuples(index=False):
            click.echo(f"  {row.org}: {row.works} works, {row.rejected} rejected")
    unowned = table.loc[table[schema.ORG].isna(), "rejected"].sum()
    if unowned:
        click.echo(
            f"{unowned} rejected rows name no organisation: reported above, kept with no "
            "plan (write them to a file with --rejects)"
        )


@main.command("works")
@click.option("--org", "orgs", multiple=True, help="Only these organisations.")
@store_option
@_handle_errors
def works_cmd(orgs: tuple[str, ...], store_path: str) -> None:
    """List what is stored: per organisation, works, date range and plan version."""
    store = _open_store(store_path)
    summary = store.summary()
    if orgs:
        summary = summary[summary[schema.ORG].isin(orgs)]
    if summary.empty:
        click.echo(
            f"No works stored in {redact_url(store_path)}. Import a plan with 'ims-geo import' or run 'ims-geo demo'."
        )
        return
    click.echo(summary.to_string(index=False))


@main.command("versions")
@click.option("--org", help="Only this organisation.")
@store_option
@_handle_errors
def versions_cmd(org: str | None, store_path: str) -> None:
    """List plan versions (Fortschreibung), numbered 1, 2, 3... per organisation."""
    from ims_geo.store.base import command, unknown_org_message

    store = _open_store(store_path)
    table = store.plan_versions()
    if org is not None and not (table[schema.ORG] == org).any():
        _fail(unknown_org_message(org, table[schema.ORG], store.location))
    if org is not None:
        table = table[table[schema.ORG] == org]
    if table.empty:
        click.echo(
            f"No plan versions stored in {store.location}; import one with: ims-geo import FILE"
        )
        return
    shown = pd.DataFrame(
        {
            "org": table[schema.ORG],
            "version": table["version"],
            "cycle": table["cycle"],
            "current": table["is_current"].map({True: "yes", False: ""}),
            "uploaded (UTC)": table["uploaded_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "works": table["n_works"],
            "rejected": table["n_rejected"],
            "source": table["source"],
        }
    ).sort_values(["org", "version"], kind="stable")
    click.echo(shown.to_string(index=False))
    older = table[~table["is_current"]]
    if len(older):
        last = older.iloc[-1]
        newest = int(table.loc[table[schema.ORG] == last[schema.ORG], "version"].max())
        click.echo(
            f"\nWhat changed: {command('compare', last[schema.ORG], int(last['version']), newest)}"
        )
        identity = store.identity
        if identity is None or (identity.can_write and identity.org == last[schema.ORG]):
            # only the organisation's own writers may restore its plan
            click.echo(
                "Make an earlier version current again: "
                f"{command('restore', last[schema.ORG], int(last['version']))}"
            )


@main.command("compare")
@click.argument("org")
@click.argument("old_version", type=int)
@click.argument("new_version", type=int)
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the changes to a file.")
@store_option
@_handle_errors
def compare_cmd(
    org: str, old_version: int, new_version: int, out: str | None, store_path: str
) -> None:
    """What changed between two plan versions of ORG (Fortschreibung).

    OLD_VERSION and NEW_VERSION are the organisation's version numbers
    (1, 2, 3..., see 'ims-geo versions --org ORG'): works added, dropped,
    moved (date shifts in days) or re-drawn. A line on stderr says how many
    works were left out, as the app does: another organisation's works you
    may no longer see (made private or dropped since) are compared in
    neither version, never shown as dropped. On a shared (PostGIS) store
    that count is 0 by design: the database hides such works in every
    version, so they are neither compared nor counted.
    """
    changes = _open_store(store_path).compare_versions(org, old_version, new_version)
    if changes.empty:
        click.echo(f"Plan versions {old_version} and {new_version} of {org} hold the same works.")
    else:
        counts = changes["change"].value_counts()
        click.echo(", ".join(f"{counts[k]} {k}" for k in counts.index))
        click.echo(pd.DataFrame(changes.drop(columns="geometry")).to_string(index=False))
    # on stderr, as the conflicts command's line: stdout stays the comparison alone
    click.echo(_compare_left_out_line(int(changes.attrs.get("not_shown", 0))), err=True)
    if out:
        from ims_geo import export

        export.write(changes, out, layer="changes")
        click.echo(f"Changes written to {out}", err=True)


def _compare_left_out_line(not_shown: int) -> str:
    """How many works a comparison of plan versions left out, and why (one line)."""
    if not not_shown:
        return "0 works left out: every work of both versions you may see was compared."
    return (
        f"{not_shown:,} works left out: no longer visible to you (made private or dropped "
        "since), so compared in neither version."
    )


@main.command("restore")
@click.argument("org")
@click.argument("version", type=int)
@click.option("--cycle", type=int, help="Cycle year of the new version [the restored version's].")
@store_option
@_handle_errors
def restore_cmd(org: str, version: int, cycle: int | None, store_path: str) -> None:
    """Make VERSION of ORG its current plan again, as a new version.

    VERSION is the organisation's version number (see 'ims-geo versions
    --org ORG'). Nothing is deleted: the plan that was current stays a
    version of its own, so a restore can be undone by another restore.
    """
    from ims_geo.store.base import command

    store = _open_store(store_path)
    versions = store.plan_versions(org)
    current = versions.loc[versions["is_current"], "version"]
    restored = store.restore(org, version, cycle=cycle)
    click.echo(
        f"Restored version {version} of {org} as plan version {restored.version} "
        f"(cycle {restored.cycle}): {restored.n_works} works, {restored.n_rejected} "
        f"rejected rows, in {store.location}"
    )
    if len(current):
        click.echo(f"Undo: {command('restore', org, int(current.iloc[0]))}")


@main.command("conflicts")
@inputs_argument
@out_option("Output file: .csv, .xlsx, .geojson or .gpkg.")
@input_orgs_option
@rules_options
@click.option("--internal", is_flag=True, help="Also report pairs within one organisation.")
@lang_option
@click.option(
    "--engine",
    type=click.Choice(["single", "dask"]),
    default="single",
    show_default=True,
    help="single: this process; dask: tiles on a Dask cluster (the same answer). GeoParquet "
    "INPUT (ims-geo export --out works.parquet) is then read in partitions.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="With --engine dask: the scheduler of an existing cluster, e.g. tcp://10.0.0.5:8786.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    help="With --engine dask: start a local cluster of N worker processes [2].",
)
@click.option(
    "--tiles",
    type=click.IntRange(1, 1_000_000),
    help="With --engine dask: tiles to cut the area into [one per 100,000 works].",
)
@click.option(
    "--parts",
    type=click.Path(file_okay=False),
    help="With --engine dask: also write the answer as partitioned GeoParquet to this folder "
    "(with a .parquet --out: the parts of OUT's table, written by the workers and joined into "
    "OUT; on a cluster of other machines give a folder they share with this one).",
)
@ingest_options
@store_option
@_handle_errors
def conflicts_cmd(
    inputs: tuple[str, ...],
    out: str,
    orgs: tuple[str, ...],
    rules: Any,
    internal: bool,
    lang: str | None,
    engine: str,
    scheduler: str | None,
    workers: int | None,
    tiles: int | None,
    parts: str | None,
    read: InputOptions,
    store_path: str,
) -> None:
    """Find clashes, dig-after-pave (moratorium) and synergies between organisations.

    Reads the INPUT planning files (any supported format; the organisation
    comes from each file's org column or from --org), or the store's current
    works when no INPUT is given (with the store's moratoria layer: a
    protected new surface is a sealing work; those rows carry moratorium_id),
    and writes one row per pair of works to OUT. With --engine dask the
    search runs on a Dask cluster (--scheduler, or --workers for a local
    one) and gives the same answer.
    """
    from ims_geo import export
    from ims_geo.cli.distributed import DaskOptions, dask_conflicts
    from ims_geo.conflicts import find_conflict_rows, find_conflicts

    export.format_of(out)
    _check_lang(out, lang)
    on_dask = DaskOptions(scheduler, workers, tiles, parts)
    if engine != "dask" and on_dask.given():
        _fail(f"{', '.join(on_dask.given())}: only with --engine dask")
    left = None
    if engine == "dask":  # works: the titles only when GeoParquet is read in partitions
        answer = dask_conflicts(inputs, orgs, rules, internal, read, store_path, on_dask, out)
        conflicts, works, left = answer.conflicts, answer.titles, answer.left
        if answer.written is not None:  # the workers wrote OUT's rows: nothing was gathered
            _conflicts_line(answer.written.kinds, answer.written.rows, out)
            click.echo(left, err=True)
            return
    elif inputs and export.format_of(out) == "parquet":
        # the answer is only written: its geometries go from the search to the file as WKB
        works = _read_inputs(inputs, store_path, read, orgs)
        rows = find_conflict_rows(works, rules, internal=internal or None, wkb=True)
        assert rows.bounds is not None
        table = export.conflict_table(rows.frame, works)
        export.write_geoparquet(table, out, bounds=rows.bounds, crs=rows.crs)
        _conflicts_line(rows.frame["kind"].value_counts(), len(rows.frame), out)
        click.echo(_left_out_line(works, rules), err=True)
        return
    elif inputs:
        works = _read_inputs(inputs, store_path, read, orgs)
        conflicts = find_conflicts(works, rules, internal=internal or None)
    else:  # the store's works: its moratoria layer protects new surfaces too (as in the app)
        works = _read_inputs(inputs, store_path, read, orgs)
        from ims_geo.cycle.moratoria import store_conflicts

        store = _open_store(store_path)
        conflicts = store_conflicts(store, works, rules, internal=internal or None)
    table = _headed(export.conflict_table(conflicts, works), out, lang)
    export.write(table, out, layer="conflicts")
    _conflicts_line(conflicts["kind"].value_counts(), len(conflicts), out)
    click.echo(left or _left_out_line(works, rules), err=True)


def _conflicts_line(counts: Any, total: int, out: str) -> None:
    """How many conflicts of each kind (``counts``, most first) were written to ``out``."""
    from ims_geo import export

    detail = ", ".join(f"{counts[k]} {k}" for k in counts.index) or "none"
    click.echo(f"{total} conflicts ({detail}) written to {out}", err=True)
    if not total and export.format_of(out) == "geojson":
        click.echo(
            f"Note: {out} has no columns: GeoJSON keeps them only in its features; "
            "write .csv, .xlsx or .gpkg for an empty table with every column",
            err=True,
        )


def _left_out_line(works: Any, rules: Any) -> str:
    """How many works took no part in the conflict search, and why (one line)."""
    from ims_geo.conflicts import describe_left_out, left_out

    return describe_left_out(left_out(works, rules), len(works))


@main.command("propose")
@inputs_argument
@input_orgs_option
@out_option(
    "Output file: .gpkg or .xlsx with the layers/sheets works, clusters, kpis, members "
    "(with streets), cost_split, solver (the proven bound per part), unresolved; or .csv "
    "(the works, and OUT.clusters.csv, OUT.kpis.csv, ... next to it)."
)
@rules_options
@proposal_options
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False),
    help="Compare two proposals (A B, .xlsx/.gpkg/.csv) instead: KPIs side by side and the "
    "works they treat differently, written to --out.",
)
@click.option(
    "--split",
    type=click.Path(exists=True, dir_okay=False),
    help="Cost split rules (CSV: project,rule with a project id or *, or org,work_id,rule for "
    "the project of that work; rules trench, equal, cost). Default: trench.",
)
@ingest_options
@store_option
@_handle_errors
def propose_cmd(
    inputs: tuple[str, ...],
    out: str,
    orgs: tuple[str, ...],
    rules: Any,
    proposing: ProposalOptions,
    compare: tuple[str, str] | None,
    split: str | None,
    read: InputOptions,
    store_path: str,
) -> None:
    """Propose a combined programme: clusters, joint periods, order and savings.

    Writes the works (planned and proposed dates, cluster, execution order,
    shift) and the clusters (members, joint period, savings) to OUT and
    prints the KPIs of the proposal against everyone keeping their dates.
    """
    from ims_geo import export
    from ims_geo.programme import SEALED_CLASH, propose

    if compare:
        from ims_geo.programme import compare as compare_proposals

        kpis, differ = compare_proposals(*compare)
        if export.format_of(out) == "csv":
            export.write(kpis, out)
            export.write(differ, Path(out).with_name(f"{Path(out).stem}.works.csv"))
        else:
            export.write_layers({"kpis": kpis, "works": differ}, out)
        click.echo(kpis.to_string(index=False))
        click.echo(f"{len(differ)} works differ; comparison written to {out}", err=True)
        return
    if export.format_of(out) not in ("gpkg", "xlsx", "csv"):
        _fail(f"--out {out}: a programme has several layers; write .gpkg, .xlsx or .csv")
    works = _read_inputs(inputs, store_path, read, orgs)
    proposal = propose(works, rules=rules, split=split, **proposing.arguments())
    layers = proposal.layers(gantt_sheet=export.format_of(out) == "xlsx")
    if export.format_of(out) == "csv":
        # one CSV per layer: OUT holds the works, OUT's stem + .clusters.csv etc. the rest
        target = Path(out)
        for name, layer in layers.items():
            path = target if name == "works" else target.with_name(f"{target.stem}.{name}.csv")
            export.write(layer, path)
    else:
        export.write_layers(layers, out)
        if "gantt" in layers:
            from ims_geo.programme import style_gantt

            style_gantt(out)
    for warning in proposal.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(proposal.kpis.to_string(index=False))
    click.echo(SEALED_CLASH)  # why its clashes differ from ims-geo conflicts' and the baseline's
    click.echo(proposal.bounds_text())  # combined works and their proven bound, per part
    click.echo(f"Programme written to {out}", err=True)


@main.command("export")
@out_option("Output file: .gpkg, .zip (shapefile), .geojson, .parquet, .csv or .xlsx.")
@click.option("--org", "orgs", multiple=True, help="Only these organisations.")
@lang_option
@click.option(
    "--by-org",
    is_flag=True,
    help="GeoParquet only: one file per organisation (OUT's stem + .00000.parquet...), never "
    "the whole store in memory; the INPUT of ims-geo conflicts --engine dask.",
)
@store_option
@_handle_errors
def export_cmd(
    out: str, orgs: tuple[str, ...], lang: str | None, by_org: bool, store_path: str
) -> None:
    """Export the store's current works (round-trips through ims-geo import; with --lang,
    a table for people that does not)."""
    from ims_geo import export

    export.format_of(out)
    _check_lang(out, lang)
    if by_org:
        if orgs or lang:
            _fail("--by-org exports every organisation, as data: without --org and --lang")
        files = export.write_parquet_by_org(_open_store(store_path), out)
        click.echo(f"{len(files)} GeoParquet files written next to {out}", err=True)
        for file in files:
            click.echo(str(file))
        return
    works = _open_store(store_path).works(orgs=list(orgs) or None)
    export.write(_headed(works, out, lang), out, layer="works")
    click.echo(f"{len(works)} works written to {out}", err=True)


@main.command("demo")
@store_option
@click.option("--force", is_flag=True, help="Rebuild even when the store already holds works.")
@_handle_errors
def demo_cmd(store_path: str, force: bool) -> None:
    """Build the demo store from the demo plans in data/demo/."""
    from ims_geo.demo import build_demo_store

    path = Path(store_path)
    if path.exists() and not str(store_path).startswith("postgresql"):
        if not force and not _open_store(store_path).works().empty:
            click.echo(f"{redact_url(store_path)} already holds works; use --force to rebuild it.")
            return
        path.unlink()
    store = _open_store(store_path)
    for version, result in build_demo_store(store, progress=_progress(err=False)):
        click.echo(result.report())
        click.echo(f"-> {version.org}: plan version {version.version}, {version.n_works} works\n")
    click.echo(store.summary().to_string(index=False))


@main.command("serve")
@click.option("--port", type=int, default=8501, show_default=True)
@click.option("--address", default="localhost", show_default=True)
@store_option
def serve_cmd(port: int, address: str, store_path: str) -> None:
    """Start the web app on the given store."""
    from ims_geo.ui.serve import APP, environment, streamlit_command

    command = streamlit_command(port=port, address=address, headless=False)
    sys.exit(subprocess.call(command, env=environment(store_path), cwd=APP.parent))


# Command groups that live in their own modules of this package register
# themselves on ``main`` when imported (one line each, below).
from ims_geo.cli import admin as _admin  # noqa: E402,F401
from ims_geo.cli import api as _api  # noqa: E402,F401
from ims_geo.cli import cycle as _cycle  # noqa: E402,F401
from ims_geo.cli import mapping as _mapping  # noqa: E402,F401
from ims_geo.cli import report as _report  # noqa: E402,F401

if __name__ == "__main__":
    main()
