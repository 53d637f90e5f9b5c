import numpy as np
import pytest

from kernelgan.kernels import (
    analytic_x4,
    anisotropic_gaussian,
    bicubic_kernel,
    centre_kernel,
    centre_of_mass,
    clean_kernel,
    fit_size,
    kernel_psnr,
    random_kernel,
    symmetrised,
    trim_rim,
    turned,
    wanted_centre,
)


def covariance(k: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(k.shape)
    c = centre_of_mass(k)
    dy, dx = ys - c[0], xs - c[1]
    return np.array([[(k * dy * dy).sum(), (k * dy * dx).sum()], [(k * dy * dx).sum(), (k * dx * dx).sum()]])


def test_wanted_centre_follows_design_convention():
    assert wanted_centre(13, 2) == 6.5
    assert wanted_centre(11, 2) == 5.5
    assert wanted_centre(37, 4) == 19.5


def test_x4_kernel_of_gaussian_has_five_times_the_covariance():
    k2 = anisotropic_gaussian(21, 1.2, 0.5, 0.4, (10.5, 10.5))
    k4 = analytic_x4(k2)
    assert k4.shape == (61, 61)
    np.testing.assert_allclose(k4.sum(), 1.0)
    np.testing.assert_allclose(covariance(k4), 5 * covariance(k2), rtol=1e-3, atol=1e-4)
    # centred x2 kernel -> x4 kernel centred for scale 4
    np.testing.assert_allclose(centre_of_mass(k4), [wanted_centre(61, 4)] * 2, atol=1e-3)


def test_x4_equals_blurring_twice():
    from kernelgan.resize import blur_downsample
    rng = np.random.default_rng(1)
    img = rng.random((80, 96))
    k2 = random_kernel(rng, size=13)
    twice = blur_downsample(blur_downsample(img, k2, 2), k2, 2)
    once = blur_downsample(img, analytic_x4(k2), 4)
    np.testing.assert_allclose(once[6:-6, 6:-6], twice[6:-6, 6:-6], atol=1e-10)


def test_random_kernel_is_centred_normalised_and_seeded():
    k = random_kernel(np.random.default_rng(3))
    assert k.shape == (11, 11) and np.all(k >= 0)
    np.testing.assert_allclose(k.sum(), 1.0)
    np.testing.assert_allclose(centre_of_mass(k), [5.5, 5.5], atol=0.02)
    np.testing.assert_array_equal(k, random_kernel(np.random.default_rng(3)))
    assert not np.allclose(k, random_kernel(np.random.default_rng(4)))


def test_random_kernel_variance_range():
    # without multiplicative noise the principal variances are exactly those drawn
    for seed in range(5):
        k = random_kernel(np.random.default_rng(seed), size=31, var_range=(0.6, 5.0), noise=0.0)
        eig = np.linalg.eigvalsh(covariance(k))
        assert 0.55 < eig.min() and eig.max() < 5.1


def test_centre_kernel_moves_centre_of_mass():
    k = anisotropic_gaussian(13, 1.0, 2.0, 0.3, (5.2, 7.1))
    c = centre_kernel(k, 2)
    np.testing.assert_allclose(centre_of_mass(c), [6.5, 6.5], atol=0.02)
    assert c.shape == (13, 13) and c.min() >= 0
    np.testing.assert_allclose(c.sum(), 1.0)


def test_clean_kernel_keeps_the_largest_values():
    k = np.full((13, 13), 1e-4)
    k[4:9, 4:9] = np.arange(25).reshape(5, 5) + 1.0
    out = clean_kernel(k, n=20)
    assert np.count_nonzero(out) == 22  # values >= 0.75 x the 21st largest (0.75 x 5) survive: 4..25
    np.testing.assert_allclose(out.sum(), 1.0)
    neg = k.copy()
    neg[6, 6] = -3
    assert clean_kernel(neg).min() >= 0


def test_fit_size_crops_and_pads_around_centre():
    k = np.zeros((5, 5))
    k[2, 2] = 1
    assert fit_size(k, 9)[4, 4] == 1 and fit_size(k, 3)[1, 1] == 1


def test_trim_rim_drops_only_empty_rings():
    k = np.zeros((15, 15))
    k[5:10, 5:10] = 1
    assert trim_rim(k).shape == (5, 5)


def test_bicubic_kernel_taps():
    k = bicubic_kernel(2)
    assert k.shape == (9, 9)
    line = k.sum(axis=0)
    assert line[0] == 0 and np.count_nonzero(line) == 8
    np.testing.assert_allclose(centre_of_mass(k), [4.5, 4.5])
    # MATLAB's antialiased cubic at x2: cubic(d/2)/2 for d = 3.5, 2.5, 1.5, 0.5
    np.testing.assert_allclose(line[1:9], [-0.01171875, -0.03515625, 0.11328125, 0.43359375,
                                          0.43359375, 0.11328125, -0.03515625, -0.01171875], atol=1e-12)


def test_kernel_psnr_identity_floor_and_shift_invariance():
    truth = random_kernel(np.random.default_rng(0))
    assert kernel_psnr(truth, truth) == 100.0
    floor = kernel_psnr(bicubic_kernel(2), truth)
    assert 25 < floor < 50
    # a shifted, larger copy of the truth is judged equal after centring and cropping
    shifted = np.pad(truth, ((1, 3), (2, 2)))
    assert kernel_psnr(shifted, truth) > 60
    # a wider kernel scores worse than a slightly perturbed one
    wide = anisotropic_gaussian(11, 6, 6, 0, (5.5, 5.5))
    near = truth * (1 + 0.05 * np.random.default_rng(1).standard_normal(truth.shape))
    assert kernel_psnr(near, truth) > kernel_psnr(wide, truth)


def test_kernel_psnr_matches_definition_for_centred_kernels():
    a = anisotropic_gaussian(11, 1.5, 1.5, 0, (5.5, 5.5))
    b = anisotropic_gaussian(11, 2.0, 1.0, 0.5, (5.5, 5.5))
    expected = 20 * np.log10(1 / np.sqrt(np.mean((centre_kernel(a, 2) - centre_kernel(b, 2)) ** 2)))
    assert kernel_psnr(a, b) == pytest.approx(expected, abs=1e-9)


def test_x2_kernel_for_x4_inverts_the_analytic_x4():
    from kernelgan.kernels import x2_kernel_for_x4
    k2 = random_kernel(np.random.default_rng(5))
    fitted = x2_kernel_for_x4(analytic_x4(k2))
    assert fitted.shape == (11, 11) and abs(fitted.sum() - 1) < 1e-9 and fitted.min() >= 0
    assert kernel_psnr(fitted, k2) > 55
    other = random_kernel(np.random.default_rng(6))
    assert kernel_psnr(x2_kernel_for_x4(analytic_x4(other)), k2) < kernel_psnr(fitted, k2) - 10


def test_turned_kernel_has_the_same_power_spectrum_and_symmetrised_is_point_symmetric():
    xs = np.arange(11)[None, :] - 5.5
    g = anisotropic_gaussian(11, 3.0, 0.8, 0.6, (5.5, 5.5))
    k = centre_kernel(g * (1 + np.tanh(1.5 * xs)), 2)  # brighter on the right: a comet's tail
    t = turned(k)
    assert np.isclose(t.sum(), 1) and np.allclose(centre_of_mass(t), wanted_centre(11, 2), atol=2e-3)
    assert np.abs(t - k).max() > 0.01  # really turned: the tail is on the left now
    assert np.allclose(turned(t), k, atol=1e-4)
    power = lambda a: np.abs(np.fft.fft2(a, (32, 32)))  # noqa: E731
    assert np.allclose(power(t), power(k), atol=1e-3)  # up to the rim's last taps, dropped
    s = symmetrised(k)
    assert np.isclose(s.sum(), 1) and np.allclose(turned(s), s, atol=1e-4)
    b = bicubic_kernel(2)
    assert (turned(b) < 0).any() and np.allclose(turned(b), b, atol=1e-6)  # negative lobes kept; already symmetric
    with pytest.raises(ValueError):
        turned(np.ones((4, 4)) / 16)
