import numpy as np
import pytest
from scipy import ndimage

from kernelgan.kernels import bicubic_kernel, random_kernel
from kernelgan.metrics import MAX_PSNR, psnr_y, rgb_to_y, ssim_y
from kernelgan.resize import blur, blur_downsample, imresize


def test_constant_image_stays_constant():
    img = np.full((23, 31, 3), 0.37)
    for scale in (0.5, 0.25, 0.33, 2, 3):
        np.testing.assert_allclose(imresize(img, scale), 0.37, atol=1e-12)


def test_output_sizes_follow_matlab():
    img = np.zeros((23, 31))
    assert imresize(img, 0.5).shape == (12, 16)
    assert imresize(img, 2).shape == (46, 62)
    assert imresize(img, output_shape=(10, 7)).shape == (10, 7)


def test_x2_bicubic_equals_the_8x8_kernel_in_the_interior():
    img = np.random.default_rng(0).random((40, 52, 3))
    for scale in (2, 4):
        a = imresize(img, 1 / scale)
        b = blur_downsample(img, bicubic_kernel(scale), scale)
        np.testing.assert_allclose(a[4:-4, 4:-4], b[4:-4, 4:-4], atol=1e-12)


def test_interior_matches_an_independent_bicubic_implementation():
    """Pillow's bicubic (a = -0.5, pixel-centre geometry, support widened when shrinking) is written
    independently of ours; away from the borders (where Pillow clamps and MATLAB mirrors) they must agree."""
    from PIL import Image

    img = np.random.default_rng(0).random((30, 40)).astype(np.float32)
    for scale in (2, 0.5):
        size = (int(40 * scale), int(30 * scale))
        theirs = np.asarray(Image.fromarray(img, mode="F").resize(size, Image.BICUBIC))
        ours = imresize(img.astype(np.float64), scale)
        np.testing.assert_allclose(ours[6:-6, 6:-6], theirs[6:-6, 6:-6], atol=1e-6)


def test_blur_is_correlation_with_reflect_borders():
    rng = np.random.default_rng(2)
    img = rng.random((30, 40))
    k = rng.random((5, 7))
    np.testing.assert_allclose(blur(img, k), ndimage.correlate(img, k, mode="reflect"), atol=1e-12)
    k2 = random_kernel(rng)
    lr = blur_downsample(img, k2, 2)
    np.testing.assert_allclose(lr, ndimage.correlate(img, k2, mode="reflect")[::2, ::2], atol=1e-12)


def test_rgb_to_y_matches_matlab_range():
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16)
    assert rgb_to_y(np.ones((1, 1, 3)))[0, 0] == pytest.approx(235)


def test_psnr_and_ssim():
    rng = np.random.default_rng(0)
    a = rng.random((40, 40, 3))
    assert psnr_y(a, a) == MAX_PSNR
    b = np.clip(a + 0.01, 0, 1)
    # only the Y offset matters: 0.01 * (65.481 + 128.553 + 24.966) = 2.19 on the 8-bit scale where unclipped
    c = a * 0.98 + 0.01
    expected = 10 * np.log10(255 ** 2 / np.mean((rgb_to_y(a) - rgb_to_y(c)) ** 2))
    assert psnr_y(a, c) == pytest.approx(expected)
    assert psnr_y(a, b, shave=4) > psnr_y(a, rng.random((40, 40, 3)), shave=4)
    assert ssim_y(a, a) == pytest.approx(1.0)
    noisy = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    assert 0 < ssim_y(a, noisy) < 0.95
    with pytest.raises(ValueError):
        psnr_y(a, a[:20])


def test_blur_downsample_equals_blur_then_subsample():
    from kernelgan.resize import blur, blur_downsample

    rng = np.random.default_rng(0)
    img, k = rng.random((37, 41, 3)), rng.random((11, 11))
    for s in (1, 2, 4):
        np.testing.assert_allclose(blur_downsample(img, k, s), blur(img, k)[::s, ::s], atol=1e-12)
    np.testing.assert_allclose(blur_downsample(img[..., 0].astype(np.float32), k[:4, :6], 2),
                               blur(img[..., 0], k[:4, :6])[::2, ::2], atol=1e-5)
