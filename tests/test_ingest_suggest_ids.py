"""``ims-geo mapping suggest`` proposes ``[work_id_from]`` for a file without an id column.

The expected column sets are found here by brute force over every set of up
to four of the file's columns, with plain tuples of the cells as written.
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.ingest import read_works
from ims_geo.ingest.suggest import _id_candidates, id_from_columns
from ims_geo.store import open_store

#: Column names a planner reads as a reference (the suggestion should prefer them).
REFERENCE_LIKE = {"site_code"}
DATES = ("start", "end")


def plan(path: Path, columns: dict[str, list[str]]) -> Path:
    """A GeoPackage of points in British grid, one per row, with ``columns`` and dates."""
    rows = len(next(iter(columns.values())))
    frame = gpd.GeoDataFrame(
        {**columns, "start": ["2027-03-01"] * rows, "end": ["2027-04-30"] * rows},
        geometry=shapely.points([(530_000.0 + 10 * i, 180_000.0) for i in range(rows)]),
        crs=27700,
    )
    frame.to_file(path, driver="GPKG")
    return path


def run(*args: object) -> CliRunner:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def suggest(path: Path, tmp_path: Path) -> tuple[dict, str, Path]:
    out = tmp_path / "mapping.toml"
    run("mapping", "suggest", path, "--out", out, "--force")
    text = out.read_text(encoding="utf-8")
    return tomllib.loads(text), text, out


def scores(frame: pd.DataFrame, columns: list[str]) -> dict[tuple[str, ...], tuple[int, int]]:
    """Every set of up to 4 ``columns`` (in their order) -> (rows empty in all of them, rows
    repeating an earlier row's cells), from plain tuples of the cells as written."""
    text = frame[columns].astype("string").fillna("")
    out = {}
    for size in range(1, 5):
        for combo in itertools.combinations(columns, size):
            keys = [tuple(row) for row in text[list(combo)].itertuples(index=False)]
            empty = [all(not v.strip() for v in k) for k in keys]
            kept = [k for k, e in zip(keys, empty, strict=True) if not e]
            out[combo] = (sum(empty), len(kept) - len(set(kept)))
    return out


def sets(raw: pd.DataFrame) -> dict[frozenset[str], tuple[int, int]]:
    """Every set of up to 4 columns -> (rows empty in all of them, rows repeating an earlier)."""
    columns = [c for c in raw.columns if c != raw.geometry.name]
    return {frozenset(combo): score for combo, score in scores(raw, columns).items()}


def test_the_fewest_columns_that_tell_every_row_apart_and_the_import_keeps_every_row(tmp_path):
    columns = {
        "street": ["High St", "High St", "Mill Rd", "Mill Rd", "Bath Rd", "Bath Rd", "Bath Rd"],
        "km": ["1", "2", "1", "2", "1", "2", "3"],
        "site_code": ["S1", "S1", "S2", "S2", "S3", "S3", "S4"],
        "lane": ["north", "south", "north", "north", "south", "north", "north"],
    }
    path = plan(tmp_path / "feed.gpkg", columns)
    raw = gpd.read_file(path)
    toml, text, out = suggest(path, tmp_path)
    proposed = frozenset(toml["work_id_from"]["columns"])
    assert "work_id" not in toml["columns"]
    found = sets(raw)
    unique = [c for c, score in found.items() if score == (0, 0)]
    smallest = min(len(c) for c in unique)
    assert found[proposed] == (0, 0) and len(proposed) == smallest
    # of the smallest sets, one with the reference-like column is proposed
    assert any(REFERENCE_LIKE & c for c in unique if len(c) == smallest)
    assert any(not REFERENCE_LIKE & c for c in unique if len(c) == smallest)
    assert REFERENCE_LIKE & proposed
    header = next(line for line in text.splitlines() if line.startswith("[work_id_from]"))
    assert f"tell all {len(raw)} rows apart" in header
    # the suggested mapping imports every row, each with its own id
    result = read_works(path, mapping=out, org="Thames Water")
    assert len(result.works) == len(raw) and result.rejected.empty
    assert result.works[schema.WORK_ID].is_unique
    store = tmp_path / "store.gpkg"
    run("import", path, "--mapping", out, "--org", "Thames Water", "--store", store)
    assert len(open_store(store).works()) == len(raw)


def test_rows_alike_in_every_column_get_the_most_distinguishing_set_and_suffixes(tmp_path):
    columns = {
        "street": ["High St", "High St", "Mill Rd", "Mill Rd", "Mill Rd"],
        "site_code": ["S1", "S1", "S2", "S2", "S2"],
        "lane": ["north", "north", "north", "south", "south"],
    }
    path = plan(tmp_path / "feed.gpkg", columns)
    raw = gpd.read_file(path)
    toml, text, out = suggest(path, tmp_path)
    proposed = frozenset(toml["work_id_from"]["columns"])
    found = sets(raw)
    best = min(found.values())
    assert best != (0, 0)  # no set tells the rows apart
    assert found[proposed] == best
    assert len(proposed) == min(len(c) for c, score in found.items() if score == best)
    header = next(line for line in text.splitlines() if line.startswith("[work_id_from]"))
    assert "repeated records get suffixes -2, -3" in header
    assert f"({best[1]} row{'s' if best[1] != 1 else ''})" in header
    result = read_works(path, mapping=out, org="Thames Water")
    assert len(result.works) == len(raw) and result.rejected.empty
    assert result.works[schema.WORK_ID].is_unique
    assert sum(w.count("got a suffix") for w in result.warnings) == 1


def test_a_file_with_an_id_column_gets_no_composed_id(tmp_path):
    path = plan(tmp_path / "plan.gpkg", {"work_id": ["W1", "W2"], "lane": ["north", "north"]})
    toml, _, _ = suggest(path, tmp_path)
    assert toml["columns"]["work_id"] == "work_id"
    assert "work_id_from" not in toml


#: Cells of the random tables: repeats, case, blanks (missing, empty, spaces), trailing spaces.
CELLS = ("a", "b", "A", "a ", "1", "", " ", None)
#: Column names of the random tables; ``site_ref`` and ``km_no`` read as references.
NAMES = ("street", "site_ref", "lane", "km_no", "note", "phase", "town")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, len(NAMES)).flatmap(
        lambda width: st.lists(
            st.lists(st.sampled_from(CELLS), min_size=width, max_size=width),
            min_size=1,
            max_size=14,
        )
    )
)
def test_the_proposed_id_columns_are_the_best_of_every_set_of_columns(cells):
    """The search proposes what comparing every set of up to four columns proposes: the
    fewest rows blank in all, then the fewest repeated, then the fewest columns, then
    the first in the order columns are tried."""
    frame = pd.DataFrame(cells, columns=list(NAMES[: len(cells[0])]), dtype=object)
    # the order columns are tried in (reference-like names first, blank columns left out)
    order = _id_candidates(frame, {})
    columns, why = id_from_columns(frame, {})
    if not order:
        assert columns == [] and why == ""
        return
    found = scores(frame, order)
    position = {c: i for i, c in enumerate(order)}
    best = min(found, key=lambda c: (*found[c], len(c), tuple(position[x] for x in c)))
    assert tuple(columns) == best
    empty, repeated = found[best]
    assert why.startswith("no id column: ") == (empty == repeated == 0)
    if repeated:
        assert f"in file order ({repeated} row{'s' if repeated != 1 else ''})" in why
