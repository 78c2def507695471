"""Numbers as the planner wrote them: each number column read in one decimal style, never guessed.

Every case is a small table of cells checked by hand: the number the cell
must be, or ``REJECT`` (its number depends on the style: the row is
rejected with both readings named) or ``FALLBACK`` (no number in any style:
the work is kept, the cost left empty, the raw text kept and warned about).
"""

from __future__ import annotations

import math

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

REJECT = "reject"
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
    "ambiguous": [("98.000", REJECT), ("1,500", REJECT), ("250", 250.0)],
    "mixed": [
        ("1.234,50", 1234.5),  # only a decimal comma reads it
        ("1,234.50", 1234.5),  # only a decimal point reads it
        ("98.000", REJECT),  # reads 98 or 98000: the column shows both styles
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
#: The two readings named in the reason of each rejected cell: (decimal point, decimal comma).
READINGS = {"98.000": ("98", "98000"), "1,500": ("1500", "1.5")}


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
    reasons: dict[str, str],
    raw: dict[str, str | None],
    mixed: bool = False,
) -> None:
    """The works and rejected rows (by work_id) against the hand-checked table."""
    for i, (cell, expected) in enumerate(cases):
        key = f"W{i}"
        if expected == REJECT:
            assert key not in costs, cell
            point, comma = READINGS[str(cell)]
            why = "the column shows both styles" if mixed else "no cell of the column shows which"
            assert reasons[key] == (
                f"ambiguous cost_eur '{cell}': '{point}' with a decimal point or '{comma}' with "
                f"a decimal comma, and {why} — write it without a thousands separator or "
                'declare decimal = "," or "." in a mapping file'
            )
            continue
        assert key not in reasons, (cell, reasons.get(key))
        if expected == FALLBACK:
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
    reasons = dict(zip(rejected["work_id"], rejected[schema.REASON], strict=True))
    _check(cases, costs, reasons, raw, mixed=case == "mixed")
    assert len(valid) + len(rejected) == len(cases)
    mixes = [w for w in result.warnings if "mixes" in w]
    if case == "mixed":
        assert mixes == [
            "plan.csv: cost_eur mixes decimal commas such as '1.234,50' and decimal points "
            "such as '1,234.50': a cell that fits one style only is read in it, one that fits "
            "both is rejected — declare decimal in a mapping file if a style is wrong"
        ]
    else:
        assert mixes == []
    fallback = sorted(str(c).strip() for c, e in cases if e == FALLBACK)
    warned = sorted(w.split("'")[1] for w in result.warnings if "cost_eur '" in w)
    assert warned == fallback


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
        ("12.5", REJECT),  # only a decimal point reads it
        ("1,234.50", REJECT),
        ("7", 7.0),
    ],
    ".": [("98.000", 98.0), ("1,500", 1500.0), ("1.234,50", REJECT), ("0.5", 0.5)],
}
#: What the other style reads in a cell refused by the declared one.
OTHER = {"12.5": "12.5", "1,234.50": "1234.5", "1.234,50": "1234.5"}
NAMES = {",": "decimal comma", ".": "decimal point"}


@pytest.mark.parametrize("mark", list(DECLARED))
def test_a_declared_decimal_mark_reads_every_cell_and_refuses_the_other_style(mark):
    cases = DECLARED[mark]
    result = schema.validate(_frame([c for c, _ in cases]), decimal=mark)
    costs = dict(zip(result.valid["work_id"], result.valid["cost_eur"], strict=True))
    reasons = dict(zip(result.rejected["work_id"], result.rejected[schema.REASON], strict=True))
    other = "." if mark == "," else ","
    for i, (cell, expected) in enumerate(cases):
        if expected == REJECT:
            assert reasons[f"W{i}"] == (
                f"cost_eur '{cell}' is not written with the declared {NAMES[mark]}, with a "
                f"{NAMES[other]} it reads '{OTHER[str(cell)]}' — correct the cell or the "
                "mapping's decimal"
            )
        else:
            assert costs[f"W{i}"] == expected
    assert len(result.valid) + len(result.rejected) == len(cases)
    assert not [w for w in result.warnings if "mixes" in w]


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
    assert costs == {f"W{i}": e for i, (_, e) in enumerate(cases) if e != REJECT}
    assert sorted(result.rejected["work_id"]) == sorted(
        f"W{i}" for i, (_, e) in enumerate(cases) if e == REJECT
    )


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("case", ["european", "english", "mixed", "ambiguous", "not numbers"])
def test_ims_geo_import_stores_each_number_as_written_and_names_each_rejected_row(tmp_path, case):
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
    reasons: dict[str, str] = {}
    if any(e == REJECT for _, e in cases):
        table = pd.read_csv(rejects, dtype=str, keep_default_na=False)
        reasons = dict(zip(table["work_id"], table[schema.REASON], strict=True))
        rows = dict(zip(table["work_id"], table[schema.SOURCE_ROW].astype(int), strict=True))
        assert rows == {k: int(k[1:]) + 1 for k in reasons}
    raw = dict(
        zip(stored["work_id"], stored.get("cost_eur_raw", [None] * len(stored)), strict=True)
    )
    _check(cases, costs, reasons, raw, mixed=case == "mixed")
    assert len(costs) + len(reasons) == len(cases)


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
    assert costs == {f"W{i}": e for i, (_, e) in enumerate(cases) if e != REJECT}
    table = pd.read_csv(rejects, dtype=str)
    assert dict(zip(table["work_id"], table["cost_eur"], strict=True)) == {
        f"W{i}": c for i, (c, e) in enumerate(cases) if e == REJECT
    }
    assert table[schema.REASON].str.contains("declared decimal comma").all()


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


def test_each_ambiguous_cell_of_a_large_column_is_rejected_and_the_rest_kept():
    # 10,000 ambiguous cells among 20,000: each row rejected, the plain ones kept
    cells = np.where(np.arange(20_000) % 2 == 0, "98.000", "250").tolist()
    result = schema.validate(_frame(cells))
    assert len(result.rejected) == 10_000
    assert set(result.rejected["cost_eur"]) == {"98.000"}
    assert (result.valid["cost_eur"] == 250.0).all()


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
        'column shows no one style: add decimal = "," or "." (else their rows are rejected)'
    ) in text
    assert "depth_min:" not in text
    # what the hint says: once declared, every row is kept with its number
    declared = schema.validate(_frame(frame["cost_eur"].tolist()), decimal=",")
    assert declared.valid["cost_eur"].tolist() == [98000.0, 1.5, 98000.0, 250.0]
