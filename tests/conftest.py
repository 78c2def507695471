"""Shared test fixtures: real files in temporary folders, data built in code, Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytest_plugins = ["postgis_server"]


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skips (never in CI) when the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing in CI; the real-data tests need ../shared/data")
        pytest.skip(f"real third-party data not available here: {path} does not exist")
    return path


def chromium() -> Path:
    """Debian's Chromium; skips locally (fails in CI) when it is not installed."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium for the browser tests, headless, with nothing that phones home."""
    return {
        **browser_type_launch_args,
        "executable_path": str(chromium()),
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def dask_client():  # type: ignore[no-untyped-def]
    """One Dask LocalCluster for the whole test session: 2 in-process workers, on TCP.

    In-process workers start in a second and share the test's memory; TCP
    gives the cluster an address the CLI tests pass as ``--scheduler``.
    """
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
