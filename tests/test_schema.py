"""The works data model: column aliases, parsing and validation into valid and rejected rows."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ims_geo import schema
from ims_geo.schema import (
    canonical_column,
    empty_works,
    excavates,
    parse_dates,
    seals_surface,
    validate,
)

P = shapely.Point(136000, 455000)


def works(**columns) -> gpd.GeoDataFrame:
    """A works frame; every column not given is filled with valid values."""
    n = len(next(iter(columns.values())))
    base = {
        "work_id": [f"W{i}" for i in range(n)],
        "org": ["Stedin"] * n,
        "start_date": ["2027-01-01"] * n,
        "end_date": ["2027-01-31"] * n,
    }
    geometry = columns.pop("geometry", [P] * n)
    return gpd.GeoDataFrame({**base, **columns}, geometry=geometry, crs=28992)


def reasons(result: schema.Validated) -> dict[int, str]:
    return dict(
        zip(result.rejected[schema.SOURCE_ROW], result.rejected[schema.REASON], strict=True)
    )


def texts(series: pd.Series) -> list[str | None]:
    """Values as a list, missing ones as None."""
    return [None if pd.isna(v) else v for v in series]


# --- columns --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("work_id", "work_id"),
        ("WORK_ID", "work_id"),
        ("Kenmerk", "work_id"),
        ("Project-ID", "work_id"),
        ("Beheerder", "org"),
        ("Träger", "org"),
        ("Baubeginn", "start_date"),
        ("Einddatum", "end_date"),
        ("Sparte", "discipline"),
        ("the_geom", "geometry"),
        ("WKT", "geometry"),
        ("Kosten EUR", "cost_eur"),
        ("Straatnaam", None),
    ],
)
def test_canonical_column_names_and_aliases(name, canonical):
    assert canonical_column(name) == canonical


# --- a valid frame ----------------------------------------------------------------------


def test_valid_rows_get_canonical_dtypes_and_defaults():
    frame = works(
        work_id=["00017", "18"],
        discipline=["Riool", "road"],
        cost_eur=["1.234,50", 99],
        depth_max=[2.5, None],
        excavation=["", "ja"],
        straat=["Oudegracht", "Biltstraat"],
    )
    result = validate(frame, source="plan.gpkg")
    assert result.rejected.empty
    valid = result.valid
    assert valid[schema.WORK_ID].tolist() == ["00017", "18"]
    assert valid[schema.WORK_ID].dtype == "str"
    assert valid[schema.START].dtype == "datetime64[s]"
    assert valid[schema.EARLIEST].tolist() == valid[schema.START].tolist()
    assert valid[schema.LATEST].tolist() == valid[schema.END].tolist()
    assert valid[schema.DISCIPLINE].tolist() == ["sewer", "road"]
    assert valid[schema.LAYER].tolist() == ["subsurface", "surface"]
    # blank excavation: the layer's default (subsurface opens the street); "ja" is true
    assert valid[schema.EXCAVATION].tolist() == [True, True]
    assert valid[schema.EXCAVATION].dtype == bool
    assert valid[schema.COST].tolist() == [1234.5, 99.0]
    assert valid[schema.DEPTH_MAX].dtype == "float64"
    assert np.isnan(valid[schema.DEPTH_MIN]).all()
    assert valid[schema.STATUS].tolist() == ["planned", "planned"]
    assert valid[schema.VISIBILITY].tolist() == ["partners", "partners"]
    assert valid["straat"].tolist() == ["Oudegracht", "Biltstraat"]
    assert list(valid.columns) == [*schema.COLUMNS, "straat", "geometry"]
    assert valid.crs.to_epsg() == 28992


def test_ids_from_numbers_are_text_without_a_decimal_point():
    result = validate(works(work_id=[17.0, 2.5, 12345678901.0]))
    assert result.valid[schema.WORK_ID].tolist() == ["17", "2.5", "12345678901"]
    ints = validate(works(work_id=np.array([7, 8], dtype="int64")))
    assert ints.valid[schema.WORK_ID].tolist() == ["7", "8"]


def test_org_for_the_whole_file_fills_missing_orgs():
    frame = works(org=["Vitens", None, " "])
    result = validate(frame, org="Gemeente")
    assert result.valid[schema.ORG].tolist() == ["Vitens", "Gemeente", "Gemeente"]
    assert reasons(validate(frame)) == {
        2: "missing org (add an org column or give the organisation for the file)",
        3: "missing org (add an org column or give the organisation for the file)",
    }


# --- dates ----------------------------------------------------------------------------


def test_parse_dates_text_forms_and_wall_clock_dates():
    text = pd.Series(
        [
            "2027-03-01",
            "2027-03-01 23:30:00",
            "2027-03-01T00:30:00+02:00",  # still the 1st locally, 28 Feb in UTC
            "2027-03-01T23:30:00-05:00",  # still the 1st locally, 2 Mar in UTC
            "2027-03-01T12:00Z",
            "01-03-2027",
            "01.03.2027",
            "01/03/2027",
            "20270301",
            "2027/03/01",
            "",
            None,
            "next spring",
            "2027-02-30",
        ],
        dtype="str",
    )
    parsed, bad = parse_dates(text)
    day = pd.Timestamp("2027-03-01")
    assert parsed.iloc[:10].tolist() == [day] * 10
    assert parsed.iloc[10:].isna().all()
    assert bad.tolist() == [False] * 12 + [True, True]
    assert parsed.dtype == "datetime64[s]"


def test_parse_dates_native_values():
    objects = pd.Series([dt.date(2027, 3, 1), dt.datetime(2027, 3, 1, 18, 45), None])
    parsed, bad = parse_dates(objects)
    assert parsed.iloc[:2].tolist() == [pd.Timestamp("2027-03-01")] * 2
    assert not bad.any()
    aware = pd.Series(pd.to_datetime(["2027-03-01 23:30"]).tz_localize("Europe/Amsterdam"))
    assert parse_dates(aware)[0].tolist() == [pd.Timestamp("2027-03-01")]
    native = pd.Series(pd.to_datetime(["2027-03-01 06:00"]).astype("datetime64[ms]"))
    assert parse_dates(native)[0].tolist() == [pd.Timestamp("2027-03-01")]


# --- every kind of bad row --------------------------------------------------------------------


def test_each_problem_is_a_reason_and_the_row_keeps_its_values():
    frame = works(
        work_id=["ok", "", None, "d", "e", "f", "g", "h"],
        start_date=["2027-01-01"] * 3 + ["soon"] + ["2027-02-01"] + ["2027-01-01"] * 3,
        end_date=["2027-01-31"] * 8,
        depth_min=[None] * 6 + [2.0, -1.0],
        depth_max=[None] * 6 + [1.0, 1.0],
    )
    result = validate(frame, source="plan.csv")
    assert result.valid[schema.WORK_ID].tolist() == ["ok", "f"]
    assert reasons(result) == {
        2: "missing work_id",
        3: "missing work_id",
        4: "unparsable start_date 'soon'",
        5: "end_date before start_date",
        7: "depth_min greater than depth_max",
        8: "negative depth (depths are metres below the surface)",
    }
    rejected = result.rejected
    assert (rejected[schema.SOURCE_FILE] == "plan.csv").all()
    assert rejected.loc[rejected[schema.SOURCE_ROW] == 4, schema.START].item() == "soon"
    assert result.warnings == []


def test_several_problems_of_one_row_are_all_listed():
    frame = works(work_id=[""], start_date=["x"], discipline=["asphalt"], geometry=[None])
    (reason,) = validate(frame).rejected[schema.REASON]
    assert reason.split("; ") == [
        "missing geometry",
        "missing work_id",
        "unparsable start_date 'x'",
    ]


# --- unknown values: fallback, raw value kept, warning -----------------------------------


def test_unknown_vocabulary_values_keep_the_work_with_the_fallback_and_the_raw_value():
    frame = works(
        discipline=["Utility", "riool", "Utility", "utility ", "water", "Strom"],
        status=["in preparation", "in preparation", "gepland", None, "in preparation", "?"],
        visibility=["public", "club", None, "club", "private", "public"],
        layer=[None, "deep", None, None, None, "above"],
        excavation=["perhaps", None, "1", "ja", "no", "perhaps"],
        cost_eur=["veel", None, "1.234,5", None, None, None],
    )
    result = validate(frame, source="plan.csv")
    assert result.rejected.empty
    valid = result.valid
    assert valid[schema.DISCIPLINE].tolist() == [
        "other", "sewer", "other", "other", "water", "electricity",
    ]  # fmt: skip
    assert valid[schema.STATUS].tolist() == [
        "planned", "planned", "planned", "planned", "planned", "planned",
    ]  # fmt: skip
    assert valid[schema.VISIBILITY].tolist() == [
        "public", "partners", "partners", "partners", "private", "public",
    ]  # fmt: skip
    # an unknown layer is the discipline's layer (sewer: subsurface)
    assert valid[schema.LAYER].tolist() == [
        "surface", "subsurface", "surface", "surface", "subsurface", "surface",
    ]  # fmt: skip
    # an unknown excavation is the layer's default (surface: false)
    assert valid[schema.EXCAVATION].tolist() == [False, True, True, True, False, False]
    assert np.isnan(valid[schema.COST][0]) and valid[schema.COST][2] == 1234.5
    assert texts(valid["discipline_raw"]) == ["Utility", None, "Utility", "utility", None, None]
    assert texts(valid["status_raw"]) == [
        "in preparation", "in preparation", None, None, "in preparation", "?",
    ]  # fmt: skip
    assert texts(valid["visibility_raw"]) == [None, "club", None, "club", None, None]
    assert texts(valid["layer_raw"]) == [None, "deep", None, None, None, None]
    assert texts(valid["excavation_raw"]) == ["perhaps", None, None, None, None, "perhaps"]
    assert texts(valid["cost_eur_raw"]) == ["veel", None, None, None, None, None]
    assert result.unknown_values.to_dict("records") == [
        {"column": "discipline", "value": "Utility", "rows": 2, "read_as": "other"},
        {"column": "discipline", "value": "utility", "rows": 1, "read_as": "other"},
        {"column": "layer", "value": "deep", "rows": 1, "read_as": "the discipline's layer"},
        {"column": "status", "value": "in preparation", "rows": 3, "read_as": "planned"},
        {"column": "status", "value": "?", "rows": 1, "read_as": "planned"},
        {"column": "visibility", "value": "club", "rows": 2, "read_as": "partners"},
        {"column": "excavation", "value": "perhaps", "rows": 2, "read_as": "the layer's default"},
        {"column": "cost_eur", "value": "veel", "rows": 1, "read_as": "empty"},
    ]
    assert result.warnings == [
        "plan.csv: discipline 'Utility' (2 rows) read as other — add it to [values.discipline] "
        "in a mapping file",
        "plan.csv: discipline 'utility' (1 row) read as other — add it to [values.discipline] "
        "in a mapping file",
        "plan.csv: layer 'deep' (1 row) read as the discipline's layer — add it to "
        "[values.layer] in a mapping file",
        "plan.csv: status 'in preparation' (3 rows) read as planned — add it to [values.status] "
        "in a mapping file",
        "plan.csv: status '?' (1 row) read as planned — add it to [values.status] in a mapping "
        "file",
        "plan.csv: visibility 'club' (2 rows) read as partners — add it to [values.visibility] "
        "in a mapping file",
        "plan.csv: excavation 'perhaps' (2 rows) read as the layer's default — add it to "
        "[values.excavation] in a mapping file",
        "plan.csv: cost_eur 'veel' (1 row) read as empty — add it to [values.cost_eur] in a "
        "mapping file",
    ]


def test_unknown_values_of_rejected_rows_are_not_warned_and_known_values_add_no_column():
    frame = works(
        work_id=["a", "b", "c"],
        end_date=["2027-01-31", "2026-01-01", "2027-01-31"],
        status=["planned", "someday", "done"],
    )
    result = validate(frame)
    assert reasons(result) == {2: "end_date before start_date"}
    assert result.warnings == [] and result.unknown_values.empty
    assert "status_raw" not in result.valid


def test_many_unknown_values_of_one_column_are_summed_up():
    values = [f"kind {i:02d}" for i in range(schema.WARNED_VALUES + 3)]
    frame = works(discipline=values + [values[0]])
    result = validate(frame, source="f.gpkg")
    assert len(result.valid) == len(values) + 1
    assert len(result.warnings) == schema.WARNED_VALUES + 1
    assert result.warnings[0].startswith("f.gpkg: discipline 'kind 00' (2 rows) read as other")
    assert result.warnings[-1] == (
        "f.gpkg: discipline: 3 more unknown values (3 rows) read as other — see "
        "discipline_raw; add them to [values.discipline]"
    )


def test_missing_and_empty_geometries():
    frame = works(work_id=["a", "b", "c"], geometry=[None, shapely.Point(), P])
    assert reasons(validate(frame)) == {1: "missing geometry", 2: "empty geometry"}
    plain = pd.DataFrame(
        {"work_id": ["a"], "org": ["o"], "start_date": ["2027-01-01"], "end_date": ["2027-01-02"]}
    )
    assert reasons(validate(plain)) == {1: "missing geometry"}


def test_missing_date_columns_reject_every_row():
    frame = works(work_id=["a", "b"]).drop(columns="end_date")
    assert reasons(validate(frame)) == {1: "missing end_date", 2: "missing end_date"}


def test_every_row_of_a_duplicated_key_is_rejected():
    frame = works(work_id=["1", "1", "1", "2"], org=["A", "A", "B", "A"])
    result = validate(frame)
    assert sorted(zip(result.valid[schema.ORG], result.valid[schema.WORK_ID], strict=True)) == [
        ("A", "2"),
        ("B", "1"),
    ]
    assert reasons(result) == {
        1: "duplicate work_id '1' for org 'A'",
        2: "duplicate work_id '1' for org 'A'",
    }


def test_flexibility_window_must_contain_the_planned_period():
    frame = works(
        work_id=["a", "b", "c"],
        earliest=["2026-12-01", "2027-01-02", None],
        latest=["2027-03-01", None, "2027-01-30"],
    )
    result = validate(frame)
    assert reasons(result) == {2: "earliest after start_date", 3: "latest before end_date"}
    assert result.valid[schema.EARLIEST].tolist() == [pd.Timestamp("2026-12-01")]


def test_invalid_geometries_are_repaired_and_counted():
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    collapsed = shapely.Polygon([(0, 0), (0, 0), (0, 0), (0, 0)])
    frame = works(work_id=["a", "b", "c"], geometry=[bowtie, collapsed, P])
    result = validate(frame, source="plan.gpkg")
    assert result.repaired == 1
    assert result.valid[schema.WORK_ID].tolist() == ["a", "c"]
    assert result.valid.geometry[0].is_valid
    assert result.valid.geometry[0].area == pytest.approx(50.0)
    assert reasons(result) == {2: "invalid geometry that cannot be repaired"}
    assert result.warnings == ["plan.gpkg: 1 invalid geometries repaired (make_valid)"]


def test_an_unrepairable_geometry_keeps_its_place_among_the_row_reasons():
    # the geometries are checked on a second thread: the reasons keep the order of the checks
    collapsed = shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])
    frame = works(
        work_id=["", "b", "c"],
        start_date=["x", "2027-01-01", "2027-01-01"],
        title=["long title", "t", "t"],
        geometry=[collapsed, collapsed, P],
    )
    problems = [("title", np.array([True, False, False]), "title too long")]
    result = validate(frame, problems=problems)
    assert reasons(result) == {
        1: "title too long; invalid geometry that cannot be repaired; missing work_id; "
        "unparsable start_date 'x'",
        2: "invalid geometry that cannot be repaired",
    }
    assert result.valid[schema.WORK_ID].tolist() == ["c"]
    assert result.repaired == 0


def test_problems_found_by_the_reader_are_added():
    frame = works(work_id=["a", "b", "c"], geometry=[None, P, P])
    result = validate(
        frame,
        problems=[
            (
                "geometry",
                np.array([True, False, False]),
                ["unparsable geometry 'P(' (not WKT)", "", ""],
            ),
            (
                "title",
                np.array([False, False, True]),
                "text in column title longer than 10 characters",
            ),
        ],
    )
    # a geometry problem replaces "missing geometry"
    assert reasons(result) == {
        1: "unparsable geometry 'P(' (not WKT)",
        3: "text in column title longer than 10 characters",
    }


# --- helpers on valid works -----------------------------------------------------------------


def test_surface_sealing_and_excavation():
    result = validate(
        works(
            work_id=["a", "b", "c", "d"],
            discipline=["road", "road", "sewer", "green"],
            layer=[None, "subsurface", None, None],
            excavation=[None, None, "nee", "ja"],
        )
    ).valid
    assert seals_surface(result).tolist() == [True, False, False, False]
    assert excavates(result).tolist() == [False, True, False, True]


def test_empty_works_has_every_column_and_dtype():
    frame = empty_works("EPSG:28992")
    assert list(frame.columns) == [*schema.COLUMNS, "geometry"]
    assert frame[schema.START].dtype == "datetime64[s]"
    assert frame[schema.COST].dtype == "float64"
    assert frame.crs.to_epsg() == 28992


def test_native_date_objects_and_aware_datetimes_keep_their_local_date():
    import datetime as dt

    from ims_geo.schema import parse_dates

    dates = pd.Series([dt.date(2026, 1, 31), None, dt.date(2027, 2, 1)], dtype=object)
    parsed, bad = parse_dates(dates)
    assert parsed.dt.date.tolist()[::2] == [dt.date(2026, 1, 31), dt.date(2027, 2, 1)]
    assert parsed.isna().tolist() == [False, True, False]
    assert not bad.any()
    plus_two = dt.timezone(dt.timedelta(hours=2))
    aware = pd.Series([dt.datetime(2027, 3, 1, 0, 30, tzinfo=plus_two)], dtype=object)
    assert parse_dates(aware)[0].dt.date.tolist() == [dt.date(2027, 3, 1)]


def test_date_objects_among_text_are_read_and_text_is_never_guessed():
    values = [
        dt.date(2027, 1, 2),
        "03.04.2027",
        "04/30/2027 10:00",
        None,
        dt.datetime(2027, 5, 6, 7),
    ]
    for order in (values, values[::-1]):
        days, bad = parse_dates(pd.Series(order, dtype=object))
        got = {
            str(v): (None if pd.isna(d) else d.strftime("%Y-%m-%d"))
            for v, d in zip(order, days, strict=True)
        }
        assert got == {
            "2027-01-02": "2027-01-02",
            "03.04.2027": "2027-04-03",
            "04/30/2027 10:00": None,  # month first: only with a mapping's date_format
            "None": None,
            "2027-05-06 07:00:00": "2027-05-06",
        }
        assert [str(v) for v, b in zip(order, bad, strict=True) if b] == ["04/30/2027 10:00"]


# --- fast paths: the same answer as the general path, and only for the columns they fit -----


def _wall_clock_day(value: object) -> pd.Timestamp:
    """The model of a parsed date: the cell's own calendar day (its wall clock), or NaT."""
    if (
        value is None
        or value is pd.NaT
        or value is pd.NA
        or (isinstance(value, float) and np.isnan(value))
    ):
        return pd.NaT
    if isinstance(value, str):
        return pd.Timestamp(dt.date.fromisoformat(value[:10]))
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, dt.datetime):  # the local date, whatever the time zone
        return pd.Timestamp(value.year, value.month, value.day)
    assert isinstance(value, dt.date)
    return pd.Timestamp(value)


