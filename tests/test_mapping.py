"""Mapping files that fit real feeds: date formats per cell, time zones, keyword rules, flags."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from ims_geo import schema
from ims_geo.conflicts import find_conflicts
from ims_geo.errors import InputError, RulesError
from ims_geo.ingest import Mapping, load_mapping, read_works


def _csv(tmp_path, frame: pd.DataFrame, name: str = "feed.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _plan(n: int, **columns) -> pd.DataFrame:
    base = {
        "work_id": [f"w{i}" for i in range(n)],
        "org": ["City"] * n,
        "start_date": ["2027-01-01"] * n,
        "end_date": ["2027-12-31"] * n,
        "geometry": [f"POINT({5 + i / 1e4} 52)" for i in range(n)],
    }
    return pd.DataFrame({**base, **columns})


# --- dates: a list of formats, per cell, whatever the row order --------------------------

MIXED = [
    # text, the day it must be (None: rejected as unparsable)
    ("2018-06-30", "2018-06-30"),
    ("06/29/2018 10:00", "2018-06-29"),  # US month-first with a time: second format
    ("28 June 2018", "2018-06-28"),  # third format
    ("27.06.2018", "2018-06-27"),  # built-in day-first form
    ("20180626", "2018-06-26"),
    ("06/25/2018 07:30", "2018-06-25"),
    ("Q3 2018", None),
    ("13/24/2018 10:00", None),  # month 24: no format fits
]
FORMATS = ["%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d %B %Y"]


@pytest.mark.parametrize("order", ["as given", "reversed"])
def test_a_mixed_format_date_column_is_parsed_identically_in_either_row_order(tmp_path, order):
    rows = MIXED if order == "as given" else MIXED[::-1]
    texts = [t for t, _ in rows]
    frame = _plan(len(rows), start_date=texts, end_date=["2018-12-31"] * len(rows))
    mapping = Mapping(date_format=FORMATS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing printed on the terminal
        result = read_works(_csv(tmp_path, frame), mapping=mapping)
    got = dict(
        zip(
            result.works[schema.WORK_ID],
            result.works[schema.START].dt.strftime("%Y-%m-%d"),
            strict=True,
        )
    )
    want = {f"w{i}": day for i, (_, day) in enumerate(rows) if day is not None}
    assert got == want
    rejected = dict(
        zip(result.rejected[schema.WORK_ID], result.rejected[schema.REASON], strict=True)
    )
    bad = {f"w{i}": t for i, (t, day) in enumerate(rows) if day is None}
    assert rejected == {w: f"unparsable start_date '{t}'" for w, t in bad.items()}


def test_date_parsing_in_this_process_raises_no_warning_in_either_order():
    # read_works parses in a worker process; the same steps here, warnings as errors
    from ims_geo.ingest._mapping import apply

    for rows in (MIXED, MIXED[::-1]):
        frame = _plan(len(rows), start_date=[t for t, _ in rows])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mapped, _, _ = apply(frame, Mapping(date_format=FORMATS), name="f", text_geometry=True)
            days, bad = schema.parse_dates(mapped[schema.START])
        got = [None if pd.isna(d) else d.strftime("%Y-%m-%d") for d in days]
        assert got == [day for _, day in rows]
        assert bad.tolist() == [day is None for _, day in rows]


def test_without_a_mapping_date_text_is_never_guessed_from_the_first_row(tmp_path):
    # pandas would infer "%m/%d/%Y %H:%M" from the first value and apply it to all
    texts = ["06/29/2018 10:00", "30/06/2018 10:00", "2018-06-28"]
    for rows in (texts, texts[::-1]):
        frame = _plan(3, start_date=rows, end_date=["2018-12-31"] * 3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = read_works(_csv(tmp_path, frame))
        start = dict(
            zip(
                frame.set_index("work_id").loc[result.works[schema.WORK_ID], "start_date"],
                result.works[schema.START].dt.strftime("%Y-%m-%d"),
                strict=True,
            )
        )
        assert start == {"30/06/2018 10:00": "2018-06-30", "2018-06-28": "2018-06-28"}
        assert result.rejected[schema.REASON].tolist() == [
            "unparsable start_date '06/29/2018 10:00'"
        ]


def test_timezone_converts_date_times_to_the_local_day(tmp_path):
    texts = [
        "2018-06-30T23:30:00.000Z",  # 00:30 BST on 1 July
        "2018-01-15T23:30:00Z",  # GMT in winter: same day
        "2018-06-30T23:30:00+02:00",  # 22:30 BST
        "2018-06-30",  # a plain date stays that date
    ]
    frame = _plan(4, start_date=texts, end_date=["2018-12-31"] * 4)
    path = _csv(tmp_path, frame)
    local = read_works(path, mapping=Mapping(timezone="Europe/London")).works
    assert local[schema.START].dt.strftime("%Y-%m-%d").tolist() == [
        "2018-07-01", "2018-01-15", "2018-06-30", "2018-06-30",
    ]  # fmt: skip
    # without a time zone the wall-clock date of the text is kept
    wall = read_works(path).works
    assert wall[schema.START].dt.strftime("%Y-%m-%d").tolist() == [
        "2018-06-30", "2018-01-15", "2018-06-30", "2018-06-30",
    ]  # fmt: skip


# --- keyword rules over other columns, several columns at once, flags ----------------------


def test_keywords_search_other_columns_in_order_and_set_several_columns(tmp_path):
    frame = _plan(
        6,
        WorkType=["Sewer renewal", "", "Gas main", "", "Unknown", "Footway"],
        Description=["", "relining of the sewer", "", "new water service", "misc", "Tree pit"],
        Category=["Standard", "Immediate", "standard", "Standard", "Standard", "Standard"],
    )
    path = tmp_path / "m.toml"
    path.write_text(
        """
