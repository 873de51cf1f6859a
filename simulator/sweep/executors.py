"""Where points run: a local process pool or a Dask distributed cluster, one interface.

Both give `submit(fn, arg) -> future` and `as_completed(futures)`; the sweep driver
(`simulator.sweep.run`) is the same code for both, and writes each result as it arrives.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import as_completed as _cf_as_completed
from typing import Any, Callable, Iterable, Iterator, Protocol

from workloads.errors import InputError


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[[Any], Any], arg: Any, key: str) -> Any: ...

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


def process_context() -> multiprocessing.context.BaseContext:
    """fork where available: workers inherit the imported, JIT-cached simulator."""
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")


def _watch_parent(parent: int) -> None:
    """Pool initializer: exit when the driver dies (e.g. SIGKILL), leaving no orphans."""

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=loop, daemon=True).start()


class LocalExecutor:
    """A process pool on this machine (fork: workers inherit the imported, JIT-cached simulator)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        ctx = process_context()
        self._pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_watch_parent,
                                         initargs=(os.getpid(),))

    def submit(self, fn: Callable[[Any], Any], arg: Any, key: str) -> Future:
        return self._pool.submit(fn, arg)

    def as_completed(self, futures: Iterable[Future]) -> Iterator[Future]:
        return _cf_as_completed(list(futures))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Dask distributed: an existing scheduler (`address`), or a LocalCluster of `workers`.

    On a real cluster every worker needs this package installed (`pip install sslcsim`,
    no torch needed); the driver keeps the database, workers only compute.
    """

    def __init__(self, workers: int, address: str | None = None, processes: bool = True) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--executor dask needs dask distributed (pip install 'sslcsim[cluster]')") from None
        self._cluster = None
        if address:
            try:
                self._client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"--scheduler {address}: cannot connect ({exc})") from None
        else:
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        self.workers = max(1, sum(self._client.nthreads().values()))

    def submit(self, fn: Callable[[Any], Any], arg: Any, key: str) -> Any:
        return self._client.submit(fn, arg, key=f"sslcsim-point-{key}", pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        from distributed import as_completed

        return iter(as_completed(list(futures)))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    """`local` (process pool) or `dask` (LocalCluster of `workers`, or the cluster at `scheduler`)."""
    if workers < 1:
        raise InputError(f"--workers {workers}: expected a positive integer")
    if kind == "local":
        if scheduler:
            raise InputError("--scheduler: only applies to --executor dask")
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise InputError(f"--executor {kind!r}: expected local or dask")
