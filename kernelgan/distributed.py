"""Running per-image work (``jobs``) on a Dask cluster: each image is one task.

Workers write their own results with the same atomic, fingerprinted, locked rules as local runs, so they need
the input files and the output folder on a shared filesystem; ``connect`` checks that every worker sees them
before any work. Each task runs torch on one thread (``one_thread``), so a worker's tasks do not oversubscribe
its cores; give a worker as many threads (task slots) as it has cores. A task whose worker dies is retried
on another worker by the scheduler (up to ``distributed.scheduler.allowed-failures`` times) and the lock
left by the dead process is taken over (``outputs.image_lock``). Dask is an optional extra:
``pip install 'kernelgan[dask]'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError

Event = dict[str, Any]
INSTALL = "--scheduler needs Dask: pip install 'kernelgan[dask]'"


def one_thread(work: Callable[..., Event], path: Path) -> Event:
    """``work(path, None)`` with torch on one intra-op thread (restored after): several tasks share a worker."""
    from .rng import torch_threads

    with torch_threads(1):
        return work(path, None)


def _missing(paths: list[str]) -> list[str]:
    """Run on each worker: which of ``paths`` it cannot see (an output folder must also be writable)."""
    return [p for p in paths if not os.path.exists(p) or (os.path.isdir(p) and not os.access(p, os.W_OK))]


def connect(scheduler: str) -> Any:
    """A Dask client: ``local`` starts a LocalCluster on this machine (one single-threaded worker process per
    core), anything else is a running scheduler's address."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError(INSTALL) from None
    if scheduler == "local":  # the client owns this cluster and shuts it down when it closes
        return Client(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None


def check_shared(client: Any, paths: list[Path], output: Path) -> None:
    """InputError naming the first worker that cannot see an input or write the output folder."""
    wanted = [str(p.resolve()) for p in paths if p.exists()] + [str(output.resolve())]
    for worker, missing in client.run(_missing, wanted).items():
        if missing:
            raise InputError(f"Dask worker {worker} cannot see {missing[0]} (inputs and the output folder must be "
                             f"on a filesystem shared with the workers)")


def run_tasks(client: Any, paths: list[Path], work: Callable[..., Event]) -> Iterator[Event]:
    """Submit one task per path and yield the events as tasks finish; a task that fails outright (its worker
    died too often, or an unexpected error) becomes a failed event naming its file."""
    from dask.distributed import as_completed

    futures = {client.submit(one_thread, work, path, pure=False): path for path in paths}
    for future in as_completed(futures):
        path = futures[future]
        try:
            yield future.result()
        except Exception as exc:  # noqa: BLE001 - reported as this image's failure, the batch goes on
            yield {"image": str(path), "status": "failed", "error": f"{path}: task failed on the cluster ({exc})"}
