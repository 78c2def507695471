"""The shared works store: PostGIS, for a multi-organisation installation.

Same behaviour as the GeoPackage store (see :mod:`ims_geo.store.base`),
over SQLAlchemy + psycopg 3 + GeoAlchemy2. The tables live in their own
schema (``ims_geo`` by default) and are created on first use: ``works``
(every version's rows, real DATE / BOOLEAN / DOUBLE PRECISION columns,
extra columns as JSON text, a GiST index on the geometry), ``plan_versions``,
``rejected`` and ``store_meta``. An import is one transaction (rows,
version records and current flags of every organisation in it, revision);
imports are serialised by a table lock, readers are never blocked and see
only committed versions.

Who may read and change what is decided by the database (see
:mod:`ims_geo.access`): the application connects as a PostgreSQL role
without ``BYPASSRLS`` that does not own the tables, and signs in with a
user name and password or an API token (``PostGISStore(url, user=...,
password=...)`` / ``token=...``); row-level security then limits every
statement to what that user's organisation and role may do, and others'
private works are read as anonymous signals. Without sign-in that role sees
public works only. Opened by the schema owner (the database administrator's
URL) the store is the unrestricted single-operator store it always was: it
creates the tables and the access layer, and must never be given to users.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
import sqlalchemy as sa
from pyproj import CRS

from ims_geo.access import database as access_db
from ims_geo.access.roles import Identity, who
from ims_geo.errors import StoreError
from ims_geo.redact import redact
from ims_geo.schema import COLUMNS, DATE_COLUMNS, EXCAVATION, NUMBER_COLUMNS
from ims_geo.store.base import (
    EXTRA,
    RECORD_COLUMNS,
    REJECTED_STORED,
    ROW_COLUMNS,
    SIGNAL_VERSION,
    VERSION_ID,
    Payload,
    PlanVersion,
    Store,
    database_cause,
    decode_records,
    new_revision,
    new_salt,
    storage_columns,
)
from ims_geo.store.cycle_tables import create_postgres as create_cycle_tables
from ims_geo.store.locks import LOCK_TIMEOUT_ENV, lock_timeout_seconds

SCHEMA_VERSION = "1"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# advisory lock key that serialises creating the tables ("ims_geo" as digits)
_SETUP_LOCK = 1_764_733_112
# advisory lock key that serialises imports (version numbers, current flags)
_IMPORT_LOCK = 1_764_733_113


def _sql_type(column: str) -> str:
    if column in DATE_COLUMNS:
        return "date"
    if column == EXCAVATION:
        return "boolean"
    if column in NUMBER_COLUMNS:
        return "double precision"
    return "text"


_REQUIRED = {"work_id", "org", "discipline", "layer", "start_date", "end_date", "excavation",
             "status", "visibility"}  # fmt: skip
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)


def _ddl(schema: str) -> list[str]:
    columns = ",\n  ".join(
        f'"{c}" {_sql_type(c)}{" NOT NULL" if c in _REQUIRED else ""}' for c in COLUMNS
    )
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"""CREATE TABLE {schema}.store_meta (key text PRIMARY KEY, value text NOT NULL)""",
        f"""CREATE TABLE {schema}.plan_versions (
  version_id bigserial PRIMARY KEY, org text NOT NULL, cycle integer NOT NULL,
  version integer NOT NULL, uploaded_at timestamptz NOT NULL, source text NOT NULL,
  n_works integer NOT NULL, n_rejected integer NOT NULL, is_current boolean NOT NULL,
  first_start date, last_end date, extras text NOT NULL, UNIQUE (org, cycle, version))""",
        f"""CREATE TABLE {schema}.works (
  fid bigserial PRIMARY KEY,
  version_id bigint NOT NULL REFERENCES {schema}.plan_versions(version_id),
  {columns},
  extra text,
  geometry geometry(Geometry) NOT NULL)""",
        f"CREATE INDEX works_version_id ON {schema}.works (version_id)",
        f"CREATE INDEX works_geometry ON {schema}.works USING gist (geometry)",
        f"""CREATE TABLE {schema}.rejected (
  fid bigserial PRIMARY KEY,
  version_id bigint NOT NULL REFERENCES {schema}.plan_versions(version_id),
  org text NOT NULL, source_row integer, source_file text, reason text NOT NULL,
  attributes text, geometry_wkt text)""",
        f"CREATE INDEX rejected_version_id ON {schema}.rejected (version_id)",
        _view(schema),
    ]


def _view(schema: str) -> str:
    """The current works, for GIS users who open the database directly."""
    return f"""CREATE VIEW {schema}.current_works AS
  SELECT w.* FROM {schema}.works w JOIN {schema}.plan_versions p USING (version_id)
  WHERE p.is_current"""


def _driver_url(url: str) -> sa.URL:
    """The URL with the psycopg 3 driver (SQLAlchemy's default would be psycopg2)."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise StoreError(
            f"cannot read the store URL ({redact(exc)}); use postgresql://user:password@host:port/database"
        ) from exc
    if "@" in (parsed.host or ""):
        # the URL splits at the first '@': the rest of the password would become the host
        raise StoreError("the store URL has an '@' in its password or user name; write it as %40")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise StoreError(
            f"store URL driver {parsed.drivername!r} is not supported; "
            "use postgresql:// or postgresql+psycopg://"
        )
    return parsed