[columns]
emergency = "Category"

[values.emergency]
"Immediate" = true
"Standard" = false

[keywords.discipline]
search_in = ["WorkType", "Description"]   # WorkType first; rows it leaves open: Description
"relining" = { discipline = "sewer", excavation = false }
"sewer" = { discipline = "sewer", excavation = true }
"gas" = "gas"
"water" = "water"
"footway" = "road"
""",
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    assert mapping.keywords["discipline"].search_in == ("WorkType", "Description")
    works = read_works(_csv(tmp_path, frame), mapping=mapping).works
    assert works[schema.DISCIPLINE].tolist() == ["sewer", "sewer", "gas", "water", "other", "road"]
    # relining (no-dig) and sewer renewal set excavation; the others keep the layer's default
    assert works[schema.EXCAVATION].tolist() == [True, False, True, True, False, False]
    assert works["emergency"].tolist() == [False, True, False, False, False, False]
    # the source columns searched are still kept as extras
    assert works["WorkType"].fillna("").tolist()[:3] == ["Sewer renewal", "", "Gas main"]
    # the conflict rules read the mapped flag: the emergency work takes no part
    conflicts = find_conflicts(works)
    ids = set(conflicts["work_id_a"]) | set(conflicts["work_id_b"])
    assert "w1" not in ids


def test_keywords_in_the_column_itself_and_a_flag_set_by_a_rule(tmp_path):
    frame = _plan(3, Sparte=["Kanal und Wasser", "Notfall Gas", "Belag"])
    mapping = Mapping(
        columns={"discipline": "Sparte"},
        keywords={
            "discipline": {
                "notfall": {"discipline": "gas", "emergency": "immediate"},
                "kanal": "sewer",
                "": "road",
            }
        },
    )
    works = read_works(_csv(tmp_path, frame), mapping=mapping).works
    assert works[schema.DISCIPLINE].tolist() == ["sewer", "gas", "road"]
    assert [None if pd.isna(v) else v for v in works["emergency"]] == [None, "immediate", None]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('timezone = "Mars/Olympus"', "timezone 'Mars/Olympus' is unknown"),
        ('date_format = ["%d.%m.%Y", "dd-mm"]', "is not a strftime format or a list"),
        ('[keywords.discipline]\n"x" = {colour = "red"}', "sets unknown column 'colour'"),
        ('[columns]\nurgent = "U"', r"unknown column 'urgent' in \[columns\].*flags"),
        ('flags = ["status"]', "'status' is a canonical column, not a flag"),
    ],
)
def test_bad_new_mapping_keys_name_the_key(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(RulesError, match=message):
        load_mapping(path)


def test_declared_flags_and_missing_search_columns(tmp_path):
    frame = _plan(2, U=["yes", "no"], Text=["a", "b"])
    works = read_works(
        _csv(tmp_path, frame), mapping=Mapping(flags=["urgent"], columns={"urgent": "U"})
    ).works
    assert works["urgent"].tolist() == ["yes", "no"]
    with pytest.raises(InputError, match=r"search_in = 'WorkType', but feed.csv has no such"):
        read_works(
            _csv(tmp_path, frame),
            mapping=Mapping(keywords={"discipline": {"search_in": "WorkType", "x": "gas"}}),
        )


# --- a file without a work_id column -----------------------------------------------------


def _without_id(n: int, **columns) -> pd.DataFrame:
    return _plan(n, **columns).drop(columns="work_id")


def _no_id_messages(warnings_: list[str]) -> list[str]:
    return [w for w in warnings_ if "has no work_id column" in w]


def test_a_file_without_a_work_id_column_names_the_id_like_columns_and_the_command(tmp_path):
    # rec_id: unique values, an id's name; batch: an id's name ("number") but repeated values
    frame = _without_id(3, rec_id=["R7", "R8", "R9"], batch_number=["1", "1", "2"])
    result = read_works(_csv(tmp_path, frame))
    assert result.works.empty
    assert result.rejected[schema.REASON].tolist() == ["missing work_id"] * 3
    assert _no_id_messages(result.warnings) == [
        "feed.csv has no work_id column, so every row is rejected as missing work_id; "
        "'rec_id' looks like an id — `ims-geo mapping suggest feed.csv --out mapping.toml` "
        'writes a starter mapping (or set [columns] work_id = "rec_id" in a mapping file, or '
        "compose one from columns with [work_id_from] there), then import with --mapping "
        "mapping.toml"
    ]
    # the column it names is the one the mapping needs: with it, every row is kept
    mapped = read_works(_csv(tmp_path, frame), mapping=Mapping(columns={"work_id": "rec_id"}))
    assert mapped.works[schema.WORK_ID].tolist() == ["R7", "R8", "R9"]
    assert _no_id_messages(mapped.warnings) == []


def test_without_an_id_like_column_the_message_lists_the_files_columns(tmp_path):
    frame = _without_id(2, remark=["a", "a"])
    result = read_works(_csv(tmp_path, frame))
    (message,) = _no_id_messages(result.warnings)
    assert "its columns are: org, start_date, end_date, geometry, remark" in message
    assert "`ims-geo mapping suggest feed.csv --out mapping.toml`" in message


def test_empty_id_cells_are_rows_without_an_id_not_a_missing_column(tmp_path):
    frame = _plan(2)
    frame["work_id"] = ["", "w1"]
    result = read_works(_csv(tmp_path, frame))
    assert result.works[schema.WORK_ID].tolist() == ["w1"]
    assert result.rejected[schema.REASON].tolist() == ["missing work_id"]
    assert _no_id_messages(result.warnings) == []


def test_ims_geo_import_says_once_which_column_looks_like_the_id(tmp_path):
    from click.testing import CliRunner

    from ims_geo.cli import main

    path = _csv(tmp_path, _without_id(3, rec_id=["R7", "R8", "R9"]))
    result = CliRunner().invoke(
        main,
        ["import", str(path), "--crs", "EPSG:4326", "--store", str(tmp_path / "s.gpkg")],
        catch_exceptions=False,
    )
    assert result.exit_code == 2  # no accepted works: nothing stored
    assert "missing work_id: 3" in result.stdout
    assert result.stdout.count("has no work_id column") == 1
    assert "'rec_id' looks like an id" in result.stdout
    assert "ims-geo mapping suggest feed.csv --out mapping.toml" in result.stdout
