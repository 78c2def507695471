"""The real ``ims-geo`` command through click's CliRunner, on real files.

Hand-made plans of four organisations in three files and three CRSs:

- A (Gemeente, road resurfacing) line y=0, x 0..100, March 2026        (EPSG:28992 GeoPackage)
- D (KPN, telecom) line y=0, x 200..300, March 2026                     (same GeoPackage)
- B (Waternet, water main) line y=10, x 0..100, June 2026               (EPSG:4326 GeoJSON)
- C (Liander, gas) point (50, 29.5), 15 June - 15 July 2026             (EPSG:4326 CSV with WKT)
  plus one bad row (end before start).

Expected by hand: A-B moratorium (10 m apart, water starts 62 days after the
resurfacing ends); B-C clash (19.5 m, overlapping 15-30 June, gap -15);
A-C are 29.5 m apart and D is 100 m from everything: no other pair.
"""

from __future__ import annotations

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from ims_geo.cli import EXIT_REJECTED, main

X0, Y0 = 121_000.0, 487_000.0  # Amsterdam, RD New


def _line(x1: float, y1: float, x2: float, y2: float) -> shapely.LineString:
    return shapely.LineString([(X0 + x1, Y0 + y1), (X0 + x2, Y0 + y2)])


@pytest.fixture
def plans(tmp_path):
    roads = gpd.GeoDataFrame(
        {
            "work_id": ["A1", "D1"],
            "org": ["Gemeente", "KPN"],
            "title": ["Asfalt Damstraat", "Glasvezel"],
            "discipline": ["road", "telecom"],
            "start_date": pd.to_datetime(["2026-03-01", "2026-03-01"]).date,
            "end_date": pd.to_datetime(["2026-03-31", "2026-03-31"]).date,
        },
        geometry=[_line(0, 0, 100, 0), _line(200, 0, 300, 0)],
        crs=28992,
    )
    water = gpd.GeoDataFrame(
        {
            "work_id": ["B1"],
            "org": ["Waternet"],
            "discipline": ["water"],
            "start_date": ["2026-06-01"],
            "end_date": ["2026-06-30"],
        },
        geometry=[_line(0, 10, 100, 10)],
        crs=28992,
    ).to_crs(4326)
    gas_point = gpd.GeoSeries([shapely.Point(X0 + 50, Y0 + 29.5)], crs=28992).to_crs(4326)[0]
    gas = pd.DataFrame(
        {
            "work_id": ["C1", "C2"],
            "org": ["Liander", "Liander"],
            "title": ["Gasleiding", "Fout"],
            "discipline": ["gas", "gas"],
            "start_date": ["2026-06-15", "2026-09-01"],
            "end_date": ["2026-07-15", "2026-08-01"],
            "geometry": [gas_point.wkt, gas_point.wkt],
        }
    )
    paths = {
        "roads": tmp_path / "roads.gpkg",
        "water": tmp_path / "water.geojson",
        "gas": tmp_path / "gas.csv",
    }
    roads.to_file(paths["roads"], driver="GPKG")
    water.to_file(paths["water"], driver="GeoJSON")
    gas.to_csv(paths["gas"], index=False)
    return paths


def _run(*args: str, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, **kwargs)


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    return {
        (*sorted((f"{r.org_a}:{r.work_id_a}", f"{r.org_b}:{r.work_id_b}")), r.kind)
        for r in frame.itertuples()
    }


EXPECTED = {("Gemeente:A1", "Waternet:B1", "moratorium"), ("Liander:C1", "Waternet:B1", "clash")}


