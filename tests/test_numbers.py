"""Numbers as the planner wrote them: each number column read in one decimal style, never guessed.

Every case is a small table of cells checked by hand: the number the cell
must be, or ``EITHER`` (its number depends on the style) or ``FALLBACK`` (no
number in any style). Either way the work is kept with every other value,
the cost left empty, the raw text kept in ``cost_eur_raw`` and warned about:
an ambiguous cell once per column, with both readings named.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.errors import RulesError
from ims_geo.ingest import Mapping, read_works
from ims_geo.ingest._mapping import dump_toml, loads_mapping, to_dict
from ims_geo.store import open_store

EITHER = "either"
FALLBACK = "fallback"

#: (cell, what it must be) per case; the readings of rejected cells follow them.
CASES: dict[str, list[tuple[str | None, float | str | None]]] = {
    "european": [
        ("98.000", 98000.0),  # fits both styles: the column's decimal comma decides
        ("1.234,50", 1234.5),
        ("1234,5", 1234.5),
        ("1.234.567", 1234567.0),
        ("-2,5", -2.5),
        ("1 234,50", 1234.5),  # a space groups thousands
        ("12", 12.0),
        ("", None),
        (None, None),
    ],
    "english": [
        ("1,234.50", 1234.5),
        ("1,234,567", 1234567.0),
        ("1,500", 1500.0),  # fits both styles: the column's decimal point decides
        ("12.5", 12.5),
        ("0.75", 0.75),
        ("-3.25", -3.25),
        ("+7", 7.0),
        ("1.5e3", 1500.0),
        (" 250 ", 250.0),
    ],
    "plain": [("250", 250.0), ("-4", -4.0), ("1e6", 1e6), ("0", 0.0), ("1\u00a0500", 1500.0)],
    "ambiguous": [("98.000", EITHER), ("1,500", EITHER), ("250", 250.0)],
    "mixed": [
        ("1.234,50", 1234.5),  # only a decimal comma reads it
        ("1,234.50", 1234.5),  # only a decimal point reads it
        ("98.000", EITHER),  # reads 98 or 98000: the column shows both styles
        ("7", 7.0),
    ],
    "scientific": [("2,5E-1", 0.25), ("1.234,5", 1234.5), ("3E2", 300.0)],
    "not numbers": [
        ("€ 1.234", FALLBACK),  # currency signs are not read
        ("1.234 EUR", FALLBACK),
        ("approx. 5", FALLBACK),
        ("1 23", FALLBACK),  # a space that groups no thousands
        ("1,23,456", FALLBACK),  # groups of two
        ("0.750.000", FALLBACK),  # a group after a leading zero
        ("inf", FALLBACK),
        ("1e999", FALLBACK),  # beyond any float
        ("5", 5.0),
    ],
}
#: The two readings named in the warning of each ambiguous cell: (decimal point, decimal comma).
READINGS = {"98.000": ("98", "98000"), "1,500": ("1500", "1.5")}
FIX = 'write it without a thousands separator or declare decimal = "," or "." in a mapping file'


def _listed(cells: Iterable[str], readings: dict[str, tuple[str, ...]]) -> str:
    """The warning's values, counted by hand: most rows first, then by value."""
    counts = sorted(Counter(cells).items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(
        f"'{cell}' = {' | '.join(readings[cell])} ({k} row{'s' if k != 1 else ''})"
        for cell, k in counts
    )


def _ambiguous_warning(cells: Iterable[str], mixed: bool, file: str = "plan.csv") -> str:
    why = "the column shows both styles" if mixed else "no cell of the column shows which"
    return (
        f"{file}: ambiguous cost_eur {_listed(cells, READINGS)} (with a decimal point | with a "
        f"decimal comma), and {why} — read as empty, see cost_eur_raw; {FIX}"
    )


def _frame(cells: list[str | None]) -> gpd.GeoDataFrame:
    n = len(cells)
    return gpd.GeoDataFrame(
        {
            "work_id": [f"W{i}" for i in range(n)],
            "org": ["Stedin"] * n,
            "start_date": ["2027-01-01"] * n,
            "end_date": ["2027-01-31"] * n,
            "cost_eur": pd.Series(cells, dtype=object),
        },
        geometry=[shapely.Point(136000 + i, 455000) for i in range(n)],
        crs=28992,
    )


def _check(
    cases: list[tuple[str | None, float | str | None]],
    costs: dict[str, float],
    raw: dict[str, str | None],
) -> None:
    """The works (by work_id) against the hand-checked table: every one kept."""
    assert set(costs) == {f"W{i}" for i in range(len(cases))}
    for i, (cell, expected) in enumerate(cases):
        key = f"W{i}"
        if expected in (FALLBACK, EITHER):
            assert math.isnan(costs[key]), cell
            assert raw[key] == str(cell).strip()
        elif expected is None:
            assert math.isnan(costs[key]), cell
        else:
            assert costs[key] == expected, cell


@pytest.mark.parametrize("case", list(CASES))
def test_validate_reads_each_cell_as_the_hand_checked_table_says(case):
    cases = CASES[case]
    result = schema.validate(_frame([c for c, _ in cases]), source="plan.csv")
    valid = result.valid
    costs = dict(zip(valid["work_id"], valid["cost_eur"], strict=True))
    raw_col = schema.raw_column("cost_eur")
    raw = dict(zip(valid["work_id"], valid[raw_col], strict=True)) if raw_col in valid else {}
    rejected = result.rejected
    assert len(rejected) == 0, rejected[schema.REASON].tolist()
    _check(cases, costs, raw)
    # the work kept with every other value
    frame = _frame([c for c, _ in cases])
    assert valid["work_id"].tolist() == frame["work_id"].tolist()
    assert (valid["org"] == "Stedin").all()
    assert valid["start_date"].astype(str).tolist() == ["2027-01-01"] * len(cases)
    assert valid.geometry.equals(frame.geometry)
    mixes = [w for w in result.warnings if "mixes" in w]
    if case == "mixed":
        assert mixes == [
            "plan.csv: cost_eur mixes decimal commas such as '1.234,50' and decimal points "
            "such as '1,234.50': a cell that fits one style only is read in it, one that fits "
            "both is read as empty — declare decimal in a mapping file if a style is wrong"
        ]
    else:
        assert mixes == []
    fallback = sorted(str(c).strip() for c, e in cases if e == FALLBACK)
    warned = sorted(w.split("'")[1] for w in result.warnings if "[values.cost_eur]" in w)
    assert warned == fallback
    either = [str(c) for c, e in cases if e == EITHER]
    ambiguous = [w for w in result.warnings if "ambiguous" in w]
    assert ambiguous == ([_ambiguous_warning(either, case == "mixed")] if either else [])


def test_the_rows_order_never_changes_a_number():
    cells = [c for c, _ in CASES["european"]]
    forward = schema.validate(_frame(cells)).valid
    backward = schema.validate(_frame(cells[::-1])).valid
    a = dict(zip(forward["work_id"], forward["cost_eur"], strict=True))
    b = dict(zip(backward["work_id"], backward["cost_eur"], strict=True))
    n = len(cells)
    for i in range(n):
        assert a[f"W{i}"] == b[f"W{n - 1 - i}"] or (
            math.isnan(a[f"W{i}"]) and math.isnan(b[f"W{n - 1 - i}"])
        )


def test_native_numbers_are_kept_as_they_are_even_among_texts():
    frame = _frame([None] * 4)
    frame["cost_eur"] = pd.Series([1234.5, 98000, "98.000", "1.234,50"], dtype=object)
    valid = schema.validate(frame).valid
    # the texts show a decimal comma; the numbers are numbers, not "1234.5" text
    assert valid["cost_eur"].tolist() == [1234.5, 98000.0, 98000.0, 1234.5]
    floats = _frame([None] * 2)
    floats["cost_eur"] = [98.0, 1234.5]
    assert schema.validate(floats).valid["cost_eur"].tolist() == [98.0, 1234.5]


# --- the style declared -----------------------------------------------------------------

DECLARED: dict[str, list[tuple[str | None, float | str | None]]] = {
    ",": [
        ("98.000", 98000.0),
        ("1,5", 1.5),
        ("1.500", 1500.0),
        ("12.5", EITHER),  # only a decimal point reads it
        ("1,234.50", EITHER),
        ("7", 7.0),
    ],
    ".": [("98.000", 98.0), ("1,500", 1500.0), ("1.234,50", EITHER), ("0.5", 0.5)],
}
#: What the other style reads in a cell the declared one does not read.
OTHER = {"12.5": ("12.5",), "1,234.50": ("1234.5",), "1.234,50": ("1234.5",)}
NAMES = {",": "decimal comma", ".": "decimal point"}


def _declared_warning(mark: str, cells: Iterable[str], file: str = "plan.csv") -> str:
    other = "." if mark == "," else ","
    return (
        f"{file}: cost_eur {_listed(cells, OTHER)} not written with the declared {NAMES[mark]} "
        f"(as read with a {NAMES[other]}) — read as empty, see cost_eur_raw; correct the cells "
        "or the mapping's decimal"
    )


def _declared_costs(cases: list[tuple[str | None, float | str | None]]) -> dict[str, float]:
    return {f"W{i}": math.nan if e == EITHER else e for i, (_, e) in enumerate(cases)}


def _same(costs: dict[str, float], expected: dict[str, float]) -> bool:
    """Equal numbers, NaN equal to NaN."""
    return costs.keys() == expected.keys() and all(
        costs[k] == expected[k] or (math.isnan(costs[k]) and math.isnan(expected[k])) for k in costs
    )


@pytest.mark.parametrize("mark", list(DECLARED))
def test_a_declared_decimal_mark_reads_every_cell_and_warns_about_the_other_style(mark):
    cases = DECLARED[mark]
    result = schema.validate(_frame([c for c, _ in cases]), source="plan.csv", decimal=mark)
    assert len(result.rejected) == 0
    costs = dict(zip(result.valid["work_id"], result.valid["cost_eur"], strict=True))
    assert _same(costs, _declared_costs(cases))
    raw = dict(zip(result.valid["work_id"], result.valid["cost_eur_raw"], strict=True))
    assert {k: v for k, v in raw.items() if isinstance(v, str)} == {
        f"W{i}": c for i, (c, e) in enumerate(cases) if e == EITHER
    }
    wrong = [str(c) for c, e in cases if e == EITHER]
    assert result.warnings == [_declared_warning(mark, wrong)]


def test_a_declaration_per_column_leaves_the_other_columns_to_their_cells():
    frame = _frame(["98.000", "1.500"])
    frame["depth_min"] = ["1.5", "0.8"]  # a decimal point, shown by the cells
    result = schema.validate(frame, decimal={"cost_eur": ","})
    assert result.valid["cost_eur"].tolist() == [98000.0, 1500.0]
    assert result.valid["depth_min"].tolist() == [1.5, 0.8]


def _csv(tmp_path, cells: list[str | None], name: str = "plan.csv"):
    frame = _frame(cells)
    frame = pd.DataFrame(frame.drop(columns="geometry")).assign(geometry=frame.geometry.to_wkt())
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_read_works_with_a_mapping_file_that_declares_the_decimal_comma(tmp_path):
    cases = DECLARED[","]
    path = _csv(tmp_path, [c for c, _ in cases])
    mapping = tmp_path / "m.toml"
    mapping.write_text('crs = "EPSG:28992"\ndecimal = ","\n')
    result = read_works(path, mapping=mapping)
    costs = dict(zip(result.works["work_id"], result.works["cost_eur"], strict=True))
    assert _same(costs, _declared_costs(cases))
    assert len(result.rejected) == 0
    assert result.warnings == [_declared_warning(",", ["12.5", "1,234.50"])]


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", ["european", "english", "mixed", "ambiguous", "not numbers"])
def test_ims_geo_import_stores_each_number_as_written_and_keeps_every_work(tmp_path, case):
    cases = CASES[case]
    path = _csv(tmp_path, [c for c, _ in cases])
    store, rejects = tmp_path / "store.gpkg", tmp_path / "rejects.csv"
    code, output = _cli(
        "import", path, "--crs", "EPSG:28992", "--store", store, "--rejects", rejects
    )
    assert code == 0, output
    with open_store(store) as opened:
        stored = opened.works()
    costs = dict(zip(stored["work_id"], stored["cost_eur"].astype("float64"), strict=True))
    assert pd.read_csv(rejects).empty  # no row rejected
    raw = dict(
        zip(stored["work_id"], stored.get("cost_eur_raw", [None] * len(stored)), strict=True)
    )
    _check(cases, costs, raw)
    either = [str(c) for c, e in cases if e == EITHER]
    warning = f"Warning: {_ambiguous_warning(either, case == 'mixed')}"
    assert (warning in output.splitlines()) == bool(either), output


def test_ims_geo_import_with_a_mapping_that_declares_the_decimal_comma(tmp_path):
    cases = DECLARED[","]
    path = _csv(tmp_path, [c for c, _ in cases])
    mapping = tmp_path / "m.toml"
    mapping.write_text('[decimal]\ncost_eur = ","\n')
    store, rejects = tmp_path / "store.gpkg", tmp_path / "rejects.csv"
    code, output = _cli(
        "import", path, "--crs", "EPSG:28992", "--mapping", mapping, "--store", store,
        "--rejects", rejects,
    )  # fmt: skip
    assert code == 0, output
    with open_store(store) as opened:
        stored = opened.works()
    costs = dict(zip(stored["work_id"], stored["cost_eur"].astype("float64"), strict=True))
    assert _same(costs, _declared_costs(cases))
    assert pd.read_csv(rejects).empty  # no row rejected
    raw = dict(zip(stored["work_id"], stored["cost_eur_raw"], strict=True))
    assert {k: v for k, v in raw.items() if isinstance(v, str)} == {"W3": "12.5", "W4": "1,234.50"}
    assert f"Warning: {_declared_warning(',', ['12.5', '1,234.50'])}" in output.splitlines()


# --- the declaration in a mapping file -------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('decimal = ";"', "decimal = ';' is not a decimal mark; use ',' or '.'"),
        ('decimal = "comma"', "decimal = 'comma' is not a decimal mark"),
        ('[decimal]\ntitle = ","', "[decimal] 'title' is not a number column; use one of"),
        ("[decimal]\ncost_eur = 1", "[decimal] cost_eur = 1 is not a decimal mark"),
    ],
)
def test_a_wrong_decimal_declaration_names_the_key_and_the_file(text, message):
    with pytest.raises(RulesError, match="^m.toml: .*") as caught:
        loads_mapping(text, source="m.toml")
    assert message in str(caught.value)


