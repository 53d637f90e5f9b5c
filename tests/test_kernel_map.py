"""Kernel maps (#33): the interpolation convention, maps read from photos whose blur varies or not, SRMD with a
map, and the commands that write, use and score maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SAMPLES, run_cli
from kernelgan.errors import KernelError
from kernelgan.estimator import estimate_kernel
from kernelgan.estimator.local import CELL_SPREAD, VARIES, KernelMap, MapSettings, estimate_map, parse_grid, quarter_spreads
from kernelgan.families import isotropic_gaussian
from kernelgan.io import load_kernel_map, read_image
from kernelgan.kernel_map import Grid, axis_weights, degrade_with_map, kernel_at, uniform_map, x4_map
from kernelgan.kernel_shape import kernel_shape
from kernelgan.kernels import random_kernel
from kernelgan.pools import load_pool
from kernelgan.resize import blur_downsample

SHARP, WIDE = isotropic_gaussian(0.4, 13), isotropic_gaussian(4.0, 13)


def _random_map(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([[random_kernel(rng, 2, 13) for _ in range(cols)] for _ in range(rows)])


def test_grid_centres_are_the_cells_middles():
    ys, xs = Grid(2, 4, 100, 200).centres()
    assert np.allclose(ys, [24.5, 74.5]) and np.allclose(xs, [24.5, 74.5, 124.5, 174.5])


def test_interpolation_convention():
    kmap = _random_map(3, 4)
    grid = Grid(3, 4, 90, 160)
    ys, xs = grid.centres()
    assert np.allclose(kernel_at(kmap, grid, ys[1], xs[2]), kmap[1, 2])  # a centre gets its cell's kernel exactly
    midway = kernel_at(kmap, grid, (ys[0] + ys[1]) / 2, xs[3])
    assert np.allclose(midway, (kmap[0, 3] + kmap[1, 3]) / 2)  # midway: the mean
    between_four = kernel_at(kmap, grid, (ys[1] + ys[2]) / 2, (xs[0] + xs[1]) / 2)
    assert np.allclose(between_four, kmap[1:3, 0:2].mean(axis=(0, 1)))
    assert np.allclose(kernel_at(kmap, grid, -5, -5), kmap[0, 0])  # clamped at the border
    assert np.allclose(kernel_at(kmap, grid, 200, 500), kmap[2, 3])
    assert np.allclose(axis_weights(np.arange(10), np.array([3.0, 7.0])).sum(axis=1), 1)


def test_degrading_with_a_map_is_blurring_with_each_pixels_kernel(textured):
    hr = textured.astype(np.float64)[:64, :96]
    uniform = uniform_map(SHARP, 2, 3)
    assert np.allclose(degrade_with_map(hr, uniform, 2), blur_downsample(hr, SHARP, 2))
    kmap = _random_map(2, 3, seed=1)
    lr = degrade_with_map(hr, kmap, 2)
    grid = Grid(2, 3, 32, 48)
    for y, x in [(0, 0), (10, 17), (31, 47), (16, 30)]:  # each LR pixel: the HR blurred with its own kernel
        own = blur_downsample(hr, kernel_at(kmap, grid, y, x), 2)
        assert np.allclose(lr[y, x], own[y, x])


def test_x4_map_is_each_cells_x4_kernel():
    kmap = _random_map(1, 2)
    k4 = x4_map(kmap)
    assert k4.shape[:2] == (1, 2) and k4.shape[2] > 13
    assert np.allclose(k4.sum(axis=(2, 3)), 1)
    assert kernel_shape(k4[0, 0]).size == pytest.approx(5 * kernel_shape(kmap[0, 0]).size, rel=0.05)


def _halves() -> np.ndarray:
    """The bundled zebra's LR x2: a sharp left half, a wide right half (8-bit)."""
    hr = read_image(SAMPLES / "hr" / "zebra.png").astype(np.float64)
    left, right = blur_downsample(hr, SHARP, 2), blur_downsample(hr, WIDE, 2)
    w = left.shape[1] // 2
    lr = np.concatenate([left[:, :w], right[:, w:]], axis=1)
    return (np.round(np.clip(lr, 0, 1) * 255) / 255).astype(np.float32)


def test_map_finds_a_sharp_half_and_a_wide_half():
    lr = _halves()
    estimate = estimate_kernel(lr, 2, device="cpu")
    kmap = estimate_map(lr, estimate.kernel_x2, MapSettings(2, 4))
    sizes = np.array([[kernel_shape(k).size for k in row] for row in kmap.kernels])
    assert kmap.verdict() == "varies"
    assert sizes[:, 0].max() * 2.5 < sizes[:, 3].min()  # true sizes 0.8 and 8 px²
    assert np.allclose(kmap.kernels.sum(axis=(2, 3)), 1) and kmap.kernels.min() >= 0


