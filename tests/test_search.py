"""Tests for ims_geo.search: find works by street, work id, organisation or title."""

from __future__ import annotations

import unicodedata

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ims_geo import search
from ims_geo.schema import STREET_COLUMNS


def make_works() -> gpd.GeoDataFrame:
    rows = [
        ("W2031-030", "Helsinki Water", "Water main relocation, Eteläesplanadi", "Eteläesplanadi", None),
        ("KAT-2031-0012", "Helsinki City Streets", "Päällysteen uusiminen, Mikonkatu", None, "Mikonkatu"),
        ("00017", "Stadtwerke Köln", "Gasleitung Hohe Straße 12", None, "Hohe Straße"),
        ("W2031-0301", "Helsinki Water", "Service connection, Mikonkatu 3", "Mikonkatu", None),
        ("EN-E-1", "Uusimaa Energy Networks", "20 kV cable replacement (phase 2)", None, None),
        ("NF-9", "Nordic Fibre", "Fibre to the curb", "Water Street", None),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["work_id", "org", "title", "street", "KATU"])
    return gpd.GeoDataFrame(
        frame, geometry=[shapely.Point(i, 0) for i in range(len(frame))], crs=28992
    )


def fold(text: object) -> str:
    """The comparison written out per character (the oracle of the vectorised version)."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold().replace("ß", "ss"))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in kept).split()
    return " ".join(words)


def oracle(works: pd.DataFrame, query: str) -> list[tuple[str, str, int]]:
    """Brute force over rows: (work_id, match, rank), best first, ties in row order."""
    wanted = fold(query[: search.MAX_QUERY])
    if not wanted:
        return []
    out = []
    for position, row in enumerate(works.itertuples()):
        streets = " / ".join(s for s in (row.street, row.KATU) if isinstance(s, str) and s)
        wid, org, street, title = fold(row.work_id), fold(row.org), fold(streets), fold(row.title)
        text = " ".join([wid, org, street, title])
        if not all(word in text for word in wanted.split()):
            continue
        checks = [
            (wid == wanted, "work_id"),
            (wid.startswith(wanted), "work_id"),
            (org == wanted, "org"),
            (wanted in org, "org"),
            (wanted in street, "street"),
            (wanted in title, "title"),
            (wanted in wid, "work_id"),
        ]
        rank, match = next(
            ((i, m) for i, (ok, m) in enumerate(checks) if ok), (len(checks), "words")
        )
        out.append((rank, position, row.work_id, match))
    return [(w, m, r) for r, _, w, m in sorted(out)]


@pytest.mark.parametrize(
    "query",
    [
        "Mikonkatu",
        "mikonkatu 3",
        "etelaesplanadi",
        "ETELÄESPLANADI",
        "w2031-030",
        "W2031 030",
        "water",
        "helsinki water",
        "hohe strasse",
        "Hohe Straße 12",
        "köln gas",
        "00017",
        "17",
        "cable (phase",
        ".*",
        "[a-z]+",
        "   ",
        "",
        "street 0",
        "nothing like this",
    ],
)
def test_search_matches_the_brute_force_oracle(query):
    works = make_works()
    got = search.search(works, query)
    assert list(zip(got["work_id"], got[search.MATCH], got[search.RANK], strict=True)) == oracle(
        works, query
    )


def test_ranking_and_fields_on_examples():
    works = make_works()

    def ids(query: str) -> list[str]:
        return list(search.search(works, query)["work_id"])

    # the exact id first, then the id it is the prefix of
    assert ids("W2031-030") == ["W2031-030", "W2031-0301"]
    # the street column (in any case of its name) and the title both name a street
    assert ids("mikonkatu") == ["KAT-2031-0012", "W2031-0301"]
    assert search.search(works, "mikonkatu")[search.MATCH].tolist() == ["street", "street"]
    # an organisation before works that only mention the word
    assert ids("water") == ["W2031-030", "W2031-0301", "NF-9"]
    assert search.search(works, "water")[search.MATCH].tolist() == ["org", "org", "street"]
    # words spread over organisation and title
    assert ids("fibre curb") == ["NF-9"]
    # leading zeros are text
    assert ids("00017") == ["00017"]
    assert ids("cable") == ["EN-E-1"]
    assert ids("regex.*") == []


def test_result_keeps_the_frame_and_its_columns_and_is_limited():
    works = make_works()
    index = search.build_index(works)
    got = search.search(works, "helsinki", index=index, limit=2)
    assert isinstance(got, gpd.GeoDataFrame) and got.crs == works.crs
    assert list(got.index) == [0, 1]
    assert list(got.columns) == [*works.columns, search.MATCH, search.RANK]
    empty = search.search(works, "?!", index=index)
    assert empty.empty and list(empty.columns) == list(got.columns)
    # a query past the limit is cut, not refused
    assert search.search(works, "mikonkatu" + " x" * 500).empty
    assert list(search.search(works, "mikonkatu" + " " * 500)["work_id"]) == [
        "KAT-2031-0012",
        "W2031-0301",
    ]


def test_street_columns_and_names():
    works = make_works()
    assert search.street_columns(works) == ["street", "KATU"]
    assert "katu" in STREET_COLUMNS and "straat" in STREET_COLUMNS
    assert list(search.street_names(works)) == [
        "Eteläesplanadi", "Mikonkatu", "Hohe Straße", "Mikonkatu", "", "Water Street",
    ]  # fmt: skip
    both = works.assign(KATU=["A", None, "", "B", None, None])
    assert list(search.street_names(both))[:4] == ["Eteläesplanadi / A", "", "", "Mikonkatu / B"]
    bare = works.drop(columns=["street", "KATU"])
    assert search.street_columns(bare) == []
    assert list(search.street_names(bare)) == [""] * len(works)
    assert list(search.search(bare, "eteläesplanadi")[search.MATCH]) == ["title"]


def test_normalise():
    text = pd.Series(["  Eteläesplanadi ", "Hohe Straße", "W2031-030", None, "Ünïcødé__x"])
    assert list(search.normalise(text)) == [
        "etelaesplanadi", "hohe strasse", "w2031 030", "", "unicøde x",
    ]  # fmt: skip


def test_ten_thousand_works_are_searched_quickly():
    import time

    n = 10_000
    works = gpd.GeoDataFrame(
        {
            "work_id": [f"W{i:05d}" for i in range(n)],
            "org": [f"Org {i % 7}" for i in range(n)],
            "title": [f"Renewal, Street {i % 400}" for i in range(n)],
        },
        geometry=[shapely.Point(i, 0) for i in range(n)],
        crs=28992,
    )
    index = search.build_index(works)
    began = time.perf_counter()
    got = search.search(works, "street 12", index=index)
    elapsed = time.perf_counter() - began
    expected = [
        w for w, o, t in zip(works["work_id"], works["org"], works["title"], strict=True)
        if all(word in fold(f"{w} {o} {t}") for word in ("street", "12"))
    ]  # fmt: skip
    assert sorted(got["work_id"]) == sorted(expected) and len(expected) > 400
    assert elapsed < 1.0, elapsed
