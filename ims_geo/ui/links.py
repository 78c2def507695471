"""Links that open the app on one work, conflict or combined project.

The contract between pages (query parameters of the page's URL):

* ``map?org=ORG&work=WORK_ID`` — the map zoomed to the work, highlighted, its details shown;
* ``conflicts?conflict=KEY`` — the conflict list with that conflict selected and on its map;
  ``KEY`` is :func:`conflict_key` (both works and the kind, readable and stable across runs);
* ``programme?project=PROJECT`` — the programme page with that combined project picked.

Every value read back from a URL is untrusted: it is only compared with the
values of the store, never used to build HTML, SQL or a path.

A link made while the app is shown in another language than the
installation's default carries it (``&lang=nl``): a link opened in a new tab
starts a new browser session, which reads its language from the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import pandas as pd

from ims_geo import i18n

__all__ = [
    "CONFLICT",
    "LANG",
    "ORG",
    "PROJECT",
    "WORK",
    "conflict_key",
    "conflict_keys",
    "conflict_link",
    "conflict_prefix",
    "project_link",
    "work_link",
]

WORK = "work"
ORG = "org"
CONFLICT = "conflict"
PROJECT = "project"
#: The language of the app (the same parameter as ``ims_geo.ui.state.LANGUAGE_PARAM``).
LANG = "lang"
_SEP = "~"


def conflict_key(conflict: Mapping[str, object]) -> str:
    """The stable key of one conflict row: ``kind~org_a~work_id_a~org_b~work_id_b``."""
    return _SEP.join(str(conflict[c]) for c in ("kind", "org_a", "work_id_a", "org_b", "work_id_b"))


def conflict_keys(conflicts: pd.DataFrame) -> pd.Series:
    """:func:`conflict_key` of every row, vectorised (same index as ``conflicts``)."""
    if conflicts.empty:
        return pd.Series([], index=conflicts.index, dtype=object)
    parts = [conflicts[c].astype(str) for c in ("kind", "org_a", "work_id_a", "org_b", "work_id_b")]
    key = parts[0]
    for part in parts[1:]:
        key = key + _SEP + part
    return key


def _query(params: dict[str, str]) -> str:
    """``params`` as a query string, with the language in use when it is not the default."""
    lang = i18n.language()
    if lang != i18n.default_language():
        params = {**params, LANG: lang}
    return urlencode(params)


def work_link(org: object, work_id: object) -> str:
    """Relative URL of the map page opened on one work."""
    return "map?" + _query({ORG: str(org), WORK: str(work_id)})


def conflict_link(conflict: Mapping[str, object]) -> str:
    """Relative URL of the conflict list opened on one conflict."""
    return "conflicts?" + _query({CONFLICT: conflict_key(conflict)})


def conflict_prefix() -> str:
    """:func:`conflict_link` without the key, for a link built in the browser (map popups)."""
    query = _query({})
    return "conflicts?" + (query + "&" if query else "") + CONFLICT + "="


def project_link(project: object) -> str:
    """Relative URL of the programme page opened on one combined project."""
    return "programme?" + _query({PROJECT: str(project)})
