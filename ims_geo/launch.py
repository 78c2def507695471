"""The ``ims-geo`` command's entry point: the process set up for the engine, then the CLI.

The conflict engine makes and frees millions of small geometries (GEOS
objects allocated with ``malloc``) and numpy arrays of every size. With
glibc's default settings a fresh process takes each of the pages this
memory needs from the kernel one 4 KiB page at a time: at a million
works (the benchmarks' dense set) a fifth of the process's CPU time was
the kernel handing out and zeroing pages, and a twelfth glibc merging its
lists of small free blocks. Two glibc settings (glibc 2.35 and later) take
a part of it away, a tenth of the conflict search's CPU time (23.2 s to
20.8 s, three alternating runs each; ``benchmarks/README.md``):

``glibc.malloc.hugetlb=1``
    ``malloc`` asks for transparent huge pages (2 MiB) for its heaps, as
    numpy already does for its large arrays: one page fault where there
    were 512.
``glibc.malloc.mxfast=0``
    Small blocks are not parked in "fast bins" that a later large
    request has to merge first.

glibc reads these settings (``GLIBC_TUNABLES``) only when a process starts,
so the command starts itself once more with them added to the
environment (:func:`tuned_environ`); settings the user chose are kept.
``IMS_GEO_MALLOC=default`` leaves the process as it is. The settings
change speed only, never a result. The Dask engine's local workers get the
same environment (:mod:`ims_geo.distributed.cluster`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping

#: glibc's malloc settings for the engine (see the module docstring).
TUNABLES: tuple[str, ...] = ("glibc.malloc.hugetlb=1", "glibc.malloc.mxfast=0")
#: ``default`` leaves malloc as glibc sets it; the launcher sets ``tuned`` once it has.
SWITCH = "IMS_GEO_MALLOC"
_FIRST_GLIBC = (2, 35)  # the first with glibc.malloc.hugetlb


def tuned_environ(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` with :data:`TUNABLES` added to ``GLIBC_TUNABLES``, or None when there is
    nothing to add: not glibc 2.35+, ``IMS_GEO_MALLOC`` set, or every setting already chosen.

    Parameters
    ----------
    environ
        A process environment (``os.environ``).

    Returns
    -------
    dict or None
        The environment to start a process with; None to keep ``environ``.

    Examples
    --------
    >>> tuned_environ({"IMS_GEO_MALLOC": "default"}) is None
    True
    """
    if environ.get(SWITCH) or not _glibc_supports():
        return None
    current = [item for item in environ.get("GLIBC_TUNABLES", "").split(":") if item]
    chosen = {item.partition("=")[0] for item in current}
    added = [item for item in TUNABLES if item.partition("=")[0] not in chosen]
    if not added:
        return None
    return {**environ, "GLIBC_TUNABLES": ":".join([*current, *added]), SWITCH: "tuned"}


def _glibc_supports() -> bool:
    """Whether this process runs on glibc 2.35 or later."""
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):  # not a GNU system
        return False
    try:
        numbers = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return name == "glibc" and numbers >= _FIRST_GLIBC


def main() -> None:
    """Start the process again with :func:`tuned_environ` when it adds anything, then run
    the CLI (:func:`ims_geo.cli.main`).
    """
    env = tuned_environ(os.environ)
    if env is not None and sys.executable and sys.orig_argv:
        # the same interpreter and arguments (a console script's, or ``-m``'s); where the
        # system refuses, the command runs as it is: the settings change speed only
        with contextlib.suppress(OSError):
            os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    from ims_geo.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