def test_a_column_of_plain_dates_takes_the_fast_path_with_the_general_answer():
    rng = np.random.default_rng(7)
    days = rng.integers(-719_162, 2_932_896, 300)  # 0001-01-01 to 9999-12-31, from 1970
    cells: list[object] = [dt.date(1970, 1, 1) + dt.timedelta(days=int(d)) for d in days]
    cells[::17] = [None] * len(cells[::17])
    cells += [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1969, 12, 31), dt.date(1970, 1, 1)]
    column = pd.Series(cells, dtype=object, index=np.arange(len(cells)) * 3 + 5)
    fast = schema._plain_dates(column)
    assert fast is not None
    parsed, bad = parse_dates(column)
    assert parsed.dtype == "datetime64[s]"
    assert parsed.index.equals(column.index)
    assert parsed.tolist() == [_wall_clock_day(v) for v in cells]
    assert not bad.any()
    pd.testing.assert_series_equal(fast, parsed)


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param([dt.date(2027, 3, 1), "2027-03-02", None], id="date objects and text"),
        pytest.param(
            [
                dt.datetime(2027, 3, 2, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                dt.date(2027, 3, 1),
            ],
            id="time zone",
        ),
        pytest.param(
            [
                dt.date(2027, 3, 1),
                None,
                dt.datetime(2027, 3, 2, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            ],
            id="time zone after a date",
        ),
        pytest.param([dt.date(2027, 3, 1), dt.datetime(2027, 3, 2, 18, 45)], id="datetime"),
        pytest.param([dt.date(2027, 3, 1), pd.NaT, None], id="NaT"),
        pytest.param([dt.date(2027, 3, 1), float("nan")], id="NaN"),
        pytest.param([dt.date(2027, 3, 1), pd.Timestamp("2027-03-02 10:00")], id="Timestamp"),
        pytest.param([dt.date(2027, 3, 1), np.datetime64("2027-03-02")], id="numpy datetime"),
        pytest.param([None, None], id="no date"),
    ],
)
def test_columns_that_are_not_only_plain_dates_take_the_general_path(cells):
    column = pd.Series(cells, dtype=object)
    assert schema._plain_dates(column) is None
    parsed, bad = parse_dates(column)
    assert parsed.tolist() == [_wall_clock_day(v) for v in cells]
    assert not bad.any()


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["2027-03-01", None, "0001-01-01"], dtype="string[pyarrow]"),
        pd.Series(["2027-03-01", None, "9999-12-31"], dtype=str),
        pd.Series(pd.to_datetime(["2027-03-01 13:00", None]).astype("datetime64[ms]")),
        pd.Series(np.array(["2027-03-01", "NaT"], dtype="datetime64[D]")),
        pd.Series(np.array(["2027-03-01T23:59:59", "1500-01-01"], dtype="datetime64[us]")),
        pd.Series(pd.to_datetime(["2027-03-01 23:30"]).tz_localize("Europe/Amsterdam")),
    ],
    ids=["arrow text", "str", "datetime64[ms]", "datetime64[D]", "datetime64[us]", "aware"],
)
def test_typed_date_and_text_columns_take_the_general_path(column):
    assert schema._plain_dates(column) is None
    parsed, bad = parse_dates(column)
    assert parsed.dtype == "datetime64[s]"
    assert parsed.tolist() == [_wall_clock_day(v) for v in column.astype(object)]
    assert not bad.any()


