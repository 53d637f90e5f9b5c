"""The kernel's direction (``estimator.direction``): the photo's fourth-order map and the network that adds the
odd part a power spectrum cannot show."""

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from kernelgan.errors import InputError
from kernelgan.estimator.config import EstimatorConfig
from kernelgan.estimator.direction import (
    RADIUS,
    DirectionNet,
    DirectionShape,
    DirectionWeights,
    asymmetry_map,
    turn_odd_grid,
    with_odd_part,
)
from kernelgan.estimator.direction_train import DirectionTrainSettings, train_direction
from kernelgan.estimator.learned import learned_kernel
from kernelgan.estimator.registry import DEFAULT, get_estimator
from kernelgan.evaluate import redegradation_psnr
from kernelgan.families import sample_kernel
from kernelgan.io import read_image
from kernelgan.kernels import anisotropic_gaussian, centre_kernel, symmetrised, turned
from kernelgan.synth import degrade

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def comet(size: int = 13) -> np.ndarray:
    """A kernel with a tail to the right: a Gaussian brighter on one side."""
    c = size // 2 + 0.5
    xs = np.arange(size)[None, :] - c
    return centre_kernel(anisotropic_gaussian(size, 3.0, 0.8, 0.3, (c, c)) * (1 + np.tanh(1.5 * xs)), 2)


