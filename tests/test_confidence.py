"""The learned prior's confidence (kernelgan/estimator/confidence.py): it ranks the estimator's actual errors on
photos with known kernels, and it reaches photo.json and the summary line."""

import json

import numpy as np
from scipy.stats import spearmanr

from conftest import SAMPLES, run_cli
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.confidence import Confidence
from kernelgan.estimator.registry import DEFAULT, get_estimator
from kernelgan.families import sample_kernel
from kernelgan.io import read_image
from kernelgan.kernel_shape import size_error
from kernelgan.synth import crop_to_multiple, degrade


def _cases(families: tuple[str, ...], noises: tuple[float, ...], estimator: str) -> tuple[np.ndarray, ...]:
    """(predicted size error, actual |size error|, low-confidence flag) of ``estimator`` on the zebra sample blurred
    by two kernels of each family at each noise level (8-bit sigma), x2, 8-bit."""
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    rng = np.random.default_rng(0)
    config = get_estimator(estimator).config
    predicted, actual, flagged = [], [], []
    for family in families:
        for noise in noises:
            for _ in range(2):
                truth = sample_kernel(family, rng)
                lr = degrade(hr, 2, kernel=truth)[0]
                lr = lr + rng.standard_normal(lr.shape) * noise / 255
                lr = (np.round(np.clip(lr, 0, 1) * 255) / 255).astype(np.float32)
                result = estimate_kernel(lr, 2, config=config)
                predicted.append(result.quality["predicted_size_error"])
                actual.append(abs(size_error(result.kernel_x2, truth)))
                flagged.append(result.quality["low_confidence"])
    return np.array(predicted), np.array(actual), np.array(flagged)


def test_the_prior_networks_confidence_ranks_its_actual_size_errors():
    predicted, actual, _ = _cases(("div2krk", "lens", "shake", "tremor", "defocus"), (0.0, 10.0), "prior")
    rank = spearmanr(predicted, actual)[0]
    assert rank > 0.35, rank  # measured 0.54 on these 20 cases (tuning set: 0.68, benchmarks/confidence.py)


def test_the_defaults_confidence_ranks_its_actual_size_errors():
    """The default panel reports its chosen network's confidence; it ranks less well than one network's (tuning
    set 0.54 against 0.68: the photos it moves to another network are the ones whose errors were easiest to
    rank), hence more cases here."""
    predicted, actual, flagged = _cases(("div2krk", "lens", "shake", "tremor", "defocus", "motion", "combo", "sharp"),
                                        (0.0, 5.0, 10.0), DEFAULT)
    rank = spearmanr(predicted, actual)[0]
    assert rank > 0.3, rank  # measured 0.47 on these 48 cases
    assert flagged.any() and not flagged.all()
    assert actual[flagged == 1].mean() > 1.5 * actual[flagged == 0].mean()  # measured 0.25 against 0.13


def test_the_interval_follows_the_predicted_error():
    narrow, wide = Confidence(0.0, 0.1, 50.0), Confidence(0.2, 0.5, 40.0)
    assert narrow.size_error < wide.size_error
    lo, hi = narrow.size_interval(2.0)
    assert lo < 2.0 < hi and hi - lo < np.subtract(*wide.size_interval(2.0)[::-1])
    lo, hi = wide.size_interval(2.0)
    assert hi < 2.0 * np.exp(1.645 * 0.5)  # a positive bias (too wide) moves the interval down


def test_photo_json_and_the_summary_line_carry_the_confidence(tmp_path):
    result = run_cli("estimate", SAMPLES / "zebra.png", "-o", tmp_path)
    assert result.exit_code == 0 and "true size 90%:" in result.output
    quality = json.loads((tmp_path / "zebra.json").read_text())["quality"]
    assert quality["true_size_low"] < quality["true_size_high"] and quality["low_confidence"] in (0.0, 1.0)
    assert quality["predicted_size_error"] > 0 and 20 < quality["predicted_redeg_psnr"] < 100
    assert run_cli("report", tmp_path).exit_code == 0
    page = (tmp_path / "report.html").read_text()
    assert "true size, 90%" in page and f"{quality['true_size_low']:.2f}-{quality['true_size_high']:.2f}" in page
