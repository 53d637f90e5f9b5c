"""Every output file name of every command, in one place (scripts and ``kernelgan eval`` rely on them).

For ``photo.png`` (its *stem* ``photo``, see ``output_stems`` for repeated stems):
- ``estimate``: ``photo_kernel_x2.{npy,mat,png}``, ``photo_kernel_x4.*`` at scale 4, ``photo.json`` (last);
- ``sr`` / ``estimate --sr``: ``photo_x<s>_<backend>.png``;
- ``degrade``: ``photo.png`` (the LR), ``photo_gt_kernel_x<s>.{npy,mat}``, ``manifest.json``.
DIV2KRK's ``kernel_N.mat`` belongs to ``im_N.png``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .io import KERNEL_SUFFIXES, atomic_path, exif_orientation, save_kernel, temp_files_of

KERNEL_FORMATS = (".npy", ".mat", ".png")
TRUE_KERNEL_FORMATS = (".npy", ".mat")
MANIFEST = "manifest.json"
FAILURES = "failures.json"  # the images that failed in the last batch run into the folder, with their messages

_KERNEL_NAME_PATTERNS = (
    re.compile(r"^(?P<stem>.+)_gt_kernel_x(?P<scale>\d)$"),
    re.compile(r"^(?P<stem>.+)_kernel_x(?P<scale>\d)$"),
    re.compile(r"^kernel_(?P<n>\d+)$"),  # DIV2KRK: kernel_N.mat belongs to im_N.png
)


def kernel_paths(out_dir: Path, stem: str, scale: int, formats: tuple[str, ...] = KERNEL_FORMATS) -> list[Path]:
    """``estimate``'s kernel files for ``stem`` at ``scale``."""
    return [out_dir / f"{stem}_kernel_x{scale}{ext}" for ext in formats]


def true_kernel_paths(out_dir: Path, stem: str, scale: int) -> list[Path]:
    """``degrade``'s true-kernel files."""
    return [out_dir / f"{stem}_gt_kernel_x{scale}{ext}" for ext in TRUE_KERNEL_FORMATS]


def kernel_map_path(out_dir: Path, stem: str, scale: int, true: bool = False) -> Path:
    """A kernel map (``kernel_map``): ``estimate --kernel-map``'s, or ``degrade --preset varying``'s true one."""
    return out_dir / f"{stem}_{'gt_' if true else ''}kernelmap_x{scale}.npy"


KERNEL_MAP_NAME = re.compile(r"^(?P<stem>.+?)_(?P<gt>gt_)?kernelmap_x(?P<scale>[24])$")  # a kernel map file's stem


def map_picture_path(out_dir: Path, stem: str) -> Path:
    """The picture of ``estimate --kernel-map``'s map over the photo."""
    return out_dir / f"{stem}_kernelmap.png"


def lr_path(out_dir: Path, stem: str) -> Path:
    """``degrade``'s LR image."""
    return out_dir / f"{stem}.png"


def sr_path(out_dir: Path, stem: str, scale: int, backend: str) -> Path:
    """An upscale's file."""
    return out_dir / f"{stem}_x{scale}_{backend}.png"


def sr_candidates(folder: Path, stem: str, scale: int) -> list[Path]:
    """Upscales of ``stem`` at ``scale`` in ``folder``, any backend (sorted)."""
    return sorted(folder.glob(f"{stem}_x{scale}_*"))


_OUTPUT_PICTURE = re.compile(r"^.+_(kernel_x[24]|kernelmap)$")


def is_output_picture(path: Path) -> bool:
    """True for an image file that kernelgan writes (a kernel picture, an upscale by a known backend): a folder
    that is also an output folder does not feed these back in as photos."""
    from .sr import available_backends

    if path.suffix.lower() != ".png":
        return False
    if _OUTPUT_PICTURE.match(path.stem):
        return True
    return any(re.match(rf"^.+_x[24]_{re.escape(b)}$", path.stem) for b in available_backends())


