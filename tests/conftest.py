"""Shared fixtures: small synthetic images with known kernels; paths to bundled samples and shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"


def natural_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A textured test picture (HxWx3 in [0, 1]): smooth shapes, edges and fine texture at several scales."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for _ in range(40):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, min(h, w) / 4)
        color = rng.uniform(0, 1, 3)
        disk = ((ys - cy) ** 2 + (xs - cx) ** 2) < r ** 2
        img[disk] = 0.5 * img[disk] + 0.5 * color
    for _ in range(6):
        f, a = rng.uniform(0.05, 0.6), rng.uniform(0, np.pi)
        img += 0.08 * np.sin(f * (np.cos(a) * xs + np.sin(a) * ys))[:, :, None] * rng.uniform(0.3, 1, 3)
    img += 0.03 * rng.standard_normal((h, w, 3))
    return np.clip(img, 0, 1).astype(np.float32)


def photo_folder(folder: Path, count: int, h: int = 64, w: int = 80) -> Path:
    """``folder`` (created) holding ``count`` textured photos ``p00.png``, ... (``natural_image`` seeded 0, 1, ...)."""
    from kernelgan.io import write_image

    folder.mkdir(parents=True)
    for i in range(count):
        write_image(folder / f"p{i:02d}.png", natural_image(h, w, seed=i))
    return folder


@pytest.fixture(scope="session")
def textured() -> np.ndarray:
    return natural_image(96, 128)


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (needs ../shared/data)")
    return path


def json_lines(output: str) -> list[dict]:
    """The JSON lines of a command's output (``--json``: one object per line; other lines skipped)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def run_cli(*args):
    """Invoke the ``kernelgan`` CLI in this process (arguments stringified); returns typer's result."""
    from typer.testing import CliRunner

    from kernelgan_cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])