def test_conflicts_csv_from_files_in_three_crs(plans, tmp_path):
    out = tmp_path / "conflicts.csv"
    rejects = tmp_path / "rejects.csv"
    result = _run(
        "conflicts",
        plans["roads"],
        plans["water"],
        plans["gas"],
        "--out",
        out,
        "--rejects",
        rejects,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"work_id_a": str, "work_id_b": str})
    required = [
        "work_id_a",
        "org_a",
        "work_id_b",
        "org_b",
        "kind",
        "severity",
        "distance_m",
        "gap_days",
    ]
    assert set(required) <= set(table.columns)
    assert _pairs(table) == EXPECTED
    assert len(table) == 2
    by_kind = table.set_index("kind")
    assert by_kind.loc["moratorium", "gap_days"] == 62
    assert by_kind.loc["moratorium", "distance_m"] == pytest.approx(10.0, abs=1e-3)
    assert by_kind.loc["clash", "gap_days"] == -15
    assert by_kind.loc["clash", "distance_m"] == pytest.approx(19.5, abs=1e-3)
    rejected = pd.read_csv(rejects, dtype=str)
    assert rejected[["org", "work_id", "title"]].values.tolist() == [["Liander", "C2", "Fout"]]
    assert "end_date before start_date" in rejected["reason"][0]
    assert "1 rejected" in result.stderr or "rejected: 1" in result.stderr.lower()


def test_conflicts_strict_exits_non_zero_but_writes_rejects(plans, tmp_path):
    out = tmp_path / "conflicts.csv"
    rejects = tmp_path / "rejects.csv"
    result = _run(
        "conflicts", plans["gas"], plans["water"], "--out", out, "--rejects", rejects, "--strict"
    )
    assert result.exit_code == EXIT_REJECTED
    assert rejects.exists()
    assert "--strict" in result.stderr


@pytest.mark.parametrize("suffix", [".xlsx", ".geojson", ".gpkg"])
def test_conflicts_other_formats(plans, tmp_path, suffix):
    out = tmp_path / f"conflicts{suffix}"
    result = _run("conflicts", plans["roads"], plans["water"], plans["gas"], "--out", out)
    assert result.exit_code == 0, result.output
    if suffix == ".xlsx":
        ws = openpyxl.load_workbook(out).active
        assert ws.freeze_panes == "A2"
        rows = list(ws.iter_rows(values_only=True))
        table = pd.DataFrame(rows[1:], columns=rows[0])
    else:
        table = pyogrio.read_dataframe(out)
        if suffix == ".geojson":
            assert table.crs.to_epsg() == 4326
    assert _pairs(table) == EXPECTED


def test_conflicts_rules_override_distance(plans, tmp_path):
    out = tmp_path / "c.csv"
    result = _run(
        "conflicts", plans["roads"], plans["water"], plans["gas"], "--out", out, "--distance", "30"
    )
    assert result.exit_code == 0, result.output
    pairs = _pairs(pd.read_csv(out, dtype=str))
    # at 30 m the gas point (29.5 m from the road) is caught too: it starts 76 days after
    # the resurfacing ends, so it is a moratorium (gas excavates)
    assert pairs == EXPECTED | {("Gemeente:A1", "Liander:C1", "moratorium")}


@pytest.mark.parametrize("suffix", [".geojson", ".csv"])
def test_an_empty_answer_in_geojson_is_said_to_have_no_columns(plans, tmp_path, suffix):
    # the roads file alone: its two works are 100 m apart, so no pair
    out = tmp_path / f"c{suffix}"
    result = _run("conflicts", plans["roads"], "--out", out)
    assert result.exit_code == 0, result.output
    assert "0 conflicts (none) written to" in result.stderr
    noted = f"Note: {out} has no columns" in result.stderr
    assert noted == (suffix == ".geojson")
    assert pyogrio.read_info(out)["features"] == 0


def test_conflicts_bad_out_suffix_is_clear(plans, tmp_path):
    result = _run("conflicts", plans["roads"], "--out", tmp_path / "c.txt")
    assert result.exit_code == 2
    assert "unknown file type '.txt'" in result.stderr


def test_import_works_versions_and_export_round_trip(plans, tmp_path):
    store = tmp_path / "store.gpkg"
    result = _run("import", plans["gas"], "--org", "Liander", "--cycle", "2026", "--store", store)
    assert result.exit_code == 0, result.output
    assert "Stored 1 works of Liander as plan version 1" in result.stdout
    assert "end_date before start_date" in result.stdout
    result = _run("import", plans["water"], "--cycle", "2026", "--store", store)
    assert result.exit_code == 0, result.output
    listing = _run("works", "--store", store)
    assert listing.exit_code == 0
    assert "Liander" in listing.stdout and "Waternet" in listing.stdout
    again = _run("import", plans["gas"], "--org", "Liander", "--cycle", "2026", "--store", store)
    assert "plan version 2" in again.stdout
    versions = _run("versions", "--org", "Liander", "--store", store)
    assert [line.split()[:2] for line in versions.stdout.splitlines()[1:3]] == [
        ["Liander", "1"],
        ["Liander", "2"],
    ]
    out = tmp_path / "works.zip"
    assert _run("export", "--out", out, "--store", store).exit_code == 0
    shp = pyogrio.list_layers(out)
    names = sorted(name for name, _ in shp)
    assert names == ["works_lines", "works_points"]


