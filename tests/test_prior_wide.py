"""Wide camera shake: the wide families (19x19 grids), widening a prior's kernel grid, and `prior-wide`, the
camera network widened and fine-tuned with wide shake, which reads such shake where 13x13 networks cannot."""

import numpy as np
import pytest
import torch

from conftest import SAMPLES
from kernelgan.errors import InputError
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.learned import outside_mass
from kernelgan.estimator.prior import PriorWeights, shipped_weights_path
from kernelgan.estimator.registry import get_estimator
from kernelgan.families import WIDE, WIDE_SIZE, fixed_kernel, fixed_kernel_variance, sample_kernel
from kernelgan.io import read_image
from kernelgan.kernel_shape import kernel_shape, size_error
from kernelgan.kernels import fit_size, wanted_centre
from kernelgan.synth import crop_to_multiple, degrade


@pytest.mark.parametrize("family", list(WIDE))
def test_wide_kernels_are_valid_centred_and_wider_than_the_grid_of_the_others(family):
    rng = np.random.default_rng(1)
    kernels = [sample_kernel(family, rng) for _ in range(40)]
    centre = wanted_centre(WIDE_SIZE, 2)
    for k in kernels:
        assert k.shape == (WIDE_SIZE, WIDE_SIZE) and k.min() >= 0 and abs(k.sum() - 1) < 1e-9
        ys, xs = np.indices(k.shape)
        assert abs((k * ys).sum() - centre) < 0.2 and abs((k * xs).sum() - centre) < 0.2
    # a good share of them does not fit the 13x13 grid of the other networks
    outside = [outside_mass(k, 13) for k in kernels]
    assert np.mean([o > 0.02 for o in outside]) > 0.3
    assert fixed_kernel(family).shape == (WIDE_SIZE, WIDE_SIZE)
    assert fixed_kernel_variance(family) > 3 * fixed_kernel_variance("shake")


def test_a_widened_prior_starts_with_the_same_kernels():
    weights = PriorWeights.load(shipped_weights_path("prior_camera"))
    wide = weights.widened(19)
    spectra = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, after = weights.network()(spectra).numpy(), wide.network()(spectra).numpy()
    assert after.shape == (3, 19, 19)
    assert np.abs(after[:, 3:16, 3:16] - before).max() < 1e-4
    for bad in (11, 14):
        with pytest.raises(InputError):
            weights.widened(bad)


@pytest.fixture(scope="module")
def shake_pair() -> list[tuple[np.ndarray, np.ndarray]]:
    """(true kernel, LR photo) for the narrowest and the widest of 30 ``shake-wide`` kernels on the zebra sample,
    x2, 8-bit."""
    rng = np.random.default_rng(0)
    kernels = [sample_kernel("shake-wide", rng) for _ in range(30)]
    sizes = [kernel_shape(k).size for k in kernels]
    hr = crop_to_multiple(read_image(SAMPLES / "hr" / "zebra.png"), 2)
    pair = []
    for index in (int(np.argmin(sizes)), int(np.argmax(sizes))):
        lr, _ = degrade(hr, 2, kernel=kernels[index])
        pair.append((kernels[index], (np.round(lr * 255) / 255).astype(np.float32)))
    return pair


def _wide_and_narrow(estimator: str, pair: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[float], list[float]]:
    """(estimated sizes, signed log size errors) of ``estimator`` for the narrowest and the widest shake."""
    config = get_estimator(estimator).config
    estimated, errors, shapes = [], [], []
    for truth, lr in pair:
        k = estimate_kernel(lr, 2, config=config).kernel_x2
        shapes.append(k.shape)
        estimated.append(kernel_shape(k).size)
        errors.append(size_error(k, truth))
    # a kernel is saved on the usual 13x13 grid unless it needs the wide one
    assert shapes == ([(13, 13), (WIDE_SIZE, WIDE_SIZE)] if estimator == "prior-wide" else [(13, 13)] * 2)
    return estimated, errors


