"""A JSON record list inside a .zip is read as the same file is on its own.

Each expectation is the bare file's result (itself tested against pandas in
``tests/test_ingest_tables.py``) or a count taken from the records written here.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pandas as pd
import pytest

from ims_geo import schema
from ims_geo.errors import HostileInputError, InputError
from ims_geo.ingest import Limits, list_layers, read_works
from ims_geo.ingest.suggest import read_raw

RECORDS = [
    {"work_id": "0042", "org": "Waternet", "discipline": "water", "start_date": "2027-03-01",
     "end_date": "2027-03-20", "cost_eur": 1250.5, "x": 121000, "y": 487000},
    {"work_id": "0043", "org": "Waternet", "discipline": "riool", "start_date": "2027-02-30",
     "end_date": "2027-04-01", "x": 121050, "y": 487010},
    {"work_id": "0044", "org": "Waternet", "discipline": "gas", "start_date": "2027-05-01",
     "end_date": "2027-05-02", "x": 121100, "y": 487020},
]  # fmt: skip
#: The two forms of a record list: a JSON array, and an object holding one list.
FORMS = {
    "array": RECORDS,
    "object": {"exported": "2027-01-01", "works": RECORDS},
}


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("member", ["plan.json", "Plan 2027/plan.json"])
def test_a_zipped_json_record_list_reads_as_the_bare_file(form, member):
    data = json.dumps(FORMS[form]).encode()
    bare = read_works(data, name="plan.json", crs="EPSG:28992")
    archive = zipped({member: data})
    inside = read_works(archive, name="plans.zip", crs="EPSG:28992")
    pd.testing.assert_frame_equal(inside.works, bare.works)
    pd.testing.assert_frame_equal(
        inside.rejected.drop(columns=schema.SOURCE_FILE),
        bare.rejected.drop(columns=schema.SOURCE_FILE),
    )
    assert len(inside.works) + len(inside.rejected) == len(RECORDS)
    assert inside.layer == bare.layer
    assert list_layers(archive, name="plans.zip") == list_layers(data, name="plan.json")
    raw, text_geometry, _ = read_raw(archive, name="plans.zip")
    assert text_geometry and len(raw) == len(RECORDS)


def test_a_zipped_json_among_other_files_is_a_layer_of_the_zip():
    data = json.dumps(FORMS["object"]).encode()
    csv = pd.DataFrame(RECORDS[:1]).to_csv(index=False).encode()
    archive = zipped({"plan.json": data, "other.csv": csv})
    assert sorted(list_layers(archive, name="plans.zip")) == ["other", "plan"]
    inside = read_works(archive, name="plans.zip", layer="plan", crs="EPSG:28992")
    bare = read_works(data, name="plan.json", crs="EPSG:28992")
    pd.testing.assert_frame_equal(inside.works, bare.works)


def test_a_zipped_json_of_several_record_lists_asks_for_it_on_its_own():
    data = json.dumps({"works": RECORDS, "more": RECORDS}).encode()
    archive = zipped({"plan.json": data, "other.csv": b"a,b\n1,2\n"})
    with pytest.raises(InputError, match=re.escape("plans.zip: plan.json holds 2 layers")):
        read_works(archive, name="plans.zip", layer="plan", crs="EPSG:28992")


def test_a_zipped_json_passes_the_zip_safety_checks():
    data = json.dumps(RECORDS).encode()
    with pytest.raises(HostileInputError, match="points outside the archive"):
        read_works(zipped({"../plan.json": data}), name="plans.zip", crs="EPSG:28992")
    small = Limits(max_expanded_bytes=len(data) - 1)
    with pytest.raises(HostileInputError, match="max_expanded_bytes"):
        read_works(zipped({"plan.json": data}), name="plans.zip", crs="EPSG:28992", limits=small)
    too_many = Limits(max_rows=len(RECORDS) - 1)
    with pytest.raises(HostileInputError, match=re.escape("plans.zip: plan.json: plan holds 3")):
        read_works(zipped({"plan.json": data}), name="plans.zip", crs="EPSG:28992", limits=too_many)
    with pytest.raises(InputError, match=re.escape("plans.zip: plan.json is not a vector")):
        read_works(zipped({"plan.json": b"[{]"}), name="plans.zip", crs="EPSG:28992")
