"""How long a writer waits for another import, the same on both stores."""

from __future__ import annotations

import os

from ims_geo.errors import StoreError

#: Environment variable with the seconds an import waits for another one.
LOCK_TIMEOUT_ENV = "IMS_GEO_LOCK_TIMEOUT"
#: Seconds an import waits for another one when nothing else says.
DEFAULT_LOCK_TIMEOUT = 30.0


def lock_timeout_seconds(value: float | None = None) -> float:
    """The writer's lock wait: ``value``, else env ``IMS_GEO_LOCK_TIMEOUT``, else 30 s.

    A PostGIS store sets it as the connection's ``lock_timeout``; a
    GeoPackage store as SQLite's busy timeout. After it, the import fails
    with a message that another import is running.
    """
    if value is None:
        text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
        try:
            value = float(text) if text else DEFAULT_LOCK_TIMEOUT
        except ValueError:
            raise StoreError(
                f"{LOCK_TIMEOUT_ENV}={text!r} is not a number of seconds; set it to e.g. 30"
            ) from None
    if not value > 0:
        raise StoreError(f"the lock timeout must be a positive number of seconds, got {value}")
    return float(value)
