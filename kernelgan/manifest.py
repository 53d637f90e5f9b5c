"""``manifest.json`` of a degraded set: one entry per image, rewritten atomically on each update."""

from __future__ import annotations

import json
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


def update_manifest(path: Path, entry: dict[str, Any]) -> None:
    """Add ``entry`` (keyed by its ``image``), replacing an older entry for the same image."""
    data = read_manifest(path)
    data["images"] = [e for e in data["images"] if e.get("image") != entry["image"]] + [entry]
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
