"""The Planning cycle page under AppTest: steps, targets, full revision, adoption,
monitoring (progress upload, deviations, red/amber/green) and the council pack."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ims_geo import cycle
from ims_geo.i18n import messages
from ims_geo.i18n.labels import KPI_NAMES
from ims_geo.report.words import VOCABULARY
from ims_geo.store import open_store
from ims_geo.ui.widgets import literal
from tests.test_cycle import SAVINGS, YEAR, build, hand_programme, monitored

#: Columns that tell the page's tables apart (st.dataframe keeps no key in AppTest).
TABLES = {
    "cycle_kpis": {"kpi", "value"},
    "cycle_projects": {"project", "split_rule"},
    "cycle_rag": {"project", "rag", "reason"},
    "cycle_deviations": {"deviation", "days"},
    "cycle_progress_rejected": {"reason", "source_row"},
    "cycle_moratoria": {"source_work_id", "valid_until"},
    "cycle_plans": {"org", "submitted", "stale"},
    "cycle_disruption": {"segment", "disruption_days"},
}
#: Columns a table must not have (to tell the projects from the project states).
NOT = {"cycle_rag": {"split_rule"}}


def frame(at, key: str) -> pd.DataFrame:
    (found,) = [
        d.value for d in at.dataframe
        if TABLES[key] <= set(d.value.columns) and not NOT.get(key, set()) & set(d.value.columns)
    ]  # fmt: skip
    return found


def steps_of(store, year: int) -> list[str]:
    """The five step lines the page should show, built from the library (KPIs in words)."""
    table = cycle.status(store, year).steps
    icons = {"done": ":green[**done**]", "partial": ":orange[**partial**]",
             "missing": ":red[**missing**]"}  # fmt: skip
    return [
        f"{icons[state]}  **{n}. {name}** — {literal(messages.translate(detail))}"
        for n, name, state, detail in table.itertuples(index=False)
    ]


def steps(at) -> list[str]:
    """The step lines the page shows."""
    return [m.value for m in at.markdown if m.value.startswith((":green[", ":orange[", ":red["))]


def test_page_shows_the_five_steps_and_kpis_of_the_demo(open_app, demo_store):
    at = open_app("cycle")
    assert not at.exception and not at.error
    year = int(at.number_input(key="cycle_year").value)
    store = open_store(demo_store)
    assert year == int(store.plan_versions()["cycle"].max())
    assert steps(at) == steps_of(store, year)
    assert steps(at)[2] == ":red[**missing**]  **3. Commitment** — programme not adopted"
    kpis = frame(at, "cycle_kpis")
    # KPI names in words: "Moratorium violations", not moratorium_violations
    words = {KPI_NAMES[k]: k for k in cycle.KPIS}
    assert kpis["kpi"].tolist() == list(words)
    expected = cycle.kpis(store, year).set_index("kpi")["value"]
    got = kpis.set_index(kpis["kpi"].map(words))["value"]
    assert got.drop(["combined_share", "savings_eur"]).tolist() == (
        expected.drop(["combined_share", "savings_eur"]).tolist()
    )
    assert "No programme adopted" in at.info[0].value
    base = cycle.baseline(store, year)
    assert frame(at, "cycle_plans")["org"].tolist() == base.plans["org"].tolist()
    shown = frame(at, "cycle_disruption")
    assert shown["disruption_days"].tolist() == base.disruption["disruption_days"].tolist()


def test_targets_and_full_revision_from_the_page(open_app, store_copy):
    at = open_app("cycle", store=store_copy)
    at.text_input(key="cycle_custom_name").input("trees_planted")
    at.number_input(key="cycle_custom_value").set_value(40.0)
    at.button(key="cycle_custom_add").click().run()
    assert not at.exception
    year = int(at.number_input(key="cycle_year").value)
    table = cycle.targets(open_store(store_copy), year).set_index("kpi")
    assert table.loc["trees_planted", "target"] == 40.0
    at.number_input(key="cycle_year").set_value(year + 1).run()
    at.toggle(key=f"cycle_full_{year + 1}").set_value(True).run()
    assert not at.exception
    orgs = sorted(set(open_store(store_copy).plan_versions()["org"]))
    assert cycle.stale_plans(open_store(store_copy), year + 1)["org"].tolist() == orgs
    (warning,) = [w.value for w in at.warning]
    assert warning.startswith(f"{len(orgs)} stale plans (not re-submitted in this full revision)")
    assert steps(at)[0].endswith(f"full revision{literal(':')} {len(orgs)} stale plans")
    assert steps(at) == steps_of(open_store(store_copy), year + 1)


def test_adopt_from_the_page_freezes_a_revision(open_app, store_copy):
    at = open_app("cycle", store=store_copy)
    year = int(at.number_input(key="cycle_year").value)
    at.text_input(key="cycle_decision").input("Council 2026/7")
    at.slider(key="cycle_time").set_value(5)
    at.button(key="cycle_adopt_submit").click().run()
    assert not at.exception and not at.error
    table = cycle.revisions(open_store(store_copy), year)
    assert table[["revision", "decision"]].values.tolist() == [[1, "Council 2026/7"]]
    assert "Adopted revision 1." in [s.value for s in at.success]
    projects = frame(at, "cycle_projects")
    assert (
        projects["project"].tolist()
        == cycle.projects(open_store(store_copy), year)["project"].tolist()
    )
    assert steps(at)[2].startswith(":green[**done**]  **3. Commitment** — programme adopted")


def test_monitoring_shows_deviations_rag_and_takes_progress(open_app, tmp_path: Path):
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    monitored(store)
    at = open_app("cycle", store=path)
    assert int(at.number_input(key="cycle_year").value) == YEAR
    rag = frame(at, "cycle_rag").set_index("project")["rag"].to_dict()
    assert rag == {"C001": "amber", "C002": "red", "C003": "green"}
    shown = frame(at, "cycle_deviations")
    expected = cycle.deviations(store, YEAR)
    # in words, as the council pack writes them (late, not combined...), never as codes
    assert shown["deviation"].tolist() == [VOCABULARY[d] for d in expected["deviation"]]
    assert shown["work_id"].tolist() == expected["work_id"].tolist()
    at.selectbox(key="cycle_progress_org").set_value("City")
    csv = b"work_id,status,actual_start,actual_end\nR1,done,2027-06-01,2027-06-28\nR7,done,,\n"
    at.file_uploader(key="cycle_progress_file").upload("city.csv", csv, "text/csv")
    at.run()
    at.button(key="cycle_progress_store").click().run()
    assert not at.exception and not at.error
    assert "1 progress reports stored, 1 rejected" in at.info[0].value
    assert "1 moratoria created" in at.info[0].value
    rejected = frame(at, "cycle_progress_rejected")
    assert rejected["reason"].tolist()[0].startswith("work_id R7 is not in")
    assert frame(at, "cycle_moratoria")["source_work_id"].tolist() == ["R1"]


def test_council_pack_downloads(open_app, tmp_path: Path):
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    at = open_app("cycle", store=path)
    at.button(key="cycle_report_build").click().run()
    assert not at.exception and not at.error
    buttons = [b for b in at.get("download_button")]
    assert len(buttons) == 2


def test_progress_sheet_on_the_page(open_app, tmp_path: Path):
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    at = open_app("cycle", store=path)
    at.selectbox(key="cycle_progress_org").set_value("Water").run()
    (sheet,) = [d.value for d in at.dataframe if d.key == f"cycle_progress_sheet_{YEAR}_Water"]
    assert sheet["work_id"].tolist() == ["W1", "V1"]
    assert sheet["status"].isna().all()
    at.button(key="cycle_progress_edited").click().run()
    assert not at.exception and not at.error
    assert at.info[0].value == "0 progress reports stored, 0 rejected"


def _progress_parquet() -> bytes:
    """City's progress as GeoParquet: R1 done (a work of City), R7 (no work of City)."""
    import io

    import geopandas as gpd
    from shapely import Point

    from tests.test_cycle import RD, X0, Y0

    reports = pd.DataFrame(
        {
            "work_id": ["R1", "R7"],
            "status": ["done", "done"],
            "actual_start": ["2027-06-01", None],
            "actual_end": ["2027-06-28", None],
        }
    )
    points = [Point(X0 + 50, Y0), Point(X0 + 60, Y0)]
    buffer = io.BytesIO()
    gpd.GeoDataFrame(reports, geometry=points, crs=RD).to_parquet(buffer)
    return buffer.getvalue()


