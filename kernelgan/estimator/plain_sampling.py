"""Software downscaling without antialiasing ("plain sampling"): OpenCV's ``INTER_LINEAR`` / ``INTER_CUBIC``, torch's
``interpolate`` by default and many apps shrink a photo by evaluating the interpolation filter at the LR grid,
without stretching it (``resamplers``, ``antialias=False``). The LR then aliases: its edges step and its fine
texture folds, which a camera's optics never do, and which a power spectrum hardly shows.

A small convolutional network (``PlainSamplingNet``) reads 64 px crops of the LR's luma (its Laplacian and two
differences, scaled to unit energy: what sampling leaves is a pattern, not an amplitude) and returns a logit per
crop; the photo's probability is the sigmoid of the crops' mean logit (``plain_sampling_probability``). Where it is
sure (``EstimatorConfig.plain_sampling_threshold``, chosen on the tuning photos), the estimator returns the
plain-sampling kernel of bicubic (a = -0.5, which Lanczos 2 equals at x2 and x4), the best single kernel for the
family (docs/estimators.md). Trained by ``kernelgan train-plain-sampling`` (``plain_sampling_train``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..network_files import NetworkWeights
from .spectrum import gray

FORMAT = "kernelgan-plain-sampling-1"
CROP = 64  # LR crop side the network reads
STRIDE = 32  # crops of a photo every STRIDE px ...
MAX_CROPS = 16  # ... at most this many, spread evenly over a large photo
RESAMPLER = "bicubic"  # whose plain-sampling kernel is returned

_LAPLACIAN = torch.tensor([[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]])
_DIFF = torch.tensor([[0.0, 0, 0], [-1, 1, 0], [0, 0, 0]])
_FILTERS = torch.stack([_LAPLACIAN, _DIFF, _DIFF.T])[:, None]  # 3 x 1 x 3 x 3


def crop_features(crops: torch.Tensor) -> torch.Tensor:
    """B x 1 x H x W luma crops in [0, 1] -> B x 3 x (H-2) x (W-2): the Laplacian and the two differences, each
    crop divided by the RMS of its Laplacian (a flat crop stays near zero)."""
    f = F.conv2d(crops, _FILTERS.to(crops))
    return f / (f[:, :1].pow(2).mean((2, 3), keepdim=True).sqrt() + 1e-4)


@dataclass(frozen=True)
class PlainSamplingShape:
    channels: int = 24


class PlainSamplingNet(nn.Module):
    """Six 3x3 convolutions (two of stride 2) over ``crop_features``, then the mean and spread of the last
    features over the crop, then one logit per crop (B x 1 x CROP x CROP luma in [0, 1] -> B)."""

    def __init__(self, shape: PlainSamplingShape):
        super().__init__()
        self.shape = shape
        c = shape.channels
        layers: list[nn.Module] = []
        cin = 3
        for cout, stride in ((c, 1), (c, 1), (2 * c, 2), (2 * c, 1), (4 * c, 2), (4 * c, 1)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU()]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * cin, 1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        f = self.body(crop_features(crops))
        return self.head(torch.cat([f.mean((2, 3)), f.std((2, 3))], dim=1))[:, 0]


class PlainSamplingWeights(NetworkWeights[PlainSamplingShape, PlainSamplingNet]):
    """A trained ``PlainSamplingNet``: its shape, state and the settings that made it (``train-plain-sampling``)."""

    FORMAT = FORMAT
    WHAT = "plain-sampling detector"
    SHAPE = PlainSamplingShape
    NET = PlainSamplingNet


def photo_crops(luma: np.ndarray) -> np.ndarray:
    """N x CROP x CROP float32: crops of ``luma`` (HxW in [0, 1], at least CROP a side) every STRIDE px, at most
    MAX_CROPS of them spread evenly over the photo."""
    h, w = luma.shape
    corners = [(y, x) for y in range(0, h - CROP + 1, STRIDE) for x in range(0, w - CROP + 1, STRIDE)]
    if len(corners) > MAX_CROPS:
        corners = [corners[i] for i in np.linspace(0, len(corners) - 1, MAX_CROPS).round().astype(int)]
    return np.stack([luma[y:y + CROP, x:x + CROP] for y, x in corners]).astype(np.float32)


def plain_sampling_probability(net: PlainSamplingNet, image: np.ndarray) -> float | None:
    """P(``image``, HxWx3 in [0, 1], was shrunk by plain sampling): the sigmoid of the mean logit over its crops;
    None for a photo under CROP px a side."""
    luma = gray(image)
    if min(luma.shape) < CROP:
        return None
    with torch.no_grad():
        logits = net(torch.from_numpy(photo_crops(luma))[:, None])
    return float(torch.sigmoid(logits.mean()))