def test_import_strict_stores_nothing(plans, tmp_path):
    store = tmp_path / "store.gpkg"
    result = _run("import", plans["gas"], "--org", "Liander", "--strict", "--store", store)
    assert result.exit_code == EXIT_REJECTED
    assert "nothing stored" in result.stderr
    listing = _run("works", "--store", store)
    assert "Liander" not in listing.stdout


def test_conflicts_from_store(plans, tmp_path):
    store = tmp_path / "store.gpkg"
    roads = gpd.read_file(plans["roads"])
    for org, part in roads.groupby("org"):
        path = tmp_path / f"{org}.gpkg"
        part.to_file(path, driver="GPKG")
        assert _run("import", path, "--org", org, "--store", store).exit_code == 0
    for key in ("water", "gas"):
        assert _run("import", plans[key], "--store", store).exit_code == 0
    out = tmp_path / "c.csv"
    result = _run("conflicts", "--out", out, "--store", store)
    assert result.exit_code == 0, result.output
    assert _pairs(pd.read_csv(out, dtype=str)) == EXPECTED


def test_propose_writes_works_clusters_and_kpis(plans, tmp_path):
    out = tmp_path / "programme.xlsx"
    result = _run(
        "propose", plans["roads"], plans["water"], plans["gas"], "--out", out, "--time-limit", "5"
    )
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert {"works", "clusters", "kpis"} <= set(book.sheetnames)
    rows = list(book["works"].iter_rows(values_only=True))
    works = pd.DataFrame(rows[1:], columns=rows[0])
    assert len(works) == 4
    for col in ("work_id", "org", "start_date", "end_date", "proposed_start", "proposed_end",
                "cluster_id", "exec_order", "shift_days"):  # fmt: skip
        assert col in works.columns
    assert "moratorium" in result.stdout.lower()
    # why its clash count differs from ims-geo conflicts' and the cycle baseline's, in words
    from ims_geo.programme import SEALED_CLASH

    assert SEALED_CLASH in result.stdout.splitlines()


def test_propose_writes_csv_files(plans, tmp_path):
    out = tmp_path / "p.csv"
    result = _run("propose", plans["roads"], plans["water"], "--out", out, "--time-limit", "5")
    assert result.exit_code == 0, result.output
    works = pd.read_csv(out)
    assert {"work_id", "org", "proposed_start", "cluster_id", "move_reason"} <= set(works.columns)
    kpis = pd.read_csv(tmp_path / "p.kpis.csv")
    assert "new moratorium violations" in kpis["kpi"].tolist()
    result = _run("propose", plans["roads"], "--out", tmp_path / "p.geojson")
    assert result.exit_code == 2
    assert "several layers" in result.stderr


def test_demo_builds_the_store_and_works_lists_it(tmp_path):
    import json
    import re

    from conftest import ROOT

    manifest = json.loads((ROOT / "data/demo/manifest.json").read_text(encoding="utf-8"))
    store = tmp_path / "demo.gpkg"
    result = _run("demo", "--store", store)
    assert result.exit_code == 0, result.output
    for entry in manifest["files"]:
        assert f"-> {entry['org']}: plan version 1, {entry['valid']} works" in result.stdout
        assert f"rejected: {entry['rows'] - entry['valid']}" in result.stdout
    listing = _run("works", "--store", store)
    rows = listing.stdout.splitlines()[1:]
    assert len(rows) == len(manifest["files"]) == 6
    for entry in manifest["files"]:
        assert any(re.match(rf"\s*{re.escape(entry['org'])}\s+{entry['valid']}\s", r) for r in rows)
    again = _run("demo", "--store", store)
    assert "already holds works" in again.stdout
    rebuilt = _run("demo", "--store", store, "--force")
    assert rebuilt.exit_code == 0
    assert _run("versions", "--store", store).stdout.count(" 1 ") >= 6


