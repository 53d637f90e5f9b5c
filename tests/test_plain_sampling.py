"""The plain-sampling detector: software downscaling without antialiasing named, and its exact kernel returned."""

import numpy as np
import pytest
import torch

from conftest import natural_image, photo_folder, run_cli
from kernelgan.errors import InputError
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.learned import SOFTWARE_MATLAB, SOFTWARE_PLAIN, software_kernel, software_resampler
from kernelgan.estimator.plain_sampling import (
    CROP,
    MAX_CROPS,
    PlainSamplingNet,
    PlainSamplingShape,
    PlainSamplingWeights,
    photo_crops,
    plain_sampling_probability,
)
from kernelgan.estimator.plain_sampling_train import make_plain_sampling_dataset
from kernelgan.estimator.registry import DEFAULT, get_estimator
from kernelgan.evaluate import redegradation_psnr
from kernelgan.families import sample_kernel
from kernelgan.kernels import bicubic_kernel, fit_size
from kernelgan.resamplers import resampler_kernel
from kernelgan.synth import degrade


def _8bit(img: np.ndarray) -> np.ndarray:
    return (np.round(np.clip(img, 0, 1) * 255) / 255).astype(np.float32)


def test_software_kernels_are_the_resamplers_own_at_each_scale():
    for scale in (2, 4):
        plain = software_kernel(SOFTWARE_PLAIN, scale)
        np.testing.assert_array_equal(plain, resampler_kernel("bicubic", scale, antialias=False))
        # bicubic and Lanczos 2 sampled at the LR grid are the same kernel: one answer names both
        np.testing.assert_allclose(plain, resampler_kernel("lanczos2", scale, antialias=False), atol=1e-12)
        assert plain.sum() == pytest.approx(1.0) and plain.min() < -0.003  # its negative taps are kept
        np.testing.assert_array_equal(software_kernel(SOFTWARE_MATLAB, scale), bicubic_kernel(scale))
    config = get_estimator(DEFAULT).config
    named = [software_resampler({"plain_sampling_probability": p, "software_downscaling_probability": s}, config)
             for p, s in ((0.99, 0.99), (0.5, 0.99), (0.5, 0.5))]
    assert named == [SOFTWARE_PLAIN, SOFTWARE_MATLAB, None]  # plain sampling is asked first


def test_photo_crops_cover_the_photo_up_to_a_bound_and_small_photos_get_no_probability(tmp_path):
    assert photo_crops(np.zeros((CROP, CROP + 31))).shape == (1, CROP, CROP)
    assert photo_crops(np.zeros((CROP + 32, CROP + 32))).shape == (4, CROP, CROP)
    assert photo_crops(np.zeros((2000, 3000))).shape == (MAX_CROPS, CROP, CROP)
    net = PlainSamplingNet(PlainSamplingShape()).eval()
    assert plain_sampling_probability(net, np.zeros((CROP - 1, 200, 3))) is None
    p = plain_sampling_probability(net, natural_image(80, 90))
    assert p is not None and 0 < p < 1
    # the weights file round-trips; another file is refused in one line
    PlainSamplingWeights.of(net, {"seed": 0}).save(tmp_path / "w.pt")
    again = PlainSamplingWeights.load(tmp_path / "w.pt").network()
    crops = torch.rand(2, 1, CROP, CROP)
    with torch.no_grad():
        assert torch.equal(net(crops), again(crops))
    torch.save({"format": "other"}, tmp_path / "x.pt")
    with pytest.raises(InputError, match="plain-sampling detector"):
        PlainSamplingWeights.load(tmp_path / "x.pt")


def test_training_crops_are_deterministic_half_plain_and_8_bit():
    photos = [natural_image(200, 220, seed=i)[..., 0].astype(np.float64) for i in range(2)]
    crops, labels = make_plain_sampling_dataset(photos, 16, seed=3)
    again, _ = make_plain_sampling_dataset(photos, 16, seed=3)
    assert crops.shape == (16, 1, CROP, CROP) and labels.mean() == 0.5
    np.testing.assert_array_equal(crops, again)
    assert not np.array_equal(crops, make_plain_sampling_dataset(photos, 16, seed=4)[0])
    software = crops[np.arange(16) % 4 != 3]  # the camera quarter may carry a JPEG's fractions too
    assert np.allclose(software * 255, np.round(software * 255), atol=1e-4)


def test_train_plain_sampling_writes_a_detector_the_estimator_reads(tmp_path):
    photos = photo_folder(tmp_path / "hr", 10, 160, 160)
    out = tmp_path / "ps.pt"
    result = run_cli("train-plain-sampling", photos, "-o", out, "--samples", "200", "--epochs", "1", "-q", "--threads", "1")
    assert result.exit_code == 0, result.output
    weights = PlainSamplingWeights.load(out)
    assert weights.settings["samples"] == 200 and len(weights.settings["held_out_photos"]) == 1
    again = run_cli("train-plain-sampling", photos, "-o", out, "--samples", "200", "-q")
    assert again.exit_code != 0 and "--force" in again.output
    config = get_estimator(DEFAULT).config.with_overrides(plain_sampling_detector=str(out))
    result = estimate_kernel(natural_image(96, 96), 2, config=config, seed=0, device="cpu")
    assert 0 <= result.quality["plain_sampling_probability"] <= 1