def test_prior_wide_reads_wide_shake_that_a_13x13_network_cannot_hold(shake_pair):
    (narrow, wide), (_, wide_error) = _wide_and_narrow("prior-wide", shake_pair)
    _, (_, camera_error) = _wide_and_narrow("prior-camera", shake_pair)
    assert wide > 2 * narrow
    assert camera_error < -0.3  # a 13x13 kernel is too small for the widest shake
    assert abs(wide_error) < 0.7 * abs(camera_error)  # measured: -0.62 against -1.11 (log size)


def test_the_default_hands_a_kernel_too_wide_for_13x13_to_prior_wide(shake_pair):
    """The panel's wide gate (``learned.panel_choice``): on the widest shake the default takes prior-wide's 19x19
    kernel, where the confidences and margin alone keep a 13x13 one too small (measured: log size error -0.62 with
    the gate, -1.11 without); on the narrowest the gate does not fire (same kernel with and without)."""
    from kernelgan.estimator.learned import OUTSIDE_MASS, panel_choice
    from kernelgan.estimator.registry import DEFAULT

    assert panel_choice([0.3, 0.1, 0.2], 0.125, [0.0, 0.0, 0.02]) == 2
    assert panel_choice([0.3, 0.1, 0.2], 0.125, [0.0, 0.0, OUTSIDE_MASS]) == 1  # fits the grid: the margin decides
    gate = get_estimator(DEFAULT).config
    assert gate.panel_wide_gate
    plain = gate.with_overrides(panel_wide_gate=False)
    (narrow_truth, narrow_lr), (wide_truth, wide_lr) = shake_pair
    on, off = (estimate_kernel(wide_lr, 2, config=c) for c in (gate, plain))
    assert on.kernel_x2.shape == (WIDE_SIZE, WIDE_SIZE) and on.quality["outside_mass"] > OUTSIDE_MASS
    assert off.kernel_x2.shape == (13, 13)
    assert abs(size_error(on.kernel_x2, wide_truth)) < abs(size_error(off.kernel_x2, wide_truth)) - 0.3
    on, off = (estimate_kernel(narrow_lr, 2, config=c) for c in (gate, plain))
    np.testing.assert_array_equal(on.kernel_x2, off.kernel_x2)
    assert on.quality["outside_mass"] <= OUTSIDE_MASS


def test_the_summary_line_says_when_the_kernel_is_wider_than_13x13(tmp_path, shake_pair):
    from conftest import run_cli
    from kernelgan.io import write_image

    (_, narrow_lr), (_, wide_lr) = shake_pair
    for name, lr in (("narrow", narrow_lr), ("wide", wide_lr)):
        write_image(tmp_path / f"{name}.png", lr)
    result = run_cli("estimate", tmp_path / "narrow.png", tmp_path / "wide.png", "-o", tmp_path / "out")
    assert result.exit_code == 0
    lines = {name: next(line for line in result.output.splitlines() if f"{name}.png:" in line)
             for name in ("narrow", "wide")}
    assert "19x19 kernel: wider than 13x13" in lines["wide"] and "wider than" not in lines["narrow"]
    assert np.load(tmp_path / "out" / "wide_kernel_x2.npy").shape == (WIDE_SIZE, WIDE_SIZE)


def test_a_kernel_keeps_the_wide_grid_only_when_it_needs_it():
    from kernelgan.estimator.learned import on_smallest_grid
    from kernelgan.kernels import anisotropic_gaussian

    c = wanted_centre(WIDE_SIZE, 2)
    narrow = anisotropic_gaussian(WIDE_SIZE, 1.0, 1.0, 0.0, (c, c))
    wide = anisotropic_gaussian(WIDE_SIZE, 12.0, 4.0, 0.0, (c, c))
    small = on_smallest_grid(narrow, 13)
    assert small.shape == (13, 13) and abs(small.sum() - 1) < 1e-9
    assert np.abs(small - fit_size(narrow, 13)).max() < 1e-6
    assert on_smallest_grid(wide, 13) is wide
    assert on_smallest_grid(fit_size(narrow, 13), 13).shape == (13, 13)