@pytest.mark.postgis
def test_shared_postgis_store_end_to_end(plans, tmp_path, postgis_url):
    for key in ("water", "gas"):
        result = _run("import", plans[key], "--cycle", "2026", "--store", postgis_url)
        assert result.exit_code == 0, result.output
    roads = gpd.read_file(plans["roads"])
    for org, part in roads.groupby("org"):
        path = tmp_path / f"{org}.gpkg"
        part.to_file(path, driver="GPKG")
        assert _run("import", path, "--org", org, "--store", postgis_url).exit_code == 0
    listing = _run("works", "--store", postgis_url)
    assert all(org in listing.stdout for org in ("Gemeente", "KPN", "Liander", "Waternet"))
    out = tmp_path / "c.csv"
    result = _run("conflicts", "--out", out, "--store", postgis_url)
    assert result.exit_code == 0, result.output
    assert _pairs(pd.read_csv(out, dtype=str)) == EXPECTED


def test_propose_passes_budgets_costs_and_cells(plans, tmp_path):
    from conftest import ROOT

    budgets = tmp_path / "budgets.csv"
    budgets.write_text("org,year,budget_eur\nNobody,2026,100\n", encoding="utf-8")
    out = tmp_path / "programme.gpkg"
    result = _run(
        "propose", plans["roads"], plans["water"], plans["gas"], "--out", out,
        "--budgets", budgets, "--costs", ROOT / "data/costs.example.toml",
        "--max-parallel", "1", "--cell-size", "500", "--time-limit", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "budgets name organisations without works, ignored: Nobody" in result.stderr
    assert "cells over max_parallel" in result.stdout
    assert {"works", "clusters", "kpis"} <= {name for name, _ in pyogrio.list_layers(out)}


def test_propose_bad_budgets_file_is_a_clear_error(plans, tmp_path):
    budgets = tmp_path / "budgets.csv"
    budgets.write_text("org,year,budget_eur\nWaternet,20x6,100\n", encoding="utf-8")
    result = _run("propose", plans["water"], "--out", tmp_path / "p.gpkg", "--budgets", budgets)
    assert result.exit_code == 2
    assert "budgets.csv" in result.stderr and "line 2" in result.stderr


def test_local_files_have_larger_but_finite_size_caps():
    from ims_geo.cli import _local_limits
    from ims_geo.ingest import Limits

    local, upload = _local_limits(), Limits()
    assert float("inf") > local.max_upload_bytes > upload.max_upload_bytes
    assert float("inf") > local.max_expanded_bytes > upload.max_expanded_bytes
    assert _local_limits(["max_memory_bytes=2G", "max-rows=10"]).max_memory_bytes == 2 * 2**30
    assert _local_limits(["max_rows=10"]).max_rows == 10
    # the checks against zip bombs stay
    assert local.max_ratio == upload.max_ratio
    assert local.max_members == upload.max_members


def test_org_per_input_file_without_org_column(plans, tmp_path):
    paths = []
    for key in ("roads", "water", "gas"):
        frame = gpd.read_file(plans[key]) if key != "gas" else pd.read_csv(plans[key], dtype=str)
        if key == "roads":
            frame = frame[frame["org"] == "Gemeente"]
        frame = frame.drop(columns="org")
        path = tmp_path / f"noorg_{key}{plans[key].suffix}"
        if key == "gas":
            frame.to_csv(path, index=False)
        else:
            frame.to_file(path)
        paths.append(path)
    out = tmp_path / "c.csv"
    args = ["conflicts", *paths, "--out", out, "--org", "Gemeente", "--org", "Waternet"]
    result = _run(*args, "--org", "Liander")
    assert result.exit_code == 0, result.output
    assert _pairs(pd.read_csv(out, dtype=str)) == EXPECTED
    wrong = _run(*args)
    assert wrong.exit_code == 2
    assert "--org given 2 times for 3 files" in wrong.stderr
    # one --org for all files: every work is Gemeente's, so no pair of organisations
    same = _run("conflicts", *paths, "--out", out, "--org", "Gemeente")
    assert same.exit_code == 0, same.output
    assert len(pd.read_csv(out)) == 0


def test_org_without_input_files_is_refused(tmp_path):
    result = _run(
        "conflicts", "--out", tmp_path / "c.csv", "--org", "X", "--store", tmp_path / "s.gpkg"
    )
    assert result.exit_code == 2
    assert "--org names the organisation of INPUT files" in result.stderr


def test_compare_two_plan_versions(plans, tmp_path):
    store = tmp_path / "store.gpkg"
    first = gpd.read_file(plans["water"])
    second = first.copy()
    second["start_date"] = ["2026-06-11"]  # moved 10 days later
    second["end_date"] = ["2026-07-10"]
    added = first.assign(work_id=["B2"])
    v1, v2 = tmp_path / "v1.geojson", tmp_path / "v2.geojson"
    first.to_file(v1)
    pd.concat([second, added], ignore_index=True).pipe(gpd.GeoDataFrame, crs=first.crs).to_file(v2)
    assert _run("import", v1, "--store", store).exit_code == 0
    assert _run("import", v2, "--store", store).exit_code == 0
    out = tmp_path / "changes.csv"
    result = _run("compare", "Waternet", "1", "2", "--out", out, "--store", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "1 added, 1 moved"
    changes = pd.read_csv(out, dtype={"work_id": str})
    assert changes[["work_id", "change"]].values.tolist() == [["B2", "added"], ["B1", "moved"]]
    assert changes.set_index("work_id").loc["B1", "shift_days"] == 10
    wrong = _run("compare", "Liander", "1", "2", "--store", store)
    assert wrong.exit_code == 2
    assert wrong.stderr == (
        f"Error: no plans of 'Liander' in {store}. Known organisations: Waternet\n"
    )
    missing = _run("compare", "Waternet", "1", "3", "--store", store)
    assert missing.exit_code == 2
    assert missing.stderr == (
        "Error: 'Waternet' has no plan version 3 (its versions: 1, 2); "
        "see ims-geo versions --org Waternet\n"
    )


# --- importing plans: several organisations, refusals, versions, restore ------------------
def _plan_file(path, rows, org_column=True):
    """A GeoPackage plan (RD New) from (org, work_id, start, end) rows, one line each."""
    frame = gpd.GeoDataFrame(
        {
            "work_id": [r[1] for r in rows],
            "org": [r[0] for r in rows],
            "discipline": "water",
            "start_date": [r[2] for r in rows],
            "end_date": [r[3] for r in rows],
        },
        geometry=[_line(20 * i, 0, 20 * i + 10, 0) for i in range(len(rows))],
        crs=28992,
    )
    (frame if org_column else frame.drop(columns="org")).to_file(path, driver="GPKG")
    return path


def _stored(store):
    """{org: (version, sorted work ids)} of the store's current plans."""
    from ims_geo.store import open_store

    with open_store(store) as opened:
        works = opened.works()
        current = opened.plan_versions().query("is_current")
    return {
        row.org: (row.version, sorted(works.loc[works["org"] == row.org, "work_id"]))
        for row in current.itertuples()
    }


OK = ("2026-03-01", "2026-03-31")
BACKWARDS = ("2026-05-01", "2026-04-01")


def test_import_of_a_file_of_three_organisations_stores_a_version_each(tmp_path):
    store = tmp_path / "store.gpkg"
    feed = _plan_file(tmp_path / "feed.gpkg", [
        ("Gemeente", "G1", *OK), ("KPN", "K1", *OK), ("Gemeente", "G2", *OK),
        ("KPN", "K2", *BACKWARDS), ("Waternet", "W1", *OK), ("", "X1", *OK),
    ])  # fmt: skip
    result = _run("import", feed, "--cycle", "2026", "--store", store)
    assert result.exit_code == 0, result.output
    report = result.stdout.splitlines()
    start = report.index(
        f"Stored the plans of 3 organisations (cycle 2026) in {store}, in one transaction:"
    )
    assert [line.split() for line in report[start + 1 : start + 5]] == [
        ["organisation", "works", "rejected", "version"],
        ["Gemeente", "2", "0", "1"],
        ["KPN", "1", "1", "1"],
        ["Waternet", "1", "0", "1"],
    ]
    assert report[start + 5] == (
        "1 rejected rows name no organisation: reported above, kept with no plan "
        "(write them to a file with --rejects)"
    )
    assert _stored(store) == {
        "Gemeente": (1, ["G1", "G2"]), "KPN": (1, ["K1"]), "Waternet": (1, ["W1"]),
    }  # fmt: skip

    # --org takes one organisation's rows; the others are reported, not stored
    update = _plan_file(tmp_path / "update.gpkg", [
        ("Gemeente", "G1", *OK), ("KPN", "K1", *OK), ("KPN", "K3", *OK), ("Waternet", "W9", *OK),
    ])  # fmt: skip
    result = _run("import", update, "--org", "KPN", "--cycle", "2026", "--store", store)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-4:] == [
        f"Stored 2 works of KPN as plan version 2 (cycle 2026) in {store}",
        "Left out (not stored): 2 other organisation(s) of the file; import them without --org:",
        "  Gemeente: 1 works, 0 rejected",
        "  Waternet: 1 works, 0 rejected",
    ]
    assert _stored(store) == {
        "Gemeente": (1, ["G1", "G2"]), "KPN": (2, ["K1", "K3"]), "Waternet": (1, ["W1"]),
    }  # fmt: skip


def test_import_refuses_an_empty_or_unrelated_plan_and_keeps_the_store(tmp_path):
    store = tmp_path / "store.gpkg"
    water = [("Helsinki Water", f"HW-{i}", *OK) for i in range(1, 13)]
    assert _run("import", _plan_file(tmp_path / "hw.gpkg", water), "--store", store).exit_code == 0
    before = _stored(store)
    assert before == {"Helsinki Water": (1, sorted(f"HW-{i}" for i in range(1, 13)))}

    # every date fails: 0 accepted works
    broken = _plan_file(tmp_path / "broken.gpkg", [("Helsinki Water", "HW-1", *BACKWARDS)])
    result = _run("import", broken, "--store", store)
    assert result.exit_code == 2
    assert "the new plan of 'Helsinki Water' has no accepted works (1 rows rejected" in (
        result.stderr
    )
    assert "empty its current plan (version 1, 12 works)" in result.stderr
    assert result.stderr.endswith("ims-geo import --allow-empty\n")
    assert _stored(store) == before

    # another organisation's file under the wrong --org
    fibre = [(None, f"NF-{i}", *OK) for i in range(1, 5)]
    foreign = _plan_file(tmp_path / "fibre.gpkg", fibre, org_column=False)
    result = _run("import", foreign, "--org", "Helsinki Water", "--store", store)
    assert result.exit_code == 2
    assert (
        "the new plan of 'Helsinki Water' (4 works, ids such as 'NF-1', 'NF-2', 'NF-3', ...) "
        "shares no work_id with its current plan (version 1, 12 works, ids such as 'HW-1', "
        "'HW-2', 'HW-3', ...): that looks like another organisation's file"
    ) in result.stderr
    assert "ims-geo restore 'Helsinki Water' 1 brings the current plan back" in result.stderr
    assert _stored(store) == before

    # the rows of another organisation only, under --org
    other = _plan_file(tmp_path / "other.gpkg", [("Nordic Fibre", "NF-1", *OK)])
    result = _run("import", other, "--org", "Helsinki Water", "--store", store)
    assert result.exit_code == 2
    assert "rows of other organisations only: Nordic Fibre (1 rows)" in result.stderr
    assert _stored(store) == before

    # said on purpose: stored
    result = _run("import", foreign, "--org", "Helsinki Water", "--replace", "--store", store)
    assert result.exit_code == 0, result.output
    assert _stored(store) == {"Helsinki Water": (2, ["NF-1", "NF-2", "NF-3", "NF-4"])}
    result = _run("import", broken, "--allow-empty", "--store", store)
    assert result.exit_code == 0, result.output
    assert "Stored 0 works of Helsinki Water as plan version 3" in result.stdout
    assert _stored(store) == {"Helsinki Water": (3, [])}


def test_versions_restore_and_compare_name_versions_per_organisation(tmp_path):
    store = tmp_path / "store.gpkg"
    first = [("Helsinki Water", f"HW-{i}", *OK) for i in range(1, 4)]
    second = [("Helsinki Water", "HW-1", *OK), ("Helsinki Water", "HW-4", *OK)]
    for i, rows in enumerate((first, second)):
        path = _plan_file(tmp_path / f"v{i}.gpkg", rows)
        assert _run("import", path, "--cycle", "2026", "--store", store).exit_code == 0
    gas = _plan_file(tmp_path / "gas.gpkg", [("Gasum", "G1", *OK)])
    assert _run("import", gas, "--cycle", "2027", "--store", store).exit_code == 0

    listing = _run("versions", "--store", store)
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert lines[0].split() == [
        "org", "version", "cycle", "current", "uploaded", "(UTC)", "works", "rejected", "source",
    ]  # fmt: skip
    rows = [line.split() for line in lines[1:4]]
    assert [r[:3] for r in rows] == [["Gasum", "1", "2027"], ["Helsinki", "Water", "1"],
                                     ["Helsinki", "Water", "2"]]  # fmt: skip
    assert [r[-3:] for r in rows] == [["1", "0", "gas.gpkg"], ["3", "0", "v0.gpkg"],
                                      ["2", "0", "v1.gpkg"]]  # fmt: skip
    assert lines[-2:] == [
        "What changed: ims-geo compare 'Helsinki Water' 1 2",
        "Make an earlier version current again: ims-geo restore 'Helsinki Water' 1",
    ]
    only = _run("versions", "--org", "Gasum", "--store", store)
    assert len(only.stdout.splitlines()) == 2  # header and one version, no hint
    unknown = _run("versions", "--org", "helsinki water", "--store", store)
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        f"Error: no plans of 'helsinki water' in {store} (did you mean 'Helsinki Water'?). "
        "Known organisations: Gasum, Helsinki Water\n"
    )

    restored = _run("restore", "Helsinki Water", "1", "--store", store)
    assert restored.exit_code == 0, restored.output
    assert restored.stdout.splitlines() == [
        f"Restored version 1 of Helsinki Water as plan version 3 (cycle 2026): 3 works, "
        f"0 rejected rows, in {store}",
        "Undo: ims-geo restore 'Helsinki Water' 2",
    ]
    assert _stored(store) == {
        "Gasum": (1, ["G1"]), "Helsinki Water": (3, ["HW-1", "HW-2", "HW-3"]),
    }  # fmt: skip
    same = _run("compare", "Helsinki Water", "1", "3", "--store", store)
    assert same.stdout == "Plan versions 1 and 3 of Helsinki Water hold the same works.\n"
    changed = _run("compare", "Helsinki Water", "2", "3", "--store", store)
    assert changed.stdout.splitlines()[0] == "2 added, 1 dropped"
    again = _run("restore", "Helsinki Water", "3", "--store", store)
    assert again.exit_code == 2
    assert "version 3 is already the current plan of 'Helsinki Water'" in again.stderr
    assert _run("restore", "Nobody", "1", "--store", store).exit_code == 2


