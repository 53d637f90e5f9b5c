"""kernelgan: blind super-resolution kernel estimation with an internal GAN (KernelGAN, NeurIPS 2019)."""

__version__ = "0.1.0"

from .errors import InputError, KernelError, KernelganError  # noqa: E402
from .io import load_kernel, read_image, save_kernel, write_image  # noqa: E402
from .kernels import analytic_x4, bicubic_kernel, centre_kernel, kernel_psnr  # noqa: E402
from .estimator import EstimatorConfig, estimate_kernel  # noqa: E402

__all__ = [
    "__version__", "InputError", "KernelError", "KernelganError", "load_kernel", "read_image", "save_kernel",
    "write_image", "estimate_kernel", "EstimatorConfig", "analytic_x4", "bicubic_kernel", "centre_kernel", "kernel_psnr",
]
