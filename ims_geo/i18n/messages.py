"""Messages the library writes in English, shown on a page in the user's language.

The library speaks English to every caller (the command line, the HTTP API,
logs, files): its errors, warnings, the reasons of rejected rows and the
validation report are built from fixed templates filled with values (file
names, columns, counts). Translating them where they are raised would give a
Dutch error to a German script's log, so they are translated where a person
reads them: a page shows a message through :func:`translate`, which
recognises the template the message was built from and fills the translated
template with the same values. A message no template matches is shown as it
is (English) — nothing is lost, it is only not translated.

The templates are listed once, here, marked with :func:`~ims_geo.i18n.N_` so
pybabel extracts them; ``tests/test_i18n.py`` builds the real messages with
the library (a bad upload, a file without a CRS, a hostile zip) and checks
that each is recognised, so a changed wording in the library fails the tests
instead of silently staying English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ims_geo.access.roles import VISITOR, WHO
from ims_geo.i18n import N_, _, language, ngettext
from ims_geo.i18n.labels import KPI_NAMES

__all__ = [
    "ROLE_NAMES",
    "TEMPLATES",
    "translate",
    "translate_reasons",
    "translate_report",
]

#: Roles of a shared store as a person reads them.
ROLE_NAMES: dict[str, str] = {
    "planner": N_("planner"),
    "coordinator": N_("coordinator"),
    "viewer": N_("viewer"),
    "admin": N_("administrator"),
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _regex(template: str, shape: Callable[[str], str], *, named: bool = True) -> str:
    """``template`` as a regular expression, each placeholder matching ``shape(name)``.

    ``named``: each placeholder is a group of its name, and a name used again
    must match the same text again; else the placeholders are plain groups.
    """
    seen: set[str] = set()
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(1)
        if not named:
            parts.append(f"(?:{shape(name)})")
        elif name in seen:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>{shape(name)})")
        seen.add(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return "".join(parts)


#: Who a shared store's refusal names (:func:`ims_geo.access.roles.who`): the role one word.
_WHO_PARTS = re.compile(_regex(WHO, lambda name: r"\w+" if name == "role" else ".+"))

#: Templates of the library's messages, most specific first (the first full match wins).
#: Placeholders are named; a name used twice must hold the same text twice.
TEMPLATES: tuple[str, ...] = (
    # the validation report (ImportResult.report), line by line
    N_("Import of {source} (layer {layer}) -> {crs}"),
    N_("Import of {source} -> {crs}"),
    N_("Import of {source} (layer {layer})"),
    N_("Import of {source}"),
    N_("accepted: {count}"),
    N_("repaired: {count}"),
    N_("rejected: {count}"),
    N_("per file:"),
    N_("warnings:"),
    N_("{source}: accepted {accepted}, repaired {repaired}, rejected {rejected}"),
    N_("{problem}: {count} (e.g. {examples})"),
    N_("{problem}: {count}"),
    # reasons of rejected rows (schema.validate, sanity), with and without their values
    N_("missing geometry"),
    N_("empty geometry"),
    N_("invalid geometry that cannot be repaired"),
    N_("missing work_id"),
    N_("missing org (add an org column or give the organisation for the file)"),
    N_("missing {column}"),
    N_("end_date before start_date"),
    N_("earliest after start_date"),
    N_("latest before end_date"),
    N_("depth_min greater than depth_max"),
    N_("negative depth (depths are metres below the surface)"),
    N_("duplicate work_id '{work_id}' for org '{org}'"),
    N_("duplicate work_id for org"),
    N_("unsupported geometry type '{name}' (use points, lines or polygons)"),
    N_("unsupported geometry type (use points, lines or polygons)"),
    N_("coordinate that is not a finite number (NaN or infinity)"),
    N_("coordinate '{xy}' far outside any map"),
    N_("coordinate far outside any map"),
    N_(
        "unreadable geometry (a type such as TIN or a curve, or broken coordinates such as an "
        "unclosed ring); export it as points, lines or polygons"
    ),
    # the same reason as its two problems, as the report counts them and a row lists them
    N_(
        "unreadable geometry (a type such as TIN or a curve, or broken coordinates such as an "
        "unclosed ring)"
    ),
    N_("export it as points, lines or polygons"),
    N_("unparsable geometry '{value}' (not WKT)"),
    N_("unparsable geometry (not WKT)"),
    N_("unparsable coordinates {columns} '{value}'"),
    N_("unparsable coordinates {columns}"),
    N_("geometry nested '{depth}' brackets deep, more than max_geometry_depth"),
    N_("geometry nested brackets deep, more than max_geometry_depth"),
    N_("geometry with '{count}' vertices, more than max_vertices"),
    N_("geometry with vertices, more than max_vertices"),
    # reasons of a GeoParquet file's rows (its WKB is checked before it is parsed)
    N_("geometry nesting collections {depth}+ deep, more than max_geometry_depth"),
    N_("unreadable geometry (not valid WKB: truncated or of an unknown type)"),
    N_("export the file again from the source system"),
    N_("coordinates '{xy}' outside the area of use of {crs}"),
    N_("coordinates outside the area of use of {crs}"),
    N_("text in column {column} longer than {limit} characters"),
    N_("implausible {column} '{value}' (before {first} or after {last})"),
    N_("implausible {column} (before {first} or after {last})"),
    # the generic forms last: the specific ones above win
    N_("unparsable {column} '{value}'"),
    N_("unparsable {column}"),
    # warnings of an import
    N_(
        "{file}: {column} '{value}' ({rows}) read as {read_as} — add it to [values.{column}] "
        "in a mapping file"
    ),
    N_(
        "{file}: {column}: {count} more unknown values ({rows}) read as {read_as} — see {raw}; "
        "add them to [values.{column}]"
    ),
    # numbers whose value depends on their decimal style, left empty (ims_geo.schema)
    N_(
        "{file}: ambiguous {column} {values} (with a decimal point | with a decimal comma), and "
        "the column shows both styles — read as empty, see {raw}; write it without a thousands "
        'separator or declare decimal = "," or "." in a mapping file'
    ),
    N_(
        "{file}: ambiguous {column} {values} (with a decimal point | with a decimal comma), and "
        "no cell of the column shows which — read as empty, see {raw}; write it without a "
        'thousands separator or declare decimal = "," or "." in a mapping file'
    ),
    N_(
        "{file}: {column} {values} not written with the declared decimal comma (as read with a "
        "decimal point) — read as empty, see {raw}; correct the cells or the mapping's decimal"
    ),
    N_(
        "{file}: {column} {values} not written with the declared decimal point (as read with a "
        "decimal comma) — read as empty, see {raw}; correct the cells or the mapping's decimal"
    ),
    N_("{file}: {count} invalid geometries repaired (make_valid)"),
    N_(
        "{file}: only the geometry column {column} is read; the further geometry columns "
        "{columns} are left out"
    ),
    N_(
        "{file} declares its CRS as {crs}; the given crs {given} is only used for files without one"
    ),
    # the planning cycle: step names, states and details (ims_geo.cycle.status)
    N_("Baseline"),
    N_("Targets"),
    N_("Commitment"),
    N_("Implementation and monitoring"),
    N_("Evaluation and reporting"),
    N_("no plans stored; import every organisation's plan"),
    N_("{missing} of {total} organisations have not uploaded a {year} plan: {orgs}"),
    N_("all {total} organisations uploaded a {year} plan"),
    N_("no targets set; ims-geo cycle targets --set ..."),
    N_("{count} of {total} KPIs have a target; none for {kpis}"),
    N_("targets set for all {total} KPIs"),
    N_(
        "programme adopted: revision {revision} ({decision}, {date}), {projects} combined "
        "projects, {works} works"
    ),
    N_("programme not adopted"),
    N_("nothing to monitor before the programme is adopted"),
    N_("{detail}; no progress from {orgs}"),
    N_(
        "{detail}; works awaiting plans updated to the adopted dates: {works} (organisations: "
        "{count}, projects: {projects})"
    ),
    N_(
        "{reported} of {total} organisations reported progress; {deviations} deviations; "
        "projects {red} red, {amber} amber, {green} green"
    ),
    N_("no KPI can be measured against a target yet"),
    N_("{detail}; council pack produced on {date}"),
    N_("{detail}; council pack not produced yet"),
    N_("KPIs against targets: {green} green, {amber} amber, {red} red"),
    N_(
        "KPIs against targets: {green} green, {amber} amber, {red} red; council pack: "
        "ims-geo report --cycle {year} --out pack.html"
    ),
    N_("{detail}; full revision: {count} stale plans"),
    # the planning cycle: KPIs, their states, deviations, conflict kinds
    N_("share of the programme's excavating works executed combined"),
    N_("moratorium conflicts (dig after pave, moratoria layer included)"),
    N_("most days any street segment is occupied in the cycle year"),
    N_("savings of the adopted combined projects that still combine"),
    N_("share of organisations that submitted a plan for the cycle"),
    N_("green"),
    N_("amber"),
    N_("red"),
    N_("no target"),
    N_("no data"),
    N_("dropped"),
    N_("not_combined"),
    N_("moved"),
    N_("late"),
    N_("early"),
    N_("unplanned"),
    N_("awaiting_update"),
    N_("clash"),
    N_("moratorium"),
    N_("synergy"),
    N_("internal"),
    N_(
        "{file}: {column} mixes decimal commas such as '{comma}' and decimal points such as "
        "'{point}': a cell that fits one style only is read in it, one that fits both is "
        "read as empty — declare decimal in a mapping file if a style is wrong"
    ),
    # a file without a work_id column (ims_geo.ingest._mapping.no_id_message)
    N_(
        "{file} has no work_id column, so every row is rejected as missing work_id; {ids} "
        "looks like an id — `ims-geo mapping suggest {file} --out mapping.toml` writes a "
        "starter mapping (or set [columns] work_id = {example} in a mapping file, or compose "
        "one from columns with [work_id_from] there), then import with --mapping mapping.toml"
    ),
    N_(
        "{file} has no work_id column, so every row is rejected as missing work_id; {ids} "
        "look like an id — `ims-geo mapping suggest {file} --out mapping.toml` writes a "
        "starter mapping (or set [columns] work_id = {example} in a mapping file, or compose "
        "one from columns with [work_id_from] there), then import with --mapping mapping.toml"
    ),
    N_(
        "{file} has no work_id column, so every row is rejected as missing work_id; its "
        "columns are: {columns} — `ims-geo mapping suggest {file} --out mapping.toml` writes a "
        'starter mapping (or set [columns] work_id = "<the id column>" in a mapping file, or '
        "compose one from columns with [work_id_from] there), then import with --mapping "
        "mapping.toml"
    ),
    # sign-in to a shared store
    N_(
        "sign-in to {store} refused for {who}: wrong user name, password or token, or the "
        "account is disabled"
    ),
    # what a signed-in role may not do on a shared store ({person}: ims_geo.access.roles.who)
    N_(
        "store {store}: {person} may not adopt a programme; proposing and adopting programmes "
        "and setting cycle targets is for coordinators and admins"
    ),
    N_(
        "store {store}: {person} may not mark a full revision; proposing and adopting programmes "
        "and setting cycle targets is for coordinators and admins"
    ),
    N_(
        "store {store}: {person} may not set the cycle's targets; proposing and adopting "
        "programmes and setting cycle targets is for coordinators and admins"
    ),
    N_("store {store}: {person} may not change the planning cycle ({cause})"),
    N_("store {store}: {person} may not read the planning cycle ({cause})"),
    N_("store {store}: {person} may not import the plans"),
    # a shared store's refusals in its own words (ims_geo.store.Store.database_error): what
    # was asked ({doing}, one of the phrases below) and the database's reason; specific first
    N_(
        "store {store}: could not {doing}: another import is running and did not finish within "
        "{seconds} s; try again when it is done (or raise {variable})"
    ),
    N_(
        "store {store}: could not {doing} ({cause}); check that the server runs and the URL, "
        "user and password are right"
    ),
    N_("store {store}: {person} may not {doing} ({cause})"),
    N_("store {store}: could not {doing} ({cause})"),
    # ... what was asked ({doing}) of a store
    N_("sign in"),
    N_("open the store"),
    N_("read"),
    N_("write"),
    N_("read the works"),
    N_("import the plans"),
    N_("read the planning cycle"),
    N_("change the planning cycle"),
    # ... the database's own reasons ({cause}, {reason}: ims_geo.access.database)
    N_("only a planner may import the first plan"),
    N_("EPSG:{code} is not known to PostGIS"),
    N_("only an admin may manage organisations, users and tokens"),
    N_("only an admin or the user themself may change a password"),
    N_("a password needs at least {count} characters and at most 72 bytes"),
    N_("the audit trail is append-only: {operation} refused"),
    N_("no user {user}"),
    N_("no token ims_{number}"),
    # ... and of its administration (ims_geo.access.admin)
    N_("set up the application role {role}"),
    N_("add organisation {org}"),
    N_("list the organisations"),
    N_("add user {user}"),
    N_("change the password of {user}"),
    N_("disable user {user}"),
    N_("enable user {user}"),
    N_("list the users"),
    N_("create a token for {org}"),
    N_("revoke {token}"),
    N_("list the tokens"),
    N_("read the audit trail"),
    # opening a store and signing in (ims_geo.store)
    N_("the session for {store} has expired or ended; sign in again"),
    N_(
        "PostGIS is not installed in {store} ({cause}); ask the database administrator to run "
        "CREATE EXTENSION postgis"
    ),
    N_(
        "{store} has no ims_geo store for this user yet: the database administrator sets it up "
        "with `ims-geo admin init --owner-url ... --app-role ...` (see the README)"
    ),
    N_(
        "{store} schema {schema} was written by another ims_geo store version ({written}, this "
        "one reads {reads}); upgrade ims_geo"
    ),
    N_(
        "the first plan imported into {store} is in a CRS without an EPSG code ({crs}); "
        "reproject it to a national grid or UTM zone (GeoDataFrame.to_crs) before importing"
    ),
    N_("cannot read the store URL ({error}); use postgresql://user:password@host:port/database"),
    N_("the store URL has an '@' in its password or user name; write it as %40"),
    N_("store URL driver {driver} is not supported; use postgresql:// or postgresql+psycopg://"),
    N_(
        "unknown store location {store}: give a .gpkg file path or a "
        "postgresql://user@host:port/database URL"
    ),
    N_(
        "{store} is a GeoPackage store: it has no users and no sign-in (one user, no server); "
        "give a postgresql:// URL to sign in to a shared store"
    ),
    N_(
        "store file {store} must be a GeoPackage ending in .gpkg; give a path such as data/ims.gpkg"
    ),
    N_("cannot create the folder for store {store}: {error}"),
    N_("cannot open store {store}: {error}"),
    N_(
        "store {store}: another import is running and did not finish within {seconds} s; try "
        "again when it is done (or raise {variable})"
    ),
    N_("store {store} is damaged ({error}); restore it from a backup or start a new store"),
    N_("store {store} could not be read or written ({error})"),
    N_(
        "{store} is not a GeoPackage (not an SQLite file); give the path of an ims_geo store or "
        "of a new .gpkg file"
    ),
    N_(
        "{store} was written by another ims_geo store version ({written}, this one reads "
        "{reads}); upgrade ims_geo or start a new store"
    ),
    N_(
        "{store} is a database but not an ims_geo store; give a new file name (the store does "
        "not write into other GeoPackages)"
    ),
    N_("{variable}={value} is not a number of seconds; set it to e.g. 30"),
    N_("the lock timeout must be a positive number of seconds, got {value}"),
    # a store's plan versions (restoring one, naming an organisation)
    N_(
        "version {version} is already the current plan of {org}; nothing to restore (see {command})"
    ),
    N_("no plan version {version} in {store}; see {command} for the stored versions"),
    N_("{org} has no plan version {version} (its versions: {versions}); see {command}"),
    N_(
        "{org} has {count} plan versions numbered {version} in {store} (cycles {cycles}); "
        "restore the one you mean under a new number by importing its file again"
    ),
    N_("no plans are stored in {store} yet; import one with: ims-geo import FILE"),
    N_("no plans of {org} in {store} (did you mean {name}?). Known organisations: {names}"),
    N_("no plans of {org} in {store}. Known organisations: {names}"),
    # the administration of a shared store (ims_geo.access)
    N_("could not {doing}: {reason}"),
    N_("a password needs at least {count} characters; choose a longer one"),
    N_("a password may have at most 72 bytes (bcrypt reads no more)"),
    N_("a password cannot contain a NUL character"),
    N_(
        "{store} is not the owner of schema {schema}: run the set-up with the URL of the role "
        "that owns (or may create) the store schema"
    ),
    N_(
        "users and organisations exist only in a shared (PostGIS) store; a GeoPackage store has "
        "no sign-in"
    ),
    N_("unknown role {role}; use one of {roles}"),
    N_("a token's role is one of {roles}, not {role}"),
    N_("{token} is not a token name; give it as ims_<number>"),
    N_("only an admin may read the audit trail"),
    N_(
        "the pgcrypto extension is missing and could not be created ({cause}); ask the database "
        "administrator to run CREATE EXTENSION pgcrypto in this database"
    ),
    N_(
        "no PostgreSQL role {role} (or no schema {schema}); create it first: CREATE ROLE "
        "{quoted} LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS"
    ),
    N_(
        "the application role {role} would bypass row-level security (superuser, BYPASSRLS, or "
        "owner of the store schema); use a plain role"
    ),
    # street segments of the cycle's disruption table (ims_geo.cycle.baseline)
    N_("{size} m square {x} {y}"),
    N_("square"),
    # the formats of ims_geo.ingest._sources.FORMATS that have words
    N_("zipped shapefile"),
    N_("shapefile"),
    N_("CSV with a WKT geometry column"),
    N_("Excel workbook"),
    N_("JSON records"),
    # a store's refusal of new plan versions (ims_geo.store.base: one line per refused plan)
    N_("nothing was stored: {refusals}"),
    N_(
        "the new plan of {org} has no accepted works ({count} rows rejected: the report says "
        "why); the file holds rows of other organisations only: {others}; storing it would "
        "empty its current plan (version {version}, {works} works). Fix the file (or choose "
        "the right organisation), or store an empty plan on purpose with: ims-geo import "
        "--allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works ({count} rows rejected: the report says "
        "why); the file holds rows of other organisations only: {others}. Fix the file (or "
        "choose the right organisation), or store an empty plan on purpose with: ims-geo "
        "import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works ({count} rows rejected: the report says "
        "why); storing it would empty its current plan (version {version}, {works} works). Fix "
        "the file (or choose the right organisation), or store an empty plan on purpose with: "
        "ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works ({count} rows rejected: the report says "
        "why). Fix the file (or choose the right organisation), or store an empty plan on "
        "purpose with: ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works; the file holds rows of other "
        "organisations only: {others}; storing it would empty its current plan (version "
        "{version}, {works} works). Fix the file (or choose the right organisation), or store "
        "an empty plan on purpose with: ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works; the file holds rows of other "
        "organisations only: {others}. Fix the file (or choose the right organisation), or "
        "store an empty plan on purpose with: ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works; storing it would empty its current plan "
        "(version {version}, {works} works). Fix the file (or choose the right organisation), "
        "or store an empty plan on purpose with: ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} has no accepted works. Fix the file (or choose the right "
        "organisation), or store an empty plan on purpose with: ims-geo import --allow-empty"
    ),
    N_(
        "the new plan of {org} ({count} works, ids such as {ids}) shares no work_id with its "
        "current plan (version {version}, {works} works, ids such as {old_ids}): that looks "
        "like another organisation's file, or ids read from the wrong column. Check the file "
        "and its organisation (--org, the org column or the mapping); if it really replaces "
        "the whole plan, import it with: ims-geo import --replace (and {restore} brings the "
        "current plan back)"
    ),
    N_(
        "the works name no organisation (no org column, or it is empty in every row); give the "
        "organisation of the file (ims-geo import --org NAME) or map a column to org in the "
        "mapping file"
    ),
    N_("organisation {org} may only change its own works, not the plan of {others} ({store})"),
    N_(
        "the plan of {orgs} was changed by another import while this one was checked; nothing "
        "was stored, import again"
    ),
    # the programme page's budgets and unit costs (ims_geo.programme.check_budgets, costs)
    N_(
        "{where}: missing column(s) {missing}; a budgets table has the columns {columns} (one "
        "row per organisation and year)"
    ),
    N_("line {line}: empty org"),
    N_("line {line}: year '{value}' is not a calendar year"),
    N_("line {line}: budget_eur '{value}' is not an amount >= 0"),
    N_("lines {lines}: org '{org}' has more than one budget line '{funding}' for {year}"),
    N_("lines {lines}: org '{org}' has more than one budget for {year}"),
    N_("{where}: cost table: '{name}' must be a finite number >= 0, got {value}"),
    N_("cost table: '{name}' must be a finite number >= 0, got {value}"),
    N_("{where}: cost table: '{name}' must be a number, got {value}"),
    N_("cost table: '{name}' must be a number, got {value}"),
    N_("{where}: unknown cost key '{key}' (did you mean '{close}'?)"),
    N_("{where}: unknown cost key '{key}' (known keys: {keys})"),
    # a mapping file that does not fit (ims_geo.ingest._mapping; {mapping} is its name or the page's)
    N_("the mapping"),
    N_("the mapping built here"),
    N_("{mapping} is not a valid TOML file: {error}"),
    N_(
        "{mapping}: [columns] {column} = {listed}, but {file} has no such column; its columns "
        "are: {columns}"
    ),
    N_(
        "{mapping}: [keywords.{column}] search_in = {listed}, but {file} has no such column; "
        "its columns are: {columns}"
    ),
    N_(
        "{mapping}: unknown column {key} in [{table}]; use one of {columns} (or declare it in "
        "flags = [...])"
    ),  # fmt: skip
    N_("{mapping}: unknown key {key}; a mapping file may contain {keys}"),
    N_("{mapping}: [keywords.{column}] {keyword} sets unknown column {key}; use one of {columns}"),
    N_('{mapping}: crs {crs} is not a known CRS; use e.g. "EPSG:28992"'),
    N_('{mapping}: encoding {encoding} is unknown; use e.g. "cp1252" or "utf-8"'),
    N_(
        "{mapping}: date_format {value} is not a strftime format or a list of them; use e.g. "
        '"%d.%m.%Y" or ["%d.%m.%Y", "%Y%m%d"]'
    ),
    N_('{mapping}: timezone {value} is unknown; use e.g. "Europe/London"'),
    N_("{mapping}: keep_extras must be true or false, not {value}"),
    N_("{mapping}: flags: {value} is a canonical column, not a flag"),
    N_(
        "{mapping}: [extras] {key} is not a usable extra column name; extra columns must not be "
        "empty, a canonical column ({columns}) or a flag"
    ),
    N_("{mapping}: [{key}] must be a table of key = value lines, not {value}"),
    N_("{mapping}: {key} must be a column name or a list of column names, not {value}"),
    N_("{mapping}: {key} must be a text, number, true/false or date, not {value}"),
    N_(
        '{mapping}: decimal = {value} is not a decimal mark; use {marks} (decimal = "," reads '
        '1.234,50 and 98.000 as 98000), or a table per column such as [decimal] cost_eur = ","'
    ),
    N_("{mapping}: [decimal] {column} is not a number column; use one of {columns}"),
    N_("{mapping}: [decimal] {column} = {value} is not a decimal mark; use {marks}"),
    # ids composed from columns ([work_id_from], ims_geo.ingest._mapping)
    N_(
        '{mapping}: [work_id_from] must be a table such as columns = ["roads", "startDate"], '
        "not {value}"
    ),
    N_("{mapping}: [work_id_from] has unknown key {key}; use columns and prefix"),
    N_('{mapping}: [work_id_from] needs columns = ["...", ...], the columns that identify a work'),
    N_("{mapping}: [work_id_from] columns {listed} names a column twice"),
    N_('{mapping}: [work_id_from] prefix must be text, e.g. "NH-", not {value}'),
    N_(
        "{mapping}: [{table}] work_id and [work_id_from] both give the work_id; keep [columns] "
        "work_id when the file has an id column, else [work_id_from] only"
    ),
    N_(
        "{mapping}: [work_id_from] columns names {listed}, but {file} has no such column; its "
        "columns are: {columns}"
    ),
    N_(
        "{file}: {count} work_id composed from {columns} got a suffix (-2, -3, ... in file "
        "order) because its row repeats an earlier row in all of those columns; such ids stay "
        "the same only while the file keeps its row order — add a column that tells the rows "
        "apart to [work_id_from] columns"
    ),
    N_(
        "{file}: {count} work_ids composed from {columns} got a suffix (-2, -3, ... in file "
        "order) because their rows repeat an earlier row in all of those columns; such ids stay "
        "the same only while the file keeps its row order — add a column that tells the rows "
        "apart to [work_id_from] columns"
    ),
    # a proposal to compare with (ims_geo.programme.read_proposal)
    N_("{file}: not a proposal written by ims-geo propose (kpis and works): {error}"),
    N_("{file}: missing column(s) {columns} of a proposal"),
    # adopting a programme, setting the cycle's targets (ims_geo.cycle)
    N_("an adoption needs its decision reference, e.g. --decision 'Council 2027/14'"),
    N_(
        "cycle {year} already has an adopted programme (revision {revision}); say why it is "
        "revised: --reason '...'"
    ),
    N_("the store holds no works to propose a programme from; import plans"),
    N_("{name} is not a KPI name (one word, up to 64 characters)"),
    N_("target {name}={value} is a share: give it between 0 and 1"),
    N_("target {name}={value} is not a finite number"),
    N_("target {name}={value} is not a number"),
    # errors a planner meets on the upload page
    N_(
        "{file} has no coordinate reference system (for a shapefile: no .prj file). Add the "
        ".prj file to the upload, or say which CRS the coordinates are in: crs='EPSG:28992' in "
        'Python, --crs EPSG:28992 on the command line, or crs = "EPSG:28992" in the mapping '
        "file"
    ),
    N_(
        "{file} says nothing about its CRS and its coordinates (e.g. {xy}) are not "
        "longitude/latitude; say which CRS they are in: crs='EPSG:28992' in Python, --crs "
        'EPSG:28992 on the command line, crs = "EPSG:28992" in the mapping file, or '
        "SRID=28992; before the WKT"
    ),
    N_(
        "{file} says nothing about its CRS and its coordinates (e.g. {xy}) are not "
        "longitude/latitude; say which CRS they are in: crs='EPSG:28992' in Python, --crs "
        'EPSG:28992 on the command line, crs = "EPSG:28992" in the mapping file'
    ),
    N_(
        "{file} declares its CRS as {crs}, but no coordinate lies where {crs} is used (e.g. "
        "{xy}); the file's CRS declaration (its .prj, SRID= or crs member) is wrong: export the "
        "file again with its real CRS"
    ),
    N_(
        "{file}: no coordinate lies where the given crs {crs} is used (e.g. {xy}); the crs "
        "(--crs, crs=..., or crs in the mapping file) is wrong for this file: give the CRS its "
        "coordinates are really in"
    ),
    N_(
        "{file} is {size} bytes, more than the upload limit of {limit} bytes "
        "(max_upload_bytes); split the file or raise the limit"
    ),
    N_("{file} is empty (0 bytes); upload the file again"),
    N_(
        "{file}: {suffix} spreadsheets are not read; open it in the spreadsheet program and save "
        "it as an Excel workbook (.xlsx) or as .csv, then upload that file"
    ),
    N_("{file}: files ending in {suffix} are not read; supported formats are {formats}"),
    N_("{file} is not a vector data file{detail}; supported formats are {formats}"),
    N_(
        "{file}: a date in it is no real calendar date ({error}), and the file cannot be read "
        "past it; correct the date in the source system, or export the dates as text"
    ),
    # why a file is not a vector data file ({detail} above; {nested}: a zip inside the zip)
    N_(" (it looks like {found})"),
    N_(" (it could not be opened as an Excel workbook: {error})"),
    N_(" (it could not be read as {fmt}: {error})"),
    N_(" (it could not be opened as {fmt}: {error})"),
    N_(" (it holds no layers)"),
    N_(" (SQLite cannot open it as a GeoPackage: {error})"),
    N_(" (a damaged or unreadable zip archive: {error})"),
    N_(" (a damaged zip archive: {error})"),
    N_(" (the archive holds no vector file)"),
    N_(" (the archive holds no .shp, .gpkg, .geojson, .fgb, .csv, .gml or .kml{nested})"),
    N_(" (a zip inside the zip is not opened: unpack it)"),
    N_(" (a .parquet inside the zip is not opened: upload it on its own)"),
    N_(" (a .xlsx inside the zip is not opened: upload it on its own)"),
    N_(" (it is no valid JSON: {error})"),
    N_(
        " (a JSON object that is no GeoJSON and holds no list of records: give the records as a "
        "list of objects, one per work)"
    ),
    # what a file looks like by its first bytes ({found} above)
    N_("a PNG image"),
    N_("a JPEG image"),
    N_("a GIF image"),
    N_("a PDF document"),
    N_("a zip archive"),
    N_("an SQLite database / GeoPackage"),
    N_("a FlatGeobuf file"),
    N_("a gzip file"),
    N_("an old Microsoft Office document"),
    N_("a shapefile .shp"),
    N_("a Parquet file"),
    N_(
        "{file} is rejected: member {member} points outside the archive (absolute path or "
        "'..'); re-create the zip from the files themselves"
    ),
    N_(
        "{file} is rejected: it expands {ratio} times its packed size, more than the limit of "
        "{limit} (max_ratio); this is typical of zip bombs"
    ),
    N_(
        "{file} is rejected: its member {member} expands {ratio} times its packed size, more "
        "than the limit of {limit} (max_ratio); this is typical of zip bombs"
    ),
    N_("{file} expands to {size} bytes, more than the limit of {limit} bytes (max_expanded_bytes)"),
    N_(
        "{file} expands to {size} bytes of column data, more than the limit of {limit} bytes "
        "(max_expanded_bytes); split the file"
    ),
    N_(
        "{file} is rejected: its column data expands {ratio} times its packed size, more than "
        "the limit of {limit} (max_ratio); this is typical of compression bombs"
    ),
    N_(
        "{file} holds {count} files, more than the limit of {limit} (max_members); upload only "
        "the plan's files"
    ),
    N_("{file} is password-protected; upload an archive without a password"),
    N_(
        "{file}: {member} has no {parts} file next to it in the archive; zip every part of the "
        "shapefile (.shp, .shx, .dbf, .prj, .cpg)"
    ),
    N_("{file} has no header line; the first line must name the columns"),
    # a JSON list of records or an Excel workbook read as a table (ims_geo.ingest._sources)
    N_(
        "{file} nests its values more deeply than can be read safely (lists or objects inside "
        "each other about a thousand times); a plan's records are flat: export them again from "
        "the source system"
    ),
    N_(
        "{file}: {table} holds {count} records, more than the limit of {limit} (max_rows); split "
        "the file"
    ),
    N_("{file} holds no records; a plan needs one object per work"),
    N_(
        "{file}: record {number} is a JSON {kind}, not an object of named values; a table needs "
        "one object per row, e.g. {example}"
    ),
    N_("{file}, sheet {sheet} holds more than {limit} rows, the limit (max_rows); split the sheet"),
    N_(
        "{file}, sheet {sheet} is empty; row 1 must name the columns and each row below hold one "
        "work"
    ),
    N_(
        "{file}, sheet {sheet}: row 1 must name the columns, but cell {cell} holds the value "
        "{value}; insert a header row with the column names"
    ),
    N_(
        "{file}, sheet {sheet}: column {column} holds values but has no name in row 1; write its "
        "name in the header row"
    ),
    N_(
        "{file}, sheet {sheet}: the header row names a column more than once ({columns}); give "
        "each column its own name"
    ),
    N_(
        "{file}, sheet {sheet}: cell {cell} holds the formula {formula} without its value (the "
        "workbook was written by a program that does not calculate); open it in a spreadsheet "
        "program and save it again, or write the value itself"
    ),
    N_("{file} could not be read as CSV: {error}"),
    N_("{file} cannot be decoded as {encoding}: {error}"),
    N_("{file} holds {count} features, more than the limit of {limit} (max_rows); split the file"),
    N_(
        "{file} is a damaged GeoPackage (SQLite: {sqlite}); its features cannot all be read: "
        "export it again from the source system"
    ),
    N_("{file} has no layer {layer}; its layers are: {layers}"),
    N_(
        "{file} is an empty archive (it holds no files); put the plan's files in it (for a "
        "shapefile its .shp, .shx, .dbf and .prj) and upload it again"
    ),
    # a file whose own CRS cannot be converted (ims_geo.ingest)
    N_(
        "{file} declares its CRS as '{crs}' (a local engineering or site grid), which cannot be "
        "converted to a map CRS; export the file in an EPSG CRS (e.g. EPSG:28992), or if its "
        "coordinates are in one, say which: crs='EPSG:28992' in Python, --crs EPSG:28992 on the "
        'command line, or crs = "EPSG:28992" in the mapping file'
    ),
    N_(
        "{file} declares its CRS as '{crs}', which cannot be converted to a map CRS; export the "
        "file in an EPSG CRS (e.g. EPSG:28992), or if its coordinates are in one, say which: "
        "crs='EPSG:28992' in Python, --crs EPSG:28992 on the command line, or crs = "
        '"EPSG:28992" in the mapping file'
    ),
    N_(
        "{file} declares its CRS as '{crs}', which cannot be converted to a map CRS; its "
        "coordinates are read in the given crs {given}"
    ),
    # a KML placemark without the dates of its TimeSpan (ims_geo.ingest._dates)
    N_(
        "{file}: placemark '{placemark}' has neither a <begin> nor an <end> date in its TimeSpan "
        "that can be read (write <TimeSpan><begin>2027-03-01</begin><end>2027-06-30</end>"
        "</TimeSpan> in it, dates as YYYY-MM-DD, or take the dates from other fields with a "
        "mapping file)"
    ),
    N_(
        "{file}: placemark '{placemark}' has no <begin> date in its TimeSpan that can be read "
        "(write <TimeSpan><begin>2027-03-01</begin><end>2027-06-30</end></TimeSpan> in it, "
        "dates as YYYY-MM-DD, or take the dates from other fields with a mapping file)"
    ),
    N_(
        "{file}: placemark '{placemark}' has no <end> date in its TimeSpan that can be read "
        "(write <TimeSpan><begin>2027-03-01</begin><end>2027-06-30</end></TimeSpan> in it, "
        "dates as YYYY-MM-DD, or take the dates from other fields with a mapping file)"
    ),
    N_(
        "{file} has no geometry column: add a column 'geometry' with WKT text (or one of "
        "{aliases}), or a pair of point coordinate columns named {pairs}, or name them in a "
        "mapping file ([columns] geometry = ... for WKT, [extras] x = ... and y = ... for "
        "coordinates); its columns are: {columns}"
    ),
    N_(
        "{file} could not be read ({error}); the file is damaged or not what its name says: "
        "export it again from the source system"
    ),
    N_(
        "{file}: reading needed more than the memory limit of {limit} (max_memory_bytes); split "
        "the file, or if it is trusted raise the limit: --limit max_memory_bytes={more} on the "
        "command line, {setting}={more} for the app"
    ),
    N_(
        "{file}: reading needed more than the memory limit of {limit} for {amount} of input "
        "(max_memory_bytes, grown with its size); split the file, or if it is trusted raise the "
        "limit: --limit max_memory_bytes={more} on the command line, {setting}={more} for the app"
    ),
    N_(
        "{file}: reading needed more than the memory limit of {limit}, the most a reader may take "
        "on this machine (three quarters of its {memory}); split the file, or if it is trusted "
        "raise the limit: --limit max_memory_bytes={more} on the command line, {setting}={more} "
        "for the app"
    ),
    N_(
        "{file}: reading was stopped after {seconds} s, the read time limit (max_read_seconds); "
        "split the file, or raise the limit if the file is trusted (see README, Limits)"
    ),
    N_(
        "{file}: reading used more than {seconds} s of CPU time, the limit (max_cpu_seconds); "
        "split the file, or raise the limit if the file is trusted (see README, Limits)"
    ),
    N_(
        "{file}: the machine ran out of memory and the system killed the file reader (SIGKILL) "
        "before it reached its own limit of {limit} (max_memory_bytes); read the file when the "
        "machine is less busy, or lower the limit so that the reader stops first"
    ),
    N_(
        "{file}: the file reader was killed ({signal}) by something outside the app, not by a "
        "limit of the reading; read the file again"
    ),
    N_(
        "{file}: the file reader could not start (exit status {code}); the app's code probably "
        "changed while it ran: restart the app, then read the file again"
    ),
    N_("{file}: the file nests its content too deeply to be read safely"),
    N_(
        "{file}: the file reader stopped unexpectedly (exit status {code}); read the file again, "
        "and if it stops again export it again from the source system"
    ),
    N_(
        "{file} crashed the file reader ({signal}); the file is damaged or hostile: export it "
        "again from the source system"
    ),
    # a GeoParquet file that cannot be read (ims_geo.ingest._geoparquet)
    N_(
        "{file}: the Parquet data could not be read ({error}); the file is damaged: export it "
        "again from the source system"
    ),
    N_(
        "{file} is Parquet without GeoParquet 'geo' metadata and has no WKB column named "
        "{names}; its columns are: {columns}; write it as GeoParquet (GeoPandas: to_parquet; "
        "GDAL: ogr2ogr -f Parquet)"
    ),
    N_(
        "{file}: its GeoParquet 'geo' metadata is not JSON ({error}); the file is damaged: "
        "export it again from the source system"
    ),
    N_(
        "{file}: its GeoParquet 'geo' metadata has no 'primary_column' and 'columns'; the file "
        "does not follow GeoParquet 1.0/1.1: export it again from the source system"
    ),
    N_(
        "{file}: its GeoParquet 'geo' metadata names the geometry column {column}, which the "
        "file does not have (its columns are: {columns}); export it again from the source system"
    ),
    N_(
        "{file}: its geometry column {column} is encoded as {encoding}, which is not read (WKB "
        "and the GeoArrow encodings {encodings} are); write the geometry as WKB (GeoPandas: "
        "to_parquet(geometry_encoding='WKB'); GDAL: -lco GEOMETRY_ENCODING=WKB)"
    ),
    N_(
        "{file}: its geometry column {column} holds {kind}, not WKB bytes; write the geometry as "
        "WKB (GeoPandas: to_parquet(geometry_encoding='WKB'); GDAL: -lco GEOMETRY_ENCODING=WKB)"
    ),
    N_(
        "{file}: its {encoding} geometries could not be read ({error}); write the geometry as "
        "WKB (GeoPandas: to_parquet(geometry_encoding='WKB'); GDAL: -lco GEOMETRY_ENCODING=WKB)"
    ),
    N_(
        "{file}: the CRS in its geo metadata is not understood ({error}); export the file again "
        "with its CRS as PROJJSON, or without one and give the CRS (--crs)"
    ),
    N_(
        "{file}: column {column} holds {kind}, which cannot be read as text; write it as text or "
        "numbers, or leave it out of the file"
    ),
    # the command line's import and compare (ims_geo.cli): English there, in words where shown
    N_(
        "importing a plan into the shared store {location} needs a sign-in: ims-geo --user NAME "
        "import FILE (the password from env IMS_GEO_PASSWORD or a prompt), or an organisation's "
        "API token in env {token_env}; the plan is then stored as the signed-in organisation's"
    ),
    N_(
        "signed in as {user} of {org}, you may import only the plans of {org}, not of {given}; "
        "leave out --org (the organisation comes from the sign-in), or sign in as a user of the "
        "other organisation"
    ),
    N_(
        "Left out (not stored): {count} other organisation(s) of the file; a user of each "
        "organisation imports its own plan:"
    ),
    N_("0 works left out: every work of both versions you may see was compared."),
    N_(
        "{n} works left out: no longer visible to you (made private or dropped since), so "
        "compared in neither version."
    ),
    # a table's problems (the programme page's budgets) last: "{where}: line 1 ..." is generic
    N_("{where}: {problems} (and {count} more)"),
    N_("{where}: {problems}"),
)

#: Placeholders whose value is itself a message part to translate (a reason, a count of rows).
_NESTED = frozenset({
    "problem", "rows", "detail", "read_as", "kpis", "refusals", "others", "problems", "mapping",
    "found", "nested", "person", "values", "doing", "cause", "reason",
})  # fmt: skip
#: Nested placeholders that hold a list (``a, b, c``) of message parts, each translated.
_LISTS = frozenset({"kpis"})
#: Nested placeholders that hold problems joined by ``"; "``, each translated.
_PROBLEMS = frozenset({"problems"})
#: Nested placeholders that hold one message per line, each translated.
_LINES = frozenset({"refusals"})
#: Placeholders that hold a count or a year: only digits (and separators) match them, so a
#: line such as "missing geometry: 2" is read as a problem and its count.
_NUMBERS = frozenset({
    "count", "total", "reported", "deviations", "red", "amber", "green", "accepted",
    "repaired", "rejected", "projects", "works", "size", "year", "revision", "version", "line",
})  # fmt: skip
#: Placeholders whose value has a shape of its own: a table's problems name their lines.
_SHAPES = {
    "problems": r"lines? \d.*?",
    "lines": r"\d[\d, ]*",
    "person": re.escape(VISITOR)
    + "|"
    + _regex(WHO, lambda name: r"\w+" if name == "role" else ".+?", named=False),
}
_ROWS = re.compile(r"(?P<n>\d[\d,]*) rows?")
#: A count of rows in brackets inside a listed value: ``Gas (2 rows), Water (1 row)``.
_COUNTED = re.compile(r"\((?P<rows>\d[\d,]* rows?)\)")


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    def shape(name: str) -> str:
        return _SHAPES.get(name, r"\d[\d,.]*" if name in _NUMBERS else ".*?")

    return tuple((t, re.compile(_regex(t, shape), re.DOTALL)) for t in TEMPLATES)


def _counted(value: str, escape: Callable[[str], str] | None) -> str:
    """``value`` with every ``(N rows)`` in it translated, the rest kept (and escaped)."""
    keep: Callable[[str], str] = (lambda text: text) if escape is None else escape
    parts, last = [], 0
    for found in _COUNTED.finditer(value):
        parts.append(keep(value[last : found.start()]))
        parts.append("(" + _nested("rows", found.group("rows"), escape) + ")")
        last = found.end()
    return "".join(parts) + keep(value[last:])


def _who(value: str, escape: Callable[[str], str] | None) -> str:
    """Who a refusal names (``jussi (planner of Helen)`` or a visitor), the role in words."""
    keep: Callable[[str], str] = (lambda text: text) if escape is None else escape
    if value == VISITOR:
        return _(VISITOR)
    found = _WHO_PARTS.fullmatch(value)
    if found is None:
        return keep(value)
    role = found.group("role")
    return _(WHO).format(
        user=keep(found.group("user")),
        role=_(ROLE_NAMES.get(role, role)),
        org=keep(found.group("org")),
    )


def _nested(name: str, value: str, escape: Callable[[str], str] | None) -> str:
    if name in _LISTS:
        return ", ".join(_translated(language(), v, escape) for v in value.split(", "))
    if name in _LINES:
        return "\n".join(_translated(language(), v, escape) for v in value.split("\n"))
    if name in _PROBLEMS:
        return "; ".join(_translated(language(), v, escape) for v in value.split("; "))
    if name in ("others", "values"):
        return _counted(value, escape)
    if name == "person":
        return _who(value, escape)
    if name == "rows":
        rows = _ROWS.fullmatch(value)
        if rows is None:
            return value if escape is None else escape(value)
        n = int(rows.group("n").replace(",", ""))
        return ngettext("{n} row", "{n} rows", n).format(n=rows.group("n"))
    return _translated(language(), value, escape)


def translate(message: str, *, escape: Callable[[str], str] | None = None) -> str:
    """``message`` in the language in use when a template matches it, else unchanged.

    Parameters
    ----------
    message
        A message the library built (an error, a warning, a rejected row's reason).
    escape
        Applied to every value taken from the message (a file name, a cell of the
        file) and to a message no template matches, never to the translated words:
        e.g. ``widgets.literal`` for a message shown as markdown, so a file's own
        text cannot become a link or an image.

    Returns
    -------
    str
        The translated message with the original values (file names, counts) filled in.
    """
    return _translated(language(), str(message), escape)


@functools.lru_cache(maxsize=4096)
def _translated(lang: str, text: str, escape: Callable[[str], str] | None = None) -> str:
    """:func:`translate` in ``lang`` (cached: a table repeats the same reasons many times)."""
    if not text:  # an empty part (no detail): gettext would give the catalogue's header
        return text
    if text in KPI_NAMES:
        return _(KPI_NAMES[text])
    exact = _(text)
    if exact != text:
        return exact
    for template, pattern in _patterns():
        found = pattern.fullmatch(text)
        if found is None:
            continue
        values = {
            name: _nested(name, value, escape)
            if name in _NESTED
            else (value if escape is None else escape(value))
            for name, value in found.groupdict().items()
        }
        return _(template).format(**values)
    # several problems of one input joined by "; ": translated when each one is recognised
    parts = text.split("; ")
    if len(parts) > 1:
        shown = [_translated(lang, part, escape) for part in parts]
        plain = parts if escape is None else [escape(part) for part in parts]
        if all(one != other for one, other in zip(shown, plain, strict=True)):
            return "; ".join(shown)
    return text if escape is None else escape(text)


def translate_reasons(reasons: str) -> str:
    """A rejected row's ``reason`` (problems joined by ``"; "``), each problem translated."""
    return "; ".join(translate(part) for part in str(reasons).split("; "))


def translate_report(report: str) -> str:
    """The validation report (:meth:`ims_geo.ingest.IngestResult.report`), line by line."""
    lines = []
    for line in report.splitlines():
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        bullet = "- " if body.startswith("- ") else ""
        lines.append(indent + bullet + translate(body[len(bullet) :]))
    return "\n".join(lines)
