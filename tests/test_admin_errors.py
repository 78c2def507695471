"""The administration's refusals quote the database's first line, passwords masked."""

from __future__ import annotations

import sqlalchemy as sa

from ims_geo.access.admin import _first_line
from ims_geo.redact import MASK


def test_the_database_reason_is_its_first_line_without_a_password() -> None:
    reason = "no route to postgresql://admin:s3cret@db/ims\nDETAIL: the server is down"
    error = sa.exc.DataError("SELECT 1", {}, Exception(reason))
    assert _first_line(error) == f"no route to postgresql://admin:{MASK}@db/ims"
