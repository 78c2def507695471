"""Passwords out of everything ims_geo shows: store URLs, messages, errors.

A store location such as ``postgresql://planner:s3cret@db:5432/ims`` is
shown as ``postgresql://planner:***@db:5432/ims`` by the command line, the
app and every error message. :func:`redact` masks the password of every
URL (and every libpq ``password=...`` pair) found in a text, so a message
built from a driver's error cannot leak one either.

This module imports nothing heavy: the command line applies it to every
message it prints.
"""

from __future__ import annotations

import re

#: What a masked password is shown as.
MASK = "***"

# a URL with a scheme, up to the first character that cannot be part of it;
# the password itself may hold '/', ':' or '@' (the last '@' ends it)
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>`()\[\]{}]+)")
# libpq key/value connection strings, "password=..." settings and URL query
# parameters ("?password=...&sslmode=...")
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd)\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|[^\s&]+)",
    re.IGNORECASE,
)


def _mask_url(match: re.Match[str]) -> str:
    scheme, rest = match["scheme"], match["rest"]
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return match[0]
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{user}:{MASK}@{host}"


def redact(text: object) -> str:
    """``text`` with the password of every URL and ``password=`` setting masked.

    Examples
    --------
    >>> redact("could not connect to postgresql://ann:pa/ss@db:5432/ims (timeout)")
    'could not connect to postgresql://ann:***@db:5432/ims (timeout)'
    >>> redact("host=db user=ann password='x y' dbname=ims")
    'host=db user=ann password=*** dbname=ims'
    """
    masked = _URL.sub(_mask_url, str(text))
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{MASK}", masked)


def redact_url(location: object) -> str:
    """A store location (path or URL) as it may be shown: the password masked.

    Examples
    --------
    >>> redact_url("postgresql+psycopg://ann:s3cret@127.0.0.1:5432/ims")
    'postgresql+psycopg://ann:***@127.0.0.1:5432/ims'
    >>> redact_url("data/ims.gpkg")
    'data/ims.gpkg'
    """
    return redact(location)