def leaves(n: int = 320, seed: int = 0) -> np.ndarray:
    """A dead-leaves picture: discs of random grey, sharp edges in every direction."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, n))
    for _ in range(15 * n * n // 1000):
        r, (cy, cx) = 3 + 40 * rng.random() ** 3, rng.uniform(0, n, 2)
        top, left = max(int(cy - r), 0), max(int(cx - r), 0)
        yy, xx = np.mgrid[top:min(int(cy + r) + 2, n), left:min(int(cx + r) + 2, n)]
        img[top:top + yy.shape[0], left:left + yy.shape[1]][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.random()
    return img


def lr_of(k: np.ndarray, img: np.ndarray) -> np.ndarray:
    return np.round(ndimage.correlate(img, k, mode="reflect")[::2, ::2] * 255) / 255


def test_the_map_is_odd_and_tells_a_kernel_from_its_turn():
    img, k = leaves(), comet()
    m, mt, ms = (asymmetry_map(lr_of(x, img)) for x in (k, turned(k), symmetrised(k)))
    assert m.shape == (2 * RADIUS + 1, 2 * RADIUS + 1) and m.dtype == np.float32
    assert np.allclose(m, -m[::-1, ::-1], atol=1e-6) and m[RADIUS, RADIUS] == 0
    # the photo's own content gives a map of its own (ms, with the point-symmetric kernel); the comet moves it one
    # way, the turned comet the opposite way
    a, b = m - ms, mt - ms
    assert np.abs(a).sum() > 1.0 and (a * b).sum() < -0.9 * np.sqrt((a * a).sum() * (b * b).sum())
    with pytest.raises(ValueError):
        asymmetry_map(np.zeros((10, 40)))


def test_large_photos_are_read_in_tiles_with_the_same_statistic():
    img, k = leaves(1100, seed=1), comet()
    lr, lr_sym = lr_of(k, img), lr_of(symmetrised(k), img)
    whole = asymmetry_map(lr) - asymmetry_map(lr_sym)  # 550 px: several tiles
    part = asymmetry_map(lr[:200, :200]) - asymmetry_map(lr_sym[:200, :200])  # one tile
    assert (whole * part).sum() > 0.7 * np.sqrt((whole ** 2).sum() * (part ** 2).sum())  # the same direction


def test_the_network_returns_odd_parts_and_the_gate_decides():
    torch.manual_seed(0)
    net = DirectionNet(DirectionShape()).eval()
    with torch.no_grad():
        for p in net.mlp[-1].parameters():
            p.mul_(50)  # a large random odd part
    k = symmetrised(comet())
    o = net(torch.from_numpy(asymmetry_map(lr_of(comet(), leaves())))[None], torch.from_numpy(k.astype(np.float32))[None])
    assert torch.allclose(turn_odd_grid(o)[..., 1:, 1:], -o[..., 1:, 1:], atol=1e-7)  # odd (the far rim aside)
    image = np.repeat(lr_of(comet(), leaves())[:, :, None], 3, axis=2)
    same, strength = with_odd_part(k, image, net, gate=1e9)
    assert same is k and strength > 0
    added, strength2 = with_odd_part(k, image, net, gate=0.0)
    assert strength2 == strength and (added >= 0).all() and np.isclose(added.sum(), 1) and not np.allclose(added, k)
    again, _ = with_odd_part(k, image, net, gate=0.0)
    assert np.array_equal(added, again)  # deterministic


def test_training_learns_the_odd_part_on_synthetic_pairs(tmp_path):
    """Pairs made without photos: dead leaves blurred by comets of random direction; after training the odd part
    brings the symmetric kernels closer to the truth on held-out pairs."""
    rng = np.random.default_rng(0)
    img = leaves(256, seed=2)
    maps, kernels, truths = [], [], []
    for i in range(240):
        k = np.rot90(comet(), int(rng.integers(4))) if i % 2 else turned(np.rot90(comet(), int(rng.integers(4))))
        k = centre_kernel(np.ascontiguousarray(k), 2)
        maps.append(asymmetry_map(lr_of(k, img)))
        kernels.append(symmetrised(k))
        truths.append(k)
    pairs = tuple(np.stack(a).astype(np.float32) for a in (maps, kernels, truths))
    train, val = tuple(a[:200] for a in pairs), tuple(a[200:] for a in pairs)
    settings = DirectionTrainSettings(samples=200, val_samples=40, epochs=30, batch=20, lr=1e-3)
    weights, history = train_direction(train, val, settings, log=lambda m: None)
    assert history[-1]["val_kernel_psnr_after"] > history[-1]["val_kernel_psnr_before"] + 1
    path = tmp_path / "direction.pt"
    weights.save(path)
    back = DirectionWeights.load(path)
    assert back.shape == weights.shape and back.settings["history"] == history
    (tmp_path / "bad.pt").write_bytes(b"not a network")
    with pytest.raises(InputError, match="bad.pt"):
        DirectionWeights.load(tmp_path / "bad.pt")


def test_the_estimator_reports_the_odd_part_only_with_a_direction_network(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "direction.pt"
    net = DirectionNet(DirectionShape())
    DirectionWeights(DirectionShape(), net.state_dict(), {}).save(path)
    image = read_image(SAMPLES / "zebra.png")
    base = get_estimator(DEFAULT).config
    config = base.with_overrides(direction_weights=str(path), direction_gate=0.0)
    plain_kernel, plain = learned_kernel(image, base.with_overrides(direction_weights=""))
    kernel, quality = learned_kernel(image, config)
    assert "odd_part" not in plain and quality["odd_part"] > 0 and quality["odd_part_added"] == 1.0
    assert kernel.shape == plain_kernel.shape and np.isclose(kernel.sum(), 1) and (kernel >= 0).all()
    assert isinstance(EstimatorConfig().direction_gate, float)


def test_the_shipped_network_turns_shake_its_way_and_leaves_symmetric_blur_alone():
    """Known kernels on the bundled HR zebra: camera shake (asymmetric) gets an odd part that brings the re-degraded
    LR closer to the true one; the same shakes made point-symmetric, and Gaussian, motion and defocus blur, get
    none (their odd parts stay far under the gate)."""
    hr = read_image(SAMPLES / "hr" / "zebra.png")
    config = get_estimator(DEFAULT).config
    without = config.with_overrides(direction_weights="")

    def lr_for(k: np.ndarray) -> np.ndarray:
        lr, _ = degrade(hr, 2, kernel=k)
        return (np.round(np.clip(lr, 0, 1) * 255) / 255).astype(np.float32)

    for seed in (3, 4, 5):  # shake draws whose trail is clear enough in this photo
        k = sample_kernel("shake", np.random.default_rng(seed))
        lr = lr_for(k)
        plain, _ = learned_kernel(lr, without)
        kernel, quality = learned_kernel(lr, config)
        assert quality["odd_part_added"] == 1.0
        assert redegradation_psnr(hr, kernel, k, 2) > redegradation_psnr(hr, plain, k, 2) + 1.0
        _, sym_quality = learned_kernel(lr_for(symmetrised(k)), config)
        assert sym_quality["odd_part"] < 0.4 * config.direction_gate
    for family in ("div2krk", "motion", "defocus", "sharp"):
        _, quality = learned_kernel(lr_for(sample_kernel(family, np.random.default_rng(0))), config)
        assert quality["odd_part_added"] == 0.0 and quality["odd_part"] < 0.4 * config.direction_gate
