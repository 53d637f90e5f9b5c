"""JPEG compression of one photo: the quality its file was saved at, or blocking seen in its pixels.

A JPEG file carries its quantisation tables; encoders that follow the IJG convention (libjpeg, Pillow, most
cameras and editors at a "quality" setting) scale the standard luminance table of the JPEG specification
(Annex K) by ``5000/q`` (q < 50) or ``200 - 2q`` percent. The quality is the q whose scaled table is closest to
the file's; ``table_error`` says how well it fits (0: exactly IJG's table). For pixels without a file (a PNG
that was once a JPEG), ``blocking`` compares the luma steps across the 8-pixel grid's lines with the steps
elsewhere: about 1 for a photo never compressed, clearly above 1 after strong JPEG.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

from .io import exif_orientation, unorient
from .metrics import rgb_to_y

# the JPEG specification's example luminance table (Annex K.1), in natural (row-major) order
_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)
BLOCKING_THRESHOLD = 1.15  # ``blocking`` above this: JPEG blocks (tuning photos: clean 0.98-1.05, quality 60 1.06-1.45)


def ijg_table(quality: int) -> np.ndarray:
    """The IJG luminance table (64 values, row-major) for ``quality`` in 1..100 (baseline: clipped to 1..255)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # integer, as libjpeg computes it
    return np.clip(np.floor((_LUMA * scale + 50) / 100), 1, 255)


@dataclass(frozen=True)
class JpegQuality:
    quality: int  # the IJG quality (1-100) whose luminance table is closest to the file's
    table_error: float  # mean |file table - IJG table| (0: the file uses IJG's table exactly)


def quality_from_table(table: np.ndarray) -> JpegQuality:
    """The IJG quality closest to a luminance quantisation ``table`` (64 values, row-major)."""
    table = np.asarray(table, dtype=np.float64).reshape(64)
    errors = [float(np.abs(ijg_table(q) - table).mean()) for q in range(1, 101)]
    best = int(np.argmin(errors))
    return JpegQuality(best + 1, round(errors[best], 3))


def file_quality(path: str | os.PathLike | BinaryIO) -> JpegQuality | None:
    """The quality of a JPEG file (a path or an open binary file) from its first (luminance) table; None for
    any other file.

    Pillow stores a table in natural order (its ``quantization`` attribute), whatever order the file used."""
    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
    except OSError:
        return None
    if 0 not in tables:
        return None
    return quality_from_table(np.array(tables[0]))


def blocking(img: np.ndarray) -> float:
    """Mean luma step across the 8-pixel grid lines over the mean step elsewhere (HxWx3 in [0, 1]); 1.0 when
    the image is too small (under 16 pixels a side) or flat."""
    y = rgb_to_y(img)
    if min(y.shape) < 16:
        return 1.0
    ratios = []
    for axis in (0, 1):
        steps = np.abs(np.diff(y, axis=axis)).mean(axis=1 - axis)  # mean step between line i and i+1
        on_grid = steps[7::8]  # between pixels 7|8, 15|16, ...: the block boundaries
        off_grid = np.delete(steps, np.s_[7::8])
        if off_grid.mean() > 1e-6:
            ratios.append(on_grid.mean() / off_grid.mean())
    return float(np.mean(ratios)) if ratios else 1.0


@dataclass(frozen=True)
class Compression:
    """What is known of a photo's JPEG compression: ``quality`` from its file's tables (None when the file is
    not a JPEG), ``blocking`` from its pixels, and ``jpeg`` the verdict (a JPEG file, or blocking above the
    threshold)."""

    quality: int | None
    table_error: float | None
    blocking: float
    jpeg: bool

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def compression(path: str | os.PathLike | None, img: np.ndarray) -> Compression:
    """Read the file's tables (when ``path`` is a JPEG) and measure blocking on ``img`` (its pixels, as
    ``read_image`` gives them: turned back to the file's stored layout first, where the 8-pixel blocks start at
    the top-left corner)."""
    found = file_quality(path) if path is not None else None
    block = blocking(img if path is None else unorient(img, exif_orientation(path)))
    return Compression(found.quality if found else None, found.table_error if found else None, block,
                       found is not None or block > BLOCKING_THRESHOLD)
