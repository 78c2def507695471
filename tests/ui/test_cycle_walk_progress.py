"""Progress uploaded on the Planning cycle page under the wrong organisation, under AppTest:
the outcome shows one line per outcome (as the command line prints it), naming the owner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ims_geo import cycle
from ims_geo.store import open_store
from ims_geo.ui.widgets import literal
from tests.test_cycle import YEAR, build


def test_progress_of_another_organisations_work_on_the_page(
    open_app: Callable[..., AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "cycle.gpkg"
    build(path)
    at = open_app("cycle", store=path)
    at.selectbox(key="cycle_progress_org").set_value("City")
    csv = b"work_id,status,actual_start,actual_end\nW1,done,2027-05-03,2027-05-22\nZ9,done,,\n"
    at.file_uploader(key="cycle_progress_file").upload("water.csv", csv, "text/csv")
    at.run()
    at.button(key="cycle_progress_store").click().run()
    assert not at.exception and not at.error
    lines = [
        "0 progress reports stored, 2 rejected",
        "rejected 1: work_id W1 is not in the plan of City but in that of Water; report its "
        "progress as that organisation",
        "rejected 1: work_id Z9 is not in the organisation's current plan or the adopted "
        "programme; check the id",
    ]
    (shown,) = [i.value for i in at.info if i.value.startswith("0 progress reports")]
    assert shown == "  \n".join(literal(line) for line in lines)
    assert cycle.progress(open_store(path), YEAR).empty
