"""What a photo says about its degradation besides blur: its noise level, its JPEG compression, and how likely
it is that a realistic chain (several blurs, resizes, noise, JPEG) made it.

``measure`` reads them (``noise``, ``jpeg``, ``realism``) for ``photo.json`` and the summary line;
``looks_realistic`` is the rule that sends a photo to the SRMD weights trained on realistic degradations
(``kernelgan.sr.srmd``): noisy, or JPEG, or the router's probability above its threshold.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .jpeg import Compression, compression
from .noise import estimate_noise_sigma
from .realism import THRESHOLD, realistic_probability, shipped_router_path

# above this noise level (8-bit sigma) a photo is treated as realistic: clean 8-bit photos blurred and
# subsampled read 0.3-1.3 on the tuning photos (kernelgan.noise)
REALISTIC_NOISE = 2.0


@dataclass(frozen=True)
class Degradation:
    noise_sigma: float  # estimated sensor-noise level, 8-bit scale
    compression: Compression
    realistic_probability: float | None = None  # the router's (None: no router weights, or a tiny photo)

    @property
    def realistic(self) -> bool:
        """Noisy, JPEG-compressed or read as realistic by the router: outside the classical model (one blur,
        subsampling, 8-bit rounding)."""
        return looks_realistic(self.noise_sigma, self.compression.jpeg, self.realistic_probability)

    def to_dict(self) -> dict:
        p = self.realistic_probability
        return {"noise_sigma": round(self.noise_sigma, 3), "jpeg": self.compression.to_dict(),
                "realistic_probability": None if p is None else round(p, 4), "realistic": self.realistic}

    def summary(self) -> str:
        """A few words for the summary line: 'noise 3.2, JPEG q85'."""
        c = self.compression
        jpeg = f", JPEG q{c.quality}" if c.quality is not None else (", JPEG blocking" if c.jpeg else "")
        return f"noise {self.noise_sigma:.1f}{jpeg}"


def looks_realistic(noise_sigma: float, jpeg: bool, probability: float | None = None) -> bool:
    return noise_sigma > REALISTIC_NOISE or jpeg or (probability is not None and probability > THRESHOLD)


def degradation_weight_files() -> list[Path]:
    """The trained weights ``measure`` reads (the realism detector, when installed): results that record or
    depend on its reading name them in their fingerprints."""
    path = shipped_router_path()
    return [path] if path.is_file() else []


def measure(img: np.ndarray, path: str | os.PathLike | None = None) -> Degradation:
    """The noise level, compression and realistic-chain probability of ``img`` (HxWx3 in [0, 1]), with the
    file's JPEG tables when ``path`` is a JPEG."""
    return Degradation(estimate_noise_sigma(img), compression(path, img), realistic_probability(img))
