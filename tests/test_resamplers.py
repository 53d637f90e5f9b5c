"""Software resamplers' exact kernels reproduce real implementations (Pillow always; OpenCV where installed)."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES, run_cli
from kernelgan.io import load_kernel, read_image
from kernelgan.kernels import bicubic_kernel, wanted_centre
from kernelgan.metrics import psnr_y
from kernelgan.resamplers import RESAMPLERS, resampler_kernel
from kernelgan.resize import blur

PILLOW = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR, "hamming": Image.Resampling.HAMMING,
          "bicubic": Image.Resampling.BICUBIC, "lanczos3": Image.Resampling.LANCZOS}
BORDER = 8  # LR pixels left out at each side (borders: Pillow renormalises, we reflect)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    img = (read_image(SAMPLES / "hr" / "zebra.png")[:192, :256] * 255).round().astype(np.uint8)
    return img


def ours(img: np.ndarray, name: str, scale: int) -> np.ndarray:
    lr = blur(img / 255.0, resampler_kernel(name, scale))[::scale, ::scale]
    return np.round(np.clip(lr, 0, 1) * 255) / 255


def inner(img: np.ndarray) -> np.ndarray:
    return img[BORDER:-BORDER, BORDER:-BORDER]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("name", list(PILLOW))
def test_kernel_reproduces_pillow(photo, name, scale):
    h, w = photo.shape[:2]
    ref = np.asarray(Image.fromarray(photo).resize((w // scale, h // scale), PILLOW[name])) / 255.0
    assert psnr_y(inner(ours(photo, name, scale)), inner(ref)) >= 50


@pytest.mark.parametrize("scale", [2, 4])
def test_box_reproduces_opencv_inter_area(photo, scale):
    cv2 = pytest.importorskip("cv2")
    h, w = photo.shape[:2]
    ref = cv2.resize(photo, (w // scale, h // scale), interpolation=cv2.INTER_AREA) / 255.0
    assert psnr_y(inner(ours(photo, "box", scale)), inner(ref)) >= 50


@pytest.mark.parametrize("name", RESAMPLERS)
@pytest.mark.parametrize("scale", [2, 4])
def test_kernels_are_centred_normalised_and_odd(name, scale):
    k = resampler_kernel(name, scale)
    assert k.shape[0] % 2 == 1 and k.shape[0] == k.shape[1] and abs(k.sum() - 1) < 1e-12
    ys, xs = np.indices(k.shape)
    centre = wanted_centre(k.shape[0], scale)
    assert abs((k * ys).sum() - centre) < 1e-9 and abs((k * xs).sum() - centre) < 1e-9


def test_bicubic_is_matlab_bicubic_kernel():
    np.testing.assert_allclose(resampler_kernel("bicubic", 2), bicubic_kernel(2), atol=1e-12)


def test_degrade_with_a_resampler_writes_its_kernel_and_pillows_lr(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "p.png")
    result = run_cli("degrade", tmp_path / "p.png", "-o", tmp_path / "out", "--resampler", "lanczos3", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(load_kernel(tmp_path / "out" / "p_gt_kernel_x2.npy"), resampler_kernel("lanczos3", 2))
    h, w = photo.shape[:2]
    ref = np.asarray(Image.fromarray(photo).resize((w // 2, h // 2), Image.Resampling.LANCZOS)) / 255.0
    assert psnr_y(inner(read_image(tmp_path / "out" / "p.png")), inner(ref)) >= 50
    entry = json.loads((tmp_path / "out" / "manifest.json").read_text())["images"][0]
    assert entry["kernel"] == "resampler:lanczos3"
    bad = run_cli("degrade", tmp_path / "p.png", "-o", tmp_path / "o2", "--resampler", "nearest-ish")
    assert bad.exit_code == 2 and "unknown resampler" in bad.output


# (our resampler, torch mode, antialias): torch's bicubic is a = -0.75 without antialiasing, a = -0.5 with it
TORCH = [("bilinear", "bilinear", False), ("bicubic-opencv", "bicubic", False), ("bilinear", "bilinear", True),
         ("bicubic", "bicubic", True)]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize(("name", "mode", "antialias"), TORCH)
def test_kernel_reproduces_torch_interpolate_with_and_without_antialiasing(photo, name, mode, antialias, scale):
    import torch
    import torch.nn.functional as F

    img = photo / 255.0
    t = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    ref = F.interpolate(t, scale_factor=1 / scale, mode=mode, align_corners=False, antialias=antialias)
    ref = ref[0].numpy().transpose(1, 2, 0)
    lr = blur(img, resampler_kernel(name, scale, antialias=antialias))[::scale, ::scale]
    assert psnr_y(np.clip(inner(lr), 0, 1), np.clip(inner(ref), 0, 1)) >= 60


def test_the_software_family_draws_exact_resampler_kernels():
    from kernelgan.families import fixed_kernel, sample_kernel
    from kernelgan.kernels import wanted_centre
    from kernelgan.resamplers import resampler_kernel

    rng = np.random.default_rng(0)
    exact = {(n, a): resampler_kernel(n, 2, a) for n in RESAMPLERS for a in (True, False)}
    seen = set()
    for _ in range(60):
        k = sample_kernel("software", rng)
        assert k.shape[0] == k.shape[1] <= 13 and k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-9
        ys, xs = np.indices(k.shape)
        centre = wanted_centre(k.shape[0], 2)
        assert abs((k * ys).sum() - centre) < 1e-9 and abs((k * xs).sum() - centre) < 1e-9
        match = [key for key, e in exact.items() if e.shape == k.shape and np.allclose(k, e, atol=1e-12)]
        assert match  # the resampler's kernel to the last digit
        seen.add(match[0][0])
    assert seen == set(RESAMPLERS)
    assert fixed_kernel("software").shape == (11, 11)
