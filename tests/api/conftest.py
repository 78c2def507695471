"""The HTTP API as a real server: ``ims-geo api`` in a subprocess over a shared installation.

``api_server`` (session) sets up one shared installation in the throwaway
PostGIS cluster (organisations A and B of ``tests/access_data.py`` with
their plans, plus C and D far away from them for the tests that write),
creates API tokens with ``ims-geo admin token``, starts ``ims-geo api`` on a
free port and polls ``/health`` until it answers. In CI a missing server is
a failure, never a skip (see ``tests/postgis_server.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from access_data import PASSWORD, populate
from click.testing import CliRunner
from postgis_server import (
    APP_PASSWORD,
    APP_ROLE,
    OWNER_PASSWORD,
    OWNER_ROLE,
    TEMPLATE,
    PostGISCluster,
)

ROOT = Path(__file__).resolve().parents[2]
#: The installed console script (as users run it), else the same entry point through Python.
IMS_GEO = (
    [str(Path(sys.executable).parent / "ims-geo")]
    if (Path(sys.executable).parent / "ims-geo").exists()
    else [sys.executable, "-c", "from ims_geo.cli import main; main()"]
)


@dataclass
class ApiServer:
    """A running ``ims-geo api`` and what the tests need to call it."""

    url: str
    owner_url: str
    app_url: str
    database: str
    cluster: PostGISCluster
    tokens: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One real HTTP request: status, body and headers (errors are answers too)."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                return reply.status, reply.read(), dict(reply.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        status, body, _ = self.call(method, path, **kwargs)
        return status, json.loads(body)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type (what a browser or curl -F sends)."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token(owner_url: str, org: str, role: str) -> str:
    from ims_geo.cli import main

    result = CliRunner().invoke(
        main, ["admin", "token", org, "--role", role, "--label", "tests", "--store", owner_url]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def start_api(store_url: str, folder: Path, env: dict[str, str] | None = None) -> tuple[Any, str]:
    """``ims-geo api`` on a free port; (process, URL) once /health answers."""
    port = _free_port()
    log = folder / f"api-{port}.log"
    proc = subprocess.Popen(
        [*IMS_GEO, "api", "--port", str(port), "--store", store_url],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if json.loads(reply.read()) == {"status": "ok"}:
                    return proc, url
        except (OSError, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_api(proc)
            pytest.fail(f"ims-geo api did not start:\n{log.read_text()}")
        time.sleep(0.2)


def stop_api(proc: Any) -> None:
    """Terminate the server by its own handle (never by name)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session")
def api_server(
    postgis_cluster: PostGISCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """A shared installation with A, B, C and D, their tokens, and ``ims-geo api`` serving it."""
    from ims_geo.access.admin import Administration, init_installation

    name = f"api_{uuid.uuid4().hex[:12]}"
    postgis_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {OWNER_ROLE}")
    port = postgis_cluster.port
    owner_url = f"postgresql+psycopg://{OWNER_ROLE}:{OWNER_PASSWORD}@127.0.0.1:{port}/{name}"
    app_url = f"postgresql+psycopg://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{port}/{name}"
    proc = None
    try:
        init_installation(owner_url, app_role=APP_ROLE)
        postgis_cluster.execute(
            "UPDATE ims_geo.store_meta SET value = '4' WHERE key = 'bcrypt_cost'", database=name
        )
        populate(owner_url, app_url)
        with Administration.open(owner_url) as adm:
            for org in ("C", "D"):
                adm.add_org(org)
                adm.add_user(f"{org.lower()}_plan", org=org, role="planner", password=PASSWORD)
        tokens = {
            "A": _token(owner_url, "A", "planner"),
            "A_viewer": _token(owner_url, "A", "viewer"),
            "B": _token(owner_url, "B", "planner"),
            "C": _token(owner_url, "C", "planner"),
            "D": _token(owner_url, "D", "planner"),
        }
        folder = Path(os.environ.get("IMS_GEO_TEST_API_LOGS") or tmp_path_factory.mktemp("api"))
        proc, url = start_api(app_url, folder)
        yield ApiServer(
            url=url, owner_url=owner_url, app_url=app_url, database=name,
            cluster=postgis_cluster, tokens=tokens,
        )  # fmt: skip
    finally:
        if proc is not None:
            stop_api(proc)
        postgis_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def restart_cluster(cluster: PostGISCluster) -> None:
    """Restart the throwaway PostgreSQL server (fast shutdown: every connection is cut)."""
    from postgis_server import _bin_dir, _run

    bin_dir = _bin_dir()
    assert bin_dir is not None
    as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
    done = _run(
        [str(bin_dir / "pg_ctl"), "-D", str(cluster.directory / "data"), "-l",
         str(cluster.directory / "log"), "-m", "fast", "-w", "restart"],
        as_postgres,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
