"""An HTTP API for organisations' asset systems (FastAPI; ``ims-geo api``).

Each organisation's systems sign in with its API token (``ims-geo admin
token ORG``, sent as ``Authorization: Bearer <token>``); every request opens
the shared store with that token, so the database's row-level security
decides what it may read and write, exactly as for the app's users. A bad
or missing token gets 401 and is recorded in the audit trail.

Endpoints (OpenAPI document at ``/openapi.json``, Swagger UI at ``/docs``,
served from vendored files so it works offline):

``GET /works``
    current works the caller may see, GeoJSON (EPSG:4326); ``org``, ``bbox``.
``GET /conflicts``
    conflicts over those works, GeoJSON; ``org``, ``kind``, ``bbox``, ``since``.
``GET /changes?since=``
    what changed that concerns the caller (:mod:`ims_geo.api.changes`).
``POST /plans``
    a plan file (multipart), read and checked as ``ims-geo import`` does,
    stored atomically as a new version of the caller's organisation; the
    answer is the validation report.
``POST /progress``
    progress reports (:func:`ims_geo.cycle.record_progress`).
``GET /health``, ``GET /whoami``

Examples
--------
>>> from ims_geo.api import create_app
>>> app = create_app("postgresql://ims_app:...@db/ims")  # doctest: +SKIP
"""

from __future__ import annotations

from ims_geo.api.app import create_app

__all__ = ["create_app"]