def test_uniform_blur_gives_a_uniform_verdict_and_the_global_kernel():
    hr = read_image(SAMPLES / "hr" / "zebra.png").astype(np.float64)
    for seed in (0, 3):
        k = random_kernel(np.random.default_rng(seed), 2, 13)
        lr = (np.round(np.clip(blur_downsample(hr, k, 2), 0, 1) * 255) / 255).astype(np.float32)
        estimate = estimate_kernel(lr, 2, device="cpu")
        kmap = estimate_map(lr, estimate.kernel_x2)
        assert kmap.verdict() == "uniform", kmap.variation
        assert np.allclose(kmap.kernels, estimate.kernel_x2)


def _variation(quarters: np.ndarray, readable: np.ndarray | None = None) -> float:
    readable = np.ones(quarters.shape[:2], bool) if readable is None else readable
    spread, noise = quarter_spreads(quarters, readable)
    return KernelMap(quarters, Grid(*quarters.shape[:2], 64, 64), quarters, readable, spread, noise).variation


def test_variation_is_spread_across_the_photo_over_spread_within_a_cell():
    rng = np.random.default_rng(0)
    jitter = np.exp(rng.normal(0, 0.1, (8, 8)))  # quarters of a 4x4 grid read with 10% noise in sigma
    same = np.stack([[isotropic_gaussian(1.2 * j, 13) for j in row] for row in jitter])
    assert 0.8 < _variation(same) < VARIES  # one blur: quarters differ across the photo as within a cell
    halves = np.stack([[isotropic_gaussian((0.8 if c < 4 else 2.0) * jitter[r, c], 13) for c in range(8)]
                       for r in range(8)])
    assert _variation(halves) > 2 * VARIES  # a sharp and a wide half: far beyond the cells' own noise
    lone = np.zeros((8, 8), bool)
    lone[::2, ::2] = True  # one readable quarter per cell: nothing to compare within a cell
    assert _variation(halves, lone) == 0.0


def test_the_blur_varies_only_where_the_quarters_and_the_cells_both_say_so():
    grid, readable = Grid(2, 2, 64, 64), np.ones((2, 2), bool)
    apart = np.stack([[isotropic_gaussian(s, 13)] * 2 for s in (0.8, 2.0)])  # a sharp row and a wide row
    alike = np.stack([[isotropic_gaussian(s, 13)] * 2 for s in (1.0, 1.05)])
    assert KernelMap(apart, grid, apart, readable, 0.0, 0.0).cell_spread > CELL_SPREAD > \
        KernelMap(alike, grid, alike, readable, 0.0, 0.0).cell_spread
    assert KernelMap(apart, grid, apart, readable, 0.5, 0.1).varies
    assert not KernelMap(alike, grid, alike, readable, 0.5, 0.1).varies  # cells alike
    assert not KernelMap(apart, grid, apart, readable, 0.1, 0.1).varies  # within noise


def test_srmd_with_a_uniform_map_is_srmd_with_its_kernel(textured):
    from kernelgan.sr.srmd import SRMDWeights, shipped_weights, super_resolve

    weights = SRMDWeights.load(shipped_weights(2))
    lr = textured[:48, :64]
    one = super_resolve(weights, lr, SHARP, 0.0, "cpu")
    mapped = super_resolve(weights, lr, uniform_map(SHARP, 2, 3), 0.0, "cpu", tile=24)  # tiles carry the map too
    assert np.abs(one - mapped).max() < 1e-5
    varied = super_resolve(weights, lr, np.stack([[SHARP, WIDE]]), 0.0, "cpu")
    assert np.abs(varied[:, :20] - one[:, :20]).max() < 0.02 < np.abs(varied[:, -20:] - one[:, -20:]).max()


def test_map_grid_text():
    assert parse_grid("3x4") == (3, 4)
    for bad in ("3", "0x2", "ax2", "3x-1"):
        with pytest.raises(Exception, match="ROWSxCOLS"):
            parse_grid(bad)


def test_a_map_file_of_the_wrong_shape_is_refused_by_name(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.ones((2, 3, 5)))
    with pytest.raises(KernelError, match="bad.npy.*rows x cols x K x K"):
        load_kernel_map(path)


