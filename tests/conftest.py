"""Shared test fixtures: real files in temporary folders, data built in code, Chromium."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytest_plugins = ["postgis_server"]


def _keep_bytecode() -> None:
    """Compiled bytecode of the test run's processes kept under ``.pytest_cache/pycache``.

    Where the environment forbids writing ``__pycache__`` beside the sources
    (``PYTHONDONTWRITEBYTECODE``, and a virtualenv installed without compiled
    bytecode), every process the tests start (the xdist workers, app and API
    servers, notebook kernels, command-line runs, the reader's forkserver)
    compiled Streamlit, Dask, matplotlib, OR-Tools and the others from source
    again: about 2.5 s of CPU each. They now share one cache outside the
    source tree (ignored by git). A cache location the user set is kept.
    """
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        prefix = str(ROOT / ".pytest_cache" / "pycache")
        os.environ["PYTHONPYCACHEPREFIX"] = prefix  # for the processes started from here on
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        sys.pycache_prefix = prefix  # and for this one's later imports
        sys.dont_write_bytecode = False


_keep_bytecode()


def skip_unless_ci(reason: str, in_ci: str | None = None) -> NoReturn:
    """Skip the test for a missing part of this machine; in CI, where it must be, fail."""
    if IN_CI:
        pytest.fail(in_ci or reason)
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skips (never in CI) when the folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_unless_ci(
            f"real third-party data not available here: {path} does not exist",
            f"{path} is missing in CI; the real-data tests need ../shared/data",
        )
    return path


def chromium() -> Path:
    """Debian's Chromium; skips locally (fails in CI) when it is not installed."""
    if not CHROMIUM.exists():
        skip_unless_ci(f"{CHROMIUM} is missing (apt-get install chromium)")
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


# --- the order and grouping of the tests over pytest-xdist's workers ----------------------
#: Test modules that take longest one test at a time (a notebook run end to end): collected
#: first, in this order, so ``--dist loadgroup`` starts them first and both workers finish
#: together.
LONGEST_FIRST = (
    "tests/test_notebooks.py",
    # then the longest single tests (half a minute each on two cores): in collection order
    # one of them could start late and keep its worker busy after the other had finished
    "tests/test_benchmarks.py::test_benchmark_script_runs_and_reports",
    "tests/test_hostile.py::test_fuzz_sample",
)


def _longest_rank(nodeid: str) -> int:
    """The place of ``nodeid`` in :data:`LONGEST_FIRST` (after them: every other test)."""
    return next(
        (i for i, p in enumerate(LONGEST_FIRST) if nodeid.startswith(p)), len(LONGEST_FIRST)
    )


def _xdist_groups(item: pytest.Item) -> str:
    """The ``xdist_group`` names of ``item`` joined as pytest-xdist joins them (``""``: none)."""
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest tests first; and ``xdist_group`` kept on pytest 9.2.

    pytest-xdist 3.8 marks a grouped test by appending ``@group`` to
    ``item._nodeid``, which pytest 9.2 no longer reads (its node ids are
    structured, ``item._id``): every group was silently spread over both
    workers, each then starting the group's servers again. The suffix is set
    here where pytest reads it (pytest-xdist issue 1386), on the workers only.
    """
    items.sort(key=lambda item: _longest_rank(item.nodeid))
    if not (items and getattr(config.option, "loadgroup", False) and hasattr(items[0], "_id")):
        return
    try:  # pytest's own node ids: if they change again, the groups are only spread
        from _pytest.nodeid import NodeId
    except ImportError:
        return
    for item in items:
        group = _xdist_groups(item)
        if group and not item.nodeid.endswith(f"@{group}"):
            item._id = NodeId.parse(f"{item.nodeid}@{group}")
