"""The planning-cycle commands through click's CliRunner on a real GeoPackage store."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner

from ims_geo import cycle, export
from ims_geo.cli import main
from ims_geo.store import open_store
from tests.test_cycle import PLANS, RD, SAVINGS, YEAR, build, hand_programme, line


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "cli.gpkg"
    build(path)
    return path


@pytest.fixture
def store_path(scenario: Path, tmp_path: Path) -> str:
    copy = tmp_path / "cli.gpkg"
    shutil.copyfile(scenario, copy)
    return str(copy)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_targets_set_print_custom_and_typo(store_path: str, tmp_path: Path) -> None:
    code, out, _ = run("cycle", "targets", "--cycle", "2027", "--store", store_path)
    assert code == 0 and "combined_share" in out and "moratorium_violations" in out
    toml = tmp_path / "targets.toml"
    toml.write_text("combined_share = 0.6\nsavings_eur = 50000\n", encoding="utf-8")
    code, out, _ = run("cycle", "targets", "--cycle", "2027", "--from", str(toml),
                       "--set", "max_disruption_days=40", "--store", store_path)  # fmt: skip
    assert code == 0
    table = cycle.targets(open_store(store_path), YEAR).set_index("kpi")["target"]
    assert (table["combined_share"], table["savings_eur"], table["max_disruption_days"]) == (
        0.6, 50_000.0, 40.0)  # fmt: skip
    code, _, err = run("cycle", "targets", "--cycle", "2027", "--set", "trees=5",
                       "--store", store_path)  # fmt: skip
    assert code == 2
    assert "unknown KPI 'trees'" in err and "combined_share, moratorium_violations" in err
    assert "Traceback" not in err
    code, out, _ = run("cycle", "targets", "--cycle", "2027", "--set", "trees=5", "--custom",
                       "--store", store_path)  # fmt: skip
    assert code == 0 and "trees" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[targets]\ncombined_shar = 0.6\n", encoding="utf-8")
    code, _, err = run("cycle", "targets", "--cycle", "2027", "--from", str(bad),
                       "--store", store_path)  # fmt: skip
    assert code == 2 and f"{bad}: unknown KPI 'combined_shar' (did you mean combined_share?)" in err
    code, _, err = run("cycle", "targets", "--cycle", "2027", "--set", "oops",
                       "--store", store_path)  # fmt: skip
    assert code == 2 and "NAME=VALUE" in err


def test_adopt_a_programme_file_then_progress_status_and_moratoria(
    store_path: str, tmp_path: Path
) -> None:
    store = open_store(store_path)
    programme = hand_programme(store)
    clusters = pd.DataFrame({"cluster_id": list(SAVINGS), "savings_eur": list(SAVINGS.values())})
    path = tmp_path / "programme.gpkg"
    export.write_layers({"works": programme, "clusters": clusters}, path)
    code, out, err = run("cycle", "adopt", "--cycle", "2027", "--programme", str(path),
                         "--decision", "Council 2027/14", "--date", "2027-02-01",
                         "--split", "C002=equal", "--store", store_path)  # fmt: skip
    assert code == 0, err
    assert out.strip() == "1"
    assert "3 combined projects, 10 works" in err
    projects = cycle.projects(store, YEAR).set_index("project")
    assert projects.loc["C002", "split_rule"] == "equal"
    assert projects.loc["C001", "savings_eur"] == 20_000.0
    code, _, err = run("cycle", "adopt", "--cycle", "2027", "--programme", str(path),
                       "--decision", "Council 2027/15", "--store", store_path)  # fmt: skip
    assert code == 2 and "--reason" in err
    code, out, _ = run("cycle", "adopt", "--cycle", "2027", "--programme", str(path),
                       "--decision", "Council 2027/15", "--reason", "C002 re-split",
                       "--store", store_path)  # fmt: skip
    assert code == 0 and out.strip() == "2"

    reports = tmp_path / "city.csv"
    reports.write_text(
        "Werk,Zustand,Ende,Beginn\nR1,fertig,2027-06-28,2027-06-01\nR9,fertig,2027-06-28,\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "progress.toml"
    mapping.write_text(
        '[columns]\nwork_id = "Werk"\nstatus = "Zustand"\n'
        '[extras]\nactual_start = "Beginn"\nactual_end = "Ende"\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    code, out, err = run("cycle", "progress", str(reports), "--org", "City", "--cycle", "2027",
                         "--mapping", str(mapping), "--rejects", str(rejects),
                         "--store", store_path)  # fmt: skip
    assert code == 0, err
    assert "1 progress reports stored, 1 rejected" in out
    assert "1 moratoria created" in out
    assert pd.read_csv(rejects)["reason"].tolist() == [
        "work_id R9 is not in the organisation's current plan or the adopted programme; "
        "check the id"
    ]
    code, _, err = run("cycle", "progress", str(reports), "--org", "City", "--cycle", "2027",
                       "--mapping", str(mapping), "--strict", "--store", store_path)  # fmt: skip
    assert code == 3 and "nothing stored" in err

    code, out, _ = run("cycle", "status", "--cycle", "2027", "--store", store_path)
    assert code == 0
    assert "programme adopted: revision 2 (Council 2027/15" in out
    assert "1 of 8 organisations reported progress" in out

    moratoria = tmp_path / "moratoria.geojson"
    code, out, err = run("moratoria", "--active-on", "2028-01-01", "--out", str(moratoria),
                         "--store", store_path)  # fmt: skip
    assert code == 0 and "R1" in out
    layer = gpd.read_file(moratoria)
    assert layer[["source_org", "source_work_id"]].values.tolist() == [["City", "R1"]]
    code, out, _ = run("moratoria", "--active-on", "2031-01-01", "--store", store_path)
    assert code == 0 and "No moratoria in force on 2031-01-01" in out
    code, out, _ = run("moratoria", "exempt", "1", "--org", "Water", "--kind", "emergency",
                       "--store", store_path)  # fmt: skip
    assert code == 0
    assert cycle.moratoria(store).iloc[0]["exemptions"] == "Water (all works) (emergency)"
    code, _, err = run("moratoria", "--active-on", "soon", "--store", store_path)
    assert code == 2 and "not a date" in err

    out_file = tmp_path / "programme_out.xlsx"
    code, out, _ = run("cycle", "programme", "--cycle", "2027", "--revision", "1",
                       "--out", str(out_file), "--store", store_path)  # fmt: skip
    assert code == 0 and "C001" in out
    sheets = pd.read_excel(out_file, sheet_name=None)
    assert list(sheets["programme"].columns[:9]) == list(cycle.PROGRAMME_COLUMNS)
    code, out, _ = run("cycle", "deviations", "--cycle", "2027", "--store", store_path)
    assert code == 0 and "green" in out


def test_example_targets_file(store_path: str) -> None:
    from ims_geo.cli import ROOT

    example = ROOT / "data" / "targets.example.toml"
    code, _, err = run("cycle", "targets", "--cycle", "2027", "--from", str(example),
                       "--store", store_path)  # fmt: skip
    assert code == 0, err
    table = cycle.targets(open_store(store_path), YEAR).set_index("kpi")["target"].to_dict()
    assert table == {"combined_share": 0.5, "moratorium_violations": 0.0,
                     "max_disruption_days": 120.0, "savings_eur": 250_000.0,
                     "submitted_share": 1.0}  # fmt: skip


def test_full_revision_and_register_import(store_path: str, tmp_path: Path) -> None:
    code, out, _ = run("cycle", "full-revision", "--cycle", "2028", "--store", store_path)
    assert code == 0
    assert out.strip() == (
        "Cycle 2028 is a full revision; stale plans: " + ", ".join(sorted(PLANS))
    )
    register = tmp_path / "register.csv"
    register.write_text(
        f'org,id,from,until,geometry\nCity,M1,2027-01-01,2029-12-31,"{line(0, 50).wkt}"\n',
        encoding="utf-8",
    )
    code, out, err = run("moratoria", "import", str(register), "--org", "City", "--crs", RD,
                         "--store", store_path)  # fmt: skip
    assert code == 0, err
    assert "Stored 1 moratoria, 0 rows rejected" in out
    assert cycle.moratoria(open_store(store_path))["source_work_id"].tolist() == ["M1"]


def test_conflicts_from_the_store_read_its_moratoria(tmp_path: Path) -> None:
    from tests.test_cycle import plan, progress_frame, work

    path = tmp_path / "moratoria.gpkg"
    store = open_store(path)
    store.import_plan(plan("City", [work("R1", "road", "2027-06-01", "2027-06-30", line(0))]),
                      org="City", cycle=YEAR)  # fmt: skip
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-01", "2027-06-28", None)]))  # fmt: skip
    store.import_plan(plan("City", [work("R2", "road", "2028-01-01", "2028-01-10", line(9000))]),
                      org="City", cycle=2028)  # fmt: skip
    store.import_plan(plan("Water", [work("W7", "water", "2028-03-01", "2028-03-10",
                                          line(0, 3))]), org="Water", cycle=2028)  # fmt: skip
    out = tmp_path / "conflicts.csv"
    code, _, err = run("conflicts", "--out", str(out), "--store", str(path))
    assert code == 0, err
    table = pd.read_csv(out, dtype=str)
    assert table[
        ["org_a", "work_id_a", "org_b", "work_id_b", "kind", "moratorium_id"]
    ].values.tolist() == [["City", "R1", "Water", "W7", "moratorium", "1"]]


def test_baseline_printed_and_written(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "baseline.xlsx"
    code, text, err = run("cycle", "baseline", "--cycle", "2027", "--out", str(out),
                          "--store", store_path)  # fmt: skip
    assert code == 0, err
    assert (
        "Most disrupted street segment in 2027: 100 m square 121000 487000 (50 days, 2 works)"
        in text
    )
    sheets = pd.read_excel(out, sheet_name=None)
    # the moratoria sheet too, with its header only: the file keeps its shape
    assert list(sheets) == ["plans", "conflicts", "moratoria", "disruption"]
    assert sheets["moratoria"].empty
    assert sorted(sheets["plans"]["org"]) == sorted(PLANS)


def test_adopt_a_fresh_proposal_of_the_store(tmp_path: Path) -> None:
    from tests.test_cycle import plan, work

    path = tmp_path / "fresh.gpkg"
    store = open_store(path)
    flexible = {"earliest": "2027-01-01", "latest": "2027-12-31"}
    store.import_plan(plan("City", [work("R", "road", "2027-06-01", "2027-06-10", line(0),
                                         cost_eur=10_000, **flexible)]), org="City", cycle=YEAR)  # fmt: skip
    store.import_plan(plan("Water", [work("W", "water", "2027-03-01", "2027-03-10", line(0, 2),
                                          cost_eur=20_000, **flexible)]), org="Water", cycle=YEAR)  # fmt: skip
    code, out, err = run("cycle", "adopt", "--cycle", "2027", "--decision", "Steering group 3",
                         "--time-limit", "5", "--split", "C001=cost", "--not-before", "2027-01-01",
                         "--store", str(path))  # fmt: skip
    assert code == 0, err
    assert out.strip() == "1"
    project = cycle.projects(store, YEAR).iloc[0]
    assert (project["project"], project["lead_org"], project["split_rule"]) == (
        "C001",
        "City",
        "cost",
    )
    code, _, err = run("cycle", "adopt", "--cycle", "2027", "--decision", "x", "--reason", "y",
                       "--split", "C009=cost", "--time-limit", "5", "--store", str(path))  # fmt: skip
    assert code == 2 and "unknown project(s) C009" in err