def test_conflicts_says_how_many_works_took_no_part_and_why(plans, tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "work_id": ["A1", "A2", "B1", "B2", "B3", "B4"],
            "org": ["Gemeente", "Gemeente", "Waternet", "Waternet", "Waternet", "Waternet"],
            "discipline": ["road", "road", "water", "water", "water", "water"],
            "status": ["planned", "done", "cancelled", "done", "planned", "planned"],
            "emergency": ["", "", "", "", "yes", ""],
            "start_date": ["2026-03-01"] * 6,
            "end_date": ["2026-03-31"] * 6,
        },
        geometry=[_line(0, 0, 100, 0)] * 6,
        crs=28992,
    )
    path = tmp_path / "statuses.gpkg"
    frame.to_file(path, driver="GPKG")
    result = _run("conflicts", path, "--out", tmp_path / "c.csv")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == (
        "3 of 6 works took no part: 1 exempt by column emergency, 1 status cancelled, "
        "1 status done; only as a protected surface: 1 status done, a finished resurfacing."
    )
    table = pd.read_csv(tmp_path / "c.csv", dtype=str)
    assert _pairs(table) == {("Gemeente:A1", "Waternet:B4", "clash")}
    every = _run("conflicts", plans["roads"], "--out", tmp_path / "d.csv")
    assert every.stderr.splitlines()[-1] == "All 2 works took part."
