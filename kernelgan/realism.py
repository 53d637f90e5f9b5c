"""Which SRMD weights suit a photo: a detector of realistic degradations read from the photo's spectrum.

The noise level and JPEG blocking (``kernelgan.degradation``) miss realistic photos that look clean: a
Real-ESRGAN-like chain ending in a resize and a sinc filter leaves little noise and no blocks, yet its blur
(several kernels, resizes, ringing) is outside what the classical weights know, and they then sharpen it into
artefacts (8 dB under bicubic interpolation on some suite photos). This detector is the prior's network shape
(``estimator.prior.SpectrumNet`` with its one extra output) trained with binary cross-entropy on "made by the
BSRGAN or Real-ESRGAN preset" against classical degradations (one kernel of any training family: Gaussians,
motion, defocus, lens PSFs, shake; subsampling; Gaussian noise on half), at x2 and x4, from the training photos
(BSD100/Set14 split as the prior's); its probability, averaged over the 8 rotations/flips, is recorded in
``photo.json``, and above ``THRESHOLD`` sends the photo to the realistic weights. Trained by ``kernelgan
train-router`` (``realism_train``; docs/srmd.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .estimator.prior import load_network
from .estimator.spectrum import TILE, view_spectra

THRESHOLD = 0.5  # probability above which a photo counts as realistically degraded (tuned on the tuning photos)


def shipped_router_path() -> Path:
    return Path(__file__).parent / "sr" / "weights" / "router.pt"


def realistic_probability(lr: np.ndarray, weights: Path | None = None, device: torch.device | str = "cpu"
                          ) -> float | None:
    """P(realistic degradation) of ``lr`` (HxWx3 in [0, 1]), mean over its 8 views; None when no router weights
    are installed or the photo is under one spectrum tile a side."""
    path = weights or shipped_router_path()
    if not path.is_file() or min(lr.shape[:2]) < TILE:
        return None
    net = load_network(path, device)
    spectra = torch.from_numpy(view_spectra(lr, 8, device)[:, None]).to(device)
    with torch.no_grad():
        logits = net.predict(spectra)[1]
    if logits is None:
        raise InputError(f"{path}: these weights have no detector output (not a router file)")
    return float(torch.sigmoid(logits.double()).mean())
