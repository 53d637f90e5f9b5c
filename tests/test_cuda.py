"""CUDA: the estimator (prior, single-run and batched KernelGAN) and every SR backend on the GPU agree with the
CPU. Marked ``cuda``; skipped where torch sees no CUDA device."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import natural_image
from kernelgan.estimator import EstimatorConfig, estimate_kernel
from kernelgan.estimator.batched import train_kernels
from kernelgan.estimator.train import early_prior_kernel, train_kernel
from kernelgan.families import isotropic_gaussian
from kernelgan.io import write_image
from kernelgan.metrics import psnr_y
from kernelgan.resize import blur_downsample
from kernelgan.sr import available_backends, get_backend
from kernelgan_cli.app import app

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]
CUDA = torch.device("cuda")


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(a).max())


def test_prior_on_cuda_matches_cpu():
    image = natural_image(200, 260, seed=4)
    cpu = estimate_kernel(image, device="cpu").kernel_x2
    gpu = estimate_kernel(image, device="cuda").kernel_x2
    assert relative_error(cpu, gpu) < 1e-3  # cuDNN convolutions in TF32 (measured on an H200: 1.0e-4)


def test_single_run_on_cuda_matches_cpu_then_trains():
    image = natural_image(96, 128, seed=1)
    config = EstimatorConfig(iters=1)
    target = early_prior_kernel(image, config)[0]
    cpu, _ = train_kernel(image, config, 0, torch.device("cpu"), target=target)
    gpu, _ = train_kernel(image, config, 0, CUDA, target=target)
    assert relative_error(cpu, gpu) < 1e-3  # cuDNN may use TF32 convolutions
    full = estimate_kernel(image, config=EstimatorConfig(iters=250), device="cuda")
    assert np.isclose(full.kernel_x2.sum(), 1) and full.attempts[-1]["rejected"] is None


def test_batched_runs_on_cuda_match_single_runs_on_cuda(monkeypatch):
    """One step (training amplifies rounding, see test_batched), TF32 off: the grouped and the plain
    convolution round differently in TF32."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    images = [natural_image(96, 128, seed=s) for s in (1, 2, 3)]
    config = EstimatorConfig(iters=1)
    targets = [early_prior_kernel(im, config)[0] for im in images]
    kernels, _ = train_kernels(images, [0, 1, 2], config, CUDA, targets)
    for image, seed, target, kernel in zip(images, [0, 1, 2], targets, kernels, strict=True):
        single, _ = train_kernel(image, config, seed, CUDA, target=target)
        assert relative_error(single, kernel) < 1e-4


def test_estimate_batch_cli_on_cuda(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_image(d / f"p{i}.png", natural_image(96, 128, seed=i))
    r = CliRunner().invoke(app, ["estimate", str(d), "-o", str(tmp_path / "o"), "-e", "kernelgan", "--iters", "30",
                                 "--device", "cuda", "-q"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "o").glob("*_kernel_x2.npy"))) == 3


@pytest.mark.parametrize("backend", sorted(available_backends()))
def test_sr_backend_on_cuda_matches_cpu(backend):
    hr = natural_image(96, 96, seed=5)
    kernel = isotropic_gaussian(1.5)
    lr = blur_downsample(hr, kernel, 2).astype(np.float32)
    chosen = get_backend(backend)
    options = {"max_iters": 40, "precision": "fp32"} if backend == "zssr" else {}
    cpu = chosen.upscale(lr, kernel, 2, device="cpu", **options)
    gpu = chosen.upscale(lr, kernel, 2, device="cuda", **options)
    assert gpu.shape == cpu.shape and np.all(np.isfinite(gpu))
    assert psnr_y(cpu, gpu) > 40  # the same method on another device (ZSSR: 40 training steps, TF32 convolutions)


def test_zssr_mixed_precision_on_cuda_stays_close_to_float32():
    hr = natural_image(96, 96, seed=6)
    kernel = isotropic_gaussian(1.5)
    lr = blur_downsample(hr, kernel, 2).astype(np.float32)
    zssr = get_backend("zssr")
    full = zssr.upscale(lr, kernel, 2, device="cuda", max_iters=60, precision="fp32")
    mixed = zssr.upscale(lr, kernel, 2, device="cuda", max_iters=60, precision="bf16")
    assert np.all(np.isfinite(mixed))
    assert abs(psnr_y(mixed, hr, 2) - psnr_y(full, hr, 2)) < 0.3  # bf16 autocast: quality kept (quick run; benchmark: 8 photos)


def test_zssr_gradual_x4_on_cuda_matches_cpu():
    hr = natural_image(128, 128, seed=7)
    kernel = isotropic_gaussian(1.2)
    lr = blur_downsample(blur_downsample(hr, kernel, 2), kernel, 2).astype(np.float32)
    zssr = get_backend("zssr")
    options = {"max_iters": 30, "precision": "fp32"}  # both stages, 30 steps each
    cpu = zssr.upscale(lr, kernel, 4, device="cpu", **options)
    gpu = zssr.upscale(lr, kernel, 4, device="cuda", **options)
    assert gpu.shape == cpu.shape == (128, 128, 3)
    assert psnr_y(cpu, gpu) > 40


def test_zssr_channels_last_on_cuda_is_the_same_function():
    hr = natural_image(96, 96, seed=8)
    kernel = isotropic_gaussian(1.5)
    lr = blur_downsample(hr, kernel, 2).astype(np.float32)
    zssr = get_backend("zssr")
    options = {"max_iters": 40, "precision": "fp32", "device": "cuda"}
    last = zssr.upscale(lr, kernel, 2, channels_last=True, **options)
    contiguous = zssr.upscale(lr, kernel, 2, channels_last=False, **options)
    assert psnr_y(last, contiguous) > 40  # other cuDNN algorithms, same training and output
