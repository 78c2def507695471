"""A Dask client for a run: an existing cluster's scheduler, or a local cluster."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ims_geo.errors import InputError
from ims_geo.launch import missing

#: Local worker processes when neither a scheduler nor a number of workers is given.
DEFAULT_WORKERS = 2
#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT = 20
#: Dask settings of the local workers. The shuffle of the works to their tiles
#: (Dask's p2p shuffle) buffers up to 1 GiB per worker by default before it
#: sends; a quarter of that keeps a worker's peak near its tile's kernel (the
#: buffer only makes the sending wait, never changes what is sent). Workers of
#: an existing cluster take the same setting from their own configuration
#: (``DASK_DISTRIBUTED__P2P__COMM__BUFFER=256MiB``).
#:
#: Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which turns
#: off glibc's adjustment of the size above which an allocation gets pages of
#: its own: every array of more than 128 KiB that a tile's kernel makes is
#: then mapped and zeroed afresh (130,000-650,000 page faults and 0.3-1.8 s of
#: system time per tile of 100,000 works, against 30,000 and 0.1-0.2 s
#: without it; the tile took 3.3-4.6 s against 3.1-3.5 s). The local workers
#: start without it (``None`` leaves the variable unset; a value in the
#: environment still wins); on a cluster of your own, leave
#: ``MALLOC_TRIM_THRESHOLD_`` out of the workers' environment.
#:
#: The local cluster has no dashboard, so the workers' statistical profiler
#: (a sample of every thread's stack each 10 ms, shown only on the dashboard)
#: is switched off: at 1M works the kernel summed over the tiles took
#: 22.0 / 21.6 s without it against 24.0 / 27.7 s with it (two pairs of runs).
#:
#: The local workers also start with the ``ims-geo`` command's memory settings
#: (:mod:`ims_geo.launch`; added to these by :func:`dask_client`); on a
#: cluster of your own, set them in the workers' environment
#: (``NUMPY_MADVISE_HUGEPAGE=0`` and ``ARROW_DEFAULT_MEMORY_POOL=system``).
WORKER_CONFIG: dict[str, Any] = {
    "distributed.p2p.comm.buffer": "256MiB",
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|inproc)://[A-Za-z0-9_.:\[\]/-]+$")


@contextmanager
def dask_client(
    scheduler: str | None = None, workers: int | None = None, memory_limit: str | None = None
) -> Iterator[Any]:
    """A ``distributed.Client``, closed (with its local cluster) when the block ends.

    Parameters
    ----------
    scheduler
        Address of an existing cluster's scheduler (``tcp://host:8786``), e.g.
        one started by dask-kubernetes or dask-jobqueue.
    workers
        Start a ``LocalCluster`` of this many worker processes (one thread
        each, :data:`WORKER_CONFIG`) instead (default :data:`DEFAULT_WORKERS`).
    memory_limit
        Memory of each local worker (``"4GiB"``; default: the machine's
        memory shared among them).
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None and workers is not None:
        raise InputError(
            "give --scheduler (an existing cluster) or --workers (a local one), not both"
        )
    if scheduler is not None:
        if not _ADDRESS.match(scheduler):
            raise InputError(
                f"--scheduler {scheduler!r} is not a Dask scheduler address; "
                "give it as tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
            )
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}); "
                "check the address and that the cluster runs"
            ) from None
        with client:
            _warm(client)
            yield client
        return
    n = DEFAULT_WORKERS if workers is None else int(workers)
    if n < 1:
        raise InputError(f"--workers must be at least 1, not {n}")
    limit = "auto" if memory_limit is None else memory_limit
    config = dict(WORKER_CONFIG)
    # the memory settings this process lacks (those it has, its workers inherit)
    added = missing(os.environ)
    for name, value in added.items():
        config[f"distributed.nanny.pre-spawn-environ.{name}"] = value
    # each worker's nanny copies the configuration; a variable this process has wins over
    # it, and the nanny writes it (and Dask's own: OMP_NUM_THREADS=1...) into this
    # process's environment before starting a worker: the environment is set back once
    # the workers are started
    with dask.config.set(config), _variables(added):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, memory_limit=limit, dashboard_address=None
        )
    with cluster, Client(cluster) as client:
        _warm(client)
        yield client


@contextmanager
def _variables(values: dict[str, str]) -> Iterator[None]:
    """This process's environment variables set to ``values`` for the block, then the whole
    environment as it was (whatever else the block set or removed).
    """
    before = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        os.environ.update(before)


def _warm(client: Any) -> None:
    """Import the engine in every worker now, as part of the cluster's start.

    A worker otherwise imports it (pandas, GeoPandas, shapely, pyproj, the
    kernel: about 1-2.5 s) when the first task of the first run arrives.
    """
    client.run(_import_engine)


def _import_engine() -> None:
    import ims_geo.distributed.engine  # noqa: F401


__all__ = ["DEFAULT_WORKERS", "WORKER_CONFIG", "dask_client"]
