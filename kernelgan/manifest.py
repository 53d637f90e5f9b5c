"""``manifest.json`` of a degraded set: one entry per image, rewritten atomically on each update, under an
exclusive lock (``OUT/.manifest.lock``, ``flock``) so that concurrent runs into one folder merge their entries."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .io import atomic_path


def read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"images": []}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data.get("images"), list):
            raise ValueError("no 'images' list")
    except (ValueError, AttributeError) as exc:
        raise InputError(f"{path}: malformed manifest ({exc})") from None
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the manifest (no-op where ``fcntl`` is missing, i.e. Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path.with_name("." + path.stem + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def manifest_entry(path: Path, image: str) -> dict[str, Any] | None:
    """The entry of ``image`` (a stem), or None."""
    found = [e for e in read_manifest(path)["images"] if isinstance(e, dict) and e.get("image") == image]
    return found[-1] if found else None


def update_manifest(path: Path, entry: dict[str, Any]) -> None:
    """Add ``entry`` (keyed by its ``image``), replacing an older entry for the same image; read, merged and
    written under the folder's manifest lock."""
    with _locked(path):
        data = read_manifest(path)
        data["images"] = [e for e in data["images"] if e.get("image") != entry["image"]] + [entry]
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")
