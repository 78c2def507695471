"""Reading untrusted files in a separate, limited process.

A file can crash the process that parses it (GEOS and PROJ are C++ that a
hostile geometry can drive into an abort or a segfault), eat all memory or
never finish. :func:`run` therefore calls a reading function in a worker
process with

- an address-space limit (``RLIMIT_AS``, :attr:`Limits.max_memory_bytes`),
- a CPU-time limit (``RLIMIT_CPU``, :attr:`Limits.max_cpu_seconds`),
- a wall-clock limit enforced by the caller (:attr:`Limits.max_read_seconds`),
- no network: a new, empty network namespace where the kernel allows one,
  else sockets refused inside Python and GDAL/PROJ network access off,

and turns a crash, a timeout or an out-of-memory into a
:class:`~ims_geo.errors.ReadLimitError` that names the file and the limit.

Workers are forked from a *forkserver* that imported the reading stack once,
so a read costs a fork (a few milliseconds), not a Python start-up. The
result crosses back as one pickle (GeoDataFrames pickle their geometries as
WKB). A worker reads one request and exits, so no state of one file can leak
into the next.

Scripts that import ims_geo and read files must keep their top level under
``if __name__ == "__main__":`` (the forkserver imports the main script once,
as every multiprocessing start method but "fork" does).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

from ims_geo.errors import ImsGeoError, InputError, ReadLimitError

#: Modules the forkserver imports once, so that each worker starts ready.
PRELOAD = ["ims_geo.ingest", "ims_geo.ingest._geoparquet"]
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
#: Seconds a worker may take past its CPU limit before the wall clock stops it anyway.
_GRACE = 2.0
#: What a worker sends first: it started (imported the reading code and got its request).
_STARTED = "started"
#: The exit status of a worker that ran out of memory before it could say so.
_OUT_OF_MEMORY = 75
#: How much of the end of a dead worker's stderr is read for why it died.
_SAID_BYTES = 8192


class _Popen(popen_forkserver.Popen):  # type: ignore[misc]
    """The forkserver's Popen without re-running the caller's main script in the worker.

    multiprocessing re-imports ``__main__`` in every spawned child; for a
    worker that only calls an ims_geo function this costs a second (the
    Streamlit or pytest runner) and runs scripts without a main guard twice.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        for key in ("init_main_from_path", "init_main_from_name"):
            prep_data.pop(key, None)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        parent_w = os.dup(w)
        close = util.close_fds  # type: ignore[attr-defined]
        self.finalizer = util.Finalize(self, close, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(context.ForkServerProcess):  # type: ignore[misc]
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)


def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


@dataclass(frozen=True)
class Memory:
    """A reading's address-space limit and where it came from, for the refusal.

    Attributes
    ----------
    limit
        The limit in bytes.
    file_bytes
        The size of the file(s) read when the limit grew with it (else 0).
    machine_bytes
        The machine's memory when the limit is the share of it a reader may
        take at most (:func:`machine_cap`; else 0).
    """

    limit: float
    file_bytes: float = 0
    machine_bytes: float = 0


def machine_memory() -> int:
    """The machine's physical memory in bytes (0 where the system does not tell)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


#: The share of the machine's memory a reader's limit grows to at most.
MACHINE_SHARE = 0.75
#: The setting (environment variable) of the app's reading memory limit.
MEMORY_SETTING = "IMS_GEO_MAX_MEMORY_BYTES"


def machine_cap() -> float:
    """The most a reader's address-space limit grows to on this machine (3/4 of its memory)."""
    total = machine_memory()
    return total * MACHINE_SHARE if total else float("inf")


def _size(value: float) -> str:
    return _mib(value) if value >= 2**20 else f"{value / 2**10:,.0f} KiB"


def _raised(limit: float) -> str:
    """A larger limit to suggest: twice ``limit``, in whole GiB."""
    return f"{max(1, math.ceil(2 * limit / 2**30))}G"


