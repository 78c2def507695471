"""Step 5 (evaluation and reporting) is done once the year's council pack was produced.

An adopted cycle with measured KPIs is ``partial`` until ``ims-geo report``
writes its council pack (a status report does not count); the report is
recorded in the store. In a shared store only coordinators and admins
record one (row-level security), and an installation made before the table
existed gets it, with its rules, when its owner opens it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg
import pytest
import test_rls
from access_data import PASSWORD, Installation
from click.testing import CliRunner
from test_rls import _libpq, app_sql, refused

from ims_geo import cycle
from ims_geo.cli import main
from ims_geo.cycle.evaluation import record_report, reports
from ims_geo.store import Store, open_store
from tests.test_cycle import YEAR, build, hand_programme


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stderr


def step5(store: Store, year: int = YEAR) -> tuple[str, str]:
    row = cycle.status(store, year).steps.set_index("step").loc[5]
    return str(row["state"]), str(row["detail"])


def kpi_summary(store: Store, year: int = YEAR) -> str:
    states = cycle.kpis(store, year)["state"].value_counts()
    counts = ", ".join(f"{states.get(k, 0)} {k}" for k in ("green", "amber", "red"))
    return f"KPIs against targets: {counts}"


def test_step_5_is_done_once_the_council_pack_is_produced(tmp_path: Path) -> None:
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    # the default target (no moratorium violation) is measured before any adoption
    assert step5(store) == ("partial", f"{kpi_summary(store)}; council pack not produced yet")
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14",
                decision_date="2027-02-01")  # fmt: skip
    summary = kpi_summary(store)
    assert step5(store) == ("partial", f"{summary}; council pack not produced yet")
    # the six-monthly status report is the monitoring part, not the evaluation
    run("report", "--cycle", str(YEAR), "--kind", "status", "--store", str(path),
        "--out", str(tmp_path / "status.html"))  # fmt: skip
    assert step5(store)[0] == "partial"
    before = dt.datetime.now(dt.UTC)
    said = run("report", "--cycle", str(YEAR), "--store", str(path),
               "--out", str(tmp_path / "pack.xlsx"))  # fmt: skip
    after = dt.datetime.now(dt.UTC)
    assert "Not recorded" not in said
    produced = reports(store, YEAR)
    assert produced[["kind", "formats", "revision"]].values.tolist() == [
        ["status", "html", 1], ["council", "xlsx", 1]
    ]  # fmt: skip
    at = produced["produced_at"].iloc[-1]
    assert before <= at.to_pydatetime() <= after
    day = at.date().isoformat()
    assert step5(store) == ("done", f"{summary}; council pack produced on {day}")
    # another cycle's pack does not complete this one
    assert reports(store, YEAR + 1).empty
    assert step5(store, YEAR + 1)[0] != "done"


def test_a_council_pack_without_measured_kpis_still_completes_the_step(tmp_path: Path) -> None:
    store = open_store(tmp_path / "empty.gpkg")
    assert record_report(store, 2030, "council", ["html"])
    day = reports(store, 2030)["produced_at"].iloc[0].date().isoformat()
    assert step5(store, 2030) == (
        "done", f"no KPI can be measured against a target yet; council pack produced on {day}"
    )  # fmt: skip


# --- a shared store (the fixture and raw connections of the row-level security tests) ------
inst = test_rls.inst


def recorded_by_owner(inst: Installation) -> list[tuple[Any, ...]]:
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        return con.execute(
            "SELECT cycle, kind, formats FROM ims_geo.cycle_reports ORDER BY report_id"
        ).fetchall()


def check_rights(inst: Installation) -> None:
    """Who records a report, who reads them, who changes them: nobody."""
    for user in ("a_plan", "a_view"):
        with open_store(inst.app_url, user=user, password=PASSWORD) as store:
            assert record_report(store, 2027, "council", ["html"]) is False
    assert recorded_by_owner(inst) == []
    with open_store(inst.app_url, user="a_coord", password=PASSWORD) as store:
        assert record_report(store, 2027, "council", ["html"]) is True
        assert step5(store, 2027)[0] == "done"
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as store:
        assert reports(store, 2027)["kind"].tolist() == ["council"]
        assert step5(store, 2027)[0] == "done"
    assert recorded_by_owner(inst) == [(2027, "council", "html")]
    with app_sql(inst, "a_plan") as con:
        assert "row-level security" in refused(
            con,
            "INSERT INTO ims_geo.cycle_reports (cycle, kind, formats, produced_at) "
            "VALUES (2027, 'council', 'html', '2027-01-01')",
        )
    with app_sql(inst, "a_coord") as con:
        # recorded once, never changed: the step's history stays what happened
        assert con.execute("DELETE FROM ims_geo.cycle_reports").rowcount == 0
        assert con.execute("UPDATE ims_geo.cycle_reports SET cycle = 2026").rowcount == 0
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        audited = con.execute(
            "SELECT username, action FROM ims_geo.audit WHERE action = 'cycle report'"
        ).fetchall()
    assert audited == [("a_coord", "cycle report")]


@pytest.mark.postgis
def test_only_coordinators_record_a_report_in_a_shared_store(inst: Installation) -> None:
    check_rights(inst)


@pytest.mark.postgis
def test_an_installation_older_than_the_table_gets_it_when_its_owner_opens_it(
    inst: Installation,
) -> None:
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        con.execute("DROP TABLE ims_geo.cycle_reports")
        # as an installation of before: its rules stamped without the table
        con.execute(
            "UPDATE ims_geo.store_meta SET value = replace(value, 'cycle_reports,', '') "
            "WHERE key = 'cycle_policies'"
        )
    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        with pytest.raises(psycopg.errors.UndefinedTable):
            con.execute("SELECT 1 FROM ims_geo.cycle_reports")
    with open_store(inst.owner_url):
        pass
    check_rights(inst)


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_step_5_is_said_in_the_page_s_language(tmp_path: Path, lang: str) -> None:
    from ims_geo import i18n
    from ims_geo.i18n import messages

    store = build(tmp_path / "cycle.gpkg")
    details = [step5(store)[1]]
    assert record_report(store, YEAR, "council", ["html"])
    details.append(step5(store)[1])
    with i18n.speaking(lang):
        for detail in details:
            said = messages.translate(detail)
            assert said != detail and "council pack" not in said, said


@pytest.mark.postgis
def test_a_planner_s_report_on_the_command_line_is_not_recorded(
    inst: Installation, tmp_path: Path
) -> None:
    base = {"IMS_GEO_TOKEN": "", "IMS_GEO_STORE": inst.app_url, "IMS_GEO_PASSWORD": PASSWORD}
    out = tmp_path / "pack.html"
    said = run("report", "--cycle", "2027", "--out", str(out),
               env={**base, "IMS_GEO_USER": "a_plan"})  # fmt: skip
    assert out.exists()
    assert (
        "Not recorded as produced in cycle 2027: only coordinators and admins record the "
        "cycle's reports"
    ) in said
    assert recorded_by_owner(inst) == []
    said = run("report", "--cycle", "2027", "--out", str(out),
               env={**base, "IMS_GEO_USER": "a_coord"})  # fmt: skip
    assert "Not recorded" not in said
    assert recorded_by_owner(inst) == [(2027, "council", "html")]
