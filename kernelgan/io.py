"""Reading and writing images and kernels; every write is atomic (temp file in the target folder, then rename)."""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import scipy.io as sio
from PIL import Image, PngImagePlugin

from .errors import InputError, KernelError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
KERNEL_SUFFIXES = (".npy", ".mat")
MAX_PIXELS = 120_000_000  # 120 MP: larger files are refused rather than risking memory exhaustion
MIN_SIDE = 8


TEMP_MARK = ".kgtmp-"  # temp files are ``.<stem>.kgtmp-<pid>-<random><suffix>``: the writer's pid in the name


def temp_files_of(folder: Path, pid: int) -> list[Path]:
    """The temp files that process ``pid`` left in ``folder`` (``atomic_path``'s naming)."""
    return sorted(folder.glob(f".*{TEMP_MARK}{pid}-*"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``, on failure removed.

    The temp name carries this process's pid (``temp_files_of``), so that whoever takes over a lock this process
    left behind removes exactly its temp files and nobody else's."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # a fresh name, created with mode 0o666 so the process umask applies as to any new file
        tmp_path = path.parent / f".{path.stem}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(6)}{path.suffix}"
        try:
            os.close(os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:  # a read-only folder, a full disk: name the target, not the temp file
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as exc:  # the target is a folder, or not writable
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        tmp_path.unlink(missing_ok=True)


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read PNG/JPEG/BMP/TIFF/WebP into float32 HxWx3 in [0, 1].

    Grayscale is expanded to three channels, alpha is dropped, 16-bit data is divided by 65535, palettes are
    applied, and an EXIF orientation tag is applied (the pixels as a viewer shows them: a phone's portrait photo
    stored sideways comes out upright, so kernels are in the frame the user sees). Raises InputError (one-line
    message) for a missing, empty, corrupt, tiny or huge file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():  # our own MAX_PIXELS limit applies, not Pillow's bomb warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            raw = _decode(path)
    except InputError:
        raise
    except Exception as exc:  # imageio/Pillow raise many types for corrupt data
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "Could not find a backend" in reason:
            reason = "not a readable image"
        raise InputError(f"{path}: cannot read image ({reason})") from None
    return to_float_rgb(raw, name=str(path))


COLOUR_SPACES = ("CMYK", "YCbCr", "LAB", "HSV")  # Pillow modes converted to RGB by Pillow (imageio would hand
# their channels over as they are: a CMYK JPEG's C, M, Y read as R, G, B)


def _decode(path: Path) -> np.ndarray:
    """The first and only frame of ``path`` as an array (HxW or HxWxC; uint8, uint16, bool or float), turned
    as its EXIF orientation says."""
    orientation = exif_orientation(path)
    if _is_16bit_colour_png(path):  # Pillow would reduce these to 8 bits
        raw = _read_png16(path)
        _check_pixels(path, raw.shape[1], raw.shape[0])
        return orient(raw, orientation)
    try:
        with Image.open(path) as im:
            if getattr(im, "n_frames", 1) > 1:
                raise InputError(f"{path}: multi-frame images are not supported ({im.n_frames} frames)")
            _check_pixels(path, *im.size)
            if im.mode in COLOUR_SPACES:
                return orient(np.asarray(im.convert("RGB")), orientation)
    except InputError:
        raise
    except OSError:
        pass  # not a format Pillow knows: imageio may
    props = iio.improps(path)
    if props.is_batch and props.shape[0] > 1:
        raise InputError(f"{path}: multi-frame images are not supported")
    raw = iio.imread(path)
    return orient(raw[0] if props.is_batch else raw, orientation)


EXIF_ORIENTATION = 0x0112
# EXIF orientation 1-8 -> (transpose, flip rows, flip columns), applied in that order: the stored pixels as a
# viewer shows them (the same as Pillow's ``ImageOps.exif_transpose``)
_ORIENTATIONS = {1: (False, False, False), 2: (False, False, True), 3: (False, True, True),
                 4: (False, True, False), 5: (True, False, False), 6: (True, False, True),
                 7: (True, True, True), 8: (True, True, False)}


def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation tag of an image file, 1-8; 1 (as stored) when the file has none, an invalid one,
    or cannot be read."""
    try:
        with Image.open(path) as im:
            value = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - unreadable files are reported by the decoder, with their reason
        return 1
    return value if isinstance(value, int) and value in _ORIENTATIONS else 1


def orient(raw: np.ndarray, orientation: int) -> np.ndarray:
    """``raw`` (HxW or HxWxC) turned and mirrored as EXIF ``orientation`` (1-8) says; 1 returns it as it is."""
    transpose, flip_rows, flip_cols = _ORIENTATIONS[orientation]
    if transpose:
        raw = raw.swapaxes(0, 1)
    if flip_rows:
        raw = raw[::-1]
    if flip_cols:
        raw = raw[:, ::-1]
    return raw


def unorient(img: np.ndarray, orientation: int) -> np.ndarray:
    """The inverse of ``orient``: a picture as shown back to the file's stored layout (HxW or HxWxC)."""
    transpose, flip_rows, flip_cols = _ORIENTATIONS[orientation]
    if flip_cols:
        img = img[:, ::-1]
    if flip_rows:
        img = img[::-1]
    return img.swapaxes(0, 1) if transpose else img


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: {width}x{height} is too large (limit {MAX_PIXELS // 1_000_000} megapixels)")


def _is_16bit_colour_png(path: Path) -> bool:
    """True for a PNG whose header says 16 bits per sample, colour (RGB or RGBA)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 and head[24] == 16 and head[25] in (2, 6)


def _read_png16(path: Path) -> np.ndarray:
    """A 16-bit colour PNG as uint16 HxWxC (pypng: Pillow has no 16-bit RGB mode)."""
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    return np.vstack([np.asarray(row, dtype=np.uint16) for row in rows]).reshape(height, width, info["planes"])


def to_float_rgb(raw: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert a decoded array (HxW, HxWx1..4; uint8, uint16, bool or float) to float32 HxWx3 in [0, 1]."""
    if raw.ndim == 2:
        raw = raw[:, :, None]
    if raw.ndim != 3 or raw.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"{name}: unsupported image layout {raw.shape}")
    if raw.shape[2] in (2, 4):  # drop alpha
        raw = raw[:, :, :-1]
    if raw.shape[2] == 1:
        raw = np.repeat(raw, 3, axis=2)
    if raw.dtype in (np.uint8, np.uint16):
        img = raw.astype(np.float32)
        img /= 255.0 if raw.dtype == np.uint8 else 65535.0  # in place: no second full-size copy
    elif raw.dtype == bool:
        img = raw.astype(np.float32)
    elif np.issubdtype(raw.dtype, np.floating):
        img = np.clip(np.nan_to_num(raw.astype(np.float32)), 0.0, 1.0)
    else:
        raise InputError(f"{name}: unsupported pixel type {raw.dtype}")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{name}: {w}x{h} is too small (at least {MIN_SIDE} pixels a side)")
    return np.ascontiguousarray(img)


def write_image(path: str | os.PathLike, img: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Write float HxWx3 (or HxW) in [0, 1] as an 8-bit PNG, atomically; ``text`` goes into tEXt chunks
    (``image_text`` reads them back)."""
    data = np.clip(np.round(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    with atomic_path(path) as tmp:
        Image.fromarray(data).save(tmp, format="PNG", pnginfo=info)


def image_text(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG (``write_image``'s ``text``); empty for anything unreadable or without them."""
    try:
        with Image.open(path) as im:
            return {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
    except (OSError, ValueError):
        return {}


class KernelWarning(UserWarning):
    """A kernel was accepted after a fix (normalised, padded); the CLI prints it as one line."""


MAX_NEGATIVE_SHARE = 0.4  # negative taps may hold at most this share of the positive mass (bicubic x2: 17%, the
# separable Lanczos-3 resampler kernel: 33%)


def validate_kernel(k: np.ndarray, name: str = "kernel") -> np.ndarray:
    """The kernel policy, the same for every command: return ``k`` as a float64 2-D odd-sized array summing to 1.

    Rejected (KernelError): not a finite 2-D numeric array, a sum that is not positive, or negative taps holding
    more than ``MAX_NEGATIVE_SHARE`` of the positive mass (small negative lobes, as MATLAB's bicubic kernel's,
    are kept as they are). Fixed with a KernelWarning: a sum other than 1 (normalised), an even size (a zero
    row/column added at the end).
    """
    k = np.asarray(k)
    if k.ndim != 2 or min(k.shape) < 1:
        raise KernelError(f"{name}: a kernel must be a 2-D array, got shape {k.shape}")
    if not np.issubdtype(k.dtype, np.number) or np.issubdtype(k.dtype, np.complexfloating):
        raise KernelError(f"{name}: a kernel must be real numbers, got {k.dtype}")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        raise KernelError(f"{name}: kernel contains NaN or infinite values")
    total = k.sum()
    if not total > 0:
        raise KernelError(f"{name}: kernel sum must be positive (got {total:.4g})")
    negative, positive = -k[k < 0].sum(), k[k > 0].sum()
    if negative > MAX_NEGATIVE_SHARE * positive:
        raise KernelError(f"{name}: negative taps hold {negative / positive:.0%} of the kernel's mass "
                          f"(at most {MAX_NEGATIVE_SHARE:.0%} accepted)")
    if abs(total - 1) > 1e-3:
        warnings.warn(f"{name}: kernel sums to {total:.4g}; normalised to 1", KernelWarning, stacklevel=2)
    k = k / total
    if k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        warnings.warn(f"{name}: kernel is {k.shape[0]}x{k.shape[1]}; padded to odd sizes", KernelWarning, stacklevel=2)
        k = np.pad(k, [(0, 1 - n % 2) for n in k.shape])
    return k


def load_kernel(path: str | os.PathLike) -> np.ndarray:
    """Load a kernel from ``.npy`` or ``.mat`` (key ``Kernel``) as a validated float64 2-D array."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            k = np.load(path, allow_pickle=False)
        elif suffix == ".mat":
            data = sio.loadmat(path)
            arrays = {key: v for key, v in data.items() if not key.startswith("__")}
            if "Kernel" in arrays:
                k = arrays["Kernel"]
            elif len(arrays) == 1:
                k = next(iter(arrays.values()))
            else:
                raise KernelError(f"{path}: no 'Kernel' variable in the .mat file")
        else:
            raise InputError(f"{path}: unknown kernel format (use .npy or .mat)")
    except InputError:
        raise
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KernelError(f"{path}: cannot read kernel ({reason})") from None
    return validate_kernel(k, name=str(path))


def kernel_picture(k: np.ndarray, magnify: int = 16) -> np.ndarray:
    """A viewable HxW uint8 picture of ``k``: normalised to its maximum, each tap a ``magnify`` square."""
    k = np.clip(np.asarray(k, dtype=np.float64), 0, None)
    peak = k.max()
    scaled = k / peak if peak > 0 else k
    pic = np.kron(scaled, np.ones((magnify, magnify)))
    return np.round(pic * 255).astype(np.uint8)


def save_kernel(path: str | os.PathLike, k: np.ndarray) -> None:
    """Save ``k`` atomically as ``.npy`` (2-D float32), ``.mat`` (key ``Kernel``) or ``.png`` (a picture)."""
    path = Path(path)
    k = validate_kernel(k)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, k.astype(np.float32))
        elif suffix == ".mat":
            sio.savemat(tmp, {"Kernel": k.astype(np.float32)})
        elif suffix == ".png":
            iio.imwrite(tmp, kernel_picture(k), extension=".png")
        else:
            raise InputError(f"{path}: unknown kernel format (use .npy, .mat or .png)")


def save_kernel_map(path: str | os.PathLike, kmap: np.ndarray) -> None:
    """Save a kernel map (rows x cols x K x K, ``kernel_map``) atomically as ``.npy`` (float32); each cell passes
    the kernel policy (``validate_kernel``)."""
    kmap = np.stack([[validate_kernel(k) for k in row] for row in np.asarray(kmap)])
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, kmap.astype(np.float32))


def load_kernel_map(path: str | os.PathLike) -> np.ndarray:
    """A kernel map from ``.npy`` (rows x cols x K x K; a single K x K kernel is a 1 x 1 map), every cell
    validated like a kernel (``validate_kernel``); KernelError/InputError naming the file otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: a kernel map is a .npy file (rows x cols x K x K)")
    try:
        kmap = np.load(path, allow_pickle=False)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KernelError(f"{path}: cannot read kernel map ({reason})") from None
    if kmap.ndim == 2:
        kmap = kmap[None, None]
    if kmap.ndim != 4 or kmap.shape[2] != kmap.shape[3] or min(kmap.shape) < 1:
        raise KernelError(f"{path}: a kernel map is rows x cols x K x K, got shape {kmap.shape}")
    cells = [[validate_kernel(k, name=f"{path} cell ({i}, {j})") for j, k in enumerate(row)] for i, row in enumerate(kmap)]
    if len({c.shape for row in cells for c in row}) != 1:  # validate_kernel may pad an even size
        raise KernelError(f"{path}: the map's kernels have different sizes")
    return np.stack([np.stack(row) for row in cells])