@pytest.fixture(scope="module")
def sharp_hr() -> np.ndarray:
    """A test picture with crisp edges (the bundled zebra is too soft for its plain-sampled LR to alias clearly at
    x2: the detector reads 0.05 there; docs/estimators.md)."""
    return natural_image(384, 512, seed=1).astype(np.float64)


@pytest.mark.parametrize("name", ["bicubic-opencv", "lanczos3"])
def test_plain_sampling_is_named_and_gets_its_exact_kernel(sharp_hr, name):
    """A crisp picture shrunk x2 without antialiasing (OpenCV's INTER_CUBIC, a = -0.75; Lanczos 3 sampled at the
    LR grid): the shipped detector names plain sampling and the estimate is the plain-sampling kernel, lobes kept,
    and its x4 kernel the x4 plain-sampling kernel, not the x2 kernel twice."""
    truth = resampler_kernel(name, 2, antialias=False)
    lr = _8bit(degrade(sharp_hr, 2, kernel=truth)[0])
    result = estimate_kernel(lr, 4, device="cpu")
    assert result.quality["plain_sampling_probability"] > get_estimator(DEFAULT).config.plain_sampling_threshold
    for kernel, scale in ((result.kernel_x2, 2), (result.kernel_x4, 4)):
        returned = software_kernel(SOFTWARE_PLAIN, scale)
        size = max(kernel.shape[0], returned.shape[0])
        np.testing.assert_allclose(fit_size(kernel, size), fit_size(returned, size), atol=1e-6)
        assert kernel.min() < 0
    # the returned kernel explains the photo far better than the camera estimate would
    blind = estimate_kernel(lr, 2, config=get_estimator(DEFAULT).config.with_overrides(plain_sampling_detector=""),
                            device="cpu")
    assert redegradation_psnr(sharp_hr, result.kernel_x2, truth, 2) > redegradation_psnr(sharp_hr, blind.kernel_x2, truth, 2) + 3


def test_plain_sampling_at_x4_on_a_held_out_photo():
    """A held-out BSD100 photo (skipped without ../shared/data) shrunk x4 without antialiasing (Mitchell sampled at
    the LR grid): named, and its x4 kernel is the x4 plain-sampling kernel (re-degradation above 45 dB)."""
    from conftest import shared
    from kernelgan.io import read_image

    hr = read_image(shared("BSD100", "img_012.png")).astype(np.float64)
    truth = resampler_kernel("mitchell", 4, antialias=False)
    result = estimate_kernel(_8bit(degrade(hr, 4, kernel=truth)[0]), 4, device="cpu")
    assert result.quality["plain_sampling_probability"] > get_estimator(DEFAULT).config.plain_sampling_threshold
    assert redegradation_psnr(hr, result.kernel_x4, truth, 4) > 45


def test_blur_and_antialiased_resamplers_are_not_called_plain_sampling(sharp_hr):
    """Camera-like blur and antialiased resamplers (box averaging is not asserted: it aliases too, and the detector
    reads 0.78 on this picture; docs/estimators.md)."""
    rng = np.random.default_rng(2)
    cases = [degrade(sharp_hr, 2, k2=sample_kernel(family, rng))[0] for family in ("div2krk", "lens", "sharp")]
    cases += [degrade(sharp_hr, 2, kernel=resampler_kernel(name, 2))[0] for name in ("bicubic", "lanczos3")]
    for lr in cases:
        result = estimate_kernel(_8bit(lr), 2, device="cpu")
        assert result.quality["plain_sampling_probability"] < 0.5


def test_the_named_resampler_reaches_photo_json_the_summary_and_the_report(tmp_path, sharp_hr):
    import json

    from kernelgan.io import write_image

    write_image(tmp_path / "web.png", np.clip(degrade(sharp_hr, 2, kernel=resampler_kernel("lanczos3", 2, False))[0], 0, 1))
    write_image(tmp_path / "lens.png", np.clip(degrade(sharp_hr, 2, k2=sample_kernel("lens", np.random.default_rng(1)))[0], 0, 1))
    out = tmp_path / "out"
    result = run_cli("estimate", tmp_path / "web.png", tmp_path / "lens.png", "-o", out)
    assert result.exit_code == 0, result.output
    assert "web.png: " in result.output and "without antialiasing detected" in result.output.split("web.png: ")[1].split("\n")[0]
    assert "without antialiasing" not in result.output.split("lens.png: ")[1].split("\n")[0]
    assert json.loads((out / "web.json").read_text())["software_resampler"] == SOFTWARE_PLAIN
    assert json.loads((out / "lens.json").read_text())["software_resampler"] is None
    assert run_cli("report", out).exit_code == 0
    page = next(out.glob("*.html")).read_text()
    assert page.count("software: plain-sampling") == 1