def test_estimate_writes_the_map_and_sr_uses_it(tmp_path):
    from kernelgan.io import write_image

    write_image(tmp_path / "halves.png", _halves())
    out = tmp_path / "out"
    result = run_cli("estimate", tmp_path / "halves.png", "-o", out, "--kernel-map", "--scale", "4", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "halves.json").read_text())
    entry = record["kernel_map"]
    kmap = np.load(out / "halves_kernelmap_x2.npy")
    assert kmap.shape[:2] == (len(entry["rows"]), len(entry["cols"])) == tuple(entry["grid"])
    assert kmap.shape[2:] == np.load(out / "halves_kernel_x2.npy").shape
    assert np.allclose(kmap.sum(axis=(2, 3)), 1, atol=1e-5) and kmap.min() >= 0
    assert np.load(out / "halves_kernelmap_x4.npy").shape[:2] == kmap.shape[:2]
    assert (out / "halves_kernelmap.png").is_file() and entry["verdict"] == "varies"
    assert "blur varies across the photo" in json.loads(result.output.splitlines()[0])["summary"]
    assert [e.name for e in load_pool(out)] == ["halves_kernel_x2.npy"]  # the folder is still a kernel pool

    refused = run_cli("sr", tmp_path / "halves.png", "--kernel-map", out / "halves_kernelmap_x2.npy", "-b", "zssr",
                      "-o", tmp_path / "sr")
    assert refused.exit_code != 0 and "not a kernel map" in refused.output
    done = run_cli("sr", tmp_path / "halves.png", "--kernel-map", out / "halves_kernelmap_x2.npy", "-b", "srmd",
                   "-o", tmp_path / "sr", "-q")
    assert done.exit_code == 0, done.output
    assert read_image(tmp_path / "sr" / "halves_x2_srmd.png").shape[:2] == (2 * 194, 2 * 292)


def test_a_uniform_maps_x4_cells_are_the_estimates_x4_kernel(tmp_path):
    """With --scale 4 a uniform map holds the saved x4 kernel in every cell: for a photo shrunk x4 by MATLAB's
    imresize (skipped without ../shared/data) that is imresize's own x4 kernel, not the x2 kernel applied twice."""
    from conftest import shared
    from kernelgan.io import write_image
    from kernelgan.kernels import bicubic_kernel
    from kernelgan.resize import imresize

    hr = read_image(shared("BSD100", "img_012.png"))
    write_image(tmp_path / "web.png", np.clip(imresize(hr, 0.25), 0, 1).astype(np.float32))
    out = tmp_path / "out"
    result = run_cli("estimate", tmp_path / "web.png", "-o", out, "--kernel-map", "--scale", "4", "-q")
    assert result.exit_code == 0, result.output
    k4 = np.load(out / "web_kernel_x4.npy")
    assert np.allclose(k4, bicubic_kernel(4), atol=1e-6)
    kmap4 = np.load(out / "web_kernelmap_x4.npy")
    assert json.loads((out / "web.json").read_text())["kernel_map"]["verdict"] == "uniform"
    assert np.allclose(kmap4, k4[None, None], atol=1e-6)


def test_map_options_are_checked_before_any_work(tmp_path):
    bad = run_cli("estimate", SAMPLES / "zebra.png", "-o", tmp_path, "--kernel-map", "--map-grid", "3by4")
    assert bad.exit_code != 0 and "ROWSxCOLS" in bad.output
    lonely = run_cli("estimate", SAMPLES / "zebra.png", "-o", tmp_path, "--map-grid", "3x4")
    assert lonely.exit_code != 0 and "--kernel-map" in lonely.output
    zssr = run_cli("estimate", SAMPLES / "zebra.png", "-o", tmp_path, "--kernel-map", "--sr", "zssr")
    assert zssr.exit_code != 0 and "not a map" in zssr.output


def test_varying_data_round_trip_through_eval(tmp_path):
    degraded = run_cli("degrade", SAMPLES / "hr" / "zebra.png", "-o", tmp_path / "lr", "--preset", "varying",
                       "--map-mode", "sides", "-q")
    assert degraded.exit_code == 0, degraded.output
    truth = load_kernel_map(tmp_path / "lr" / "zebra_gt_kernelmap_x2.npy")
    assert truth.shape[:2] in ((1, 5), (5, 1))
    estimated = run_cli("estimate", tmp_path / "lr" / "zebra.png", "-o", tmp_path / "est", "--kernel-map", "-q")
    assert estimated.exit_code == 0, estimated.output
    scored = run_cli("eval", "--est", tmp_path / "est", "--gt", tmp_path / "lr", "--hr", SAMPLES / "hr", "--json")
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.output)["maps"]["summary"]
    assert summary["map"]["redeg_psnr"] > summary["single"]["redeg_psnr"] + 3
    assert summary["true"]["redeg_psnr"] == 100.0


def test_the_camera_mode_draws_a_valid_camera_kernel_per_block_and_is_never_drawn_unasked():
    from kernelgan.kernel_shape import kernel_shape
    from kernelgan.presets.varying import MODES, random_map

    kmap, choice = random_map(np.random.default_rng(2), "camera")
    assert kmap.shape == (3, 3, 11, 11) and choice["mode"] == "camera"
    assert kmap.min() >= 0 and np.allclose(kmap.sum(axis=(2, 3)), 1.0)
    sizes = [kernel_shape(k).size for k in kmap.reshape(9, 11, 11)]
    assert max(sizes) > 1.5 * min(sizes)  # the blocks differ
    drawn = {random_map(np.random.default_rng(seed))[1]["mode"] for seed in range(40)}
    assert drawn == set(MODES)
