"""The Upload page when a planner uploads their exported plan again after the adoption.

The plan went out through ``ims-geo export`` (GeoJSON, longitude/latitude)
and came back as the zipped shapefile the planner's GIS saved: "What storing
changes" flags nothing for it, and exactly one work moved for the file in
which that work was moved 50 m. AppTest, a real GeoPackage store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_reupload_after_adoption import MOVED, adopted_store, exported_then_saved_as_shapefile

from ims_geo.store import open_store


@pytest.fixture
def adopted(tmp_path: Path) -> Path:
    return adopted_store(tmp_path / "ims.gpkg")


def changes_after_upload(open_app: Any, store: Path, path: Path) -> dict:
    at = open_app("upload", store=store)
    at.selectbox(key="upload_org").set_value("A")
    at.file_uploader(key="upload_file").upload(
        path.name, path.read_bytes(), "application/octet-stream"
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (table,) = [d.value for d in at.dataframe if "geometry_changed" in d.value.columns]
    (row,) = table.to_dict("records")
    return row


def test_the_same_plan_again_changes_nothing_and_a_moved_work_is_flagged_alone(
    open_app: Any, adopted: Path, tmp_path: Path
) -> None:
    same, moved = exported_then_saved_as_shapefile(str(adopted), {}, tmp_path)
    row = changes_after_upload(open_app, adopted, same)
    assert row == {
        "org": "A", "current": 4, "new": 4, "added": 0, "dropped": 0, "moved": 0,
        "geometry_changed": 0,
    }  # fmt: skip
    row = changes_after_upload(open_app, adopted, moved)
    assert (row["moved"], row["geometry_changed"]) == (0, 1)
    with open_store(adopted) as store:  # the preview stored nothing
        assert store.plan_versions("A")["version"].tolist() == [1]
        assert MOVED in set(store.works(orgs=["A"])["work_id"])
