"""The two networks of KernelGAN.

Images go in as float tensors in [0, 1]. G works on single-channel maps (RGB channels as a batch): input
N x 1 x H x W, output N x 1 x ((H-13)//2+1) x ((W-13)//2+1). D maps N x 3 x h x w to N x 1 x (h-6) x (w-6)
scores in (0, 1), one per 7x7 patch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from .config import EstimatorConfig


class Generator(nn.Module):
    """Deep linear downscaler: bias-free convolutions 7,5,3,1,1,1, the last with stride 2, no activations.

    Because it is linear and bias-free, ``G(x) = (x ⋆ k_G)↓2`` exactly; ``forward`` uses that collapsed form.
    """

    def __init__(self, config: EstimatorConfig):
        super().__init__()
        sizes, ch = config.g_kernel_sizes, config.g_channels
        channels = [1] + [ch] * (len(sizes) - 1) + [1]
        self.layers = nn.ModuleList(
            nn.Conv2d(channels[i], channels[i + 1], sizes[i], bias=False) for i in range(len(sizes))
        )
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight, gain=config.g_init_gain)
        self.kernel_size = config.kernel_size

    def kernel(self) -> torch.Tensor:
        """The explicit kernel k_G (KxK, K = receptive field), differentiable w.r.t. the layer weights.

        A delta image passed through the layers gives the flipped kernel of the composed correlation.
        """
        w0 = self.layers[0].weight
        delta = torch.zeros(1, 1, 1, 1, dtype=w0.dtype, device=w0.device)
        delta[0, 0, 0, 0] = 1.0
        k = F.conv2d(delta, w0, padding=self.kernel_size - 1)
        for layer in self.layers[1:]:
            k = F.conv2d(k, layer.weight)
        return k[0, 0].flip(0, 1)

    def forward(self, x: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
        """Collapsed G: one KxK correlation with stride 2 (pass ``k`` to reuse a kernel computed this step)."""
        k = self.kernel() if k is None else k
        return F.conv2d(x, k[None, None], stride=2)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The published, layer-by-layer G (the reference computation; same function as ``forward``)."""
        for layer in self.layers[:-1]:
            x = layer(x)
        return F.conv2d(x, self.layers[-1].weight, stride=2)


class Discriminator(nn.Module):
    """Fully-convolutional patch discriminator: 7x7 conv, five 1x1 conv+BN+ReLU blocks, 1x1 conv, sigmoid;
    spectral normalisation on every convolution. Receptive field 7x7."""

    def __init__(self, config: EstimatorConfig):
        super().__init__()
        ch = config.d_channels
        blocks: list[nn.Module] = [spectral_norm(nn.Conv2d(3, ch, config.d_kernel_size))]
        for _ in range(config.d_blocks):
            blocks += [spectral_norm(nn.Conv2d(ch, ch, 1)), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        blocks += [spectral_norm(nn.Conv2d(ch, 1, 1)), nn.Sigmoid()]
        self.net = nn.Sequential(*blocks)
        for m in self.net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, gain=config.d_init_gain)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
