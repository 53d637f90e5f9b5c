"""What a photo says about its degradation besides blur: its noise level and its JPEG compression.

``measure`` reads both (``noise``, ``jpeg``) for ``photo.json`` and the summary line; ``looks_realistic`` is the
rule that sends a photo to the SRMD weights trained on realistic degradations (``kernelgan.sr.srmd``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .jpeg import Compression, compression
from .noise import estimate_noise_sigma

# above this noise level (8-bit sigma) a photo is treated as realistic: clean 8-bit photos blurred and
# subsampled read 0.3-1.3 on the tuning photos (kernelgan.noise)
REALISTIC_NOISE = 2.0


@dataclass(frozen=True)
class Degradation:
    noise_sigma: float  # estimated sensor-noise level, 8-bit scale
    compression: Compression

    @property
    def realistic(self) -> bool:
        """Noisy or JPEG-compressed: outside the classical model (blur, subsampling, 8-bit rounding)."""
        return looks_realistic(self.noise_sigma, self.compression.jpeg)

    def to_dict(self) -> dict:
        return {"noise_sigma": round(self.noise_sigma, 3), "jpeg": self.compression.to_dict(),
                "realistic": self.realistic}

    def summary(self) -> str:
        """A few words for the summary line: 'noise 3.2, JPEG q85'."""
        c = self.compression
        jpeg = f", JPEG q{c.quality}" if c.quality is not None else (", JPEG blocking" if c.jpeg else "")
        return f"noise {self.noise_sigma:.1f}{jpeg}"


def looks_realistic(noise_sigma: float, jpeg: bool) -> bool:
    return noise_sigma > REALISTIC_NOISE or jpeg


def measure(img: np.ndarray, path: str | os.PathLike | None = None) -> Degradation:
    """The noise level and compression of ``img`` (HxWx3 in [0, 1]), with the file's JPEG tables when ``path``
    is a JPEG."""
    return Degradation(estimate_noise_sigma(img), compression(path, img))
