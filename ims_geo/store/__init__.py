"""Where every organisation's plan versions are kept.

Two stores with the same behaviour: a GeoPackage file (the embedded
default, no server) and PostGIS (a shared multi-organisation
installation). :func:`open_store` picks one from a path or URL.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ims_geo.errors import StoreError
from ims_geo.redact import redact_url
from ims_geo.store.base import (
    CHANGES,
    COMPARE_COLUMNS,
    DEFAULT_STORE,
    ORGANISATION_COLUMNS,
    PRIVATE_ORG,
    STORE_ENV,
    SUMMARY_COLUMNS,
    UNRELATED_LIMIT,
    VERSION_COLUMNS,
    PlanVersion,
    Store,
    organisations_of,
)
from ims_geo.store.gpkg import GeoPackageStore

if TYPE_CHECKING:
    from ims_geo.store.postgis import PostGISStore

__all__ = [
    "CHANGES",
    "COMPARE_COLUMNS",
    "DEFAULT_STORE",
    "ORGANISATION_COLUMNS",
    "PRIVATE_ORG",
    "STORE_ENV",
    "SUMMARY_COLUMNS",
    "UNRELATED_LIMIT",
    "VERSION_COLUMNS",
    "GeoPackageStore",
    "PlanVersion",
    "PostGISStore",
    "Store",
    "is_shared",
    "open_store",
    "organisations_of",
    "redact_url",
    "store_location",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def open_store(
    location: str | Path | None = None,
    *,
    acting_org: str | None = None,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    session: str | None = None,
    lock_timeout: float | None = None,
) -> Store:
    """Open (or create) the works store at ``location``.

    Parameters
    ----------
    location
        A ``.gpkg`` path (GeoPackage store) or a ``postgresql://`` /
        ``postgresql+psycopg://`` URL (PostGIS store). When None: the
        ``IMS_GEO_STORE`` environment variable, else ``data/ims.gpkg``.
    acting_org
        GeoPackage only: show the store as this organisation sees it
        (others' private works anonymised; imports of other organisations
        refused). A PostGIS store refuses it: there the organisation comes
        from the sign-in.
    user, password, token, session
        PostGIS only: sign in (see :class:`~ims_geo.store.postgis.PostGISStore`).
    lock_timeout
        Seconds an import waits for another one before failing with
        "another import is running" (default env ``IMS_GEO_LOCK_TIMEOUT``, else 30).

    Returns
    -------
    Store
    """
    if location is None:
        location = store_location()
    text = str(location).strip()
    if text.lower().startswith(_POSTGRES_SCHEMES):
        from ims_geo.store.postgis import PostGISStore

        return PostGISStore(
            text,
            acting_org=acting_org,
            user=user,
            password=password,
            token=token,
            session=session,
            lock_timeout=lock_timeout,
        )
    if "://" in text:
        raise StoreError(
            f"unknown store location {redact_url(text)!r}: give a .gpkg file path or a "
            "postgresql://user@host:port/database URL"
        )
    if any(x is not None for x in (user, token, session)):
        raise StoreError(
            f"{text} is a GeoPackage store: it has no users and no sign-in (one user, "
            "no server); give a postgresql:// URL to sign in to a shared store"
        )
    return GeoPackageStore(text, acting_org=acting_org, lock_timeout=lock_timeout)


def store_location(location: str | Path | None = None) -> str:
    """The store ``location`` names, else the default one: env ``IMS_GEO_STORE``, else
    ``data/ims.gpkg``.
    """
    return str(location or os.environ.get(STORE_ENV) or DEFAULT_STORE).strip()


def is_shared(location: str | Path | None = None) -> bool:
    """Whether ``location`` (or the default store) is a shared store: a PostGIS URL."""
    return store_location(location).lower().startswith(_POSTGRES_SCHEMES)


def __getattr__(name: str) -> Any:
    # PostGIS needs SQLAlchemy; import it only when asked for
    if name == "PostGISStore":
        from ims_geo.store.postgis import PostGISStore

        return PostGISStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
