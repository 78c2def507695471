"""Find works by street name, work id, organisation or title.

What planners type into a map's search box: a street (``Mikonkatu``,
``Bulevardi 12``), a work id (``W2031-030``), an organisation (``water``) or
words of a title (``cable replacement``). Street names come from the plans
themselves: a street column under any of the names in
:data:`ims_geo.schema.STREET_COLUMNS` (``street``, ``straat``, ``katu``,
``gata`` ...), and the titles, which usually name the street.

Matching is forgiving the way a search box should be: case, accents and
punctuation do not count (``etelaesplanadi`` finds ``Eteläesplanadi``,
``w2031 030`` finds ``W2031-030``), and every word of the query must occur
in the work's id, organisation, streets or title (in any of them, in any
order). Matches are ranked: the exact work id first, then a work id that
starts with the query, the organisation, the street, the title, and last
works whose words are spread over several fields.

Everything is vectorised over the works (pandas string methods); the
normalised text is built once per store revision with :func:`build_index`
and reused for every query.

Examples
--------
>>> index = build_index(works)                      # doctest: +SKIP
>>> search(works, "mikonkatu", index=index)         # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ims_geo.i18n import N_
from ims_geo.schema import ORG, STREET_COLUMNS, TITLE, WORK_ID

__all__ = [
    "MATCH",
    "MATCH_NAMES",
    "MAX_QUERY",
    "RANK",
    "build_index",
    "normalise",
    "search",
    "street_columns",
    "street_names",
]

#: Column of :func:`search`'s result: which field matched the whole query.
MATCH = "match"
#: Column of :func:`search`'s result: 0 is the best match.
RANK = "rank"
#: Longer queries are cut to this many characters.
MAX_QUERY = 200

# the fields of the index, in rank order of a whole-query match
_ID, _ORG, _STREET, _TITLE, _ALL = "id", "org", "street", "title", "all"
#: How each kind of match reads (translated where shown).
MATCH_NAMES: dict[str, str] = {
    "work_id": N_("work id"),
    "org": N_("organisation"),
    "street": N_("street"),
    "title": N_("title"),
    "words": N_("words in several fields"),
}


def normalise(text: pd.Series) -> pd.Series:
    """Text as the search compares it: casefolded, no accents, words separated by one space.

    Missing values become the empty string.
    """
    out = text.astype("string").fillna("").str.casefold()
    # é -> e + combining accent, then the accents (and any other mark) dropped
    out = out.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    out = out.str.replace("ß", "ss", regex=False)
    out = out.str.replace(r"[\W_]+", " ", regex=True).str.strip()
    return out.astype(object)


def _normalise_query(query: str) -> str:
    text = normalise(pd.Series([str(query)[:MAX_QUERY]]))
    return str(text.iloc[0])


def street_columns(works: pd.DataFrame) -> list[str]:
    """The works' columns that name a street (:data:`~ims_geo.schema.STREET_COLUMNS`, any case)."""
    known = {name.casefold() for name in STREET_COLUMNS}
    return [c for c in works.columns if isinstance(c, str) and c.casefold() in known]


def street_names(works: pd.DataFrame) -> pd.Series:
    """Each work's street names from its street columns, joined by ``" / "`` ("" when none)."""
    columns = street_columns(works)
    out = pd.Series("", index=works.index, dtype=object)
    for column in columns:  # a handful of columns, each vectorised over the works
        value = works[column].astype("string").fillna("").str.strip().astype(object)
        joined = out.where(out == "", out + " / ") + value
        out = out.where(value == "", joined)
    return out


def build_index(works: pd.DataFrame) -> pd.DataFrame:
    """The normalised text :func:`search` compares, one row per work (same index)."""
    index = pd.DataFrame(
        {
            _ID: normalise(works[WORK_ID]),
            _ORG: normalise(works[ORG]),
            _STREET: normalise(street_names(works)),
            _TITLE: normalise(works[TITLE]) if TITLE in works else "",
        },
        index=works.index,
    )
    index[_ALL] = index[_ID] + " " + index[_ORG] + " " + index[_STREET] + " " + index[_TITLE]
    return index


def search(
    works: pd.DataFrame,
    query: str,
    *,
    index: pd.DataFrame | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The works that match ``query``, best first.

    Parameters
    ----------
    works
        Works (a GeoDataFrame stays one).
    query
        What the user typed; an empty query (or one of only punctuation) matches nothing.
    index
        :func:`build_index` of ``works`` (built here when not given).
    limit
        At most this many matches (None: all).

    Returns
    -------
    DataFrame
        The matching rows of ``works`` with two more columns: :data:`MATCH`
        (a key of :data:`MATCH_NAMES`) and :data:`RANK` (0 best), sorted by
        rank and then in the works' order.
    """
    if index is None:
        index = build_index(works)
    wanted = _normalise_query(query)
    if not wanted:
        return _result(works.iloc[:0], np.array([], dtype=object), np.array([], dtype="int64"))
    every = index[_ALL]
    hit = pd.Series(True, index=index.index)
    for word in wanted.split(" "):  # the query's words, each vectorised over the works
        hit &= every.str.contains(word, regex=False)
    positions = np.flatnonzero(hit.to_numpy(dtype=bool))
    found = index.iloc[positions]
    ids, orgs = found[_ID], found[_ORG]
    ranks = [
        (ids == wanted, "work_id"),
        (ids.str.startswith(wanted), "work_id"),
        (orgs == wanted, "org"),
        (orgs.str.contains(wanted, regex=False), "org"),
        (found[_STREET].str.contains(wanted, regex=False), "street"),
        (found[_TITLE].str.contains(wanted, regex=False), "title"),
        (ids.str.contains(wanted, regex=False), "work_id"),
    ]
    rank = np.full(len(found), len(ranks), dtype="int64")
    match = np.full(len(found), "words", dtype=object)
    # the best rank wins: applied from the worst to the best
    for position, (mask, name) in reversed(list(enumerate(ranks))):
        chosen = mask.to_numpy(dtype=bool)
        rank[chosen] = position
        match[chosen] = name
    order = np.argsort(rank, kind="stable")
    if limit is not None:
        order = order[:limit]
    return _result(works.iloc[positions[order]], match[order], rank[order])


def _result(rows: pd.DataFrame, match: np.ndarray, rank: np.ndarray) -> pd.DataFrame:
    out = rows.copy()
    out[MATCH] = match
    out[RANK] = rank
    return out
