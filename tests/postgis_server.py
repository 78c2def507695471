"""A throwaway PostgreSQL + PostGIS server for the tests (a pytest plugin).

Registered in ``tests/conftest.py`` with ``pytest_plugins = ["postgis_server"]``.

``postgis_cluster`` (session) initialises a private cluster in a fresh
temporary directory, starts it on a free port with its socket in that
directory (nothing in /var/run/postgresql), durability switched off, and
prepares a template database with the PostGIS extension. Under
pytest-xdist every worker starts its own cluster: its own directory, its own
port. ``postgis_url`` (per test) creates a fresh database from that
template, so tests never see each other's tables, and drops it afterwards.

When the PostgreSQL binaries or the PostGIS extension are missing, the
tests that need them are skipped locally and fail in CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import IN_CI

#: Environment variable naming the directory with initdb / pg_ctl.
PG_BIN_ENV = "IMS_GEO_PG_BIN"
TEMPLATE = "ims_postgis_template"
#: Roles of a shared installation in the test cluster (passwords for tests only).
OWNER_ROLE, OWNER_PASSWORD = "ims_owner", "owner-test-password"
APP_ROLE, APP_PASSWORD = "ims_app", "app-test-password"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostGIS tests cannot run in CI: {reason}")
    pytest.skip(f"PostGIS server not available here: {reason}")


def _bin_dir() -> Path | None:
    """The PostgreSQL server binaries: env IMS_GEO_PG_BIN, Debian's layout or the PATH."""
    if os.environ.get(PG_BIN_ENV):
        return Path(os.environ[PG_BIN_ENV])
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostGISCluster:
    """A running throwaway cluster."""

    port: int
    directory: Path
    bin_dir: Path | None = None
    as_postgres: bool = False

    def restart(self) -> None:
        """Stop the server and start it again on the same port (connections drop)."""
        assert self.bin_dir is not None
        pg_ctl = str(self.bin_dir / "pg_ctl")
        data = str(self.directory / "data")
        stopped = _run([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], self.as_postgres)
        assert stopped.returncode == 0, stopped.stderr
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        started = _run(
            [pg_ctl, "-D", data, "-l", str(self.directory / "log"), "-w", "-o", options, "start"],
            self.as_postgres,
        )
        assert started.returncode == 0, started.stderr

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this cluster (psycopg 3 driver)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        ) as con:
            con.execute(sql)


