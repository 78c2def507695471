"""Signing in to a shared (PostGIS) store from the command line.

``ims-geo --user NAME ...`` (or env ``IMS_GEO_USER``) signs in with the
password from env ``IMS_GEO_PASSWORD`` or a hidden prompt; env
``IMS_GEO_TOKEN`` signs in with an organisation's API token instead. A
password is never echoed, printed or put on the command line. A GeoPackage
store has no users: credentials from the environment are ignored for it.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ims_geo.errors import StoreError
from ims_geo.store import is_shared

USER_ENV = "IMS_GEO_USER"
PASSWORD_ENV = "IMS_GEO_PASSWORD"
TOKEN_ENV = "IMS_GEO_TOKEN"


def credentials(location: str | None) -> dict[str, Any]:
    """Sign-in arguments for :func:`ims_geo.store.open_store` from the command line."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    user = root.params.get("user") if root is not None else os.environ.get(USER_ENV)
    if not is_shared(location):
        if (
            user
            and root is not None
            and root.get_parameter_source("user") == click.core.ParameterSource.COMMANDLINE
        ):
            raise StoreError(
                "--user signs in to a shared (PostGIS) store; a GeoPackage store has no users"
            )
        return {}
    if user:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = click.prompt(f"Password for {user}", hide_input=True, err=True)
        return {"user": str(user), "password": password}
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"token": token.strip()}
    return {}


def open_signed_in(location: str | None, **options: Any) -> Any:
    """The store at ``location``, signed in as the command line says."""
    from ims_geo.store import open_store

    store = open_store(location, **credentials(location), **options)
    if is_shared(location) and getattr(store, "identity", None) is None:
        if not getattr(store, "is_owner", False):
            click.echo(
                f"Not signed in to {store.location}: public works only "
                f"(sign in with --user or {TOKEN_ENV}).",
                err=True,
            )
    return store
