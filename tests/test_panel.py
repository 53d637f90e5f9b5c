"""A panel of prior networks (``prior_weights`` "A,B,C", kernelgan/estimator/learned.py): each member reads the
same spectra, and the estimate is the kernel of the member whose confidence predicts the smallest size error, the
members after the first handicapped by ``panel_margin``."""

import numpy as np
import pytest

from conftest import SAMPLES
from kernelgan.errors import InputError
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.config import EstimatorConfig
from kernelgan.families import sample_kernel
from kernelgan.io import read_image
from kernelgan.synth import crop_to_multiple, degrade

MEMBERS = ("shipped:prior", "shipped:prior_sharp", "shipped:prior_camera")


def _config(weights: str, margin: float = 0.0) -> EstimatorConfig:
    return EstimatorConfig(early_prior="learned", prior_views=8, iters=0, clean=False, keep_negative=True,
                           software_detector="shipped", prior_weights=weights, panel_margin=margin)


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """The zebra sample blurred by a lens PSF and by a motion streak (x2, 8-bit)."""
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    rng = np.random.default_rng(4)
    out = []
    for family in ("lens", "motion"):
        lr, _ = degrade(hr, 2, kernel=sample_kernel(family, rng))
        out.append((np.round(lr * 255) / 255).astype(np.float32))
    return out


def test_the_panel_returns_the_member_with_the_smallest_predicted_error(photos):
    for lr in photos:
        alone = [estimate_kernel(lr, 2, config=_config(m), device="cpu") for m in MEMBERS]
        errors = [a.quality["predicted_size_error"] for a in alone]
        panel = estimate_kernel(lr, 2, config=_config(",".join(MEMBERS)), device="cpu")
        member = int(panel.quality["prior_member"])
        assert member == int(np.argmin(errors)), errors
        np.testing.assert_allclose(panel.kernel_x2, alone[member].kernel_x2, atol=1e-12)
        assert panel.quality["predicted_size_error"] == pytest.approx(min(errors))


def test_the_margin_keeps_the_first_member_unless_another_is_surer_by_more(photos):
    """Margins just below and just above the gap between the first member's predicted error and the best other's
    switch the choice; the default estimator is such a panel."""
    from kernelgan.estimator.registry import DEFAULT, PANEL, get_estimator

    assert get_estimator(DEFAULT).config.prior_weights == PANEL and get_estimator(DEFAULT).config.panel_margin > 0
    switched = 0
    for lr in photos:
        errors = [estimate_kernel(lr, 2, config=_config(m), device="cpu").quality["predicted_size_error"]
                  for m in MEMBERS]
        gap = errors[0] - min(errors[1:])
        if gap <= 0:
            continue
        switched += 1
        below = estimate_kernel(lr, 2, config=_config(",".join(MEMBERS), gap * 0.9), device="cpu")
        above = estimate_kernel(lr, 2, config=_config(",".join(MEMBERS), gap * 1.1), device="cpu")
        assert below.quality["prior_member"] > 0 and above.quality["prior_member"] == 0
    assert switched, "neither photo has a member surer than the first: the margin was not exercised"


def test_a_panel_member_without_a_confidence_network_is_refused(tmp_path, photos):
    from kernelgan.estimator.prior import PriorShape, PriorWeights, SpectrumNet

    untrained = tmp_path / "mine.pt"
    PriorWeights(PriorShape(), SpectrumNet(PriorShape()).state_dict(), {}).save(untrained)
    with pytest.raises(InputError, match="confidence network"):
        estimate_kernel(photos[0], 2, config=_config(f"shipped:prior,{untrained}"), device="cpu")
    alone = estimate_kernel(photos[0], 2, config=_config(str(untrained)), device="cpu")  # alone it needs none
    assert "predicted_size_error" not in alone.quality and alone.kernel_x2.sum() == pytest.approx(1.0)
