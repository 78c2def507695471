"""Roles of a shared installation and what each may do (the rights table).

The database enforces these rights (row-level security and SECURITY
DEFINER functions, see :mod:`ims_geo.access.database`); this module is
their one description in Python, used for friendly early refusals, for the
README's rights table and for hiding what a role may not use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ims_geo.i18n import N_

PLANNER = "planner"
COORDINATOR = "coordinator"
VIEWER = "viewer"
ADMIN = "admin"
#: Every role a user or API token can have.
ROLES: tuple[str, ...] = (PLANNER, COORDINATOR, VIEWER, ADMIN)
#: Roles an API token can have (tokens never administer users).
TOKEN_ROLES: tuple[str, ...] = (PLANNER, VIEWER)

#: Actions, and the roles allowed to do them. Reads follow the works'
#: visibility for every signed-in role: own organisation's works in full,
#: ``public`` and ``partners`` works of others in full, others' ``private``
#: works only as anonymous conflict signals; without sign-in only ``public``.
RIGHTS: dict[str, tuple[str, ...]] = {
    "read works (public, partners, own; others' private as signals)": ROLES,
    "import / restore own organisation's plans": (PLANNER, COORDINATOR, ADMIN),
    "report progress (and the moratoria it creates) on own organisation's works": (
        PLANNER,
        COORDINATOR,
        ADMIN,
    ),
    "propose and adopt programmes, set cycle targets": (COORDINATOR, ADMIN),
    "manage organisations, users and API tokens": (ADMIN,),
    "read the audit trail": (ADMIN,),
    "change own password": ROLES,
}

#: Roles that may write their own organisation's plan versions and progress.
WRITERS: tuple[str, ...] = RIGHTS["import / restore own organisation's plans"]
#: Roles that may adopt programmes and set cycle targets.
COORDINATORS: tuple[str, ...] = RIGHTS["propose and adopt programmes, set cycle targets"]

#: How a refusal names who asked (:func:`who`): a signed-in user, with role and organisation,
WHO = N_("{user} ({role} of {org})")
#: or someone who did not sign in. Pages translate both (:mod:`ims_geo.i18n.messages`).
VISITOR = N_("a visitor who is not signed in")


@dataclass(frozen=True)
class Identity:
    """Who a store session acts for, as the database verified it at sign-in.

    ``user`` is the user name, or ``token:<id>`` for an API token.
    """

    user: str
    org: str
    role: str
    expires_at: dt.datetime

    @property
    def can_write(self) -> bool:
        """May import plans and report progress for :attr:`org`."""
        return self.role in WRITERS

    @property
    def can_coordinate(self) -> bool:
        """May propose and adopt programmes and set cycle targets."""
        return self.role in COORDINATORS

    @property
    def who(self) -> str:
        """The user with role and organisation, as refusals name them: ``jussi (planner of Helen)``."""
        return who(self)

    @property
    def is_admin(self) -> bool:
        """May manage organisations, users and tokens and read the audit trail."""
        return self.role == ADMIN


def who(identity: Identity | None) -> str:
    """Who asked, as a refusal names them: ``jussi (planner of Helen)``, or
    ``a visitor who is not signed in`` without a sign-in (``identity`` None)."""
    if identity is None:
        return VISITOR
    return WHO.format(user=identity.user, role=identity.role, org=identity.org)


def rights_table() -> str:
    """The rights as a Markdown table (role x action), for the README."""
    head = "| action | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    rows = [
        f"| {action} | " + " | ".join("yes" if r in allowed else "-" for r in ROLES) + " |"
        for action, allowed in RIGHTS.items()
    ]
    return "\n".join([head, rule, *rows])
