"""Administering a shared installation: set-up, organisations, users, tokens, audit.

Every operation runs as a ``SECURITY DEFINER`` function in the database
that checks the caller is an ``admin`` user (or the schema owner, for the
first admin of a new installation) and writes the audit trail, so these
helpers are only a convenient front: the rights live in PostgreSQL.

Examples
--------
>>> from ims_geo.access.admin import Administration, init_installation
>>> init_installation("postgresql://ims_owner:...@db/ims", app_role="ims_app")  # doctest: +SKIP
>>> with Administration.open("postgresql://ims_owner:...@db/ims") as adm:  # doctest: +SKIP
...     adm.add_org("Waternet")
...     adm.add_user("anna", org="Waternet", role="admin", password=secret)
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from ims_geo.access import database as access_db
from ims_geo.access.roles import ROLES, TOKEN_ROLES
from ims_geo.errors import InputError, StoreError
from ims_geo.store.base import database_cause
from ims_geo.store.postgis import PostGISStore, _driver_url

#: Columns of :meth:`Administration.users`.
USER_COLUMNS: tuple[str, ...] = ("username", "org", "role", "disabled", "created_at", "changed_at")
#: Columns of :meth:`Administration.orgs`.
ORG_COLUMNS: tuple[str, ...] = ("name", "created_at", "users", "tokens")
#: Columns of :meth:`Administration.tokens`.
TOKEN_COLUMNS: tuple[str, ...] = ("token", "org", "role", "label", "created_at", "revoked")
#: Columns of :meth:`Administration.audit`.
AUDIT_COLUMNS: tuple[str, ...] = (
    "audit_id", "at", "username", "org", "role", "action", "target", "detail", "db_user",
)  # fmt: skip


def check_password(password: str) -> str:
    """``password`` when it is acceptable, else :class:`InputError` saying why."""
    if not isinstance(password, str) or len(password) < access_db.MIN_PASSWORD:
        raise InputError(
            f"a password needs at least {access_db.MIN_PASSWORD} characters; choose a longer one"
        )
    if len(password.encode("utf-8")) > 72:
        raise InputError("a password may have at most 72 bytes (bcrypt reads no more)")
    if "\x00" in password:
        raise InputError("a password cannot contain a NUL character")
    return password


def init_installation(
    owner_url: str,
    *,
    app_role: str,
    app_password: str | None = None,
    schema: str = "ims_geo",
) -> None:
    """Set up a shared installation: tables, access layer and the application's role.

    Parameters
    ----------
    owner_url
        URL of the role that owns (or is to own) the store schema. Used
        only here and for emergencies; never give it to the application.
    app_role
        The PostgreSQL role the application (app, API, CLI of planners)
        connects as. Created with ``app_password`` when missing (the owner
        then needs ``CREATEROLE``); refused when it could bypass row-level
        security (superuser, ``BYPASSRLS``, owner or member of the owner).
    app_password
        Password for a new ``app_role``; ignored when the role exists.
    schema
        The store schema.
    """
    store = PostGISStore(owner_url, schema=schema)
    try:
        if not store.is_owner:
            raise StoreError(
                f"{store.location} is not the owner of schema {schema}: run the set-up with "
                "the URL of the role that owns (or may create) the store schema"
            )
        try:
            with store._engine.begin() as conn:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_role}
                ).first()
                if exists is None and app_password is not None:
                    check_password(app_password)
                    conn.execute(
                        sa.text(
                            f"CREATE ROLE {access_db._quote(app_role)} LOGIN NOSUPERUSER "
                            "NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                        )
                    )
                    # the password as a bound value (never in the statement text)
                    conn.execute(
                        sa.text("SELECT set_config('ims_geo.new_password', :p, true)"),
                        {"p": app_password},
                    )
                    conn.execute(
                        sa.text(
                            "DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', "
                            f"'{app_role.replace(chr(39), chr(39) * 2)}', "
                            "current_setting('ims_geo.new_password')); END $$"
                        )
                    )
                access_db.grant_app_role(conn, schema, app_role)
        except sa.exc.SQLAlchemyError as exc:
            raise store.database_error(exc, f"set up the application role {app_role!r}") from exc
    finally:
        store.close()


class Administration:
    """Organisations, users, API tokens and the audit trail of a shared store.

    Parameters
    ----------
    store
        A PostGIS store signed in as an ``admin`` user, or opened by the
        schema owner (to create the first admin).
    """

    def __init__(self, store: PostGISStore) -> None:
        if not isinstance(store, PostGISStore):
            raise StoreError(
                "users and organisations exist only in a shared (PostGIS) store; "
                "a GeoPackage store has no sign-in"
            )
        self.store = store

    @classmethod
    def open(cls, url: str, **sign_in: Any) -> Administration:
        """Open the store at ``url`` (``user=``/``password=`` or as its owner)."""
        _driver_url(url)
        return cls(PostGISStore(url, **sign_in))

    def __enter__(self) -> Administration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def _call(self, sql: str, params: dict[str, Any], doing: str) -> list[Any]:
        s = self.store.schema
        try:
            with self.store._engine.begin() as conn:
                return list(conn.execute(sa.text(sql.replace("{s}", s)), params).fetchall())
        except sa.exc.SQLAlchemyError as exc:
            # the caller's mistake (a name taken, a value out of range, no such row, a bad
            # argument): said as it is; anything else is the store's error
            sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError) or sqlstate in (
                "P0002",
                "22023",
            ):
                raise InputError(f"could not {doing}: {_first_line(exc)}") from exc
            raise self.store.database_error(exc, doing) from exc

    # --- organisations --------------------------------------------------------------
    def add_org(self, name: str) -> None:
        """Register an organisation (its users and token then act for it)."""
        self._call("SELECT {s}.add_org(:n)", {"n": name}, f"add organisation {name!r}")

    def orgs(self) -> pd.DataFrame:
        """Every organisation with its number of users and live tokens (:data:`ORG_COLUMNS`)."""
        rows = self._call("SELECT * FROM {s}.list_orgs()", {}, "list the organisations")
        return pd.DataFrame([tuple(r) for r in rows], columns=list(ORG_COLUMNS))

    # --- users ------------------------------------------------------------------------
    def add_user(self, username: str, *, org: str, role: str, password: str) -> None:
        """Create a user of ``org`` with ``role`` (password stored as a bcrypt hash)."""
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        check_password(password)
        self._call(
            "SELECT {s}.add_user(:u, :o, :r, :p)",
            {"u": username, "o": org, "r": role, "p": password},
            f"add user {username!r}",
        )

    def set_password(self, username: str, password: str) -> None:
        """Set a user's new password (admins: anyone's; a user: their own)."""
        check_password(password)
        self._call(
            "SELECT {s}.set_password(:u, :p)",
            {"u": username, "p": password},
            f"change the password of {username!r}",
        )

    def disable_user(self, username: str, disabled: bool = True) -> None:
        """Disable (or enable again) a user; their sessions end at once."""
        self._call(
            "SELECT {s}.set_disabled(:u, :d)",
            {"u": username, "d": disabled},
            f"{'disable' if disabled else 'enable'} user {username!r}",
        )

    def users(self) -> pd.DataFrame:
        """Every user (:data:`USER_COLUMNS`; never a password hash)."""
        rows = self._call("SELECT * FROM {s}.list_users()", {}, "list the users")
        return pd.DataFrame([tuple(r) for r in rows], columns=list(USER_COLUMNS))

    # --- API tokens ---------------------------------------------------------------------
    def new_token(self, org: str, *, role: str = "planner", label: str = "") -> str:
        """A new API token for ``org``: shown once, stored only as its SHA-256."""
        if role not in TOKEN_ROLES:
            raise InputError(f"a token's role is one of {', '.join(TOKEN_ROLES)}, not {role!r}")
        rows = self._call(
            "SELECT {s}.new_token(:o, :r, :l)",
            {"o": org, "r": role, "l": label},
            f"create a token for {org!r}",
        )
        return str(rows[0][0])

    def revoke_token(self, token: str) -> None:
        """Revoke a token by its name ``ims_<id>`` (or the whole token)."""
        parts = str(token).split("_")
        if len(parts) < 2 or parts[0] != "ims" or not parts[1].isdigit():
            raise InputError(f"{token!r} is not a token name; give it as ims_<number>")
        self._call("SELECT {s}.revoke_token(:i)", {"i": int(parts[1])}, f"revoke {parts[1]}")

    def tokens(self) -> pd.DataFrame:
        """Every token's name, organisation, role, label and state (:data:`TOKEN_COLUMNS`)."""
        rows = self._call("SELECT * FROM {s}.list_tokens()", {}, "list the tokens")
        return pd.DataFrame([tuple(r) for r in rows], columns=list(TOKEN_COLUMNS))

    # --- audit trail ----------------------------------------------------------------------
    def audit(self) -> pd.DataFrame:
        """The audit trail, oldest first (:data:`AUDIT_COLUMNS`); admins only."""
        if not self.store.is_owner and not (self.store.identity and self.store.identity.is_admin):
            raise StoreError("only an admin may read the audit trail")
        rows = self._call(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {{s}}.audit ORDER BY audit_id",
            {},
            "read the audit trail",
        )
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(AUDIT_COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame


def _first_line(exc: sa.exc.SQLAlchemyError) -> str:
    """The first line of the database's reason, passwords masked as in every store error."""
    return database_cause(exc).splitlines()[0]