@pytest.mark.parametrize("decimal", [",", ".", {"cost_eur": ",", "depth_max": "."}])
def test_the_decimal_declaration_is_written_and_read_back(decimal):
    mapping = Mapping(decimal=decimal, date_format="%d.%m.%Y")
    again = loads_mapping(dump_toml(to_dict(mapping)))
    assert again.decimal == decimal
    assert again.date_format == ("%d.%m.%Y",)


def test_a_declared_mark_outside_a_mapping_is_refused_by_validate():
    with pytest.raises(ValueError, match="decimal ';' for cost_eur"):
        schema.validate(_frame(["1"]), decimal=";")


def test_each_ambiguous_cell_of_a_large_column_is_kept_empty_and_warned_about_once():
    # 10,000 ambiguous cells among 20,000: every work kept, the ambiguous ones empty
    cells = np.where(np.arange(20_000) % 2 == 0, "98.000", "250").tolist()
    result = schema.validate(_frame(cells), source="plan.csv")
    assert len(result.rejected) == 0 and len(result.valid) == 20_000
    even = np.arange(20_000) % 2 == 0
    assert result.valid["cost_eur"][even].isna().all()
    assert (result.valid["cost_eur"][~even] == 250.0).all()
    assert (result.valid["cost_eur_raw"][even] == "98.000").all()
    assert result.valid["cost_eur_raw"][~even].isna().all()
    assert result.warnings == [_ambiguous_warning(["98.000"] * 10_000, mixed=False)]