def run(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    name: str,
    memory: float | Memory,
    cpu: float,
    wall: float,
) -> Any:
    """``func(*args)`` in a limited worker process; its result or its error.

    Parameters
    ----------
    func
        A module-level function (it is called by reference in the worker).
    args
        Its arguments (pickled; pass paths, not large bytes).
    name
        The file(s) being read, for the messages.
    memory, cpu, wall
        Address-space limit in bytes (or a :class:`Memory` that says where
        it came from), CPU seconds and wall-clock seconds.

    Raises
    ------
    ImsGeoError
        Whatever :class:`ImsGeoError` ``func`` raised; any other exception
        as an :class:`InputError` naming ``name``.
    ReadLimitError
        The worker crashed, ran out of memory or time.
    """
    memory = memory if isinstance(memory, Memory) else Memory(memory)
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    env = dict(os.environ)
    # what the worker writes to stderr before it dies (e.g. C++'s std::bad_alloc) tells why
    handle, said_path = tempfile.mkstemp(prefix="ims_geo-reader-", suffix=".txt")
    os.close(handle)
    process = _Process(
        target=_child,
        args=(send, func, args, name, memory, cpu, env, said_path),
        name="ims_geo-reader",
        daemon=True,
    )
    kills = oom_kills()
    try:
        process.start()
    except BaseException:
        os.unlink(said_path)
        raise
    send.close()
    message: tuple[str, Any] | None = None
    started = timed_out = False
    deadline = time.monotonic() + wall
    try:
        while message is None:
            left = None if wall == float("inf") else max(0.0, deadline - time.monotonic())
            if not receive.poll(left):
                timed_out = True
                break
            try:
                got = receive.recv()
            except (EOFError, OSError):
                break  # the worker died: its exit status tells why
            except Exception as exc:  # an answer that cannot be unpickled
                got = ("error", unreadable(name, exc))
            if got[0] == _STARTED:
                started = True
            else:
                message = got
    finally:
        receive.close()
        if not timed_out:  # it answered or closed its end: let it finish, so its status tells
            process.join(_GRACE)
        if process.is_alive():
            process.kill()
        process.join()
        said = _said(said_path, echo=message is None)
    if message is None:
        if not started and not timed_out:
            # the forkserver's modules may be older than the code on disk (an upgrade
            # under a running app): the next reading starts a new one
            _restart_forkserver()
        raise _died(
            None if timed_out else process.exitcode,
            name=name,
            memory=memory,
            cpu=cpu,
            wall=wall,
            started=started or timed_out,
            oom_killed=oom_kills() > kills,
            allocation_failed=any(words in said for words in _ALLOCATION_FAILED),
        )
    if message[0] == "error":
        raise message[1]
    return message[1]


