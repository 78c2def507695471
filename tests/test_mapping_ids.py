"""Work ids composed from columns (``[work_id_from]``) for feeds without an id column."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections import Counter

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.errors import InputError, RulesError
from ims_geo.ingest import load_mapping, read_works
from ims_geo.ingest._mapping import Mapping, composed_ids, dump_toml, loads_mapping, to_dict

from conftest import ROOT, shared_data

NH_MAPPING = ROOT / "data" / "mappings" / "uk_national_highways.toml"


def _expected(values: list[str], prefix: str = "") -> str:
    """The id of one row, computed here from the documented rule."""
    text = ":".join(f"{len(v)}:{v}" for v in values)
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _suffixed(rows: list[tuple[str, ...]], prefix: str) -> list[str | None]:
    """Ids with -2, -3... for repeated rows in order, counted with a plain Counter."""
    seen: Counter[tuple[str, ...]] = Counter()
    out: list[str | None] = []
    for row in rows:
        if all(not v.strip() for v in row):
            out.append(None)
            continue
        seen[row] += 1
        base = _expected(list(row), prefix)
        out.append(base if seen[row] == 1 else f"{base}-{seen[row]}")
    return out


ROWS = [
    ("M1", "2020-01-01", "462913"),
    ("M1", "2020-01-01", "462913"),  # repeats row 1: -2
    ("A1(M)", "2020-01-02", "470000"),
    ("a:b", "c", ""),  # would join to the same text as the next row without the lengths
    ("a", "b:c", ""),
    ("M1", "2020-01-01", "462913"),  # third of its kind: -3
    ("", "", ""),  # nothing to compose an id from
    ("Ümlaut ß", "2020-01-03", "1"),
]
COLUMNS = ["roads", "start", "easting"]


def _frame(rows: list[tuple[str, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def test_composed_ids_are_a_digest_of_the_cells_with_suffixes_for_repeats_in_file_order():
    ids, suffixed = composed_ids(_frame(ROWS), COLUMNS, "NH-")
    expected = _suffixed(ROWS, "NH-")
    assert ids.tolist() == expected
    assert suffixed == 2
    assert ids[1] == f"{ids[0]}-2" and ids[5] == f"{ids[0]}-3"
    assert ids[3] != ids[4]  # the lengths keep 'a:b' + 'c' apart from 'a' + 'b:c'
    assert ids[6] is None
    assert all(len(i.split("-")[1]) == 12 for i in ids.dropna())


def test_an_id_depends_on_its_own_row_only_not_on_the_row_order():
    unique = [r for i, r in enumerate(ROWS) if r not in ROWS[:i] and any(v for v in r)]
    ids, _ = composed_ids(_frame(unique), COLUMNS)
    back, _ = composed_ids(_frame(unique[::-1]), COLUMNS)
    assert ids.tolist() == back.tolist()[::-1]
    assert ids.tolist() == [_expected(list(r)) for r in unique]
    # a value read as a number from the file is taken as its text
    numbers = pd.DataFrame({"a": [462913.0], "b": ["x"]})
    assert composed_ids(numbers, ["a", "b"])[0].tolist() == [_expected(["462913.0", "x"])]


MAPPING_TOML = """
crs = "EPSG:27700"
[work_id_from]
columns = ["roads", "start", "easting"]
prefix = "NH-"
[columns]
start_date = "day"
end_date = "day"
[defaults]
org = "National Highways"
"""


def _feed(tmp_path, rows: list[tuple[str, ...]]):
    frame = _frame(rows)
    frame["day"] = "2020-02-01"
    frame["geometry"] = [f"POINT({400000 + i} 200000)" for i in range(len(rows))]
    path = tmp_path / "feed.csv"
    frame.to_csv(path, index=False)
    mapping = tmp_path / "nh.toml"
    mapping.write_text(MAPPING_TOML, encoding="utf-8")
    return path, mapping


def test_read_works_composes_the_ids_and_warns_once_about_the_suffixes(tmp_path):
    rows = [
        ("M1", "2020-01-01", "462913"),
        ("M1", "2020-01-01", "462913"),
        ("A1(M)", "2020-01-02", "470000"),
        ("", "", ""),
    ]
    path, mapping = _feed(tmp_path, rows)
    result = read_works(path, mapping=mapping)
    expected = _suffixed(rows, "NH-")
    assert result.works[schema.WORK_ID].tolist() == expected[:3]
    assert result.rejected[schema.REASON].tolist() == ["missing work_id"]
    notes = [w for w in result.warnings if "got a suffix" in w]
    assert notes == [
        "feed.csv: 1 work_id composed from roads, start, easting got a suffix (-2, -3, ... in "
        "file order) because its row repeats an earlier row in all of those columns; such ids "
        "stay the same only while the file keeps its row order — add a column that tells the "
        "rows apart to [work_id_from] columns"
    ]
    assert not [w for w in result.warnings if "has no work_id column" in w]
    # the named columns are still kept as the file's own columns
    assert result.works["roads"].tolist() == ["M1", "M1", "A1(M)"]


def test_a_column_the_file_lacks_is_named_with_the_files_columns(tmp_path):
    path, mapping = _feed(tmp_path, [("M1", "2020-01-01", "1")])
    mapping.write_text(MAPPING_TOML.replace('"easting"]', '"northing"]'), encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_works(path, mapping=mapping)
    assert str(error.value) == (
        f"{mapping}: [work_id_from] columns names 'northing', but feed.csv has no such "
        "column; its columns are: roads, start, easting, day, geometry"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[work_id_from]\ncolumns = []",
            "[work_id_from] columns must be a column name or a list of column names, not []",
        ),
        ("[work_id_from]\nprefix = 'NH-'", "[work_id_from] needs columns"),
        ("[work_id_from]\ncolumns = ['a']\nhash = 'md5'", "unknown key 'hash'; use columns"),
        ("[work_id_from]\ncolumns = ['a', 'a']", "names a column twice"),
        ("[work_id_from]\ncolumns = ['a']\nprefix = 3", "prefix must be text"),
        ("work_id_from = 'a'", "[work_id_from] must be a table"),
        (
            "[work_id_from]\ncolumns = ['a']\n[columns]\nwork_id = 'id'",
            "[columns] work_id and [work_id_from] both give the work_id",
        ),
        (
            "[work_id_from]\ncolumns = ['a']\n[defaults]\nwork_id = 'x'",
            "[defaults] work_id and [work_id_from] both give the work_id",
        ),
    ],
)
def test_bad_work_id_from_tables_name_the_key(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_mapping(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_a_saved_mapping_keeps_its_work_id_from():
    mapping = loads_mapping(MAPPING_TOML, "nh.toml")
    text = dump_toml(to_dict(mapping))
    assert tomllib.loads(text)["work_id_from"] == {
        "columns": ["roads", "start", "easting"],
        "prefix": "NH-",
    }
    again = loads_mapping(text, "again.toml")
    assert again.work_id_from == mapping.work_id_from
    bare = Mapping(work_id_from={"columns": "roads"})  # type: ignore[arg-type]
    assert to_dict(bare)["work_id_from"] == {"columns": ["roads"]}


# --- the real National Highways feed ---------------------------------------------------


def test_every_real_roadworks_record_arrives_with_its_composed_id(tmp_path):
    path = shared_data("uk_national_highways_roadworks_2020", "roadworks.json")
    records = json.loads(path.read_text(encoding="utf-8"))
    raw = pd.DataFrame(records)
    assert len(raw) == 1369
    spec = tomllib.loads(NH_MAPPING.read_text(encoding="utf-8"))["work_id_from"]
    columns, prefix = spec["columns"], spec["prefix"]
    # each cell as the JSON holds it: text as written, a number as its JSON text
    rows = [tuple(v if isinstance(v, str) else json.dumps(v) for v in (r[c] for c in columns))
            for r in records]  # fmt: skip
    ids = _suffixed(rows, prefix)
    repeats = len(raw) - len(raw.drop_duplicates(columns))
    assert sum(i is not None and i.count("-") == 2 for i in ids) == repeats
    starts = pd.to_datetime(raw["startDate"], utc=True)
    ends = pd.to_datetime(raw["endDate"], utc=True)
    backwards = int((ends < starts).sum())
    kept = [i for i, back in zip(ids, (ends < starts).tolist(), strict=True) if not back]

    store, rejects = tmp_path / "store.gpkg", tmp_path / "rejects.csv"
    result = CliRunner().invoke(
        main,
        ["import", str(path), "--mapping", str(NH_MAPPING), "--rejects", str(rejects),
         "--store", str(store)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"accepted: {len(raw) - backwards}" in result.stdout
    assert f"rejected: {backwards}" in result.stdout
    assert f"{repeats} work_ids composed from {', '.join(columns)} got a suffix" in result.stdout
    works = gpd.read_file(store, layer="works")
    assert sorted(works[schema.WORK_ID]) == sorted(kept)
    # each id belongs to its own record: its description is the work's title (trimmed)
    titles = dict(zip(ids, raw["description"].str.strip(), strict=True))
    assert works[schema.TITLE].tolist() == [titles[i] for i in works[schema.WORK_ID]]
    if backwards:
        rejected = pd.read_csv(rejects, dtype=str)
        assert len(rejected) == backwards and rejected[schema.REASON].str.len().gt(0).all()
