"""Kernel pools: the kernels estimated from a camera's photos, kept to degrade other photos as that camera would
(Ji et al., CVPRW 2020: KernelGAN over real source photos, then clean HR photos degraded with a random pool
kernel).

A pool is a folder. Where it is an ``estimate`` output folder, each photo's kernels are found by the project's
naming (``<stem>_kernel_x2`` / ``_x4``, ``.npy`` preferred over ``.mat``) and its record (``<stem>.json``)
tells whether the estimate was flagged low-confidence. Any other ``.npy`` / ``.mat`` file in it is one x2
kernel, except ``NAME_x4.*`` beside ``NAME.*``: NAME's x4 kernel, and kernel maps (``estimate --kernel-map``),
which are left out. Each LR photo
draws one entry, deterministically for the seed and the photo's name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, KernelganError
from .io import KERNEL_SUFFIXES, load_kernel
from .kernels import analytic_x4, trim_rim
from .outputs import KERNEL_MAP_NAME

_ESTIMATE_NAME = re.compile(r"^(?P<stem>.+)_kernel_x(?P<scale>[24])$")
_X4_NAME = re.compile(r"^(?P<stem>.+)_x4$")


@dataclass(frozen=True)
class PoolEntry:
    name: str  # the file the x2 kernel came from, relative to the pool folder
    k2: np.ndarray
    k4: np.ndarray | None  # the pool's own x4 kernel, when it has one
    low_confidence: bool = False  # the estimate's record flagged it

    def kernel(self, scale: int) -> np.ndarray:
        """The kernel for ``scale``: x2 as stored; x4 the pool's own, else the analytic x4 of the x2 kernel."""
        if scale == 2:
            return self.k2
        return self.k4 if self.k4 is not None else trim_rim(analytic_x4(self.k2))


def _preferred(files: list[Path]) -> Path:
    return min(files, key=lambda p: (p.suffix.lower() != ".npy", p.name))


def _low_confidence(folder: Path, stem: str) -> bool:
    try:
        record = json.loads((folder / f"{stem}.json").read_text())
    except (OSError, ValueError):
        return False
    quality = record.get("quality") if isinstance(record, dict) else None
    return bool(isinstance(quality, dict) and quality.get("low_confidence"))


def load_pool(folder: Path, skip_low_confidence: bool = False) -> list[PoolEntry]:
    """The pool's entries, sorted by name. InputError: no such folder, no kernel in it, or (with
    ``skip_low_confidence``) none left; KernelError for a file that is not a valid kernel (named)."""
    if not folder.is_dir():
        raise InputError(f"{folder}: no such kernel-pool folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in KERNEL_SUFFIXES
                   and not p.name.startswith(".") and not KERNEL_MAP_NAME.match(p.stem))
    stems = {p.stem for p in files}
    groups: dict[str, dict[int, list[Path]]] = {}
    estimated: set[str] = set()
    for path in files:
        named, x4_name = _ESTIMATE_NAME.match(path.stem), _X4_NAME.match(path.stem)
        if named:
            stem, scale = named["stem"], int(named["scale"])
            estimated.add(stem)
        elif x4_name and x4_name["stem"] in stems:  # NAME_x4 beside NAME: NAME's x4 kernel
            stem, scale = x4_name["stem"], 4
        else:
            stem, scale = path.stem, 2
        groups.setdefault(stem, {}).setdefault(scale, []).append(path)
    entries = []
    for stem, by_scale in sorted(groups.items()):
        if 2 not in by_scale:  # an estimate's x4 kernel without its x2 kernel: an unfinished set
            continue
        x2 = _preferred(by_scale[2])
        x4 = _preferred(by_scale[4]) if 4 in by_scale else None
        try:
            entry = PoolEntry(x2.name, load_kernel(x2), None if x4 is None else load_kernel(x4),
                              stem in estimated and _low_confidence(folder, stem))
        except KernelganError as exc:
            raise type(exc)(f"kernel pool: {exc}") from None
        entries.append(entry)
    if not entries:
        raise InputError(f"{folder}: no kernels in the pool (.npy or .mat files, or an estimate output folder)")
    if skip_low_confidence:
        entries = [e for e in entries if not e.low_confidence]
        if not entries:
            raise InputError(f"{folder}: every kernel in the pool is flagged low-confidence")
    return entries


def draw(entries: list[PoolEntry], rng: np.random.Generator) -> PoolEntry:
    """One entry, uniformly."""
    return entries[int(rng.integers(len(entries)))]


@dataclass(frozen=True)
class PoolFaithfulness:
    """How well a pool's kernel sizes match the true ones, as distributions (the pool is used as a whole)."""

    ks: float  # two-sample Kolmogorov-Smirnov statistic of the log sizes (0: same distribution, 1: disjoint)
    p_value: float
    median_log_ratio: float  # median log size of the pool minus that of the truths (> 0: the pool is wider)
    anisotropy_ks: float  # the same statistic for the anisotropies


def pool_faithfulness(pool: list[np.ndarray], truths: list[np.ndarray]) -> PoolFaithfulness:
    """Compare the size and anisotropy distributions (``kernel_shape``) of ``pool`` and ``truths`` (x2 kernels)."""
    from scipy.stats import ks_2samp

    from .kernel_shape import MIN_SIZE, kernel_shape

    def shapes(kernels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        found = [kernel_shape(k) for k in kernels]
        return np.log([max(s.size, MIN_SIZE) for s in found]), np.array([s.anisotropy for s in found])

    (size_p, aniso_p), (size_t, aniso_t) = shapes(pool), shapes(truths)
    sizes = ks_2samp(size_p, size_t)
    return PoolFaithfulness(float(sizes.statistic), float(sizes.pvalue), float(np.median(size_p) - np.median(size_t)),
                            float(ks_2samp(aniso_p, aniso_t).statistic))
