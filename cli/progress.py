"""Rich progress bars on stderr that vanish with --quiet."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .common import err


def task_progress(quiet: bool) -> Progress:
    """A progress display on stderr; off with --quiet and when stderr is not a terminal (logs, pipes)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        console=err, disable=quiet or not err.is_terminal, transient=False,
    )
