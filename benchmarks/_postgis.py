"""A throwaway PostgreSQL + PostGIS cluster for the benchmarks.

Started in a temporary folder on a free local port with durability off
(fsync, synchronous_commit and full_page_writes), as in the project's
technical notes; stopped and deleted on exit. When the process runs as
root, the server runs as the ``postgres`` system user (initdb refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("IMS_GEO_PG_BIN", "/usr/lib/postgresql/15/bin"))


def available() -> str | None:
    """None when a cluster can be started here, else the reason it cannot."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (set IMS_GEO_PG_BIN)"
    share = subprocess.run(
        [str(PG_BIN / "postgres"), "--describe-config"], capture_output=True, text=True
    )
    if share.returncode != 0:
        return f"{PG_BIN / 'postgres'} does not run: {share.stderr.strip()}"
    control = list(Path("/usr/share/postgresql").glob("*/extension/postgis.control"))
    if not control:
        return "PostGIS is not installed (apt-get install postgresql-15-postgis-3)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster with the postgis extension; yield its ``postgresql://`` URL."""
    folder = Path(tempfile.mkdtemp(prefix="ims_geo_bench_pg_"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, log, port = folder / "data", folder / "log", _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB "
        "-c work_mem=256MB -c maintenance_work_mem=512MB"
    )
    pg_ctl = str(PG_BIN / "pg_ctl")
    started = False
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_server_user(
                [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-o", options, "start"]
            ),
            check=True,
            capture_output=True,
        )
        started = True
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield url
    finally:
        if started:
            subprocess.run(
                _as_server_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)
