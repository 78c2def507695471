"""Why a file reader ended without an answer: it did not start, a limit, the machine, a signal.

Each case runs a real worker process (forked from the real forkserver) that
ends the way the case says; the message must name that cause and no other.
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import signal
import sys
from multiprocessing import forkserver

import pytest

from ims_geo.errors import ReadLimitError
from ims_geo.ingest import _worker

from conftest import skip_unless_ci

LIMITS = {"memory": 2**31, "cpu": 10.0, "wall": 30.0}


def test_a_reader_that_cannot_import_the_reading_code_says_so_and_the_next_one_starts_afresh(
    tmp_path, monkeypatch
):
    # a reading function whose module disappears between two readings, as after an upgrade
    (tmp_path / "vanishing_reader.py").write_text("def read(n):\n    return n * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("vanishing_reader")
    monkeypatch.setitem(sys.modules, "vanishing_reader", module)
    assert _worker.run(module.read, (21,), name="plan.gpkg", **LIMITS) == 42
    server = forkserver._forkserver._forkserver_pid
    (tmp_path / "vanishing_reader.py").unlink()
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)
    importlib.invalidate_caches()
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(module.read, (21,), name="plan.gpkg", **LIMITS)
    said = str(refused.value)
    assert said.startswith("plan.gpkg: the file reader could not start (exit status 1)"), said
    assert "restart the app" in said and "memory" not in said, said
    # the next reading forks from a new forkserver, which imports the code as it is now
    assert _worker.run(math.factorial, (5,), name="x", **LIMITS) == 120
    assert forkserver._forkserver._forkserver_pid not in (None, server)


def test_a_reader_that_exits_with_an_error_status_is_not_blamed_on_memory():
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(os._exit, (1,), name="plan.csv", **LIMITS)
    said = str(refused.value)
    assert said.startswith("plan.csv: the file reader stopped unexpectedly (exit status 1)"), said
    assert "memory" not in said, said


def test_a_sigkill_is_out_of_memory_only_when_the_kernel_s_oom_killer_struck(monkeypatch):
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(signal.raise_signal, (signal.SIGKILL,), name="plan.gpkg", **LIMITS)
    said = str(refused.value)
    assert "killed (SIGKILL) by something outside the app" in said, said
    assert "memory" not in said, said

    counts = iter([7, 8])  # the kernel's count of OOM kills, before and after the reading
    monkeypatch.setattr(_worker, "oom_kills", lambda: next(counts))
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(signal.raise_signal, (signal.SIGKILL,), name="plan.gpkg", **LIMITS)
    said = str(refused.value)
    assert said.startswith("plan.gpkg: the machine ran out of memory and the system killed"), said
    assert "own limit of 2,048 MiB (max_memory_bytes)" in said, said


def test_a_crash_by_another_signal_names_the_signal_and_not_memory():
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(os.abort, (), name="plan.gpkg", **LIMITS)
    said = str(refused.value)
    assert said.startswith("plan.gpkg crashed the file reader (SIGABRT)"), said
    assert "memory" not in said, said


def test_a_reader_that_ran_out_of_memory_before_it_could_say_so_names_the_memory_limit():
    said = str(_worker._died(_worker._OUT_OF_MEMORY, name="big.csv", **LIMITS))
    assert said.startswith("big.csv: reading needed more than the memory limit of 2,048 MiB"), said


def test_the_kernel_s_count_of_oom_kills_is_read_from_vmstat():
    if not os.path.exists("/proc/vmstat"):
        skip_unless_ci("no /proc/vmstat on this system")
    with open("/proc/vmstat", encoding="ascii") as stats:
        line = next((x for x in stats if x.startswith("oom_kill ")), None)
    if line is None:
        skip_unless_ci("this kernel does not count OOM kills in /proc/vmstat")
    assert _worker.oom_kills() >= int(line.split()[1])


def _abort_after_a_failed_allocation() -> None:
    # what a C++ library under the address-space limit does when an allocation fails
    os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\n")
    os.abort()


def test_an_abort_after_a_failed_allocation_is_the_memory_limit(capfd):
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(_abort_after_a_failed_allocation, (), name="big.gpkg", **LIMITS)
    said = str(refused.value)
    assert said.startswith("big.gpkg: reading needed more than the memory limit of 2,048 MiB"), said
    # what the reader wrote before it died is passed on to the app's log
    assert "std::bad_alloc" in capfd.readouterr().err


def _exit_as_the_loader_does_without_memory_for_a_thread() -> None:
    # glibc's dynamic loader when a new thread's thread-local data cannot be allocated
    os.write(2, b"cannot allocate memory for thread-local data: ABORT\n")
    os._exit(127)


def test_a_thread_without_memory_for_its_local_data_is_the_memory_limit(capfd):
    with pytest.raises(ReadLimitError) as refused:
        _worker.run(
            _exit_as_the_loader_does_without_memory_for_a_thread, (), name="big.parquet", **LIMITS
        )
    said = str(refused.value)
    assert said.startswith("big.parquet: reading needed more than the memory limit of 2,048 MiB")
    assert "thread-local data" in capfd.readouterr().err
