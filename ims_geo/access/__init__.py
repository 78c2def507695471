"""Who may do what in a shared (PostGIS) installation.

The rights are enforced by PostgreSQL itself (row-level security and
``SECURITY DEFINER`` functions, :mod:`ims_geo.access.database`); Python
only opens the door with a verified sign-in. The embedded GeoPackage store
has no users: one person, one file.

Library API (for the app, the HTTP API and scripts)
---------------------------------------------------

Open a shared store as a signed-in user, with an organisation's API token,
resume a sign-in, or read as a visitor (public works only)::

    from ims_geo.store import open_store

    store = open_store(url, user="anna", password=secret)   # StoreError if refused
    store = open_store(url, token="ims_12_9f0c...")          # API token
    store = open_store(url, session=store.session_token)     # resume (e.g. per request)
    store = open_store(url)                                  # visitor: public works only

    store.identity          # Identity(user, org, role, expires_at) or None
    store.identity.can_write, .can_coordinate, .is_admin
    store.works()           # others' private works come back as anonymous signals
                            # (last, by opaque id; no version, not in works(orgs=[...]))
    store.import_plan(...)  # refused by the database unless own org and a writing role
    store.record("export", target="conflicts.csv")   # audit row as this user
    store.logout()

``url`` is the application role's URL (``postgresql://ims_app:...@host/db``);
wrong credentials, a disabled user, an unknown or revoked token raise
:class:`~ims_geo.errors.StoreError` (the same message for each, the reason
goes to the audit trail). ``session_token`` is a secret: keep it server-side
(e.g. in Streamlit's session state), never in a URL or a log. Sessions
expire after :data:`~ims_geo.access.database.SESSION_HOURS` hours and end at
once when the user is disabled, their password or role changes, or the
token is revoked.

Administration (users, organisations, tokens, audit), see
:mod:`ims_geo.access.admin`::

    from ims_geo.access.admin import Administration, init_installation

    init_installation(owner_url, app_role="ims_app", app_password=...)  # once
    adm = Administration(open_store(url, user="root", password=...))   # an admin
    adm.add_org("Waternet"); adm.add_user("anna", org="Waternet", role="planner",
                                          password=...)
    adm.new_token("Waternet")  # shown once
    adm.audit()                # DataFrame

Roles and rights: :data:`ims_geo.access.roles.RIGHTS`; anonymous conflict
signals: :mod:`ims_geo.access.signals`.
"""

from __future__ import annotations

from ims_geo.access.roles import (
    ADMIN,
    COORDINATOR,
    PLANNER,
    RIGHTS,
    ROLES,
    VIEWER,
    Identity,
    rights_table,
)

__all__ = [
    "ADMIN",
    "COORDINATOR",
    "PLANNER",
    "RIGHTS",
    "ROLES",
    "VIEWER",
    "Identity",
    "rights_table",
]