def _run(cmd: list[str], as_postgres: bool) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def postgis_cluster() -> Iterator[PostGISCluster]:
    """Start a private PostgreSQL cluster with a PostGIS template database."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        _unavailable("no PostgreSQL server binaries (initdb); install postgresql-15")
    assert bin_dir is not None
    # initdb refuses to run as root: run the server as the postgres user then
    as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="ims-postgis-"))
    if as_postgres:
        shutil.chown(directory, user="postgres", group="postgres")
    data = directory / "data"
    initdb = _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E",
         "UTF8", "--locale=C.UTF-8", "--no-sync"],
        as_postgres,
    )  # fmt: skip
    if initdb.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        _unavailable(f"initdb failed: {initdb.stderr.strip()[-500:]}")
    # the superuser 'postgres' connects without a password (test set-up only);
    # every other role, such as the application's, must give its password
    (data / "pg_hba.conf").write_text(
        "local all postgres trust\nhost all postgres 127.0.0.1/32 trust\n"
        "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {{port}} -k {directory} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    started = None
    for _ in range(5):  # another process may take the port between bind and start
        port = _free_port()
        started = _run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"), "-w",
             "-o", options.format(port=port), "start"],
            as_postgres,
        )  # fmt: skip
        if started.returncode == 0:
            break
    assert started is not None
    if started.returncode != 0:
        log = (directory / "log").read_text(errors="replace")[-800:]
        shutil.rmtree(directory, ignore_errors=True)
        _unavailable(f"the server did not start: {started.stderr.strip()} {log}")
    cluster = PostGISCluster(
        port=port, directory=directory, bin_dir=bin_dir, as_postgres=as_postgres
    )
    try:
        cluster.execute(f"CREATE DATABASE {TEMPLATE}")
        try:
            cluster.execute("CREATE EXTENSION postgis", database=TEMPLATE)
        except Exception as exc:  # the extension package is not installed
            _unavailable(
                f"CREATE EXTENSION postgis failed ({exc}); install postgresql-15-postgis-3"
            )
        try:  # bcrypt and random tokens of the shared installation's sign-in
            cluster.execute("CREATE EXTENSION pgcrypto", database=TEMPLATE)
        except Exception as exc:  # the contrib modules are not installed
            _unavailable(f"CREATE EXTENSION pgcrypto failed ({exc}); install postgresql-contrib")
        cluster.execute(f"ALTER DATABASE {TEMPLATE} WITH is_template true")
        # the shared installation's roles: an owner of the store schema and the
        # application's role (no superuser, no BYPASSRLS, not the owner)
        cluster.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{OWNER_PASSWORD}'")
        cluster.execute(
            f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}' NOSUPERUSER NOBYPASSRLS"
        )
        yield cluster
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], as_postgres)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class SharedInstallation:
    """A fresh database set up as a shared installation (``ims-geo admin init``)."""

    owner_url: str
    app_url: str
    database: str


SHARED_TEMPLATE = "ims_shared_template"


@pytest.fixture(scope="session")
def shared_template(postgis_cluster: PostGISCluster) -> str:
    """A template database set up once as a shared installation (``ims-geo admin init``).

    bcrypt runs with its lowest work factor (4) here so sign-ins take
    milliseconds; everything else is as in production.
    """
    from ims_geo.access.admin import init_installation

    name = SHARED_TEMPLATE
    postgis_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {OWNER_ROLE}")
    port = postgis_cluster.port
    init_installation(
        f"postgresql+psycopg://{OWNER_ROLE}:{OWNER_PASSWORD}@127.0.0.1:{port}/{name}",
        app_role=APP_ROLE,
    )
    postgis_cluster.execute(
        "UPDATE ims_geo.store_meta SET value = '4' WHERE key = 'bcrypt_cost'", database=name
    )
    postgis_cluster.execute(f"ALTER DATABASE {name} WITH is_template true")
    return name


POPULATED_TEMPLATE = "ims_populated_template"


@pytest.fixture(scope="session")
def populated_template(postgis_cluster: PostGISCluster, shared_template: str) -> dict[str, int]:
    """A template of a shared installation with organisations, users and plans
    (``tests/access_data.py``); the version ids of B's and A's plans."""
    from access_data import populate

    name = POPULATED_TEMPLATE
    postgis_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {shared_template} OWNER {OWNER_ROLE}")
    port = postgis_cluster.port
    made = populate(
        f"postgresql+psycopg://{OWNER_ROLE}:{OWNER_PASSWORD}@127.0.0.1:{port}/{name}",
        f"postgresql+psycopg://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{port}/{name}",
    )
    postgis_cluster.execute("DELETE FROM ims_geo.sessions", database=name)
    postgis_cluster.execute(f"ALTER DATABASE {name} WITH is_template true")
    return {"b_version": made.b_version, "a_version": made.a_version}


@pytest.fixture
def populated_installation(
    postgis_cluster: PostGISCluster, populated_template: dict[str, int]
) -> Iterator[tuple[SharedInstallation, dict[str, int]]]:
    """A fresh copy of :func:`populated_template` (cloning takes a fraction of a second)."""
    with _clone(postgis_cluster, POPULATED_TEMPLATE) as installation:
        yield installation, populated_template


@contextmanager
def _clone(cluster: PostGISCluster, template: str) -> Iterator[SharedInstallation]:
    name = f"shared_{uuid.uuid4().hex[:12]}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE {template} OWNER {OWNER_ROLE}")
    port = cluster.port
    owner_url = f"postgresql+psycopg://{OWNER_ROLE}:{OWNER_PASSWORD}@127.0.0.1:{port}/{name}"
    app_url = f"postgresql+psycopg://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{port}/{name}"
    try:
        yield SharedInstallation(owner_url=owner_url, app_url=app_url, database=name)
    finally:
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def shared_installation(
    postgis_cluster: PostGISCluster, shared_template: str
) -> Iterator[SharedInstallation]:
    """A fresh database owned by the owner role, initialised for the application role."""
    with _clone(postgis_cluster, shared_template) as installation:
        yield installation


@pytest.fixture
def postgis_url(postgis_cluster: PostGISCluster) -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostGIS database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    postgis_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield postgis_cluster.url(name)
    finally:
        postgis_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
