"""The two networks of KernelGAN, written for speed on tiny inputs (per-op overhead dominates there).

Images are float tensors in [0, 1]. G works on single-channel maps (RGB channels as a batch): input
N x 1 x H x W, output N x 1 x ((H-K)//2+1) x ((W-K)//2+1), K = 13 for the paper's G. D maps N x 3 x h x w to
N x 1 x (h-6) x (w-6) scores in (0, 1), one per 7x7 patch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
        for w in self.weights():
            nn.init.xavier_normal_(w, gain=config.g_init_gain)

    def weights(self) -> list[torch.Tensor]:
        """The layers' weights, input side first (C_out x C_in x b x b each)."""
        return [layer.weight for layer in self.layers if isinstance(layer, nn.Conv2d)]

    def kernel(self) -> torch.Tensor:
        """The explicit correlation kernel k_G (KxK), differentiable w.r.t. the layer weights.

        Composed from the output side, so no 64-channel feature map is ever formed: the trailing 1x1 layers
        fold into a row vector (1 x C); each earlier layer (C x C' x b x b) then extends the composed kernel
        (C x a x a) to (C' x (a+b-1)²) by one matrix product and a ``fold`` that sums the shifted blocks.
        """
        weights = self.weights()
        k = weights[-1].flatten(1)  # 1 x C
        for w in reversed(weights[:-1]):  # C x C' x b x b
            c, c_out, b = int(w.shape[0]), int(w.shape[1]), int(w.shape[-1])
            a = round((k.numel() // c) ** 0.5)
            blocks = k.reshape(c, a * a).t() @ w.reshape(c, c_out * b * b)  # a² x (C'·b²)
            k = F.fold(blocks.t()[None], output_size=(a + b - 1, a + b - 1), kernel_size=b)[0]  # C' x s x s
        return k[0]

    def forward(self, x: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
        """Collapsed G: one KxK correlation with stride 2. Pass ``k`` to reuse the kernel computed this step (or
        to apply another kernel on the same grid, e.g. the bicubic reference)."""
        k = self.kernel() if k is None else k
        return F.conv2d(x, k[None, None], stride=2)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The published, layer-by-layer G (the reference computation; same function as ``forward``)."""
        weights = self.weights()
        for w in weights[:-1]:
            x = F.conv2d(x, w)
        return F.conv2d(x, weights[-1], stride=2)


def _spectral_normalised(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``weight / σ(weight)``, σ estimated by one power iteration from ``u`` (updated in place, no grad)."""
    mat = weight.reshape(weight.shape[0], -1)
    with torch.no_grad():
        v = F.normalize(mat.t() @ u, dim=0, eps=1e-12)
        u.copy_(F.normalize(mat @ v, dim=0, eps=1e-12))
    sigma = u @ mat @ v
    return weight / sigma


class Discriminator(nn.Module):
    """Fully-convolutional patch discriminator: 7x7 conv (3→C), five 1x1 conv+BatchNorm+ReLU blocks, 1x1 conv
    to one map, sigmoid; spectral normalisation on every convolution. Receptive field 7x7.

    The 1x1 convolutions are matrix products over the N·h·w positions. Spectral normalisation runs one power
    iteration per optimisation step (``normalised_weights``), and the result is shared by all D calls of that
    step. BatchNorm always uses the statistics of the batch at hand (D is only ever used while training).
    """

    def __init__(self, config: EstimatorConfig):
        super().__init__()
        ch, ks = config.d_channels, config.d_kernel_size
        self.kernel_size = ks
        shapes = [(ch, 3 * ks * ks)] + [(ch, ch)] * config.d_blocks + [(1, ch)]
        self.weights = nn.ParameterList(nn.Parameter(torch.empty(s)) for s in shapes)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(s[0])) for s in shapes)
        self.bn_weights = nn.ParameterList(nn.Parameter(torch.empty(ch)) for _ in range(config.d_blocks))
        self.bn_biases = nn.ParameterList(nn.Parameter(torch.zeros(ch)) for _ in range(config.d_blocks))
        for i, w in enumerate(self.weights):
            fan_in = 3 * ks * ks if i == 0 else w.shape[1]
            fan_out = ch * ks * ks if i == 0 else w.shape[0]
            std = config.d_init_gain * (2.0 / (fan_in + fan_out)) ** 0.5  # Xavier-normal of the conv layer
            nn.init.normal_(w, 0.0, std)
            self.register_buffer(f"u{i}", F.normalize(torch.randn(w.shape[0]), dim=0))
        for w in self.bn_weights:
            nn.init.normal_(w, 1.0, 0.02)

    def normalised_weights(self) -> list[torch.Tensor]:
        """Spectrally normalised weights for this step (one power iteration each)."""
        return [_spectral_normalised(w, getattr(self, f"u{i}")) for i, w in enumerate(self.weights)]

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        weights = self.normalised_weights() if weights is None else weights
        n, _, h, w = x.shape
        oh, ow = h - self.kernel_size + 1, w - self.kernel_size + 1
        cols = F.unfold(x, self.kernel_size).transpose(1, 2).reshape(n * oh * ow, -1)  # positions x 3·k·k
        feat = torch.addmm(self.biases[0], cols, weights[0].t())
        for i in range(len(self.bn_weights)):
            feat = torch.addmm(self.biases[i + 1], feat, weights[i + 1].t())
            feat = torch.relu(F.batch_norm(feat, None, None, self.bn_weights[i], self.bn_biases[i], training=True))
        score = torch.sigmoid(torch.addmm(self.biases[-1], feat, weights[-1].t()))
        return score.reshape(n, oh, ow, 1).permute(0, 3, 1, 2)