def natural_key(stem: str) -> list[int | str]:
    """Sort key putting im_2 before im_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem)]


def kernel_stem(path: Path, scale: int) -> str | None:
    """The image stem a kernel file belongs to (estimate's, degrade's or DIV2KRK's naming), or None if its name
    follows none of them for ``scale``."""
    if path.suffix.lower() not in KERNEL_SUFFIXES:
        return None
    for pattern in _KERNEL_NAME_PATTERNS:
        m = pattern.match(path.stem)
        if m:
            if "n" in m.groupdict():
                return f"im_{m['n']}"
            return m["stem"] if int(m["scale"]) == scale else None
    return None


def record_path(out_dir: Path, stem: str) -> Path:
    return out_dir / f"{stem}.json"


def expected_outputs(out_dir: Path, stem: str, scale: int, kernel_map: bool = False) -> list[Path]:
    scales = (2, 4) if scale == 4 else (2,)
    maps = [kernel_map_path(out_dir, stem, s) for s in scales] + [map_picture_path(out_dir, stem)] if kernel_map else []
    return [p for s in scales for p in kernel_paths(out_dir, stem, s)] + maps + [record_path(out_dir, stem)]


def write_estimate(out_dir: Path, stem: str, kernels: dict[int, np.ndarray], record: dict[str, Any]) -> list[Path]:
    """Write each kernel in every format, then the JSON record last (its presence marks a finished image)."""
    written: list[Path] = []
    for scale, k in sorted(kernels.items()):
        for path in kernel_paths(out_dir, stem, scale):
            save_kernel(path, k)
            written.append(path)
    path = record_path(out_dir, stem)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    return written + [path]


def retire_set(out_dir: Path, stem: str) -> set[str]:
    """Before a set is rewritten: remove its JSON record (the set is then absent, so a run stopped half-way
    never leaves an old record beside new files) and return the names of the files the old set had
    (its record's ``files``; older records: their kernels and any upscale of the stem by a known backend)."""
    record = read_record(out_dir, stem)
    record_path(out_dir, stem).unlink(missing_ok=True)
    if record is None:
        return set()
    names = record.get("files")
    if isinstance(names, list):
        return {str(n) for n in names if isinstance(n, str) and "/" not in n and n not in ("", ".", "..")}
    from .sr import available_backends  # the older records did not list their upscales

    kernels = record.get("kernels")
    if not isinstance(kernels, dict):
        kernels = {}
    old = {str(n) for names in kernels.values() if isinstance(names, list) for n in names if isinstance(n, str)}
    return old | {sr_path(out_dir, stem, s, b).name for s in (2, 4) for b in available_backends()}


def remove_stale(out_dir: Path, old: set[str], new: list[Path]) -> None:
    """After a set is rewritten: remove the old set's files that the new set does not have."""
    keep = {p.name for p in new}
    for name in sorted(old - keep):
        (out_dir / name).unlink(missing_ok=True)


def output_stems(paths: list[Path]) -> dict[Path, str]:
    """The name each input's outputs carry, unique within one run.

    Rule: the file's stem (``photo.png`` -> ``photo``). Inputs that share a stem are named stem + ``_`` +
    extension (``photo_png``, ``photo_jpg``); if that still collides (``a/x.png`` and ``b/x.png``), the parent
    folder's name goes first (``a_x_png``). A collision left after that is refused (InputError naming both).
    """
    levels = [lambda p: p.stem, lambda p: f"{p.stem}_{p.suffix.lstrip('.').lower()}",
              lambda p: f"{p.parent.name}_{p.stem}_{p.suffix.lstrip('.').lower()}"]
    names: dict[Path, str] = {}
    pending = list(paths)
    for name_of in levels:
        groups: dict[str, list[Path]] = {}
        for p in pending:
            groups.setdefault(name_of(p), []).append(p)
        pending = []
        for name, group in groups.items():
            if len(group) == 1 and name not in names.values():
                names[group[0]] = name
            else:
                pending.extend(group)
        if not pending:
            return {p: names[p] for p in paths}
    a, b = pending[0], pending[1] if len(pending) > 1 else pending[0]
    raise InputError(f"{a} and {b} would write the same output names; rename one or run them separately")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def kernel_digest(k: np.ndarray) -> str:
    """SHA-256 of a kernel's values (float64) and shape."""
    k = np.ascontiguousarray(k, dtype=np.float64)
    return hashlib.sha256(str(k.shape).encode() + k.tobytes()).hexdigest()


def fingerprint(path: Path, settings: dict[str, Any]) -> dict[str, str]:
    """What a result depends on: the input file's content (SHA-256) and the settings that change it, with the
    file's EXIF orientation when it turns the picture (results made before orientation was applied are then not
    taken for current ones)."""
    orientation = exif_orientation(path)
    if orientation != 1:
        settings = {**settings, "exif_orientation": orientation}
    settings_hash = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    return {"input_sha256": file_sha256(path), "settings_sha256": settings_hash}


def write_failures(out_dir: Path, failures: list[dict[str, str]]) -> None:
    """Record the last run's failures (``[{"image", "error"}]``) for ``kernelgan report``; none: file removed."""
    path = out_dir / FAILURES
    if not failures:
        path.unlink(missing_ok=True)
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(failures, indent=1) + "\n")


def read_record(out_dir: Path, stem: str) -> dict[str, Any] | None:
    """The JSON record of a finished image, or None if absent or unreadable (a set without it is absent)."""
    try:
        return json.loads(record_path(out_dir, stem).read_text())
    except (OSError, ValueError):
        return None


def check_writable(out_dir: Path) -> None:
    """Create ``out_dir`` if needed and make sure files can be written there (before any work is done)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".kernelgan-write-test."):
            pass
    except OSError as exc:
        raise InputError(f"{out_dir}: output folder is not writable ({exc.strerror or exc})") from None


def lock_path(out_dir: Path, stem: str) -> Path:
    """The per-image lock ``OUT/.<stem>.lock`` (exactly this name: ``.a.lock`` is not ``.a.b.lock``'s)."""
    return out_dir / f".{stem}.lock"


@contextlib.contextmanager
def image_lock(out_dir: Path, stem: str) -> Iterator[bool]:
    """Hold ``OUT/.<stem>.lock`` (it holds the holder's pid) while one process works on an image; yields False if
    another live process holds it (the caller skips the image). A lock left by a dead process is taken over,
    and the temp files that process left in the folder are removed: only files whose name carries its pid
    (``io.atomic_path``), never another image's lock or another process's temp files."""
    path = lock_path(out_dir, stem)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            alive, pid = _holder(path)
            if alive:
                yield False
                return
            path.unlink(missing_ok=True)  # stale: its process is gone; so are its half-written temp files
            for leftover in temp_files_of(out_dir, pid) if pid else []:
                leftover.unlink(missing_ok=True)
            continue
        try:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            yield True
        finally:
            path.unlink(missing_ok=True)
        return
    yield False


def _holder(path: Path) -> tuple[bool, int]:
    """(whether the lock's holder is alive, its pid; 0 when unknown). A lock that cannot be read counts as alive;
    one gone, or left empty for a minute, as dead."""
    try:
        text = path.read_text().strip()
        if not text:  # just created, pid not yet written (or its writer died at once: stale after a minute)
            return time.time() - path.stat().st_mtime < 60, 0
        pid = int(text)
    except FileNotFoundError:
        return False, 0
    except (OSError, ValueError):
        return True, 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, pid
    except PermissionError:
        return True, pid
    return True, pid
