"""KernelGAN: per-image estimation of the x2 downscaling kernel with an internal GAN."""

from .config import EstimatorConfig
from .train import EstimateResult, estimate_kernel

__all__ = ["EstimatorConfig", "EstimateResult", "estimate_kernel"]
