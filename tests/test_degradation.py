"""Noise level, JPEG quality and blocking, the realistic SRMD pairs, and what the pipeline does with them."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import SAMPLES
from kernelgan.degradation import measure
from kernelgan.io import read_image, write_image
from kernelgan.jpeg import blocking, file_quality, ijg_table, quality_from_table
from kernelgan.noise import estimate_noise_sigma
from kernelgan.sr import srmd
from kernelgan.sr.kernel_pca import family_kernels, fit_pca
from kernelgan.sr.realistic_pairs import ScenePool
from kernelgan_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_image(SAMPLES / "zebra.png")[:160, :200]


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.round(np.clip(img + rng.standard_normal(img.shape) * sigma / 255, 0, 1) * 255) / 255).astype(np.float32)


def test_noise_estimate_orders_levels_with_margins_and_is_close(photo):
    clean, five, fifteen = (estimate_noise_sigma(noisy(photo, s)) for s in (0, 5, 15))
    assert clean + 2.5 < five < fifteen - 7
    assert abs(five - 5) < 1.5 and abs(fifteen - 15) < 1.5


def test_noise_estimate_ignores_clipped_regions():
    img = np.zeros((96, 96, 3), np.float32)
    img[:, 48:] = 0.5  # half black (noise clipped away there), half mid-grey
    assert abs(estimate_noise_sigma(noisy(img, 10)) - 10) < 1.0


def test_jpeg_quality_is_read_from_the_file_tables(tmp_path, photo):
    data = (photo * 255).round().astype(np.uint8)
    for quality in (37, 80, 95):
        Image.fromarray(data).save(tmp_path / "p.jpg", quality=quality)
        found = file_quality(tmp_path / "p.jpg")
        assert found is not None and found.quality == quality and found.table_error == 0
    write_image(tmp_path / "p.png", photo)
    assert file_quality(tmp_path / "p.png") is None
    assert quality_from_table(ijg_table(63)).quality == 63 and quality_from_table(ijg_table(12)).quality == 12


def test_blocking_separates_strong_jpeg_from_clean_pixels(tmp_path, photo):
    data = (photo * 255).round().astype(np.uint8)
    Image.fromarray(data).save(tmp_path / "p.jpg", quality=30)
    assert blocking(photo) < 1.1 < 1.2 < blocking(read_image(tmp_path / "p.jpg"))


def test_blocking_is_measured_on_the_stored_blocks_of_a_turned_jpeg(tmp_path, photo):
    """Sides that are not multiples of 8 (157 x 203): turned by 180 degrees for the viewer, the blocks no longer
    start at the top-left corner of the picture as read, so they are counted where the file has them."""
    from kernelgan.jpeg import compression

    im = Image.fromarray((photo[:157, :197] * 255).round().astype(np.uint8))
    im.save(tmp_path / "plain.jpg", quality=30)
    exif = im.getexif()
    exif[0x0112] = 3
    im.save(tmp_path / "turned.jpg", quality=30, exif=exif.tobytes())
    plain, turned = (compression(tmp_path / f"{n}.jpg", read_image(tmp_path / f"{n}.jpg")) for n in ("plain", "turned"))
    assert turned.blocking == pytest.approx(plain.blocking, rel=1e-6) and plain.blocking > 1.2
    assert blocking(read_image(tmp_path / "turned.jpg")) < 1.1  # (counted from the turned picture's corner)


def test_measure_says_realistic_for_noise_or_jpeg_only(tmp_path, photo):
    assert not measure(photo).realistic
    assert measure(noisy(photo, 8)).realistic
    Image.fromarray((photo * 255).round().astype(np.uint8)).save(tmp_path / "p.jpg", quality=90)
    found = measure(read_image(tmp_path / "p.jpg"), tmp_path / "p.jpg")
    assert found.realistic and found.compression.quality == 90


def test_noise_auto_reaches_srmd_noise_map_and_picks_the_weights(monkeypatch, photo):
    seen = []
    real = srmd.super_resolve

    def spy(weights, lr, kernel, noise, device, tile=256):
        seen.append((noise, weights.settings.get("preset", "classical")))
        return real(weights, lr, kernel, noise, device, tile)

    monkeypatch.setattr(srmd, "super_resolve", spy)
    kernel = np.pad(np.ones((3, 3)) / 9, 5)
    backend = srmd.SRMD()
    lr = noisy(photo[:64, :64], 12)
    backend.upscale(lr, kernel, 2)  # defaults: noise auto, weights auto
    backend.upscale(lr, kernel, 2, noise="3", weights="classical")
    backend.upscale(photo[:64, :64], kernel, 2)
    (auto_level, auto_kind), (given, given_kind), (clean_level, clean_kind) = seen
    assert abs(auto_level ** 2 - (estimate_noise_sigma(lr) ** 2 - 1 / 12)) < 1e-6 and 10 < auto_level < 14
    assert given == 3.0 and given_kind == "classical"
    assert auto_kind != "classical" and clean_kind == "classical" and clean_level < 2
    with pytest.raises(Exception, match="auto"):
        srmd.resolve_noise("loud", lr)


def test_realistic_scenes_are_deterministic_for_a_seed():
    photos = [read_image(SAMPLES / "hr" / p.name) for p in sorted((SAMPLES / "hr").glob("*.png"))[:2]]
    pca = fit_pca(family_kernels(np.random.default_rng(0), 200), 5)
    a = ScenePool.build(photos, pca, "mix", 2, 64, 2, np.random.default_rng(7))
    b = ScenePool.build(photos, pca, "mix", 2, 64, 2, np.random.default_rng(7))
    np.testing.assert_array_equal(a.lrs, b.lrs)
    np.testing.assert_array_equal(a.conds, b.conds)
    assert a.lrs.shape == (2, 64, 64, 3) and a.hrs.shape == (2, 128, 128, 3) and a.hrs.dtype == np.uint8
    lr, hr = a.sample(0, 16, np.random.default_rng(1))
    assert lr.shape == (16, 16, 3) and hr.shape == (32, 32, 3)


def test_estimate_records_and_prints_noise_and_jpeg(tmp_path, photo):
    Image.fromarray((noisy(photo, 6) * 255).round().astype(np.uint8)).save(tmp_path / "p.jpg", quality=88)
    result = runner.invoke(app, ["estimate", str(tmp_path / "p.jpg"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "JPEG q88" in result.output and "noise " in result.output
    record = json.loads((tmp_path / "out" / "p.json").read_text())
    assert record["degradation"]["jpeg"]["quality"] == 88 and record["degradation"]["realistic"]
    assert 3 < record["degradation"]["noise_sigma"] < 9


def test_the_router_tells_realistic_chains_from_classical_blur_on_the_same_photo():
    from kernelgan.presets import apply_preset
    from kernelgan.realism import realistic_probability
    from kernelgan.synth import crop_to_multiple, degrade

    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)

    def as_file(x):
        return (np.round(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)

    realistic = [realistic_probability(as_file(apply_preset(p, hr, 2, np.random.default_rng(s)).lr))
                 for p in ("bsrgan", "realesrgan") for s in (0, 2, 3)]
    rng = np.random.default_rng(0)
    classical = [realistic_probability(as_file(degrade(hr, 2, k2=k)[0])) for k in family_kernels(rng, 6)]
    # measured: realistic 0.92-1.0, classical 0.0000-0.039 (of 8 realistic draws 2 read under 0.5)
    assert min(realistic) > 0.5 and max(classical) < 0.2
    assert measure(as_file(apply_preset("realesrgan", hr, 2, np.random.default_rng(2)).lr)).realistic
