import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import natural_image
from kernelgan.io import read_image, write_image
from kernelgan.kernel_shape import covariance
from kernelgan.presets import PRESETS, apply_preset, first_order_kernel, ops, realesrgan
from kernelgan_cli.app import app

HR = natural_image(96, 128, seed=3).astype(np.float64)


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("scale", [2, 4])
def test_preset_size_range_and_determinism(name, scale):
    a = apply_preset(name, HR, scale, np.random.default_rng(11))
    b = apply_preset(name, HR, scale, np.random.default_rng(11))
    c = apply_preset(name, HR, scale, np.random.default_rng(12))
    assert a.lr.shape == (96 // scale, 128 // scale, 3) and a.lr.dtype == np.float32
    assert 0 <= a.lr.min() and a.lr.max() <= 1
    np.testing.assert_array_equal(a.lr, b.lr)
    assert a.choices == b.choices and len(a.choices) >= 1
    assert not np.array_equal(a.lr, c.lr)
    assert (a.true_kernel is not None) == (name == "classical")


def test_presets_differ_from_each_other():
    outs = [apply_preset(name, HR, 2, np.random.default_rng(0)).lr for name in PRESETS]
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert np.abs(outs[i] - outs[j]).mean() > 0.005


def test_classical_noise_and_jpeg_options():
    clean = apply_preset("classical", HR, 2, np.random.default_rng(0)).lr
    noisy = apply_preset("classical", HR, 2, np.random.default_rng(0), noise=10.0)
    assert 8 < np.std(noisy.lr - clean) * 255 < 12
    jpg = apply_preset("classical", HR, 2, np.random.default_rng(0), jpeg_quality=30)
    assert 0 < np.abs(jpg.lr - clean).mean() < 0.05
    assert [c["op"] for c in jpg.choices] == ["blur", "jpeg"]


def test_kernel_builders():
    for k in (ops.gaussian(15, 2, 1, 0.3), ops.generalized_gaussian(15, 2, 1, 0.3, 0.7),
              ops.generalized_gaussian(15, 2, 2, 0, 1.5, plateau=True), ops.sinc(15, np.pi / 3)):
        assert k.shape == (15, 15) and k.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-12)  # point-symmetric about the centre
    assert ops.sinc(21, np.pi / 4).min() < 0  # ringing lobes


def test_jpeg_roundtrip_quality_order():
    img = natural_image(64, 64, seed=1).astype(np.float64)
    assert np.abs(ops.jpeg(img, 95) - img).mean() < np.abs(ops.jpeg(img, 30) - img).mean()


def test_cli_presets_and_manifest_round_trip(tmp_path):
    hr = tmp_path / "hr"
    hr.mkdir()
    write_image(hr / "p.png", HR)
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--preset", "realesrgan", "--seed", "2", "-q"])
    assert result.exit_code == 0, result.output
    entry = json.loads((out / "manifest.json").read_text())["images"][0]
    assert entry["preset"] == "realesrgan" and entry["true_kernel"] is None and "not a single kernel" in entry["true_kernel_note"]
    assert not list(out.glob("*_gt_kernel_*"))
    # the recorded choices are those the library makes for the same seed and image name
    from kernelgan.synth import image_rng
    again = apply_preset("realesrgan", read_image(hr / "p.png"), 2, image_rng(2, "p"))
    assert json.loads(json.dumps(again.choices)) == entry["choices"]
    np.testing.assert_allclose(read_image(out / "p.png"), again.lr, atol=0.5 / 255 + 1e-6)
    bad = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--preset", "bsrgan", "--noise", "5", "--force"])
    assert bad.exit_code == 2 and "classical" in bad.output
    bad = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--preset", "nope"])
    assert bad.exit_code == 2


def test_generalized_gaussian_shares_the_gaussian_axes():
    from kernelgan.presets import ops

    k = ops.gaussian(21, 3.0, 1.0, 0.4)
    np.testing.assert_allclose(ops.generalized_gaussian(21, 3.0, 1.0, 0.4, beta=1.0), k, atol=1e-12)
    assert not np.allclose(ops.generalized_gaussian(21, 3.0, 1.0, 0.4, beta=2.0), k)


