"""The ``ims-geo`` command's start: glibc's malloc settings added once, the user's kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ims_geo import launch
from ims_geo.launch import SWITCH, TUNABLES, tuned_environ

from conftest import IN_CI

GLIBC = launch._glibc_supports()
# CI runs on Debian (glibc 2.36): there the tests run, and fail if the settings are not read
needs_glibc = pytest.mark.skipif(
    not GLIBC and not IN_CI, reason="glibc 2.35 or later is needed for its malloc tunables"
)


@needs_glibc
def test_settings_added_to_an_environment_without_any() -> None:
    env = tuned_environ({"PATH": "/usr/bin"})
    assert env == {"PATH": "/usr/bin", "GLIBC_TUNABLES": ":".join(TUNABLES), SWITCH: "tuned"}


@needs_glibc
def test_a_setting_the_user_chose_is_kept_and_the_others_added() -> None:
    env = tuned_environ({"GLIBC_TUNABLES": "glibc.malloc.mxfast=64:glibc.cpu.x86_ibt=on"})
    assert env is not None
    assert env["GLIBC_TUNABLES"] == (
        "glibc.malloc.mxfast=64:glibc.cpu.x86_ibt=on:glibc.malloc.hugetlb=1"
    )


@needs_glibc
def test_nothing_to_add_when_every_setting_is_chosen() -> None:
    chosen = "glibc.malloc.hugetlb=0:glibc.malloc.mxfast=32"
    assert tuned_environ({"GLIBC_TUNABLES": chosen}) is None


@pytest.mark.parametrize("value", ["default", "tuned"])
def test_the_switch_leaves_the_environment_alone(value: str) -> None:
    assert tuned_environ({SWITCH: value}) is None


@pytest.mark.parametrize("libc", ["glibc 2.31", "musl 1.2", "", "glibc x.y"])
def test_no_settings_without_a_glibc_that_reads_them(
    monkeypatch: pytest.MonkeyPatch, libc: str
) -> None:
    monkeypatch.setattr(os, "confstr", lambda name: libc)
    assert tuned_environ({}) is None


def test_no_settings_where_the_system_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(name: str) -> str:
        raise ValueError(name)

    monkeypatch.setattr(os, "confstr", unknown)
    assert tuned_environ({}) is None


def test_main_starts_the_same_command_again_with_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, ...]] = []

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append((path, argv, env))
        raise SystemExit(0)  # execve does not return

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(sys, "orig_argv", ["/venv/bin/python", "/venv/bin/ims-geo", "demo", "-h"])
    monkeypatch.setattr(launch, "tuned_environ", lambda environ: {"GLIBC_TUNABLES": "x"})
    with pytest.raises(SystemExit):
        launch.main()
    assert calls == [
        (
            sys.executable,
            [sys.executable, "/venv/bin/ims-geo", "demo", "-h"],
            {"GLIBC_TUNABLES": "x"},
        )
    ]


def test_the_command_runs_as_it_is_where_the_system_refuses_to_start_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[bool] = []

    def refused(path: str, argv: list[str], env: dict[str, str]) -> None:
        raise PermissionError(path)

    monkeypatch.setattr(os, "execve", refused)
    monkeypatch.setattr(launch, "tuned_environ", lambda environ: {"GLIBC_TUNABLES": "x"})
    monkeypatch.setattr("ims_geo.cli.main", lambda: ran.append(True))
    launch.main()
    assert ran == [True]


@needs_glibc
def test_the_real_command_starts_once_more_with_the_settings_then_runs(tmp_path: Path) -> None:
    # every interpreter start records its pid and its GLIBC_TUNABLES
    log = tmp_path / "starts.txt"
    (tmp_path / "sitecustomize.py").write_text(
        "import os\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(f\"{os.getpid()} {os.environ.get('GLIBC_TUNABLES', '-')}\\n\")\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", SWITCH)}
    env["PYTHONPATH"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ims_geo.launch", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "conflicts" in done.stdout
    starts = [line.split(" ", 1) for line in log.read_text().splitlines()]
    # the same process (execve keeps the pid), first as started, then with the settings
    assert [tunables for _, tunables in starts] == ["-", ":".join(TUNABLES)]
    assert starts[0][0] == starts[1][0]


def test_the_console_script_is_the_launcher() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ims-geo"]
    assert script.value == "ims_geo.launch:main"


@needs_glibc
def test_local_dask_workers_start_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from ims_geo.distributed.cluster import dask_client

    # the nanny sets the workers' variables in this process's environment before starting
    # them: set first, so that the test's end restores the environment as it was
    for name in ("GLIBC_TUNABLES", SWITCH):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with dask_client(workers=1) as client:
        seen = client.run(os.getenv, "GLIBC_TUNABLES")  # the worker's own environment
        assert "GLIBC_TUNABLES" not in os.environ  # this process's environment as it was
    assert list(seen.values()) == [":".join(TUNABLES)]


@needs_glibc
def test_local_dask_workers_add_the_settings_to_those_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ims_geo.distributed.cluster import dask_client

    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mxfast=32")
    monkeypatch.setenv(SWITCH, "")
    monkeypatch.delenv(SWITCH)
    with dask_client(workers=1) as client:
        seen = client.run(os.getenv, "GLIBC_TUNABLES")  # the worker's own environment
        assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.mxfast=32"  # left as it was
    assert list(seen.values()) == ["glibc.malloc.mxfast=32:glibc.malloc.hugetlb=1"]
