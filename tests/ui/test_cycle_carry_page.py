"""The Planning cycle page in a year without its own adoption: it monitors the works of
the programme adopted the year before that still run, and says so."""

from __future__ import annotations

from pathlib import Path

from ims_geo import cycle
from ims_geo.i18n import _
from ims_geo.store import open_store
from ims_geo.ui.pages.cycle import NEXT_STEPS
from tests.test_cycle_carry import ADOPTED_2027, adopt, until_2027
from tests.ui.test_cycle_page import frame, steps, steps_of


def test_page_monitors_the_earlier_programme_until_the_year_adopts(open_app, tmp_path: Path):
    path = tmp_path / "cycle.gpkg"
    store = open_store(path)
    until_2027(store)
    at = open_app("cycle", store=path)
    assert int(at.number_input(key="cycle_year").value) == 2027
    assert steps(at) == steps_of(store, 2027)
    assert "Monitoring the programme adopted in 2026." in [i.value for i in at.info]
    expected = cycle.project_status(store, 2027)
    rag = frame(at, "cycle_rag")
    assert rag["project"].tolist() == expected["project"].tolist() == ["C001"]
    devs = frame(at, "cycle_deviations")
    wanted = cycle.deviations(store, 2027)
    assert list(zip(devs["org"], devs["work_id"], strict=True)) == list(
        zip(wanted["org"], wanted["work_id"], strict=True)
    )
    # step 3 is missing, yet planners report progress on the works still running
    lines = [m.value for m in at.markdown]
    assert any(_(NEXT_STEPS[4]) in line for line in lines)

    adopt(store, 2027, ADOPTED_2027)
    at = open_app("cycle", store=path)
    assert steps(at) == steps_of(store, 2027)
    infos = [i.value for i in at.info]
    assert "Works still running from the programme adopted in 2026 are monitored too." in infos
    assert "Monitoring the programme adopted in 2026." not in infos
    assert frame(at, "cycle_rag")[["project", "adopted_in"]].values.tolist() == [["C001", 2027]]