class PostGISStore(Store):
    """Works store in a PostGIS database (shared, multi-organisation).

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database`` (or with
        ``+psycopg``); the PostGIS extension is created when missing and the
        user may do so.
    acting_org
        Not accepted: a PostGIS store takes its organisation from the
        sign-in, never from the caller.
    schema
        Database schema holding the store's tables.
    user, password
        Sign in as this user (verified by the database; the failure is
        recorded in the audit trail and raises :class:`StoreError`).
    token
        Sign in with an organisation's API token instead.
    session
        Resume a sign-in: the :attr:`session_token` of an earlier store.
    lock_timeout
        Seconds an import waits for another one before it fails (default:
        env ``IMS_GEO_LOCK_TIMEOUT``, else 30).
    """

    #: Others' private works come out of the database already anonymised.
    database_anonymises = True

    def __init__(
        self,
        url: str,
        *,
        acting_org: str | None = None,
        schema: str = "ims_geo",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session: str | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        super().__init__()
        if acting_org is not None:
            raise StoreError(
                "a PostGIS store takes the organisation from the sign-in, not from acting_org: "
                "open it with user= and password= (or token=)"
            )
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(f"schema name {schema!r} must be lower-case letters, digits and '_'")
        if sum(x is not None for x in (user, token, session)) > 1:
            raise StoreError("sign in with one of user/password, token or session, not several")
        self.url = _driver_url(url)
        self.schema = schema
        self.lock_timeout = lock_timeout_seconds(lock_timeout)
        self._session_token: str | None = None
        self._identity: Identity | None = None
        self._owner = False
        self._engine = sa.create_engine(self.url, pool_pre_ping=True)
        # every pooled connection (also after a server restart) carries the session
        sa.event.listen(self._engine, "connect", self._on_connect)
        self._crs: CRS | None = None
        self._salt_value: str | None = None
        try:
            self._open()
            if user is not None:
                self._sign_in("login", (user, password or ""), f"user {user!r}")
            elif token is not None:
                self._sign_in("login_token", (token,), "the API token")
            elif session is not None:
                self._use_session(session)
        except BaseException:
            self._engine.dispose()  # a refused store keeps no connection open
            raise

    # --- sign-in ----------------------------------------------------------------------
    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                # jit off: the signal view's grid cells make the planner's estimates
                # huge, and compiling the query then costs a second per read
                "SELECT set_config(%s, %s, false), set_config('lock_timeout', %s, false), "
                "set_config('jit', 'off', false)",
                (access_db.SESSION_SETTING, self._session_token or "",
                 f"{int(self.lock_timeout * 1000)}ms"),
            )  # fmt: skip
        dbapi_connection.commit()

    def _sign_in(self, function: str, args: tuple[str, ...], account: str) -> None:
        marks = ", ".join(f":a{i}" for i in range(len(args)))
        try:
            with self._engine.begin() as conn:  # committed: a failure is audited
                token = conn.execute(
                    sa.text(f"SELECT {self.schema}.{function}({marks})"),
                    {f"a{i}": a for i, a in enumerate(args)},
                ).scalar()
        except sa.exc.SQLAlchemyError as exc:
            raise self.database_error(exc, "sign in") from exc
        if token is None:
            raise StoreError(
                f"sign-in to {self.location} refused for {account}: wrong user name, password or "
                "token, or the account is disabled"
            )
        self._use_session(str(token))

    def _use_session(self, token: str) -> None:
        self._session_token = token
        self._engine.dispose()  # new connections carry the session
        rows = self._query(f"SELECT username, org, role, expires_at FROM {self.schema}.whoami()")
        if not rows:
            self._session_token = None
            self._engine.dispose()
            raise StoreError(f"the session for {self.location} has expired or ended; sign in again")
        user, org, role, expires = rows[0]
        self._identity = Identity(user=str(user), org=str(org), role=str(role), expires_at=expires)
        self.acting_org = self._identity.org

    @property
    def identity(self) -> Identity | None:
        """Who the store acts for (None: not signed in)."""
        return self._identity

    @property
    def session_token(self) -> str | None:
        """The secret of this sign-in, to resume it with ``session=`` (never show it)."""
        return self._session_token

    @property
    def is_owner(self) -> bool:
        """Opened by the schema owner: unrestricted, no sign-in (administration only)."""
        return self._owner

    def session_valid(self) -> bool:
        """Whether the sign-in still holds in the database (not expired, ended or disabled).

        One cheap query; an app checks it on every page run so that a user who
        was disabled, or whose session expired, is sent back to sign in.
        """
        if self._session_token is None:
            return False
        return bool(self._query(f"SELECT 1 FROM {self.schema}.whoami()"))

    def logout(self) -> None:
        """End the sign-in in the database; the store then reads as anonymous."""
        if self._session_token is None:
            return
        self._query_write(f"SELECT {self.schema}.logout()")
        self._session_token = None
        self._identity = None
        self.acting_org = None
        self._engine.dispose()

    def record(self, action: str, target: str = "", detail: str = "") -> None:
        """Add a row to the audit trail as the signed-in user (who and when come from
        the database)."""
        self._query_write(
            f"SELECT {self.schema}.record(:a, :t, :d)", {"a": action, "t": target, "d": detail}
        )

    def _query_write(self, sql: str, params: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        try:
            with self._engine.begin() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params or {}).fetchall()]
        except sa.exc.SQLAlchemyError as exc:
            raise self.database_error(exc, "write") from exc

    def __repr__(self) -> str:
        user = f", user={self._identity.user!r}" if self._identity else ""
        return f"{type(self).__name__}({self.location!r}{user})"

    @property
    def location(self) -> str:
        # redact: a password may also come as a query parameter (?password=...)
        return redact(self.url.render_as_string(hide_password=True))

    def close(self) -> None:
        self._engine.dispose()

    def database_error(self, exc: Exception, doing: str) -> StoreError:
        """The product's error for a database error met while ``doing`` something.

        Besides what every store says (:meth:`Store.database_error`): a lock
        not granted in time is another import still running, a refused
        privilege names who asked, and an unreachable server says what to check.
        """
        orig = getattr(exc, "orig", None)
        if isinstance(orig, psycopg.errors.LockNotAvailable):
            return StoreError(
                f"store {self.location}: could not {doing}: another import is running and "
                f"did not finish within {self.lock_timeout:g} s; try again when it is done "
                f"(or raise {LOCK_TIMEOUT_ENV})"
            )
        if isinstance(orig, psycopg.errors.InsufficientPrivilege):
            return StoreError(
                f"store {self.location}: {who(self._identity)} may not {doing} "
                f"({database_cause(exc).splitlines()[0]})"
            )
        error = super().database_error(exc, doing)
        if isinstance(exc, sa.exc.OperationalError):
            return StoreError(
                f"{error}; check that the server runs and the URL, user and password are right"
            )
        return error

    def _open(self) -> None:
        s = self.schema
        try:
            with self._engine.begin() as conn:
                has_postgis = conn.execute(
                    sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
                ).first()
            if has_postgis is None:
                try:
                    with self._engine.begin() as conn:
                        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                except sa.exc.SQLAlchemyError as exc:
                    cause = redact(getattr(exc, "orig", None) or exc)
                    raise StoreError(
                        f"PostGIS is not installed in {self.location} ({cause}); ask the "
                        "database administrator to run CREATE EXTENSION postgis"
                    ) from exc
            with self._engine.begin() as conn:
                self._owner = bool(
                    conn.execute(
                        sa.text(
                            "SELECT (SELECT rolsuper OR rolbypassrls FROM pg_roles "
                            "WHERE rolname = current_user) OR COALESCE((SELECT pg_has_role("
                            "current_user, nspowner, 'MEMBER') FROM pg_namespace "
                            "WHERE nspname = :s), true)"
                        ),
                        {"s": s},
                    ).scalar()
                )
                if self._owner:  # only an owner creates or upgrades: one at a time
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SETUP_LOCK})
                exists = conn.execute(
                    sa.text("SELECT to_regclass(:t), to_regclass(:u)"),
                    {"t": f"{s}.store_meta", "u": f"{s}.sessions"},
                ).first()
                assert exists is not None
                if not self._owner:
                    if exists[0] is None or exists[1] is None:
                        raise StoreError(
                            f"{self.location} has no ims_geo store for this user yet: the "
                            "database administrator sets it up with `ims-geo admin init "
                            "--owner-url ... --app-role ...` (see the README)"
                        )
                elif exists[0] is None:
                    for statement in _ddl(s):
                        conn.execute(sa.text(statement))
                    create_cycle_tables(conn, s)
                    conn.execute(
                        sa.text(f"INSERT INTO {s}.store_meta (key, value) VALUES (:k, :v)"),
                        [{"k": "schema_version", "v": SCHEMA_VERSION},
                         {"k": "salt", "v": new_salt()}, {"k": "revision", "v": new_revision()}],
                    )  # fmt: skip
                    access_db.install(conn, s)
                    return
                version = self._meta(conn, "schema_version")
                if self._owner:
                    create_cycle_tables(conn, s)  # stores written before the planning cycle
                    if exists[1] is None:  # stores written before sign-in existed
                        access_db.install(conn, s)
                    else:
                        access_db.secure_cycle_tables(conn, s)
                        access_db.upgrade(conn, s)  # views of an older installation
        except sa.exc.SQLAlchemyError as exc:
            raise self.database_error(exc, "open the store") from exc
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.location} schema {s} was written by another ims_geo store version "
                f"({version}, this one reads {SCHEMA_VERSION}); upgrade ims_geo"
            )

    def _meta(self, conn: sa.Connection, key: str) -> str | None:
        value = conn.execute(
            sa.text(f"SELECT value FROM {self.schema}.store_meta WHERE key = :k"), {"k": key}
        ).scalar()
        return None if value is None else str(value)

    def _query(self, sql: str, params: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        try:
            with self._engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params or {}).fetchall()]
        except sa.exc.SQLAlchemyError as exc:
            raise self.database_error(exc, "read") from exc

    # --- reading ---------------------------------------------------------------------
    @property
    def crs(self) -> CRS | None:
        if self._crs is None:  # set once by the first import, never changed
            rows = self._query(f"SELECT value FROM {self.schema}.store_meta WHERE key = 'srid'")
            self._crs = CRS.from_epsg(int(rows[0][0])) if rows else None
        return self._crs

    def revision(self) -> str:
        rows = self._query(f"SELECT value FROM {self.schema}.store_meta WHERE key = 'revision'")
        return str(rows[0][0])

    def _salt(self) -> str:
        if self._salt_value is None:
            rows = self._query(f"SELECT value FROM {self.schema}.store_meta WHERE key = 'salt'")
            self._salt_value = str(rows[0][0])
        return self._salt_value

    def _records(self) -> pd.DataFrame:
        # signed in or a visitor: through the view that shows others' dates by month
        table = "plan_versions" if self._owner and self._identity is None else "visible_versions"
        rows = self._query(
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM {self.schema}.{table} ORDER BY version_id"
        )
        return decode_records(rows)

    def _fetch_works(
        self, version_ids: Sequence[int], *, signals: bool = False
    ) -> dict[str, Sequence[Any]]:
        # dates as ISO text: numpy parses text ~40x faster than date objects
        select = ", ".join(
            f"to_char(\"{c}\", 'YYYY-MM-DD')" if c in DATE_COLUMNS else f'"{c}"' for c in COLUMNS
        )
        # the owner reads the table; everyone else the view with others' private
        # works as anonymous signals (and the policies on top)
        table = "works" if self._owner and self._identity is None else "visible_works"
        if signals and table == "visible_works":
            # others' private works: no version_id (it would name the owner), sorted
            # by their opaque work id, never by fid (sequential per import)
            where = "version_id = ANY(%(ids)s) OR version_id IS NULL"
            order = "version_id IS NULL, fid, work_id"
        else:
            where, order = "version_id = ANY(%(ids)s)", "fid"
        sql = (
            f"SELECT COALESCE(version_id, {SIGNAL_VERSION}), {select}, extra, "
            f"ST_AsBinary(geometry) FROM {self.schema}.{table} WHERE {where} ORDER BY {order}"
        )
        try:
            with self._engine.connect() as conn:
                cursor = _psycopg(conn).cursor()
                with cursor:
                    cursor.execute(sql, {"ids": list(version_ids)})
                    rows = cursor.fetchall()
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
            raise StoreError(
                f"store {self.location}: could not read the works ({redact(exc)})"
            ) from exc
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_COLUMNS)
        return dict(zip(ROW_COLUMNS, columns, strict=True))

    def _fetch_rejected(self, version_ids: Sequence[int]) -> pd.DataFrame:
        rows = self._query(
            f"SELECT {', '.join(REJECTED_STORED)} FROM {self.schema}.rejected "
            "WHERE version_id = ANY(:ids) ORDER BY fid",
            {"ids": list(version_ids)},
        )
        return pd.DataFrame(rows, columns=list(REJECTED_STORED), dtype=object)

    # --- writing ----------------------------------------------------------------------
    def _commit(
        self, prepare: Callable[[CRS | None, Mapping[str, int]], Sequence[Payload]]
    ) -> list[PlanVersion]:
        if not (self._owner and self._identity is None) and not (
            self._identity is not None and self._identity.can_write
        ):
            # the database refuses it anyway; say so before any work is done
            raise StoreError(
                f"store {self.location}: {who(self._identity)} may not import the plans"
            )
        try:
            with self._engine.begin() as conn:
                return self._write(conn, prepare)
        except sa.exc.SQLAlchemyError as exc:
            raise self.database_error(exc, "import the plans") from exc

    def _write(
        self,
        conn: sa.Connection,
        prepare: Callable[[CRS | None, Mapping[str, int]], Sequence[Payload]],
    ) -> list[PlanVersion]:
        s = self.schema
        # one import at a time (version numbers, current flags); readers go on
        # waits at most lock_timeout (set on every connection), then LockNotAvailable
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _IMPORT_LOCK})
        srid = self._meta(conn, "srid")
        current = {
            str(org): int(version_id)
            for org, version_id in conn.execute(
                sa.text(f"SELECT org, version_id FROM {s}.plan_versions WHERE is_current")
            )
        }
        payloads = prepare(CRS.from_epsg(int(srid)) if srid else None, current)
        if srid is None and payloads:
            self._set_crs(conn, payloads[0].crs)
        versions = [self._write_version(conn, payload) for payload in payloads]
        conn.execute(
            sa.text(f"UPDATE {s}.store_meta SET value = :r WHERE key = 'revision'"),
            {"r": new_revision()},
        )
        return versions

    def _write_version(self, conn: sa.Connection, payload: Payload) -> PlanVersion:
        """One new version of ``payload.org``, made current (inside the transaction)."""
        s = self.schema
        org, cycle = payload.org, payload.cycle
        number = conn.execute(
            sa.text(
                f"SELECT COALESCE(MAX(version), 0) + 1 FROM {s}.plan_versions WHERE org = :org"
            ),
            {"org": org},
        ).scalar_one()
        version_id = conn.execute(
            sa.text(
                f"INSERT INTO {s}.plan_versions (org, cycle, version, uploaded_at, source, "
                "n_works, n_rejected, is_current, first_start, last_end, extras) VALUES "
                "(:org, :cycle, :version, :uploaded_at, :source, :n_works, :n_rejected, "
                "false, :first_start, :last_end, :extras) RETURNING version_id"
            ),
            {
                "org": org,
                "cycle": cycle,
                "version": number,
                "uploaded_at": payload.uploaded_at,
                "source": payload.source,
                "n_works": len(payload.works),
                "n_rejected": len(payload.rejected),
                "first_start": _day(payload.first_start),
                "last_end": _day(payload.last_end),
                "extras": payload.extras,
            },  # fmt: skip
        ).scalar_one()
        self._insert_works(conn, int(version_id), payload.works)
        if len(payload.rejected):
            rejected = payload.rejected.assign(**{VERSION_ID: int(version_id)})
            conn.execute(
                sa.text(
                    f"INSERT INTO {s}.rejected ({', '.join(REJECTED_STORED)}) VALUES "
                    f"({', '.join(':' + c for c in REJECTED_STORED)})"
                ),
                rejected.loc[:, list(REJECTED_STORED)].to_dict("records"),
            )
        conn.execute(
            sa.text(
                f"UPDATE {s}.plan_versions SET is_current = (version_id = :v) WHERE org = :org"
            ),
            {"v": int(version_id), "org": org},
        )
        return PlanVersion(
            version_id=int(version_id),
            org=org,
            cycle=cycle,
            version=int(number),
            uploaded_at=payload.uploaded_at,
            source=payload.source,
            n_works=len(payload.works),
            n_rejected=len(payload.rejected),
        )

    def _set_crs(self, conn: sa.Connection, crs: CRS) -> None:
        epsg = crs.to_epsg(min_confidence=100)
        if epsg is None:
            raise StoreError(
                f"the first plan imported into {self.location} is in a CRS without an EPSG "
                f"code ({crs.name}); reproject it to a national grid or UTM zone "
                "(GeoDataFrame.to_crs) before importing"
            )
        # a SECURITY DEFINER function: adds the SRID check, sets the signal grid
        conn.execute(sa.text(f"SELECT {self.schema}.claim_srid(:e)"), {"e": int(epsg)})

    def _insert_works(self, conn: sa.Connection, version_id: int, works: gpd.GeoDataFrame) -> None:
        """Append one version's rows (inside the import transaction), by COPY."""
        if works.empty:
            return
        columns = storage_columns(works)
        srid = works.crs.to_epsg() if works.crs is not None else 0
        geometry = shapely.to_wkb(
            shapely.set_srid(works.geometry.to_numpy(), srid or 0), hex=True, include_srid=True
        )
        names = ", ".join(["version_id", _QUOTED, "extra", "geometry"])
        rows = zip(
            [version_id] * len(works),
            *(columns[c] for c in COLUMNS),
            columns[EXTRA],
            geometry.tolist(),
            strict=True,
        )
        # COPY cannot write through row-level security: a signed-in session copies
        # into a private temporary table and inserts from there (policies checked)
        direct = self._owner and self._identity is None
        target = f"{self.schema}.works" if direct else "pg_temp.ims_new_works"
        if not direct:
            conn.execute(
                sa.text(
                    f"CREATE TEMPORARY TABLE ims_new_works AS SELECT {names} "
                    f"FROM {self.schema}.works WITH NO DATA"
                )
            )
        cursor = _psycopg(conn).cursor()
        with cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if not direct:
            conn.execute(
                sa.text(
                    f"INSERT INTO {self.schema}.works ({names}) SELECT {names} FROM {target}; "
                    f"DROP TABLE {target}"
                )
            )


def _psycopg(conn: sa.Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn`` (same transaction)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw


def _day(value: pd.Timestamp | None) -> Any:
    return None if value is None or pd.isna(value) else value.date()
