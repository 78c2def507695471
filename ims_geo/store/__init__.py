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
    "open_store",
    "organisations_of",
    "redact_url",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def open_store(location: str | Path | None = None, *, acting_org: str | None = None) -> Store:
    """Open (or create) the works store at ``location``.

    Parameters
    ----------
    location
        A ``.gpkg`` path (GeoPackage store) or a ``postgresql://`` /
        ``postgresql+psycopg://`` URL (PostGIS store). When None: the
        ``IMS_GEO_STORE`` environment variable, else ``data/ims.gpkg``.
    acting_org
        The organisation using the store: it may change only its own works
        and sees other organisations' private works anonymised.

    Returns
    -------
    Store
    """
    if location is None:
        location = os.environ.get(STORE_ENV) or DEFAULT_STORE
    text = str(location).strip()
    if text.lower().startswith(_POSTGRES_SCHEMES):
        from ims_geo.store.postgis import PostGISStore

        return PostGISStore(text, acting_org=acting_org)
    if "://" in text:
        raise StoreError(
            f"unknown store location {redact_url(text)!r}: give a .gpkg file path or a "
            "postgresql://user@host:port/database URL"
        )
    return GeoPackageStore(text, acting_org=acting_org)


def __getattr__(name: str) -> Any:
    # PostGIS needs SQLAlchemy; import it only when asked for
    if name == "PostGISStore":
        from ims_geo.store.postgis import PostGISStore

        return PostGISStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