def test_progress_upload_takes_geoparquet_like_the_upload_page(open_app, tmp_path: Path):
    from ims_geo.ingest._sources import FORMATS

    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    at = open_app("cycle", store=path)
    uploader = at.file_uploader(key="cycle_progress_file")
    assert sorted(uploader.proto.type) == sorted(FORMATS)  # every format the reader reads
    upload_page = open_app("upload", store=path).file_uploader(key="upload_file")
    assert list(upload_page.proto.type) == list(uploader.proto.type)
    at.selectbox(key="cycle_progress_org").set_value("City")
    uploader.upload("city.parquet", _progress_parquet(), "application/vnd.apache.parquet")
    at.run()
    at.button(key="cycle_progress_store").click().run()
    assert not at.exception and not at.error
    assert "1 progress reports stored, 1 rejected" in at.info[0].value
    assert "1 moratoria created" in at.info[0].value
    assert frame(at, "cycle_moratoria")["source_work_id"].tolist() == ["R1"]


def test_progress_geoparquet_is_read_under_the_apps_upload_limits(
    open_app, tmp_path: Path, monkeypatch
):
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    data = _progress_parquet()
    # the installation allows less column data than this report holds
    monkeypatch.setenv("IMS_GEO_MAX_EXPANDED_BYTES", "100")
    at = open_app("cycle", store=path)
    at.selectbox(key="cycle_progress_org").set_value("City")
    at.file_uploader(key="cycle_progress_file").upload("city.parquet", data, "application/x")
    at.run()
    at.button(key="cycle_progress_store").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("city.parquet expands to ") and "(max_expanded_bytes)" in error
    assert cycle.progress(open_store(path), YEAR).empty  # nothing was stored