def _said(path: str, *, echo: bool) -> str:
    """The end of what a worker wrote to stderr (removed); passed on when it died."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - _SAID_BYTES))
            text = f.read().decode("utf-8", "replace")
        os.unlink(path)
    except OSError:
        return ""
    if echo and text:
        sys.stderr.write(text)
    return text


def _restart_forkserver() -> None:
    """Stop the forkserver, so that the next reading forks from a new one."""
    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError, ChildProcessError):
            stop()


def oom_kills() -> int:
    """How many processes the kernel's out-of-memory killer has killed (0 where unknown).

    The counter (``/proc/vmstat``) counts the kills of the whole machine and
    of every memory cgroup; a reader killed while it grew means the machine
    (or its container), not the reader's own limit, ran out of memory.
    """
    try:
        with open("/proc/vmstat", encoding="ascii") as stats:
            for line in stats:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _died(
    code: int | None,
    *,
    name: str,
    memory: float | Memory,
    cpu: float,
    wall: float,
    started: bool = True,
    oom_killed: bool = False,
    allocation_failed: bool = False,
) -> ReadLimitError:
    """Why the worker reading ``name`` ended without an answer, and what to do.

    Parameters
    ----------
    code
        Its exit status (negative: the signal that ended it); None when the
        wall clock stopped it.
    started
        Whether it started: a worker that could not import the reading code
        says nothing before it exits.
    oom_killed
        Whether the kernel's out-of-memory killer killed a process meanwhile.
    allocation_failed
        Whether the worker wrote of a failed allocation before it ended
        (e.g. C++ aborting on ``std::bad_alloc`` under the memory limit).
    """
    memory = memory if isinstance(memory, Memory) else Memory(memory)
    fix = "split the file, or raise the limit if the file is trusted (see README, Limits)"
    if code is None:
        return ReadLimitError(
            f"{name}: reading was stopped after {wall:,.0f} s, the read time limit "
            f"(max_read_seconds); {fix}"
        )
    if not started:
        return ReadLimitError(
            f"{name}: the file reader could not start (exit status {code}); the app's code "
            "probably changed while it ran: restart the app, then read the file again"
        )
    if code == _OUT_OF_MEMORY or (allocation_failed and code != -signal.SIGKILL):
        return _over_memory(name, memory)
    if code == -signal.SIGXCPU:
        return ReadLimitError(
            f"{name}: reading used more than {cpu:,.0f} s of CPU time, the limit "
            f"(max_cpu_seconds); {fix}"
        )
    if code == -signal.SIGKILL and oom_killed:
        return ReadLimitError(
            f"{name}: the machine ran out of memory and the system killed the file reader "
            f"(SIGKILL) before it reached its own limit of {_mib(memory.limit)} "
            "(max_memory_bytes); read the file when the machine is less busy, or lower the "
            "limit so that the reader stops first"
        )
    what = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
    if code == -signal.SIGKILL:
        return ReadLimitError(
            f"{name}: the file reader was killed ({what}) by something outside the app, not "
            "by a limit of the reading; read the file again"
        )
    if code < 0:
        return ReadLimitError(
            f"{name} crashed the file reader ({what}); the file is damaged or hostile: "
            "export it again from the source system"
        )
    return ReadLimitError(
        f"{name}: the file reader stopped unexpectedly (exit status {code}); read the file "
        "again, and if it stops again export it again from the source system"
    )


# --- inside the worker ------------------------------------------------------------------


def _child(
    conn: multiprocessing.connection.Connection,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    name: str,
    memory: Memory,
    cpu: float,
    env: dict[str, str],
    said_path: str,
) -> None:
    conn.send((_STARTED, None))
    with contextlib.suppress(OSError):
        said = os.open(said_path, os.O_WRONLY | os.O_APPEND)
        os.dup2(said, 2)
        os.close(said)
    os.environ.clear()
    os.environ.update(env)
    _no_network()
    _limit(resource.RLIMIT_CPU, cpu, extra=1)
    _limit(resource.RLIMIT_AS, memory.limit)
    message: tuple[str, Any]
    try:
        message = ("ok", func(*args))
    except Exception as exc:  # every failure becomes a refusal
        message = ("error", _refusal(name, memory, exc))
    try:
        try:
            conn.send(message)
        except Exception as exc:  # e.g. out of memory while pickling the works read
            conn.send(("error", _refusal(name, memory, exc)))
    except MemoryError:  # not even the refusal could be sent: the exit status says it
        os._exit(_OUT_OF_MEMORY)
    conn.close()


def _refusal(name: str, memory: float | Memory, exc: Exception) -> ImsGeoError:
    """What the caller is told of ``exc``, raised while reading ``name`` or sending its works.

    A refusal the reading made of a failed allocation (:func:`unreadable`
    ``from`` it, in the reader's catch-alls) is the memory limit too.
    """
    if isinstance(exc, ImsGeoError):
        if exc.__cause__ is None or not _out_of_memory(exc.__cause__):
            return exc
    if _out_of_memory(exc):
        return _over_memory(name, memory if isinstance(memory, Memory) else Memory(memory))
    if isinstance(exc, RecursionError):
        return InputError(f"{name}: the file nests its content too deeply to be read safely")
    return unreadable(name, exc)


def _over_memory(name: str, memory: Memory) -> ReadLimitError:
    """The refusal of ``name`` whose reading needed more than ``memory``: which limit, the fix."""
    limit = _mib(memory.limit)
    if memory.machine_bytes:  # the words say MACHINE_SHARE
        which = (
            f"the memory limit of {limit}, the most a reader may take on this machine "
            f"(three quarters of its {_mib(memory.machine_bytes)})"
        )
    elif memory.file_bytes:
        which = (
            f"the memory limit of {limit} for {_size(memory.file_bytes)} of input "
            "(max_memory_bytes, grown with its size)"
        )
    else:
        which = f"the memory limit of {limit} (max_memory_bytes)"
    more = _raised(memory.limit)
    return ReadLimitError(
        f"{name}: reading needed more than {which}; split the file, or if it is trusted "
        f"raise the limit: --limit max_memory_bytes={more} on the command line, "
        f"{MEMORY_SETTING}={more} for the app"
    )


#: How libraries word a failed allocation when they pass it on as their own error (e.g.
#: Arrow wrapping a MemoryError raised in a conversion): under the reader's address-space
#: limit, a failed allocation is that limit.
_ALLOCATION_FAILED = (
    "MemoryError",
    "Unable to allocate",
    "bad_alloc",
    "out of memory",
    # Arrow's thread pool: under the reader's address-space limit a new thread's stack
    # cannot be mapped (EAGAIN), which is the memory limit too
    "Failed to launch worker thread",
    # glibc's loader, which then ends the process with status 127, for a new thread's
    # thread-local data under the same limit
    "cannot allocate memory",
)


#: How Arrow words a Python error it passes on; when the error's own text could not be
#: made (garbled or empty), the allocation of that text failed: the memory limit.
_ARROW_WRAPPED = "Unknown error: Wrapping"


def _garbled(text: str) -> bool:
    """Whether an error's text is missing or not text (bytes of a failed allocation)."""
    text = text.strip()
    return not text or not text.isprintable() or "\ufffd" in text


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from is a failed allocation."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain is short; a cycle must not hang the worker
        if seen is None:
            return False
        text = str(seen)
        if isinstance(seen, MemoryError) or any(w in text for w in _ALLOCATION_FAILED):
            return True
        if _ARROW_WRAPPED in text and _garbled(text.split(_ARROW_WRAPPED, 1)[1]):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def unreadable(name: str, exc: BaseException) -> InputError:
    """``exc`` (not an ImsGeoError) as a refusal of the file ``name``."""
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    kind = type(exc).__name__
    return InputError(
        f"{name} could not be read ({kind}{': ' + detail if detail else ''}); the file is "
        "damaged or not what its name says: export it again from the source system"
    )


def _limit(which: int, value: float, extra: int = 0) -> None:
    if value == float("inf"):
        return
    soft = int(value)
    with contextlib.suppress(ValueError, OSError):
        _, hard = resource.getrlimit(which)
        top = soft + extra
        if hard != resource.RLIM_INFINITY:
            soft, top = min(soft, hard), min(top, hard)
        resource.setrlimit(which, (soft, top))


def _no_network() -> None:
    """Cut this process off the network: a private network namespace, else refuse sockets."""
    os.environ["PROJ_NETWORK"] = "OFF"
    os.environ["GDAL_HTTP_PROXY"] = "127.0.0.1:9"  # discard port: any HTTP fails at once
    os.environ["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] = ".none"
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
            if libc.unshare(flags) == 0:
                return

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("network access is disabled while reading uploaded files")

    socket.socket = refuse  # type: ignore[assignment,misc]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
