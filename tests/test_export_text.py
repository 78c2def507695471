"""Columns an export format cannot hold go as their text: every kind, in every format."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

from ims_geo import export


def _every_kind(index: list[int] | None) -> gpd.GeoDataFrame:
    """One column of every kind the exports handle, each with a missing value or an edge."""
    frame = pd.DataFrame(
        {
            "int": [1, 2, 3, 4],
            "float": [1.5, np.nan, 3.0, -0.25],
            "bool": [True, False, True, False],
            "Int64": pd.array([1, None, 3, 4], dtype="Int64"),
            "boolean": pd.array([True, None, False, True], dtype="boolean"),
            "str": pd.Series(["a", None, "c", "ä"], dtype="str"),
            "object_text": pd.Series(["x", None, "z", "€"], dtype=object),
            "string_pa": pd.Series(["p", "q", None, "s"], dtype="string[pyarrow]"),
            "mixed": pd.Series([7, "Waternet", None, 2.5], dtype=object),
            "date": [dt.date(2027, 1, 1), None, dt.date(2027, 3, 4), dt.date(2028, 2, 29)],
            "arrow_date": pd.Series(
                [dt.date(2027, 1, 2), None, dt.date(2027, 1, 3), dt.date(2027, 1, 4)],
                dtype=pd.ArrowDtype(pa.date32()),
            ),
            "datetime": pd.to_datetime(
                ["2027-01-01 12:30", None, "2027-05-05 00:00", "2027-06-06 01:02"]
            ),
            "tz": pd.to_datetime(
                ["2027-01-01 12:30", None, "2027-05-05 00:00", "2027-06-06 00:00"]
            ).tz_localize("Europe/Helsinki"),
            "duration": pd.to_timedelta([1, None, 3, 0.5], unit="D"),
            "timedeltas": pd.Series(
                [pd.Timedelta(days=4), None, pd.Timedelta(hours=36), pd.Timedelta(0)], dtype=object
            ),
            "list": [[1, 2], None, [3], []],
            "arrow_list": pd.Series(
                [[4, 5], [6], None, []], dtype=pd.ArrowDtype(pa.list_(pa.int64()))
            ),
            "record": [{"a": 1}, None, {"a": 2}, {"a": 3}],
            "period": pd.period_range("2027-01", periods=4, freq="M"),
            "interval": pd.interval_range(0, 4),
            "category": pd.Categorical(["k", None, "k", "l"]),
        }
    )
    works = gpd.GeoDataFrame(frame, geometry=shapely.points([0, 1, 2, 3], [0, 1, 2, 3]), crs=3067)
    if index is not None:
        works.index = index
    return works


#: Columns each format takes as their text: Arrow cannot type a mixed column anywhere; a
#: plain field cannot hold a list, a record, a period or an interval.
_AS_TEXT = {
    "parquet": ["mixed"],
    "geojson": ["mixed"],
    "csv": ["mixed", "list", "arrow_list", "record", "period", "interval"],
    "gpkg": ["mixed", "list", "arrow_list", "record", "period", "interval"],
    "zip": ["mixed", "list", "arrow_list", "record", "period", "interval"],
}


def _texts(values: pd.Series) -> pd.Series:
    """Each cell's own ``str``, ``None`` where missing, one cell at a time."""
    texts = []
    for cell in values.to_numpy(dtype=object):
        value = cell.tolist() if isinstance(cell, np.ndarray) else cell  # an Arrow list's cell
        missing = not isinstance(value, (list, dict)) and pd.isna(value)
        texts.append(None if missing else str(value))
    return pd.Series(texts, dtype=object)


def _content(path: Path) -> object:
    """What a file holds, without what changes from one write to the next (times)."""
    if path.suffix == ".gpkg":
        with sqlite3.connect(path) as con:
            tables = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
            rows = [con.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables]
            return rows, con.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    data = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {member: archive.read(member) for member in archive.namelist()}
    return data


@pytest.mark.parametrize("index", [None, [5, 0, 1, 9], [3, 3, 1, 0]], ids=str)
@pytest.mark.parametrize("suffix", sorted(_AS_TEXT))
def test_every_column_kind_is_written_as_it_is_or_as_each_cells_text(suffix, index, tmp_path):
    """The export of every kind of column equals the export of the same frame whose columns
    the format cannot hold were turned into text cell by cell beforehand, whatever the index."""
    works = _every_kind(index)
    texted = works.copy()
    for col in _AS_TEXT[suffix]:
        texted[col] = _texts(works[col]).set_axis(works.index)
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours = export.write(works, tmp_path / "ours" / f"works.{suffix}")
    theirs = export.write(texted, tmp_path / "theirs" / f"works.{suffix}")
    assert _content(ours) == _content(theirs)
    if index is not None:  # the index is no part of what is written
        (tmp_path / "plain").mkdir()
        plain = export.write(_every_kind(None), tmp_path / "plain" / f"works.{suffix}")
        assert _content(ours) == _content(plain)


def test_a_column_taken_as_text_keeps_its_rows_whatever_the_index():
    works = _every_kind([5, 0, 1, 9])
    safe = export._arrow_safe(works.drop(columns="geometry"), plain=True)
    expected = {
        "mixed": ["7", "Waternet", None, "2.5"],
        "list": ["[1, 2]", None, "[3]", "[]"],
        "arrow_list": ["[4, 5]", "[6]", None, "[]"],
        "record": ["{'a': 1}", None, "{'a': 2}", "{'a': 3}"],
        "period": ["2027-01", "2027-02", "2027-03", "2027-04"],
        "interval": ["(0, 1]", "(1, 2]", "(2, 3]", "(3, 4]"],
    }
    for col, texts in expected.items():
        assert safe[col].dtype == object and safe[col].tolist() == texts, col
        assert safe[col].index.equals(works.index), col
        assert _texts(works[col]).tolist() == texts, col
    untouched = [c for c in works.columns if c not in expected and c != "geometry"]
    pd.testing.assert_frame_equal(safe[untouched], works[untouched])
