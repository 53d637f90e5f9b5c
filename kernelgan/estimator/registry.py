"""Named estimators: each is a configuration (``EstimatorConfig``) of an estimator (``api.estimator_for``: the
learned prior or KernelGAN), listed by
``kernelgan estimators``, chosen with ``kernelgan estimate --estimator NAME`` and recorded in ``photo.json``."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from .config import EstimatorConfig


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    description: str
    config: EstimatorConfig


_REGISTRY: dict[str, EstimatorSpec] = {}


def register(spec: EstimatorSpec) -> EstimatorSpec:
    """Add ``spec``; a second estimator with the same name is refused."""
    if spec.name in _REGISTRY:
        raise ValueError(f"an estimator named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_estimator(name: str) -> EstimatorSpec:
    if name not in _REGISTRY:
        raise InputError(f"unknown estimator {name!r} (available: {', '.join(_REGISTRY)})")
    return _REGISTRY[name]


def available_estimators() -> dict[str, EstimatorSpec]:
    return dict(_REGISTRY)


DEFAULT = "prior-panel"
PANEL = "shipped:prior,shipped:prior_sharp,shipped:prior_camera,shipped:prior_wide"  # prior-panel's members, in order
PANEL_MARGIN = 0.125  # chosen on the tuning photos: the largest mean with no classical family below `prior`
DIRECTION_GATE = 0.25  # chosen on the tuning photos by the same rule (docs/estimators.md, The kernel's direction)


def _learned(**changes: object) -> EstimatorConfig:
    """The learned prior's configuration (8 views, no GAN steps, the software and plain-sampling detectors), with
    ``changes``."""
    return EstimatorConfig(early_prior="learned", prior_views=8, iters=0, clean=False, keep_negative=True,
                           software_detector="shipped", plain_sampling_detector="shipped").with_overrides(**changes)

register(EstimatorSpec(
    "prior-panel", "learned kernel prior, a panel of four networks (prior, prior-sharp, prior-camera, prior-wide) "
    "reading the same spectra: prior's kernel unless another network's confidence predicts a size error smaller by "
    f"more than {PANEL_MARGIN}, or prior-wide's when its kernel does not fit 13x13 (the default since 2026-12-02, "
    "prior-wide in it since 2026-12-03; --opt panel_margin=0: always the smallest predicted error; --opt "
    "panel_wide_gate=false: no wide gate); since 2026-12-04 a 13x13 kernel also gets the odd part the photo's "
    "fourth-order statistics show where it is large (--opt direction_weights=: none)",
    _learned(prior_weights=PANEL, panel_margin=PANEL_MARGIN, direction_weights="shipped", direction_gate=DIRECTION_GATE)))
register(EstimatorSpec(
    "prior", "learned kernel prior, one network: it reads the image's mean local power spectrum and predicts its "
    "kernel, averaged over the image's 8 rotations/flips (trained on BSD100/Set14 photos of every sharpness over "
    "five kernel families; the default until 2026-12-02)",
    _learned()))
register(EstimatorSpec(
    "prior-x1", "the learned prior on the image as it is (one view instead of 8: less accurate, 8x less FFT work)",
    _learned(prior_views=1)))
register(EstimatorSpec(
    "prior-sharp", "the learned prior trained without softened (upscaled) copies of its photos: about 3 dB better kernels "
    "on sharp photos such as DIV2KRK's, worse on soft photos (reads sharp blur too wide there)",
    _learned(prior_weights="shipped:prior_sharp")))
register(EstimatorSpec(
    "prior-camera", "the learned prior trained on camera kernels too (lens PSFs, shake, their combinations) with "
    "signal-dependent noise, sharpening and JPEG: better on such photos and on noisy ones, worse on motion, "
    "defocus and sharp Gaussians",
    _learned(prior_weights="shipped:prior_camera")))
register(EstimatorSpec(
    "prior-cfa", "prior-camera fine-tuned with demosaicing as well (a fifth of its pairs through a Bayer colour filter "
    "array and bilinear demosaicing; the target stays the optical kernel): for photos at the camera's own "
    "resolution, which every camera demosaics; worse on noisy photos and the classical motion, defocus and sharp "
    "kernels",
    _learned(prior_weights="shipped:prior_cfa")))
register(EstimatorSpec(
    "prior-wide", "prior-camera widened to 19x19 kernels and fine-tuned with wide camera shake as well (6-15 px, "
    "beyond the 13x13 grid of the other networks): for photos with strong hand shake",
    _learned(prior_weights="shipped:prior_wide")))
register(EstimatorSpec(
    "prior+kernelgan", "KernelGAN (250 steps) whose early prior is the learned prior's kernel instead of bicubic",
    EstimatorConfig(early_prior="learned", prior_views=8)))
register(EstimatorSpec(
    "kernelgan", "KernelGAN, 250 steps from the bicubic prior, G initial gain 0.5 (this project's earlier default)",
    EstimatorConfig()))
register(EstimatorSpec(
    "kernelgan-paper", "KernelGAN at the published settings: 3000 steps, G initial gain 0.1 (for reproduction)",
    EstimatorConfig(iters=3000, g_init_gain=0.1)))
