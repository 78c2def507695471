"""Status codes of the uploads through FastAPI's test client: 201 when something was
stored (the rejected rows listed), 422 with the reasons when nothing was."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ims_geo.api import create_app

from .conftest import ApiServer

pytestmark = [pytest.mark.postgis, pytest.mark.xdist_group("api")]


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[TestClient]:
    with TestClient(create_app(api_server.app_url)) as test_client:
        yield test_client


def send(client: TestClient, token: str, path: str, name: str, data: bytes, **fields: str) -> Any:
    return client.post(
        path,
        headers={"Authorization": f"Bearer {token}"},
        data={"cycle": "2027", **fields},
        files={"file": (name, io.BytesIO(data), "application/octet-stream")},
    )


def reports_of(server: ApiServer, org: str) -> list[tuple[str, str]]:
    url = sa.make_url(server.owner_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as con:
        rows = con.execute(
            "SELECT work_id, status FROM ims_geo.progress_reports WHERE org = %s "
            "ORDER BY report_id",
            (org,),
        ).fetchall()
    return [(str(w), str(s)) for w, s in rows]


def test_progress_stored_in_part_is_201_and_rejected_in_full_is_422(
    api_server: ApiServer, client: TestClient
) -> None:
    token = api_server.tokens["A"]
    works = client.get("/works?org=A", headers={"Authorization": f"Bearer {token}"})
    assert works.status_code == 200
    own = sorted(f["properties"]["work_id"] for f in works.json()["features"])
    before = reports_of(api_server, "A")
    # one good row, one unknown work: stored in part
    csv = f"work_id,status,actual_start\n{own[0]},in_progress,2027-05-02\nnope,done,\n".encode()
    answer = send(client, token, "/progress", "part.csv", csv)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert [r["work_id"] for r in body["rejected_rows"]] == ["nope"]
    assert reports_of(api_server, "A") == [*before, (own[0], "in_progress")]
    # every row rejected: nothing stored, 422 with each row's reason
    csv = b"work_id,status,actual_start,actual_end\nnope,done,,\n" + (
        f"{own[0]},done,2027-05-02,2027-05-01\n".encode()
    )
    answer = send(client, token, "/progress", "bad.csv", csv)
    assert answer.status_code == 422, answer.json()
    body = answer.json()
    assert body["detail"] == (
        "bad.csv: nothing was stored: all 2 rows were rejected (rejected_rows says why); "
        "fix them and send the file again"
    )
    assert (body["accepted"], body["rejected"]) == (0, 2)
    assert [(r["source_row"], r["work_id"], r["reason"]) for r in body["rejected_rows"]] == [
        (1, "nope", "work_id nope is not in the organisation's current plan or the adopted "
                    "programme; check the id"),
        (2, own[0], "actual_end is before actual_start"),
    ]  # fmt: skip
    assert reports_of(api_server, "A") == [*before, (own[0], "in_progress")]
    # a file of no rows stores nothing either
    answer = send(client, token, "/progress", "empty.csv", b"work_id,status\n")
    assert answer.status_code == 422
    assert (
        answer.json()["detail"] == "empty.csv: nothing was stored: the file holds no progress rows"
    )


def test_a_plan_of_only_rejected_rows_is_422_with_the_reasons(
    api_server: ApiServer, client: TestClient
) -> None:
    token = api_server.tokens["D"]
    csv = (
        b"work_id,discipline,start_date,end_date,geometry\n"
        b'd9,water,2027-05-01,2027-04-01,"LINESTRING (126000 487000, 126100 487000)"\n'
    )
    answer = send(client, token, "/plans", "backwards.csv", csv, crs="EPSG:28992")
    body = answer.json()
    assert answer.status_code == 422, body
    assert "has no accepted works" in body["detail"] and "nothing was stored" in body["detail"]