def test_past_ten_ambiguous_values_the_rest_of_the_column_is_summed_up():
    # the k-th value (1.001 ... 1.012; 1.001 is 1.001 or 1001) written k times, 78 rows
    values = [f"1.{k:03d}" for k in range(1, 13)]
    cells = [v for k, v in enumerate(values, start=1) for _ in range(k)]
    result = schema.validate(_frame(cells), source="plan.csv")
    assert len(result.valid) == len(cells) and result.valid["cost_eur"].isna().all()
    readings = {v: (f"1.{int(v[2:]):03d}".rstrip("0"), str(1000 + int(v[2:]))) for v in values}
    listed = ", ".join(
        f"'{v}' = {readings[v][0]} | {readings[v][1]} ({k} rows)"
        for k, v in sorted(((k, v) for k, v in enumerate(values, start=1)), reverse=True)[:10]
    )
    assert result.warnings == [
        f"plan.csv: ambiguous cost_eur {listed}, +2 (3 rows) (with a decimal point | with a "
        "decimal comma), and no cell of the column shows which — read as empty, see "
        f"cost_eur_raw; {FIX}"
    ]
    assert schema.WARNED_VALUES == 10


def test_a_rejected_work_is_not_counted_in_the_warning():
    frame = _frame(["98.000", "98.000", "1,500"])
    frame.loc[1, "end_date"] = "2026-01-01"  # before its start: rejected for that alone
    result = schema.validate(frame, source="plan.csv")
    assert result.rejected[schema.REASON].tolist() == ["end_date before start_date"]
    assert result.warnings == [_ambiguous_warning(["98.000", "1,500"], mixed=False)]


def test_a_suggested_mapping_says_which_number_cells_need_a_declared_style():
    from ims_geo.ingest.suggest import suggest_for_frame

    frame = pd.DataFrame(
        {
            "work_id": ["A", "B", "C", "D"],
            "cost_eur": ["98.000", "1,500", "98.000", "250"],  # no cell shows the style
            "depth_min": ["1,5", "0,8", "1.200", None],  # a decimal comma: 1.200 is 1200
            "geometry": ["POINT (5 52)"] * 4,
        }
    )
    s = suggest_for_frame(frame, name="plan.csv", text_geometry=True)
    assert s.undecided == {"cost_eur": ["98.000", "1,500"]}
    text = s.to_toml()
    assert (
        "# cost_eur: '98.000', '1,500' read differently with a decimal point or comma and the "
        'column shows no one style: add decimal = "," or "." (else they are read as empty and '
        "warned about)"
    ) in text
    assert "depth_min:" not in text
    # what the hint says: once declared, every row is kept with its number
    declared = schema.validate(_frame(frame["cost_eur"].tolist()), decimal=",")
    assert declared.valid["cost_eur"].tolist() == [98000.0, 1.5, 98000.0, 250.0]
