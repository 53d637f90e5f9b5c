"""The one batch runner of every per-image command: progress bars, one JSON line per image (--json), one red
line per failure, a summary, and exit code 1 when any image failed."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import InvalidStateError, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
import typer
from rich.markup import escape

from kernelgan.outputs import write_failures

from .common import EXIT_FAILED, EXIT_INTERRUPTED, err, out, print_json
from .progress import task_progress

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
Work = Callable[..., dict[str, Any]]  # work(path, on_step) -> event; picklable (a module function or partial)
WorkMany = Callable[..., list[dict[str, Any]]]  # work_many(paths, on_step) -> one event per path


def _worker_init(threads: int) -> None:
    """A worker process: Ctrl-C is the main process's to handle (no tracebacks from workers), and the worker
    dies with its parent (Linux: no orphan holds the caller's pipes if the main process is killed)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    torch.set_num_threads(threads)


def _run_pool(paths: list[Path], work: Work, jobs: int, threads: int, report: Callable[[dict[str, Any]], None],
              advance: Callable[[], None]) -> bool:
    """Run ``work`` on ``jobs`` worker processes; True if interrupted (Ctrl-C or SIGTERM, which ``app.main``
    turns into KeyboardInterrupt). The first interrupt hands out no more images and waits for the running ones
    (their results are reported); a second one kills the workers at once (their images are abandoned: a set is
    only finished once its record is written, and the lock a killed worker leaves is taken over later)."""
    pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                               initargs=(threads,))
    futures = [pool.submit(work, path, None) for path in paths]
    try:
        for future in as_completed(futures):
            report(future.result())
            advance()
        pool.shutdown()
        return False
    except KeyboardInterrupt:
        pass
    not_started = sum(f.cancel() for f in futures)
    running = [f for f in futures if not f.done()]
    err.print(f"interrupted: {not_started} images not started; finishing the {len(running)} running "
              "(interrupt again to stop at once)")
    try:
        for future in as_completed(running):
            report(future.result())
            advance()
        pool.shutdown()
    except KeyboardInterrupt:
        abandoned = sum(not f.done() for f in running)
        # CPython 3.11's executor thread raises InvalidStateError on the futures cancelled above once it sees
        # the killed workers (it sets an exception on them): that thread's report is noise here, not an error
        threading.excepthook = _quiet_invalid_state
        workers = list((getattr(pool, "_processes", None) or {}).values())
        for process in workers:
            process.kill()
        for process in workers:
            process.join(5)  # reaped here: no zombie is left for an init that may not reap
        pool.shutdown(wait=False, cancel_futures=True)
        err.print(f"stopped: {abandoned} running images abandoned")
    return True


def _quiet_invalid_state(args: threading.ExceptHookArgs) -> None:
    if not isinstance(args.exc_value, InvalidStateError):
        threading.__excepthook__(args)


def run_batch(paths: list[Path], work: Work, *, label: str, done: str, output: Path, quiet: bool, as_json: bool,
              jobs: int = 1, steps: int = 0, scheduler: str | None = None, batch: int = 1,
              work_many: WorkMany | None = None) -> dict[str, int]:
    """Run ``work`` on every path (on a Dask cluster with ``scheduler``; else ``jobs`` worker processes, or in
    this one with a per-image bar of ``steps`` steps when ``steps`` > 0; or ``work_many`` on ``batch`` paths at
    a time, with a bar per batch), report each event, print the summary; raise Exit(1) if any failed."""
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    failures: list[dict[str, str]] = []
    quiet = quiet or as_json

    def report(event: dict[str, Any]) -> None:
        counts[event["status"]] += 1
        if event["status"] == "failed":
            failures.append({"image": event["image"], "error": event["error"]})
        if as_json:
            print_json(event)
        elif event["status"] == "failed":
            err.print(f"[bold red]error:[/] {escape(event['error'])}")
        elif event["status"] == "skipped" and not quiet:
            err.print(f"skipped {escape(event['image'])} ({escape(event['reason'])})")
        elif event["status"] == "ok" and not quiet and "summary" in event:
            err.print(f"{escape(event['image'])}: {escape(event['summary'])}")

    with task_progress(quiet) as progress:
        overall = progress.add_task(label, total=len(paths))
        if scheduler is not None:
            from kernelgan.distributed import check_shared, connect, run_tasks

            with connect(scheduler) as client:
                check_shared(client, paths, output)
                for event in run_tasks(client, paths, work):
                    report(event)
                    progress.advance(overall)
        elif batch > 1 and work_many is not None:
            bar = progress.add_task("", total=max(steps, 1), visible=False)
            for start in range(0, len(paths), batch):
                chunk = paths[start:start + batch]
                progress.reset(bar, total=max(steps, 1), visible=steps > 0,
                               description=f"  {chunk[0].name} .. {chunk[-1].name} ({len(chunk)} together)")
                for event in work_many(chunk, lambda i, n: progress.update(bar, completed=i)):
                    report(event)
                    progress.advance(overall)
                progress.update(bar, visible=False)
        elif jobs == 1 or len(paths) == 1:
            bar = progress.add_task("", total=max(steps, 1), visible=False)
            for path in paths:
                progress.reset(bar, total=max(steps, 1), description=f"  {path.name}", visible=steps > 0)
                report(work(path, lambda i, n: progress.update(bar, completed=i)))
                progress.update(bar, visible=False)
                progress.advance(overall)
        else:
            threads = max(1, (os.cpu_count() or 1) // jobs)  # the workers share the cores, never oversubscribe
            if _run_pool(paths, work, jobs, threads, report, lambda: progress.advance(overall)):
                if output.is_dir():
                    write_failures(output, failures)
                raise typer.Exit(EXIT_INTERRUPTED)
    if output.is_dir():
        write_failures(output, failures)
    if not quiet:
        out.print(f"{counts['ok']} {done}, {counts['skipped']} skipped, {counts['failed']} failed -> {output}")
    if counts["failed"]:
        raise typer.Exit(EXIT_FAILED)
    return counts
