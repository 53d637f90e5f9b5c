import imageio.v3 as iio
import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from conftest import natural_image
from kernelgan.errors import InputError, KernelError
from kernelgan.io import load_kernel, read_image, save_kernel, unorient, write_image
from kernelgan.kernels import bicubic_kernel


def test_rgb_png_roundtrip(tmp_path):
    img = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    write_image(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.shape == (20, 30, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, np.round(img * 255) / 255, atol=1e-6)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".tif"])
def test_other_formats(tmp_path, suffix):
    data = (np.random.default_rng(1).random((16, 24, 3)) * 255).astype(np.uint8)
    Image.fromarray(data).save(tmp_path / f"a{suffix}")
    img = read_image(tmp_path / f"a{suffix}")
    assert img.shape == (16, 24, 3) and 0 <= img.min() and img.max() <= 1
    if suffix != ".jpg":
        np.testing.assert_allclose(img, data / 255.0, atol=1e-6)


def test_grayscale_alpha_palette_and_16bit(tmp_path):
    gray = (np.arange(16 * 20) % 256).reshape(16, 20).astype(np.uint8)
    iio.imwrite(tmp_path / "g.png", gray)
    img = read_image(tmp_path / "g.png")
    assert img.shape == (16, 20, 3)
    np.testing.assert_allclose(img[..., 0], img[..., 2])
    np.testing.assert_allclose(img[..., 1], gray / 255.0, atol=1e-6)

    rgba = np.zeros((16, 20, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    iio.imwrite(tmp_path / "a.png", rgba)
    np.testing.assert_allclose(read_image(tmp_path / "a.png")[..., 0], 200 / 255.0, atol=1e-6)

    Image.fromarray((np.random.default_rng(0).random((16, 20, 3)) * 255).astype(np.uint8)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (16, 20, 3)

    g16 = (np.arange(16 * 20).reshape(16, 20) * 200).astype(np.uint16)
    iio.imwrite(tmp_path / "g16.png", g16)
    np.testing.assert_allclose(read_image(tmp_path / "g16.png")[..., 0], g16 / 65535.0, atol=1e-6)


def test_bad_images(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "empty.png")
    (tmp_path / "text.png").write_text("not an image at all")
    with pytest.raises(InputError):
        read_image(tmp_path / "text.png")
    write_image(tmp_path / "ok.png", np.random.default_rng(0).random((40, 40, 3)))
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        read_image(tmp_path / "trunc.png")
    write_image(tmp_path / "tiny.png", np.zeros((4, 40, 3)))
    with pytest.raises(InputError, match="too small"):
        read_image(tmp_path / "tiny.png")


def test_huge_image_is_refused_before_decoding(tmp_path, monkeypatch):
    import kernelgan.io as kio
    write_image(tmp_path / "big.png", np.zeros((100, 100, 3)))
    monkeypatch.setattr(kio, "MAX_PIXELS", 5000)
    with pytest.raises(InputError, match="too large"):
        read_image(tmp_path / "big.png")


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    import kernelgan.io as kio
    write_image(tmp_path / "x.png", np.zeros((10, 10, 3)))
    before = (tmp_path / "x.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]

    def broken(image, path, **kwargs):
        open(path, "wb").write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(kio.Image.Image, "save", broken)
    with pytest.raises(RuntimeError):
        write_image(tmp_path / "x.png", np.ones((10, 10, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    assert (tmp_path / "x.png").read_bytes() == before


def test_kernel_formats_roundtrip(tmp_path):
    k = np.random.default_rng(0).random((13, 13))
    k /= k.sum()
    for ext in (".npy", ".mat"):
        save_kernel(tmp_path / f"k{ext}", k)
        back = load_kernel(tmp_path / f"k{ext}")
        np.testing.assert_allclose(back, k, rtol=1e-6)
    assert np.load(tmp_path / "k.npy").dtype == np.float32
    assert "Kernel" in sio.loadmat(tmp_path / "k.mat")
    save_kernel(tmp_path / "k.png", k)
    pic = iio.imread(tmp_path / "k.png")
    assert pic.shape == (13 * 16, 13 * 16) and pic.max() == 255


def test_bad_kernels(tmp_path):
    np.save(tmp_path / "3d.npy", np.ones((3, 3, 3)))
    with pytest.raises(KernelError, match="2-D"):
        load_kernel(tmp_path / "3d.npy")
    np.save(tmp_path / "nan.npy", np.array([[np.nan, 1.0]]))
    with pytest.raises(KernelError, match="NaN"):
        load_kernel(tmp_path / "nan.npy")
    np.save(tmp_path / "zero.npy", np.zeros((3, 3)))
    with pytest.raises(KernelError, match="sum"):
        load_kernel(tmp_path / "zero.npy")
    sio.savemat(tmp_path / "two.mat", {"a": np.ones((3, 3)), "b": np.ones((3, 3))})
    with pytest.raises(KernelError, match="Kernel"):
        load_kernel(tmp_path / "two.mat")
    (tmp_path / "junk.mat").write_bytes(b"junk")
    with pytest.raises(KernelError):
        load_kernel(tmp_path / "junk.mat")
    (tmp_path / "k.txt").write_text("0 1 0")
    with pytest.raises(InputError, match="unknown kernel format"):
        load_kernel(tmp_path / "k.txt")


def test_kernel_policy_rejects_or_fixes_with_a_warning(tmp_path):
    import warnings

    from kernelgan.io import KernelWarning, validate_kernel

    with pytest.raises(KernelError):
        validate_kernel(np.array([[0.5, -0.6], [0.6, 0.3]]))  # 43% negative mass
    bic = bicubic_kernel(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(validate_kernel(bic), bic)  # small negative lobes kept as they are
    with pytest.warns(KernelWarning, match="normalised"):
        k = validate_kernel(np.ones((3, 3)))
    assert k.sum() == pytest.approx(1.0)
    with pytest.warns(KernelWarning, match="odd"):
        assert validate_kernel(np.ones((4, 4)) / 16).shape == (5, 5)


def test_webp_is_found_in_folders(tmp_path):
    from kernelgan.io import is_image_file

    iio.imwrite(tmp_path / "a.webp", (np.random.default_rng(0).random((70, 70, 3)) * 255).astype(np.uint8))
    assert is_image_file(tmp_path / "a.webp") and read_image(tmp_path / "a.webp").shape == (70, 70, 3)


def test_16bit_rgb_png_keeps_its_levels(tmp_path):
    import png

    rng = np.random.default_rng(0)
    data = rng.integers(0, 65536, size=(12, 10, 3), dtype=np.uint16)
    with open(tmp_path / "deep.png", "wb") as f:
        png.Writer(width=10, height=12, bitdepth=16, greyscale=False).write(f, data.reshape(12, 30).tolist())
    img = read_image(tmp_path / "deep.png")
    np.testing.assert_allclose(img, data / 65535.0, atol=1e-6)  # 8 bits would be off by up to 1/510


def test_atomic_writes_follow_the_umask_without_changing_it(tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        save_kernel(tmp_path / "k.npy", np.ones((3, 3)) / 9)
        assert stat.S_IMODE((tmp_path / "k.npy").stat().st_mode) == 0o640
        assert os.umask(0o027) == 0o027  # nothing changed it in between
    finally:
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def _with_orientation(data: np.ndarray, orientation: int, path, **options) -> None:
    im = Image.fromarray(data)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes(), **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_picture_as_a_viewer_shows_it(tmp_path, orientation):
    from PIL import ImageOps

    data = (np.random.default_rng(orientation).random((12, 20, 3)) * 255).astype(np.uint8)
    _with_orientation(data, orientation, tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as im:
        shown = np.asarray(ImageOps.exif_transpose(im))
    assert shown.shape == ((12, 20, 3) if orientation <= 4 else (20, 12, 3))
    np.testing.assert_allclose(read_image(tmp_path / "o.png"), shown / 255.0, atol=1e-6)
    np.testing.assert_array_equal(unorient(shown, orientation), data)


def test_a_portrait_phone_jpeg_stored_sideways_comes_out_upright(tmp_path):
    from kernelgan.io import exif_orientation

    upright = (natural_image(48, 32) * 255).astype(np.uint8)  # 48 rows: portrait
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # a sensor's landscape pixels; the viewer turns them back
    _with_orientation(stored, 6, tmp_path / "phone.jpg", quality=95, subsampling=0)
    assert exif_orientation(tmp_path / "phone.jpg") == 6
    img = read_image(tmp_path / "phone.jpg")
    assert img.shape == (48, 32, 3)
    assert np.abs(img - upright / 255.0).mean() < 0.02  # JPEG's loss only
    assert np.abs(img[::-1, ::-1] - upright / 255.0).mean() > 0.05  # (a turned picture would be far off)
