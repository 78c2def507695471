"""Serving the app: the one ``streamlit run`` command line, and an app served while needed.

``ims-geo serve``, the browser tests and the page benchmarks all start the app
with :func:`streamlit_command`; the tests and benchmarks through
:func:`served`, which waits until the server answers ``/_stcore/health`` and
stops it afterwards. Nothing here imports Streamlit: the app runs in a process
of its own.

Examples
--------
>>> streamlit_command(port=8600)[-4:]
['--server.port', '8600', '--server.address', '127.0.0.1']
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

from ims_geo.store import STORE_ENV

__all__ = ["APP", "environment", "free_port", "served", "streamlit_command"]

#: The app's entry point (it routes to the pages of ``ims_geo/ui/pages``).
APP = Path(__file__).resolve().parents[2] / "app.py"


def streamlit_command(*, port: int, address: str = "127.0.0.1", headless: bool = True) -> list[str]:
    """The command line that serves the app on ``address:port``.

    Parameters
    ----------
    port
        The TCP port.
    address
        The address to listen on (``127.0.0.1``: this machine only).
    headless
        Open no browser and watch no files (a server, a test); False for a person
        starting the app on their own machine.

    Returns
    -------
    list of str
        The arguments, this Python's ``streamlit run app.py`` first.
    """
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--browser.gatherUsageStats", "false",
        "--server.enableStaticServing", "true",
    ]  # fmt: skip
    if headless:
        command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    return [*command, "--server.port", str(port), "--server.address", address]


def environment(store: str | Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app's environment: ``base`` (default: this process's) with the store to open.

    A store file is given by its absolute path (the app runs in the repository's
    folder); a PostgreSQL URL as it is.
    """
    text = str(store)
    location = text if text.startswith("postgresql") else str(Path(text).resolve())
    return {**(os.environ if base is None else base), STORE_ENV: location}


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return bool(reply.read() == b"ok")
    except OSError:
        return False


@contextlib.contextmanager
def served(store: str | Path, log: Path, *, timeout: float = 60.0) -> Iterator[str]:
    """The app over ``store`` on a free port of 127.0.0.1, while the ``with`` block runs.

    Parameters
    ----------
    store
        A store file or a PostgreSQL URL.
    log
        The file the server writes its output to.
    timeout
        Seconds the server may take to answer its health check.

    Yields
    ------
    str
        The app's URL (``http://127.0.0.1:PORT``).

    Raises
    ------
    RuntimeError
        The server stopped or did not answer in time; the message holds its log.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    root = APP.parent
    with log.open("w") as out:
        process = subprocess.Popen(
            streamlit_command(port=port), cwd=root, env=environment(store),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    out.flush()
                    raise RuntimeError(
                        f"the app did not start within {timeout:.0f} s; its log ({log}):\n"
                        + log.read_text(errors="replace")
                    )
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
