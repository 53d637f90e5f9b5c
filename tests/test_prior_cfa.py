"""`prior-cfa`: the camera network fine-tuned with demosaiced pairs reads the optical kernel of demosaiced photos
better than the network it started from, which takes the demosaicing's blur for part of the kernel."""

import numpy as np

from conftest import SAMPLES
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.registry import get_estimator
from kernelgan.families import sample_kernel
from kernelgan.io import read_image
from kernelgan.kernel_shape import size_error
from kernelgan.presets.ops import bayer_demosaic
from kernelgan.synth import crop_to_multiple, degrade


def _size_errors(estimator: str) -> np.ndarray:
    """Signed log size errors of ``estimator`` on the zebra sample blurred by two lens PSFs and two DIV2KRK
    Gaussians, x2, then demosaiced (RGGB, bilinear) and rounded to 8 bits."""
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    rng = np.random.default_rng(3)
    config = get_estimator(estimator).config
    errors = []
    for family in ("lens", "lens", "div2krk", "div2krk"):
        truth = sample_kernel(family, rng)
        lr = bayer_demosaic(degrade(hr, 2, kernel=truth)[0])
        lr = (np.round(np.clip(lr, 0, 1) * 255) / 255).astype(np.float32)
        errors.append(size_error(estimate_kernel(lr, 2, config=config).kernel_x2, truth))
    return np.array(errors)


def test_prior_cfa_reads_demosaiced_photos_closer_to_the_optical_kernel():
    camera, cfa = _size_errors("prior-camera"), _size_errors("prior-cfa")
    assert camera.mean() > 0.1  # the camera network reads the demosaicing as blur: too wide
    assert np.abs(cfa).mean() < 0.6 * np.abs(camera).mean()