def test_monitoring_shows_plans_awaiting_the_update_apart(open_app, tmp_path: Path):
    from tests.test_cycle_awaiting import ADOPTED, adopt, plan_of, right_after_adoption
    from tests.test_cycle_awaiting import YEAR as AFTER

    path = tmp_path / "awaiting.gpkg"
    store = open_store(path)
    adopt(store)
    states, project, waiting = right_after_adoption()
    at = open_app("cycle", store=path)
    assert not at.exception and not at.error
    assert int(at.number_input(key="cycle_year").value) == AFTER
    rag = frame(at, "cycle_rag").set_index("project")["rag"].to_dict()
    assert project == "awaiting_update"
    assert rag == {"C001": "awaiting update"}
    assert not [d for d in at.dataframe if TABLES["cycle_deviations"] <= set(d.value.columns)]
    (shown,) = [
        d.value for d in at.dataframe if {"adopted_start", "uploaded_at"} <= set(d.value.columns)
    ]
    assert list(zip(shown["org"], shown["work_id"], strict=True)) == waiting
    assert shown["days"].tolist() == [states[k][1] for k in waiting]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Deviations"] == "0"
    assert metrics["Plans not yet updated to the adopted dates"] == str(len(waiting))
    assert metrics["Projects red / amber / awaiting update / green"] == "0 / 0 / 1 / 0"
    assert any(
        i.value.startswith(f"{len(waiting)} works' plans are not yet updated") for i in at.info
    )
    assert "No deviations from the adopted programme." in [s.value for s in at.success]
    # Water imports the adopted dates: only Gas awaits
    store.import_plan(plan_of("Water", {"W1": ADOPTED[("Water", "W1")]}), org="Water", cycle=AFTER)
    at = open_app("cycle", store=path)
    (shown,) = [
        d.value for d in at.dataframe if {"adopted_start", "uploaded_at"} <= set(d.value.columns)
    ]
    assert shown["work_id"].tolist() == ["G1"]
    assert {m.label: m.value for m in at.metric}[
        "Plans not yet updated to the adopted dates"
    ] == "1"
    assert any(i.value.startswith("1 work's plan is not yet updated") for i in at.info)
