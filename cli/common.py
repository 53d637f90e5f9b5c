"""Shared CLI plumbing: consoles, error handling, input expansion."""

from __future__ import annotations

import functools
import glob
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from kernelgan.errors import KernelganError

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

EXIT_FAILED = 1  # some items of a batch failed
EXIT_USAGE = 2  # bad arguments or bad input for a single job
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)  # file names may hold [brackets]
    raise typer.Exit(code)


def handle_errors(func: Callable) -> Callable:
    """Turn expected errors into one red line and a non-zero exit instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except KernelganError as exc:
            fail(str(exc))
        except OSError as exc:  # unwritable output folder, full disk, ...
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except MemoryError:
            fail("out of memory", EXIT_FAILED)

    return wrapper


def _show_warning(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
    err.print(f"[yellow]warning:[/] {escape(str(message))}", markup=True)


def expand_images(inputs: list[str]) -> list[Path]:
    """Files as given, directories as their images (sorted), glob patterns expanded; order kept, no repeats.

    A missing path is kept so that the caller reports it as a failed item. Folders and patterns leave out the
    pictures kernelgan writes (kernel pictures, upscales: ``outputs.is_output_picture``), so that a folder that is
    also the output folder is not fed its own results; a file named explicitly is always taken.
    """
    from kernelgan.io import is_image_file
    from kernelgan.outputs import is_output_picture

    found: list[Path] = []
    left_out = 0
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            listed = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
        elif any(ch in item for ch in "*?[") and not path.exists():
            listed = sorted(Path(p) for p in glob.glob(item) if is_image_file(Path(p)))
        else:
            found.append(path)
            continue
        photos = [p for p in listed if not is_output_picture(p)]
        left_out += len(listed) - len(photos)
        found.extend(photos)
    if left_out:
        err.print(f"left out {left_out} pictures kernelgan wrote (kernel pictures, upscales)")
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def parse_opts(items: list[str]) -> dict[str, str]:
    """``--opt KEY=VALUE`` items as a dict (typed and checked later by the backend or estimator)."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--opt {item!r}: use KEY=VALUE")
        options[key] = value
    return options


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


def write_trained(output: Path, save: Callable[[Path], None]) -> None:
    """A training command's last step: ``save`` its result to ``output`` (the folder made first) and say so."""
    output.parent.mkdir(parents=True, exist_ok=True)
    save(output)
    out.print(f"wrote {output}")


def training_photos(photos: list[str], output: Path, force: bool) -> list[Path]:
    """The HR photos of a training command (``train-prior``, ``train-router``): every one a file, at least 10
    (every tenth is held out); an existing ``output`` is refused without ``force``."""
    if output.exists() and not force:
        fail(f"{output} exists (use --force)")
    paths = expand_images(photos)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        fail(f"{missing[0]}: no such file")
    if len(paths) < 10:
        fail(f"{len(paths)} photos: give at least 10 (every tenth is held out)")
    return paths