def test_vocabulary_columns_are_arrow_text_equal_to_the_lookup_of_each_cell():
    cells = {
        "discipline": ["Riool", None, "fjernvarme", " WATER ", "road", "sewer", 3],
        "layer": [None, "Ondergronds", "above", None, "???", None, "surface"],
        "status": ["gepland", "in preparation", None, "done", "", "DONE", "idea"],
        "visibility": ["openbaar", None, "partners", "x", "private", None, " Public "],
    }
    frame = works(**{k: list(v) for k, v in cells.items()})
    valid = validate(frame).valid
    discipline = []
    for col in ("discipline", "layer", "status", "visibility"):
        values, aliases = schema.ENUMS[col]
        lookup = {v: v for v in values} | aliases | {v.replace("_", " "): v for v in values}
        model = [lookup.get(str(v).strip().lower()) if v is not None else None for v in cells[col]]
        if col == "discipline":
            discipline = [m or schema.DEFAULT_DISCIPLINE for m in model]
            model = discipline
        elif col == "layer":
            model = [
                m or ("subsurface" if d in schema.SUBSURFACE_DISCIPLINES else "surface")
                for m, d in zip(model, discipline, strict=True)
            ]
        else:
            fill = schema.DEFAULT_STATUS if col == "status" else schema.DEFAULT_VISIBILITY
            model = [m or fill for m in model]
        assert valid[col].dtype == pd.StringDtype(na_value=np.nan), col
        assert valid[col].tolist() == model, col
        # the object answer other readers use holds the same names
        object_answer, _ = schema._parse_enum(frame[col], values, aliases)
        text_answer, _ = schema._enum_text(frame[col], values, aliases, None)
        assert object_answer.dtype == object
        assert text_answer.astype(object).where(text_answer.notna(), None).tolist() == (
            object_answer.tolist()
        )


