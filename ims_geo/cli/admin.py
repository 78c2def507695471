"""``ims-geo admin``: set up a shared installation and manage who may use it.

Every command works on a PostGIS store (``--store`` / ``IMS_GEO_STORE``),
signed in as an ``admin`` user (``ims-geo --user NAME admin ...``), or
opened with the schema owner's URL for the very first admin. Passwords come
from a hidden prompt (typed twice), from ``--password-stdin`` (one line) or
from env ``IMS_GEO_NEW_PASSWORD``; they are never echoed or printed. The
rights themselves are enforced by the database; see :mod:`ims_geo.access`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ims_geo.access.roles import ROLES, TOKEN_ROLES
from ims_geo.cli import _fail, _handle_errors, main, store_option

NEW_PASSWORD_ENV = "IMS_GEO_NEW_PASSWORD"
APP_PASSWORD_ENV = "IMS_GEO_APP_PASSWORD"


def _administration(store_path: str) -> Any:
    from ims_geo.access.admin import Administration
    from ims_geo.cli.signin import open_signed_in
    from ims_geo.store import is_shared

    if not is_shared(store_path):
        _fail(
            "users, organisations and tokens exist only in a shared PostGIS store; "
            "give --store postgresql://... (a GeoPackage store has no sign-in)"
        )
    return Administration(open_signed_in(store_path))


def _new_password(stdin: bool, prompt: str) -> str:
    if stdin:
        line = sys.stdin.readline()
        if not line:
            _fail("--password-stdin: no password on standard input")
        return line.rstrip("\r\n")
    env = os.environ.get(NEW_PASSWORD_ENV)
    if env is not None:
        return env
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True))


password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help=f"Read the new password from one line of standard input (else env {NEW_PASSWORD_ENV}, "
    "else a hidden prompt).",
)


def _table(frame: Any) -> None:
    if frame.empty:
        click.echo("(none)")
    else:
        click.echo(frame.to_string(index=False))


@main.group("admin")
def admin_group() -> None:
    """Set up a shared installation; organisations, users, API tokens, audit trail."""


@admin_group.command("init")
@click.option(
    "--owner-url",
    envvar="IMS_GEO_OWNER_URL",
    required=True,
    help="URL of the role that owns the store schema (env IMS_GEO_OWNER_URL); used only here.",
)
@click.option(
    "--app-role", required=True, help="The PostgreSQL role the app, API and planners use."
)
@click.option(
    "--create-role",
    is_flag=True,
    help=f"Create the application role (password from env {APP_PASSWORD_ENV} or a prompt); "
    "the owner needs CREATEROLE.",
)
@_handle_errors
def init_cmd(owner_url: str, app_role: str, create_role: bool) -> None:
    """Create the store tables, the access layer and the application role's rights."""
    from ims_geo.access.admin import init_installation

    password = None
    if create_role:
        password = os.environ.get(APP_PASSWORD_ENV) or click.prompt(
            f"Password for the new role {app_role}",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    init_installation(owner_url, app_role=app_role, app_password=password)
    click.echo(
        f"Shared store ready; the application connects as {app_role!r} "
        "(no superuser, no BYPASSRLS, not the owner). Next: ims-geo admin org add / user add."
    )


# --- organisations ------------------------------------------------------------------
@admin_group.group("org")
def org_group() -> None:
    """Organisations of the installation."""


@org_group.command("add")
@click.argument("name")
@store_option
@_handle_errors
def org_add(name: str, store_path: str) -> None:
    """Register organisation NAME."""
    with _administration(store_path) as adm:
        adm.add_org(name)
    click.echo(f"Organisation {name!r} added.")


@org_group.command("list")
@store_option
@_handle_errors
def org_list(store_path: str) -> None:
    """List the organisations with their numbers of users and live tokens."""
    with _administration(store_path) as adm:
        _table(adm.orgs())


# --- users ----------------------------------------------------------------------------
@admin_group.group("user")
def user_group() -> None:
    """Users: each belongs to one organisation and has one role."""


@user_group.command("add")
@click.argument("username")
@click.option("--org", required=True, help="The user's organisation.")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The user's role.")
@password_stdin_option
@store_option
@_handle_errors
def user_add(username: str, org: str, role: str, password_stdin: bool, store_path: str) -> None:
    """Create user USERNAME (password stored as a bcrypt hash)."""
    with _administration(store_path) as adm:
        password = _new_password(password_stdin, f"Password for {username}")
        adm.add_user(username, org=org, role=role, password=password)
    click.echo(f"User {username!r} ({role} of {org!r}) added.")


@user_group.command("passwd")
@click.argument("username")
@password_stdin_option
@store_option
@_handle_errors
def user_passwd(username: str, password_stdin: bool, store_path: str) -> None:
    """Set a new password for USERNAME (admins: anyone; users: themselves)."""
    with _administration(store_path) as adm:
        password = _new_password(password_stdin, f"New password for {username}")
        adm.set_password(username, password)
    click.echo(f"Password of {username!r} changed; their other sessions ended.")


@user_group.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@store_option
@_handle_errors
def user_disable(username: str, enable: bool, store_path: str) -> None:
    """Disable USERNAME: no more sign-ins, their sessions end at once."""
    with _administration(store_path) as adm:
        adm.disable_user(username, disabled=not enable)
    click.echo(f"User {username!r} {'enabled' if enable else 'disabled'}.")


@user_group.command("list")
@store_option
@_handle_errors
def user_list(store_path: str) -> None:
    """List the users (never their password hashes)."""
    with _administration(store_path) as adm:
        _table(adm.users())


# --- API tokens -----------------------------------------------------------------------
@admin_group.command("token")
@click.argument("org")
@click.option("--role", type=click.Choice(TOKEN_ROLES), default="planner", show_default=True)
@click.option("--label", default="", help="What the token is for (e.g. the asset system).")
@store_option
@_handle_errors
def token_cmd(org: str, role: str, label: str, store_path: str) -> None:
    """Create an API token for organisation ORG; it is shown once, store it safely."""
    with _administration(store_path) as adm:
        token = adm.new_token(org, role=role, label=label)
    click.echo(f"API token for {org!r} ({role}); shown only now:", err=True)
    click.echo(token)


@admin_group.command("tokens")
@store_option
@_handle_errors
def tokens_cmd(store_path: str) -> None:
    """List the API tokens by name (ims_<number>), never their secrets."""
    with _administration(store_path) as adm:
        _table(adm.tokens())


@admin_group.command("revoke-token")
@click.argument("name")
@store_option
@_handle_errors
def revoke_token_cmd(name: str, store_path: str) -> None:
    """Revoke token NAME (ims_<number>); its sessions end at once."""
    with _administration(store_path) as adm:
        adm.revoke_token(name)
    click.echo(f"Token {name} revoked.")


# --- audit trail ----------------------------------------------------------------------
@admin_group.command("audit")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the audit trail to a .csv or .xlsx file (text stays text).",
)
@store_option
@_handle_errors
def audit_cmd(out: str | None, store_path: str) -> None:
    """Show (or write) the audit trail: who did what, when."""
    with _administration(store_path) as adm:
        trail = adm.audit()
    if out is None:
        _table(trail)
        return
    from ims_geo import export

    table = trail.assign(at=trail["at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    export.write(table, out, layer="audit")
    click.echo(f"{len(trail)} audit rows written to {out}", err=True)
