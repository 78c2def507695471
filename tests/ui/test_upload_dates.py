"""The Upload page under AppTest: a shapefile date GDAL would read as another day is shown as written."""

from __future__ import annotations

import pandas as pd

from ims_geo import schema
from ims_geo.ingest import read_works
from tests.test_ingest_dates import DBF_TEXTS, _expected, _patched_shapefile, _zipped
from tests.ui.test_upload_page import metric, upload


def test_an_upload_s_impossible_dbf_dates_are_rejected_rows_naming_the_text(
    open_app, store_copy, tmp_path
):
    data = _zipped(_patched_shapefile(tmp_path / "parts", DBF_TEXTS, 4)).read_bytes()
    reasons, shown = _expected(DBF_TEXTS, 4)
    kept = len(DBF_TEXTS) - 1 - len(reasons)
    library = read_works(data, name="plan.zip")  # the same rows, outside the page
    assert len(library.works) == kept

    at = upload(open_app("upload", store=store_copy), "plan.zip", data, org="Gemeente Utrecht")
    assert not at.exception and not at.error
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == (str(kept), str(len(reasons)))
    (rejected,) = [d.value for d in at.dataframe if schema.REASON in d.value.columns]
    table = rejected.set_index("work_id")
    assert table[schema.REASON].to_dict() == reasons
    on_page = {w: (None if pd.isna(v) else str(v)) for w, v in table["start_date"].items()}
    assert on_page == {w: (None if v is None else str(v)) for w, v in shown.items()}
