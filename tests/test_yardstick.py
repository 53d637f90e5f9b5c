"""The yardstick: kernel families, their image-blind fixed kernels, shape agreement, eval's reference rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES
from kernelgan import families
from kernelgan.evaluate import Report, score_image
from kernelgan.io import save_kernel
from kernelgan.kernel_shape import kernel_shape, orientation_error, pearson, size_error
from kernelgan.kernels import anisotropic_gaussian, bicubic_kernel, kernel_psnr
from kernelgan_cli.app import app

C = 7.0  # centre of a 15x15 grid


def gauss(v1: float, v2: float, theta: float = 0.0) -> np.ndarray:
    return anisotropic_gaussian(15, v1, v2, theta, (C, C))


def test_rotated_copy_has_same_size_and_anisotropy():
    k = gauss(4.0, 1.0, 0.3)
    a, b = kernel_shape(k), kernel_shape(np.rot90(k))
    assert a.size == pytest.approx(b.size, rel=1e-9)
    assert a.anisotropy == pytest.approx(b.anisotropy, rel=1e-9)
    assert a.anisotropy == pytest.approx(4.0, rel=0.02)
    assert abs(((a.orientation - b.orientation) % 180) - 90) < 1e-6
    assert size_error(np.rot90(k), k) == pytest.approx(0.0, abs=1e-9)


def test_wider_gaussian_is_larger_and_size_error_has_the_sign_of_the_mistake():
    narrow, wide = gauss(0.8, 0.8), gauss(3.0, 3.0)
    assert kernel_shape(wide).size > 3 * kernel_shape(narrow).size
    assert size_error(wide, narrow) > 1.0 and size_error(narrow, wide) < -1.0
    assert kernel_shape(narrow).anisotropy == pytest.approx(1.0, abs=1e-6)


def test_orientation_error_only_for_clearly_anisotropic_truths():
    truth = gauss(5.0, 1.0, 0.0)
    assert orientation_error(gauss(5.0, 1.0, np.radians(30)), truth) == pytest.approx(30.0, abs=0.5)
    assert orientation_error(gauss(5.0, 1.0, np.radians(170)), truth) == pytest.approx(10.0, abs=0.5)
    assert orientation_error(truth, gauss(2.0, 2.0)) is None


def test_pearson_needs_spread():
    assert pearson([1, 2, 3], [2, 4, 6.5]) > 0.99
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2], [1, 2]) is None and pearson([1, 1, 1], [1, 2, 3]) is None


@pytest.mark.parametrize("family", families.FAMILIES)
def test_family_kernels_follow_the_convention(family):
    rng = np.random.default_rng(0)
    for _ in range(5):
        k = families.sample_kernel(family, rng)
        assert k.shape == (families.SIZE, families.SIZE)
        assert k.sum() == pytest.approx(1.0)
        if family != "bicubic":  # MATLAB's bicubic kernel keeps its negative lobes
            assert k.min() >= 0


def test_families_differ_in_size():
    rng = np.random.default_rng(1)
    mean_size = {f: np.mean([kernel_shape(families.sample_kernel(f, rng)).size for _ in range(50)])
                 for f in ("sharp", "div2krk")}
    assert mean_size["div2krk"] > 2.5 * mean_size["sharp"]


@pytest.mark.parametrize("family", ["div2krk", "sharp", "motion"])
def test_fixed_kernel_is_the_argmax_on_its_own_family(family):
    """Recomputed with kernel_psnr itself (not the vectorised search): the chosen variance beats its neighbours."""
    n = 200
    var = families.fixed_kernel_variance(family, n=n, seed=3)
    rng = np.random.default_rng(3)
    truths = [families.sample_kernel(family, rng) for _ in range(n)]
    i = families.VARIANCE_GRID.index(var)
    scores = {v: np.mean([kernel_psnr(families.isotropic_gaussian(v), t, 2) for t in truths])
              for v in families.VARIANCE_GRID[max(0, i - 3):i + 4]}
    assert max(scores, key=scores.get) == var


def test_fixed_kernels_are_far_apart_across_families():
    assert families.fixed_kernel_variance("div2krk") > 2.0  # about 3 (DESIGN §7)
    assert families.fixed_kernel_variance("sharp") < 1.0
    assert families.fixed_kernel("div2krk", 4).shape[0] > families.SIZE


def test_score_image_orders_the_reference_rows(textured):
    truth = gauss(3.5, 1.2, 0.7)
    estimate = gauss(3.2, 1.3, 0.6)
    hr = textured[:64, :64]
    s = score_image("x", estimate, truth, families.fixed_kernel("div2krk"), 2, hr)
    assert s.rows["true"].kernel_psnr == 100.0 and s.rows["true"].redeg_psnr == 100.0
    assert s.rows["estimate"].kernel_psnr > s.rows["fixed"].kernel_psnr > s.rows["bicubic"].kernel_psnr
    assert s.rows["estimate"].redeg_psnr > s.rows["bicubic"].redeg_psnr
    summary = Report(images=[s]).summary()
    assert summary["estimate"]["under_fixed"] == 0 and summary["estimate"]["under_floor"] == 0


def test_report_size_correlation_tracks_size():
    truths = [gauss(v, v) for v in (0.6, 1.5, 3.0, 5.0)]
    tracking = Report(images=[score_image(str(i), gauss(1.1 * v, v), t, bicubic_kernel(2), 2)
                              for i, (v, t) in enumerate(zip((0.6, 1.5, 3.0, 5.0), truths, strict=True))])
    jitter = (0.0, 0.03, -0.02, 0.01)  # an average-looking kernel whatever the image
    constant = Report(images=[score_image(str(i), gauss(2.0 + j, 2.0), t, bicubic_kernel(2), 2)
                              for i, (j, t) in enumerate(zip(jitter, truths, strict=True))])
    assert tracking.summary()["estimate"]["size_corr"] > 0.95
    assert abs(constant.summary()["estimate"]["size_corr"]) < 0.5


def test_eval_prints_reference_rows_and_shape(tmp_path):
    est = tmp_path / "est"
    est.mkdir()
    save_kernel(est / "zebra_kernel_x2.npy", families.isotropic_gaussian(1.0))
    result = CliRunner().invoke(app, ["eval", "--est", str(est), "--gt", str(SAMPLES), "--hr", str(SAMPLES / "hr"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    summary = data["summary"]
    assert set(summary) == {"estimate", "bicubic", "fixed", "true"}
    assert data["fixed_kernel_variance"] == families.fixed_kernel_variance("div2krk")
    row = data["images"][0]["rows"]["estimate"]
    assert row["size_error"] < 0  # variance 1 against the zebra's wider true kernel
    assert summary["true"]["kernel_psnr"] == 100.0
    text = CliRunner().invoke(app, ["eval", "--est", str(est), "--gt", str(SAMPLES), "--family", "sharp"]).output
    assert "fixed kernel (no image)" in text and "variance" in text


def test_eval_refuses_sr_without_hr_and_unknown_family(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["eval", "--est", str(SAMPLES), "--gt", str(SAMPLES), "--sr", str(SAMPLES)])
    assert r.exit_code == 2 and "--sr needs --hr" in r.output
    r = runner.invoke(app, ["eval", "--est", str(SAMPLES), "--gt", str(SAMPLES), "--family", "nope"])
    assert r.exit_code == 2 and "unknown kernel family" in r.output


def test_eval_refuses_an_lr_image_given_as_hr(tmp_path):
    from kernelgan.io import read_image, write_image

    est = tmp_path / "est"
    runner = CliRunner()
    assert runner.invoke(app, ["estimate", str(SAMPLES / "zebra.png"), "-o", str(est), "-q"]).exit_code == 0
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    write_image(wrong / "zebra.png", read_image(SAMPLES / "zebra.png"))  # the LR, not the HR
    r = runner.invoke(app, ["eval", "--est", str(est), "--gt", str(SAMPLES), "--hr", str(wrong)])
    assert r.exit_code == 1 and "is it the LR?" in r.output
    ok = runner.invoke(app, ["eval", "--est", str(est), "--gt", str(SAMPLES), "--hr", str(SAMPLES / "hr"), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["images"][0]["rows"]["estimate"]["redeg_psnr"] > 30
