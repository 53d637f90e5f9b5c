"""ZSSR's fast configuration: the learned start adapts to the kernel it is given, the stopping rule stops on a
plateau and not before, named configurations and start files are checked, train-zssr-start writes a usable start."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import SAMPLES, natural_image, photo_folder, run_cli
from kernelgan.errors import InputError
from kernelgan.io import read_image
from kernelgan.kernels import anisotropic_gaussian, centre_kernel
from kernelgan.metrics import psnr_y
from kernelgan.resize import blur_downsample
from kernelgan.rng import seeded
from kernelgan.sr import get_backend, zssr
from kernelgan.sr.tiling import to_tensor


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(HR 128x128 crop of the bundled HR sample, its LR by a wide anisotropic kernel, that kernel)."""
    hr = read_image(SAMPLES / "hr" / "zebra.png")[100:228, 100:228].astype(np.float64)
    k = centre_kernel(anisotropic_gaussian(13, 3.5, 1.5, 0.4, (6, 6)), 2)
    lr = np.round(np.clip(blur_downsample(hr, k, 2), 0, 1) * 255) / 255
    return hr, lr.astype(np.float32), k


def test_the_learned_start_adapts_to_the_kernel_given():
    hr, lr, true_k = _case()
    wrong = centre_kernel(anisotropic_gaussian(13, 0.4, 0.4, 0.0, (6, 6)), 2)
    run = dict(max_iters=40, precision="fp32", seed=0)  # the default configuration: the shipped start
    with_true = get_backend("zssr").upscale(lr, true_k, 2, **run)
    with_wrong = get_backend("zssr").upscale(lr, wrong, 2, **run)
    assert np.abs(with_true - with_wrong).mean() > 0.005  # the kernel changes the output
    assert psnr_y(with_true, hr, 2) > psnr_y(with_wrong, hr, 2) + 1.0


def test_fast_configuration_precisions_agree():
    _, lr, k = _case()
    run = dict(max_iters=20, seed=0)
    a = get_backend("zssr").upscale(lr, k, 2, precision="fp32", **run)
    b = get_backend("zssr").upscale(lr, k, 2, precision="bf16", **run)
    assert psnr_y(a, b) > 40  # bf16 autocast: the same method to rounding


def test_plateau_rule_on_toy_histories():
    config = zssr.ZSSRConfig(slope_range=100)
    rng = np.random.default_rng(0)
    steps = np.arange(0, 301, 25)
    falling = [(int(s), 1.0 - 0.002 * s + 0.001 * rng.standard_normal()) for s in steps]
    flat = [(int(s), 0.4 + 0.001 * rng.standard_normal()) for s in steps]
    assert not zssr.plateaued(falling, 300, config)
    assert zssr.plateaued(flat, 300, config)
    assert not zssr.plateaued(flat[-2:], 300, config)  # two points say nothing


def test_training_stops_once_converged_and_not_before():
    flat = to_tensor(np.full((48, 48, 3), 0.5, dtype=np.float32), torch.device("cpu"))
    k = centre_kernel(anisotropic_gaussian(13, 1.0, 1.0, 0.0, (6, 6)), 2)
    config = zssr.ZSSRConfig(channels=8, layers=3, crop=32, max_iters=2000, min_iters=20, lr_check_every=5,
                             test_every=5, slope_range=20, precision="fp32")
    with seeded(0, None):  # the network's random start, whatever ran before
        net = zssr.ResidualNet(8, 3, 0.5)
    _, steps = zssr.train([(flat, 1.0)], k, 2, net, config, False, np.random.default_rng(0), (0,))
    assert 3 * config.min_iters < steps < config.max_iters / 4  # three falls of the rate, each after min_iters
    textured = to_tensor(natural_image(64, 64), torch.device("cpu"))
    with seeded(1, None):
        net = zssr.ResidualNet(8, 3, 0.5)
    _, capped = zssr.train([(textured, 1.0)], k, 2, net,
                           replace(config, max_iters=40), False, np.random.default_rng(0), (0,))
    assert capped == 40  # still improving: runs to the cap


def test_configurations_and_start_files_are_checked(tmp_path):
    lr = np.zeros((16, 16, 3), dtype=np.float32)
    k = centre_kernel(anisotropic_gaussian(13, 1.0, 1.0, 0.0, (6, 6)), 2)
    backend = get_backend("zssr")
    with pytest.raises(InputError, match="config must be one of"):
        backend.upscale(lr, k, 2, config="quick")
    with pytest.raises(InputError, match="no learned start ships for 16 channels"):
        backend.upscale(lr, k, 2, channels=16)
    with pytest.raises(InputError, match="no learned start ships for 16 channels"):
        backend.weight_files(2, channels=16)  # refused where the fingerprint is made, before any work
    assert zssr.configuration({}).start == "shipped" and zssr.configuration({"config": "full"}).start == ""
    assert zssr.configuration({"config": "published"}) == zssr.PUBLISHED
    quality = zssr.configuration({"config": "quality"})  # fast, but for its x4 stage
    assert (quality.x4_members, quality.x4_max_iters) == (2, 3000)
    assert replace(quality, x4_max_iters=0, x4_min_iters=0, x4_members=1) == zssr.configuration({})
    shipped = backend.weight_files(2)
    assert len(shipped) == 1 and shipped[0].is_file()  # the default reads the shipped start
    assert backend.weight_files(2, config="full") == []
    not_a_start = tmp_path / "x.pt"
    torch.save({"format": "other"}, not_a_start)
    with pytest.raises(InputError, match="not a ZSSR start file"):
        backend.upscale(lr, k, 2, start=str(not_a_start))


def test_train_zssr_start_writes_a_start_that_zssr_reads(tmp_path):
    photos = photo_folder(tmp_path / "photos", 10, 48, 48)
    start = tmp_path / "start.pt"
    result = run_cli("train-zssr-start", photos, "-o", start, "--steps", "3", "--channels", "4", "--layers", "3",
                     "--crop", "32", "--precision", "fp32", "-q")
    assert result.exit_code == 0, result.output
    lr = natural_image(24, 24)
    k = centre_kernel(anisotropic_gaussian(13, 1.0, 1.0, 0.0, (6, 6)), 2)
    run = dict(max_iters=1, channels=4, layers=3, precision="fp32", crop=16)
    a = get_backend("zssr").upscale(lr, k, 2, start=str(start), **run)
    b = get_backend("zssr").upscale(lr, k, 2, start="", **run)
    assert a.shape == (48, 48, 3) and np.abs(a - b).mean() > 1e-4  # the start was read
    with pytest.raises(InputError, match="a start for"):
        get_backend("zssr").upscale(lr, k, 2, start=str(start), **{**run, "channels": 8})
    again = run_cli("train-zssr-start", photos, "-o", start, "--steps", "3")
    assert again.exit_code != 0 and "exists" in again.output


def test_cli_names_the_missing_start_in_one_line(tmp_path):
    k = tmp_path / "k.npy"
    np.save(k, centre_kernel(anisotropic_gaussian(13, 1.0, 1.0, 0.0, (6, 6)), 2))
    result = run_cli("sr", SAMPLES / "zebra.png", "--kernel", k, "--backend", "zssr", "-o", tmp_path / "sr",
                     "--opt", "channels=16")
    assert result.exit_code != 0 and "no learned start ships for 16 channels" in result.output
    assert "Traceback" not in result.output
