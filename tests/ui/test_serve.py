"""One way to serve the app: ``ims-geo serve``, the browser tests and the benchmarks."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from ims_geo.cli import main
from ims_geo.store import STORE_ENV
from ims_geo.ui import serve


def test_the_serve_command_runs_the_one_streamlit_command(monkeypatch, tmp_path):
    called = {}

    def call(command, *, env, cwd):
        called.update(command=command, env=env, cwd=cwd)
        return 0

    monkeypatch.setattr("subprocess.call", call)
    result = CliRunner().invoke(
        main,
        ["serve", "--port", "8642", "--address", "0.0.0.0", "--store", str(tmp_path / "s.gpkg")],
    )
    assert result.exit_code == 0, result.output
    assert called["command"] == [
        sys.executable, "-m", "streamlit", "run", str(serve.APP),
        "--browser.gatherUsageStats", "false", "--server.enableStaticServing", "true",
        "--server.port", "8642", "--server.address", "0.0.0.0",
    ]  # fmt: skip
    assert called["env"][STORE_ENV] == str((tmp_path / "s.gpkg").resolve())
    assert Path(called["cwd"]) == serve.APP.parent


def test_a_server_or_a_test_runs_it_headless_and_a_database_url_is_kept():
    command = serve.streamlit_command(port=9000)
    assert command[command.index("--server.headless") + 1] == "true"
    assert command[command.index("--server.fileWatcherType") + 1] == "none"
    assert command[-4:] == ["--server.port", "9000", "--server.address", "127.0.0.1"]
    url = "postgresql://planner@db.example/ims"
    assert serve.environment(url, {})[STORE_ENV] == url


def test_served_answers_its_health_check_until_the_block_ends(demo_store, tmp_path):
    with serve.served(demo_store, tmp_path / "app.log") as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as reply:
            assert reply.read() == b"ok"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
