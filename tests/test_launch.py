"""The ``ims-geo`` command's start: the memory settings added before numpy and pyarrow load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ims_geo import launch
from ims_geo.launch import SETTINGS, SWITCH, tuned_environ

NUMPY, ARROW = "NUMPY_MADVISE_HUGEPAGE", "ARROW_DEFAULT_MEMORY_POOL"

#: What a fresh interpreter reports: numpy's huge-page requests (True: on) and pyarrow's pool.
_REPORT = (
    "from numpy._core.multiarray import _set_madvise_hugepage;"
    "import pyarrow;"
    "print(_set_madvise_hugepage(False), pyarrow.default_memory_pool().backend_name)"
)


def _fresh(code: str, **env: str) -> str:
    """The output of ``code`` in a fresh interpreter without the settings (plus ``env``)."""
    clean = {k: v for k, v in os.environ.items() if k not in (NUMPY, ARROW, SWITCH)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_settings_added_to_an_environment_without_any() -> None:
    env = tuned_environ({"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", NUMPY: "0", ARROW: "system", SWITCH: "tuned"}


def test_a_setting_the_user_chose_is_kept_and_the_other_added() -> None:
    env = tuned_environ({NUMPY: "1"})
    assert env == {NUMPY: "1", ARROW: "system", SWITCH: "tuned"}


def test_nothing_to_add_when_every_setting_is_chosen() -> None:
    assert tuned_environ({NUMPY: "1", ARROW: "jemalloc"}) is None


@pytest.mark.parametrize("value", ["default", "tuned"])
def test_the_switch_leaves_the_environment_alone(value: str) -> None:
    assert tuned_environ({SWITCH: value}) is None


def test_importing_the_launcher_loads_neither_numpy_nor_pyarrow() -> None:
    # the console script imports the launcher first: the settings must come before both
    code = "import sys, ims_geo.launch; print('numpy' in sys.modules, 'pyarrow' in sys.modules)"
    assert _fresh(code) == "False False"


def test_the_settings_take_effect_in_the_process_that_applies_them() -> None:
    applied = _fresh("from ims_geo import launch; launch.apply();" + _REPORT)
    assert applied == "False system"
    # switched off, the process keeps numpy's and pyarrow's own choices
    assert _fresh(
        "from ims_geo import launch; launch.apply();" + _REPORT, **{SWITCH: "default"}
    ) == _fresh(_REPORT)


def test_main_applies_the_settings_before_the_cli_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (NUMPY, ARROW, SWITCH):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)  # restored as it was when the test ends
    seen: list[dict[str, str | None]] = []
    monkeypatch.setattr(
        "ims_geo.cli.main", lambda: seen.append({n: os.environ.get(n) for n in SETTINGS})
    )
    launch.main()
    assert seen == [SETTINGS]


def test_the_real_command_runs_with_the_settings() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ims_geo.launch", "--help"],
        env={k: v for k, v in os.environ.items() if k not in (NUMPY, ARROW, SWITCH)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "conflicts" in done.stdout


def test_the_console_script_is_the_launcher() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ims-geo"]
    assert script.value == "ims_geo.launch:main"


def _worker_report() -> tuple[str | None, str]:
    import pyarrow

    return os.environ.get(NUMPY), pyarrow.default_memory_pool().backend_name


def test_local_dask_workers_start_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from ims_geo.distributed.cluster import dask_client

    # the nanny sets the workers' variables in this process's environment before starting
    # them: set first, so that the test's end restores the environment as it was
    for name in (NUMPY, ARROW, SWITCH):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with dask_client(workers=1) as client:
        seen = client.run(_worker_report)  # the worker's own environment and pool
        assert NUMPY not in os.environ and ARROW not in os.environ  # this process's as it was
    assert list(seen.values()) == [("0", "system")]


def test_local_dask_workers_keep_a_setting_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ims_geo.distributed.cluster import dask_client

    monkeypatch.setenv(NUMPY, "1")
    for name in (ARROW, SWITCH):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with dask_client(workers=1) as client:
        seen = client.run(_worker_report)
        assert os.environ[NUMPY] == "1" and ARROW not in os.environ  # left as they were
    assert list(seen.values()) == [("1", "system")]