def test_bayer_demosaic_keeps_each_measured_channel_and_smooths_colour_edges():
    rng = np.random.default_rng(0)
    img = rng.random((12, 14, 3))
    out = ops.bayer_demosaic(img)
    assert out.shape == img.shape
    np.testing.assert_allclose(out[0::2, 0::2, 0], img[0::2, 0::2, 0])  # red sites keep red
    np.testing.assert_allclose(out[0::2, 1::2, 1], img[0::2, 1::2, 1])  # green sites keep green
    np.testing.assert_allclose(out[1::2, 1::2, 2], img[1::2, 1::2, 2])  # blue sites keep blue
    flat = np.ones((8, 10, 3)) * np.array([0.2, 0.5, 0.7])
    np.testing.assert_allclose(ops.bayer_demosaic(flat), flat)  # a flat colour survives, borders included
    # a pure red vertical line is interpolated into its neighbours: not the identity
    line = np.zeros((8, 8, 3))
    line[:, 4, 0] = 1.0
    assert ops.bayer_demosaic(line)[:, 3, 0].max() > 0.2
    with pytest.raises(ValueError, match="HxWx3"):
        ops.bayer_demosaic(img[..., 0])


def test_degrade_demosaic_goes_through_the_bayer_pattern_and_is_recorded(tmp_path):
    clean = apply_preset("classical", HR, 2, np.random.default_rng(0))
    mosaic = apply_preset("classical", HR, 2, np.random.default_rng(0), demosaic=True)
    assert [c["op"] for c in mosaic.choices] == ["blur", "demosaic"]
    np.testing.assert_allclose(mosaic.true_kernel, clean.true_kernel)
    np.testing.assert_allclose(mosaic.lr[0::2, 0::2, 0], clean.lr[0::2, 0::2, 0], atol=1e-6)  # red sites kept
    assert np.abs(mosaic.lr - clean.lr).mean() > 1e-3
    hr = tmp_path / "hr"
    hr.mkdir()
    write_image(hr / "p.png", HR)
    runner = CliRunner()
    out = tmp_path / "out"
    assert runner.invoke(app, ["degrade", str(hr), "-o", str(out), "-q"]).exit_code == 0
    plain = read_image(out / "p.png")
    # other settings: refused without --force, then made
    refused = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--demosaic", "-q"])
    assert refused.exit_code != 0 and "--force" in refused.output
    result = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--demosaic", "--force", "-q"])
    assert result.exit_code == 0, result.output
    entry = json.loads((out / "manifest.json").read_text())["images"][0]
    assert {"op": "demosaic", "pattern": "RGGB", "method": "bilinear"} in entry["choices"]
    assert np.abs(read_image(out / "p.png") - plain).mean() > 1e-3
    bad = runner.invoke(app, ["degrade", str(hr), "-o", str(out), "--preset", "bsrgan", "--demosaic", "--force"])
    assert bad.exit_code == 2 and "classical" in bad.output


def test_first_order_kernels_of_the_realistic_presets():
    # Real-ESRGAN: the first stage's kernel rebuilt exactly from what was recorded, whatever its kind
    for seed in range(12):
        log: list[dict] = []
        drawn = realesrgan._random_kernel(np.random.default_rng(seed), realesrgan.FIRST, log)
        np.testing.assert_allclose(first_order_kernel("realesrgan", log, 64), drawn, atol=1e-12)
    # BSRGAN: the two Gaussians in HR pixels, the second one after a resize to half the height (pixels twice as wide)
    log = [{"op": "blur", "kernel": "isotropic_gaussian", "size": 7, "sigma": 1.0},
           {"op": "resize", "mode": "bicubic", "size": [32, 32]},
           {"op": "blur", "kernel": "anisotropic_gaussian", "size": 7, "axes": [1.0, 0.5], "theta": 0.0}]
    k = first_order_kernel("bsrgan", log, 64)
    assert k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-9
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(covariance(k))), [1 + 4 * 0.25, 1 + 4 * 1.0], rtol=0.02)
    assert first_order_kernel("classical", log, 64) is None
