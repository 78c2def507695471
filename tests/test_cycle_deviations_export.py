"""``ims-geo cycle deviations --out``: deviations and works awaiting the plan's update in one file.

A small adopted cycle (the one of :mod:`tests.test_cycle_awaiting`) where
Heat re-imports its work with other dates (a deviation) while Water and Gas
have not yet imported the adopted dates (awaiting the update). The rows the
file must hold are built from the independent model of that module; the file
is written through the real command line and read back as CSV and as XLSX.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ims_geo.store import open_store
from tests.test_cycle_awaiting import ADOPTED, BEFORE, PROJECT, YEAR, adopt, model, plan_of, run

#: Heat's new dates for H1: 4 days after the adopted ones, within the moved limit.
HEAT = ("2030-08-05", "2030-09-04")
#: The deviation columns of the export, in their order, then the two added for the others.
COLUMNS = [
    "org", "work_id", "project", "deviation", "days", "title", "adopted_start", "adopted_end",
    "start", "end", "status", "remark", "reason", "adopted_in", "state", "uploaded_at",
]  # fmt: skip


def expected_rows() -> list[tuple[str, str, str, str, str, int, str, str, str, str]]:
    """(org, work_id, project, deviation, state, days, adopted start/end, start/end) per row.

    Deviations first (only ``late`` here), then the works awaiting the update
    by org and work_id; works on programme are not listed.
    """
    current = {(o, w): (s, e) for o, rows in BEFORE.items() for w, _, s, e, _, _ in rows}
    current[("Heat", "H1")] = HEAT
    states, _ = model(current, {})
    deviating = sorted(k for k, (kind, _) in states.items() if kind not in ("", "awaiting_update"))
    waiting = sorted(k for k, (kind, _) in states.items() if kind == "awaiting_update")
    rows = []
    for key in deviating + waiting:
        kind, days = states[key]
        assert days is not None
        rows.append(
            (
                *key,
                "C001" if key in PROJECT else "",
                "" if kind == "awaiting_update" else kind,
                kind,
                days,
                *ADOPTED[key],
                *current[key],
            )
        )
    return rows


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "cycle.gpkg"
    store = open_store(path)
    adopt(store)
    store.import_plan(plan_of("Heat", {"H1": HEAT}), org="Heat", cycle=YEAR)
    return path


def text(value: object) -> str:
    """A cell as a planner reads it: a date as YYYY-MM-DD, an empty cell as ''."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def as_rows(table: pd.DataFrame) -> list[tuple[object, ...]]:
    cols = ["org", "work_id", "project", "deviation", "state", "days", "adopted_start",
            "adopted_end", "start", "end"]  # fmt: skip
    return [
        (*(text(v) for v in row[:5]), int(row[5]), *(text(v)[:10] for v in row[6:]))
        for row in table.loc[:, cols].itertuples(index=False)
    ]


def test_the_csv_holds_the_deviations_then_the_works_awaiting_the_update(
    store_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "deviations.csv"
    expected = expected_rows()
    assert [r[4] for r in expected] == ["late", "awaiting_update", "awaiting_update"]
    run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(store_path),
        "--out", str(target))  # fmt: skip
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert table.columns.tolist() == COLUMNS
    assert as_rows(table) == expected
    assert table["adopted_in"].tolist() == [str(YEAR)] * len(expected)  # every work adopted then
    late, *waiting = table.to_dict("records")
    assert (
        late["uploaded_at"] == ""
        and late["reason"] == "starts 2030-08-05, adopted 2030-08-01 (+4 days)"
    )
    assert all(r["uploaded_at"] != "" for r in waiting)
    assert waiting[0]["reason"] == (
        "plan not yet updated to the adopted dates: plan 2030-04-01 to 2030-04-10, "
        "adopted 2030-04-20 to 2030-04-29"
    )


def test_the_xlsx_holds_the_same_table_on_one_sheet(store_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "deviations.xlsx"
    run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(store_path),
        "--out", str(target))  # fmt: skip
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["deviations"]
    cells = list(book["deviations"].iter_rows(values_only=True))
    assert list(cells[0]) == COLUMNS
    table = pd.DataFrame(cells[1:], columns=COLUMNS, dtype=object)
    assert as_rows(table) == expected_rows()
    assert isinstance(table.loc[0, "adopted_start"], dt.datetime)  # real Excel dates


def test_with_nothing_deviating_the_file_lists_the_works_awaiting_the_update(
    tmp_path: Path,
) -> None:
    path, target = tmp_path / "cycle.gpkg", tmp_path / "deviations.csv"
    adopt(open_store(path))
    run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(path), "--out", str(target))
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert table.columns.tolist() == COLUMNS
    assert list(zip(table["org"], table["work_id"], table["state"], strict=True)) == [
        ("Gas", "G1", "awaiting_update"), ("Water", "W1", "awaiting_update")
    ]  # fmt: skip


def test_with_every_plan_on_programme_the_file_holds_the_header_only(tmp_path: Path) -> None:
    path, target = tmp_path / "cycle.gpkg", tmp_path / "deviations.csv"
    store = open_store(path)
    adopt(store)
    for org, rows in BEFORE.items():
        dates = {w: ADOPTED[(org, w)] for w, *_ in rows}
        store.import_plan(plan_of(org, dates), org=org, cycle=YEAR)
    states, _ = model(dict(ADOPTED), {})
    assert {kind for kind, _ in states.values()} == {""}  # nothing deviates, nothing awaits
    run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(path), "--out", str(target))
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert table.columns.tolist() == COLUMNS and table.empty
