"""Shared test fixtures: real files in temporary folders, data built in code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
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
