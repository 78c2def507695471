"""The Upload page under AppTest: a planner's Excel workbook and JSON record list go in."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl

from ims_geo import schema
from ims_geo.ingest import read_works
from tests.ui.test_upload_page import metric, upload

HEADER = ["work_id", "discipline", "start_date", "end_date", "title", "geometry"]
ROWS = [
    ["0042", "water", dt.date(2027, 3, 1), dt.date(2027, 3, 20), "=SUM(A1:A2)",
     "SRID=28992;POINT (121000 487000)"],
    ["0043", "gas", dt.date(2027, 4, 1), dt.date(2027, 4, 30), "Damrak",
     "SRID=28992;POINT (121050 487010)"],
    ["0044", "sewer", dt.date(2027, 5, 9), dt.date(2027, 5, 1), "end before start",
     "SRID=28992;POINT (121090 487020)"],
]  # fmt: skip


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    # a text that begins as a formula is stored as text, as the product's export writes it
    sheet["E2"].data_type = "s"
    book.create_sheet("notes").append(["remark"])  # a second sheet: the page offers both
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_workbook_and_a_json_record_list_are_uploaded(open_app, store_copy):
    library = read_works(_xlsx(), name="plan.xlsx", org="Waternet")  # outside the page
    assert library.works["title"].tolist() == ["=SUM(A1:A2)", "Damrak"]
    at = open_app("upload", store=store_copy)
    accepted = at.file_uploader(key="upload_file").proto.type
    assert {".xlsx", ".json"} <= set(accepted)

    at = upload(at, "plan.xlsx", _xlsx(), org="Waternet")
    assert not at.exception and not at.error
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("2", "1")
    assert at.selectbox(key="upload_layer").options == ["Sheet", "notes"]
    assert at.selectbox(key="upload_layer").value == "Sheet"  # the first sheet unless chosen
    (rejected,) = [d.value for d in at.dataframe if schema.REASON in d.value.columns]
    assert rejected["work_id"].tolist() == ["0044"]
    assert rejected[schema.REASON].tolist() == ["end_date before start_date"]

    records = [
        dict(zip(HEADER, [*row[:2], str(row[2]), str(row[3]), *row[4:]], strict=True))
        for row in ROWS
    ]
    at = upload(open_app("upload", store=store_copy), "plan.json", json.dumps(records).encode())
    assert not at.exception and not at.error
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("2", "1")
