"""Concurrent and failing writers, on both stores.

Two organisations importing at once both land; an import killed with
SIGKILL half-way leaves the previous version intact and the store usable; a
stalled import makes the next one wait at most the lock timeout and then
fail saying another import is running; the PostGIS store reconnects after
the server restarts. PostGIS runs as a shared installation: the application
role, signed in per organisation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from access_data import PASSWORD, line, plan

from ims_geo.access.admin import Administration
from ims_geo.errors import StoreError
from ims_geo.store import Store, open_store

#: The child process: opens the store, writes the rows of an import, says so,
#: and then hangs inside the transaction (until it is killed).
STALLED_IMPORT = """
import os, sys, time
from ims_geo.ingest import read_works
from ims_geo.store import open_store
location, plan_file, org, user = sys.argv[1:5]
sign_in = {"user": user, "password": os.environ["IMS_GEO_PASSWORD"]} if user else {}
store = open_store(location, **sign_in)
cls = type(store)
write = cls._insert_works
def stall(self, con, version_id, works):
    write(self, con, version_id, works)
    print("WRITTEN", flush=True)
    time.sleep(600)
cls._insert_works = stall
store.import_plan(read_works(plan_file, org=org).works, org=org, cycle=2027)
"""


@dataclass
class Backend:
    location: str
    users: dict[str, str]  # organisation -> user name ("" for the GeoPackage)

    def open(self, org: str | None = None, **options: Any) -> Store:
        user = self.users.get(org or "", "")
        sign_in = {"user": user, "password": PASSWORD} if user else {}
        return open_store(self.location, **sign_in, **options)


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "gpkg":
        return Backend(str(tmp_path / "ims.gpkg"), {})
    return _shared(request.getfixturevalue("shared_installation"))


@pytest.fixture
def shared_backend(shared_installation: Any) -> Backend:
    return _shared(shared_installation)


def _shared(inst: Any) -> Backend:
    with Administration.open(inst.owner_url) as adm:
        for org in ("A", "B"):
            adm.add_org(org)
            adm.add_user(f"{org.lower()}_plan", org=org, role="planner", password=PASSWORD)
    return Backend(inst.app_url, {"A": "a_plan", "B": "b_plan"})


def works_of(org: str, n: int, start: str = "2027-03-01") -> Any:
    return plan(org, [
        {"work_id": f"{org}{i}", "title": f"{org} {i}", "start_date": start,
         "end_date": start[:4] + "-09-30", "geometry": line(60.0 * i, 10.0 if org == "B" else 0.0)}
        for i in range(n)
    ])  # fmt: skip


@contextmanager
def stalled_import(backend: Backend, org: str, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A child process inside an import of ``org``, rows written, not committed."""
    plan_file = tmp_path / f"stalled_{org}.gpkg"
    works_of(org, 40, start="2028-01-01").to_file(plan_file, driver="GPKG")
    env = {**os.environ, "IMS_GEO_PASSWORD": PASSWORD}
    child = subprocess.Popen(
        [sys.executable, "-c", STALLED_IMPORT, backend.location, str(plan_file), org,
         backend.users.get(org, "")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line_out = child.stdout.readline()
        assert line_out.strip() == "WRITTEN", child.stderr.read() if child.stderr else ""
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)


def test_two_organisations_importing_at_once_both_land(backend: Backend) -> None:
    with backend.open() as first:
        first_a = works_of("A", 1)
        if backend.users:
            backend.open("A").import_plan(first_a, org="A", cycle=2027)
        else:
            first.import_plan(first_a, org="A", cycle=2027)  # sets the store CRS
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def upload(org: str) -> None:
        try:
            with backend.open(org) as store:
                start.wait()
                store.import_plan(works_of(org, 200), org=org, cycle=2027)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(org,)) for org in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with backend.open("A") as store:
        versions = store.plan_versions()
        assert sorted(zip(versions["org"], versions["version"], strict=True)) == [
            ("A", 1),
            ("A", 2),
            ("B", 1),
        ]
        works = store.works()
        assert (works["org"] == "A").sum() == 200 and (works["org"] == "B").sum() == 200


def test_an_import_killed_half_way_leaves_the_previous_version_intact(
    backend: Backend, tmp_path: Path
) -> None:
    with backend.open("A") as store:
        store.import_plan(works_of("A", 3), org="A", cycle=2027)
        before = store.works()
        versions = store.plan_versions()
    with stalled_import(backend, "A", tmp_path) as child:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    with backend.open("A") as store:
        assert store.plan_versions().equals(versions)
        assert store.works().equals(before)
        # the store is not stuck: the next import lands at once as version 2
        started = time.monotonic()
        assert store.import_plan(works_of("A", 5), org="A", cycle=2027).version == 2
        assert time.monotonic() - started < 10
        assert len(store.works()) == 5


def test_a_stalled_import_makes_the_next_one_fail_after_the_lock_timeout(
    backend: Backend, tmp_path: Path
) -> None:
    with backend.open("B") as store:
        store.import_plan(works_of("B", 2), org="B", cycle=2027)
    with stalled_import(backend, "A", tmp_path):
        with backend.open("B", lock_timeout=1.5) as store:
            assert len(store.works()) == 2  # readers are not blocked
            started = time.monotonic()
            with pytest.raises(StoreError, match="another import is running") as info:
                store.import_plan(works_of("B", 4), org="B", cycle=2027)
            waited = time.monotonic() - started
            assert 1.4 <= waited < 10, waited
            assert "backup" not in str(info.value) and "damaged" not in str(info.value)
    with backend.open("B") as store:  # the stalled writer gone, imports go on
        assert store.import_plan(works_of("B", 4), org="B", cycle=2027).version == 2


def test_the_lock_timeout_comes_from_the_environment(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMS_GEO_LOCK_TIMEOUT", "2.5")
    with backend.open() as store:
        assert store.lock_timeout == 2.5  # type: ignore[attr-defined]
    monkeypatch.setenv("IMS_GEO_LOCK_TIMEOUT", "soon")
    with pytest.raises(StoreError, match="IMS_GEO_LOCK_TIMEOUT='soon' is not a number"):
        backend.open()


@pytest.mark.postgis
def test_the_postgis_store_reconnects_after_the_server_restarts(
    shared_backend: Backend, postgis_cluster: Any
) -> None:
    with shared_backend.open("A") as store:
        store.import_plan(works_of("A", 2), org="A", cycle=2027)
        assert len(store.works()) == 2
        postgis_cluster.restart()
        # the pooled connections died with the server: checked and replaced, and
        # the sign-in (a row in the database) still holds
        assert len(store.works()) == 2
        assert store.import_plan(works_of("A", 3), org="A", cycle=2027).version == 2
        assert store.identity is not None and store.identity.org == "A"