def test_validate_leaves_its_input_as_it_was():
    frame = works(
        work_id=[" a ", "b", "b", 4.0],
        org=["A", None, None, "A"],
        start_date=[dt.date(2027, 1, 1), dt.date(2027, 1, 2), None, dt.date(2027, 1, 3)],
        layer=[None, "boven", None, "subsurface"],
        geometry=[P, shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]), None, P],
    )
    before = frame.copy(deep=True)
    validate(frame, org="Stedin")
    pd.testing.assert_frame_equal(frame, before, check_exact=True)


def test_reasons_found_on_other_threads_keep_the_order_of_the_checks():
    # geometries and duplicate keys are checked beside the columns; each row lists its
    # reasons in the order of the checks whichever thread found them
    frame = works(
        work_id=["d", "d", "e", ""],
        start_date=["2027-01-01", "later", "2027-01-01", "2027-01-01"],
        geometry=[shapely.Point(), None, P, shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])],
    )
    assert reasons(validate(frame)) == {
        1: "empty geometry; duplicate work_id 'd' for org 'Stedin'",
        2: "missing geometry; unparsable start_date 'later'; "
        "duplicate work_id 'd' for org 'Stedin'",
        4: "invalid geometry that cannot be repaired; missing work_id",
    }


@pytest.mark.parametrize("repeated", [True, False], ids=["repeated values", "distinct values"])
def test_titles_are_python_strings_whether_or_not_they_repeat(repeated):
    n = 6 * schema._HEAD_ROWS
    rng = np.random.default_rng(3)
    picks = rng.integers(0, 40 if repeated else 10 * n, n)
    cells: list[object] = [f"  title {k} " for k in picks]
    cells[5::97] = [None] * len(cells[5::97])
    cells[7::101] = ["   "] * len(cells[7::101])
    text = pd.Series(cells, dtype="string").str.strip()
    head = text.iloc[: schema._HEAD_ROWS].nunique()
    assert (head <= schema._HEAD_ROWS // 8) == repeated  # the two ways are both taken
    got = schema._python_strings(text)
    assert got.dtype == object
    assert got.tolist() == [None if c is None else c.strip() for c in cells]
    assert all(type(v) is str for v in got if v is not None)
    frame = works(title=cells)
    assert validate(frame).valid[schema.TITLE].tolist() == got.tolist()
