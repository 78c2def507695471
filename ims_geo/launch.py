"""The ``ims-geo`` command's entry point: the process's memory settings, then the CLI.

The conflict engine makes and frees gigabytes of numpy arrays and Arrow
buffers in a process that lives for one command. On Linux numpy asks the
kernel for transparent huge pages (2 MiB) for every array of 4 MiB or more
(``madvise``), and so does pyarrow's default allocator (mimalloc); the
kernel zeroes each such page in full when it is first touched. On the
benchmarks' machine that zeroing was a third of the CPU time of a fresh
process at 1M works (``perf``: ``clear_page_erms`` under
``do_huge_pmd_anonymous_page``). With 4 KiB pages, on the dense 1M set,
``find_conflicts`` took 11.4-12.1 s instead of 15.2-15.8 s, reading the
works 1.7-1.9 s instead of 2.3-5.0 s and ``validate`` 0.7-0.8 s instead
of 1.2-1.3 s (alternating runs, ``benchmarks/README.md``, "The ninth set"):

``NUMPY_MADVISE_HUGEPAGE=0``
    numpy does not ask for huge pages.
``ARROW_DEFAULT_MEMORY_POOL=system``
    pyarrow allocates with the system's ``malloc``.

Both are read when numpy and pyarrow are first imported, so the command
sets them (:func:`apply`) before it imports anything else; values the user
set are kept, and ``IMS_GEO_MALLOC=default`` leaves the process as it is.
They change speed only, never a result. The Dask engine's local workers get
the same (:mod:`ims_geo.distributed.cluster`). glibc's own huge pages for
``malloc`` (``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``, which the command
set before) made the same runs slower still (13.6-15.6 s, reading 4-5 s).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

#: The process's memory settings (see the module docstring).
SETTINGS: dict[str, str] = {"NUMPY_MADVISE_HUGEPAGE": "0", "ARROW_DEFAULT_MEMORY_POOL": "system"}
#: ``default`` leaves the process as it is; :func:`apply` sets ``tuned`` once it has.
SWITCH = "IMS_GEO_MALLOC"


def tuned_environ(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` with the :data:`SETTINGS` it lacks, or None when there is nothing to add:
    ``IMS_GEO_MALLOC`` set, or every setting already chosen.

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
    >>> tuned_environ({"NUMPY_MADVISE_HUGEPAGE": "1"})["ARROW_DEFAULT_MEMORY_POOL"]
    'system'
    """
    added = missing(environ)
    if not added:
        return None
    return {**environ, **added, SWITCH: "tuned"}


def missing(environ: Mapping[str, str]) -> dict[str, str]:
    """The :data:`SETTINGS` ``environ`` lacks; none when ``IMS_GEO_MALLOC`` is set.

    Examples
    --------
    >>> missing({"NUMPY_MADVISE_HUGEPAGE": "1"})
    {'ARROW_DEFAULT_MEMORY_POOL': 'system'}
    """
    if environ.get(SWITCH):
        return {}
    return {name: value for name, value in SETTINGS.items() if name not in environ}


def apply(environ: MutableMapping[str, str] = os.environ) -> None:
    """Add the :data:`SETTINGS` this process's environment lacks (:func:`tuned_environ`).

    They only take effect when numpy and pyarrow are imported afterwards.
    """
    tuned = tuned_environ(environ)
    if tuned is not None:
        environ.update(tuned)


def main() -> None:
    """Set the memory settings (:func:`apply`), then run the CLI (:func:`ims_geo.cli.main`)."""
    apply()
    from ims_geo.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
