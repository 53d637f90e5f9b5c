"""Kernel pools and noise patches (a camera's own degradation): `degrade --kernels POOL`, `noise-patches`,
`degrade --noise-patches`, `train-srmd --kernels`."""

import json

import numpy as np

from conftest import json_lines, natural_image, photo_folder, run_cli
from kernelgan.families import isotropic_gaussian
from kernelgan.io import load_kernel, read_image, save_kernel, write_image
from kernelgan.kernels import analytic_x4, trim_rim
from kernelgan.noise_patches import PatchSettings, flat_patches
from kernelgan.pools import load_pool
from kernelgan.resize import blur_downsample
from kernelgan.sr.srmd_train import TrainSettings, draw_k2, pool_kernels

VARIANCES = (0.4, 0.9, 1.6, 2.5, 3.6)


def _pool(folder):
    folder.mkdir()
    for i, v in enumerate(VARIANCES):
        save_kernel(folder / f"k{i}.npy", isotropic_gaussian(v))
    return folder


def _manifest(folder):
    return {e["image"]: e for e in json.loads((folder / "manifest.json").read_text())["images"]}


def test_pool_draws_are_deterministic_spread_and_exactly_the_named_kernel(tmp_path):
    pool, hr = _pool(tmp_path / "pool"), photo_folder(tmp_path / "hr", 12)
    for out in ("a", "b"):
        assert run_cli("degrade", hr, "-o", tmp_path / out, "--kernels", pool, "-q").exit_code == 0
    a, b = _manifest(tmp_path / "a"), _manifest(tmp_path / "b")
    assert {k: e["kernel"] for k, e in a.items()} == {k: e["kernel"] for k, e in b.items()}
    assert len({e["kernel"] for e in a.values()}) >= 3  # spread over the pool
    for stem, entry in a.items():
        name = entry["kernel"].removeprefix("pool:")
        kernel = load_kernel(pool / name)
        assert np.allclose(load_kernel(tmp_path / "a" / f"{stem}_gt_kernel_x2.npy"), kernel)
        expected = np.round(np.clip(blur_downsample(read_image(hr / f"{stem}.png"), kernel, 2), 0, 1) * 255)
        assert np.abs(read_image(tmp_path / "a" / f"{stem}.png") * 255 - expected).max() <= 1.0
    assert run_cli("degrade", hr, "-o", tmp_path / "c", "--kernels", pool, "--seed", 1, "-q").exit_code == 0
    c = _manifest(tmp_path / "c")
    assert [c[k]["kernel"] for k in sorted(a)] != [a[k]["kernel"] for k in sorted(a)]  # another seed, other draws


def test_x4_uses_the_pool_x4_kernel_or_the_analytic_x4_of_its_x2(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    k2 = isotropic_gaussian(1.0)
    save_kernel(pool / "only.npy", k2)
    hr = photo_folder(tmp_path / "hr", 1, 96, 96)
    assert run_cli("degrade", hr, "-o", tmp_path / "out", "--kernels", pool, "--scale", 4, "-q").exit_code == 0
    assert np.allclose(load_kernel(tmp_path / "out" / "p00_gt_kernel_x4.npy"), trim_rim(analytic_x4(k2)))
    own = isotropic_gaussian(5.0, 21)
    save_kernel(pool / "only_x4.npy", own)
    assert load_pool(pool)[0].kernel(4) is not None and np.allclose(load_pool(pool)[0].kernel(4), own)
    assert len(load_pool(pool)) == 1  # the x4 file belongs to "only", it is not a kernel of its own


def test_an_estimate_folder_is_a_pool_and_low_confidence_estimates_can_be_left_out(tmp_path):
    pool = tmp_path / "est"
    pool.mkdir()
    for stem, low in (("sure", 0.0), ("unsure", 1.0)):
        save_kernel(pool / f"{stem}_kernel_x2.npy", isotropic_gaussian(1.0 + low))
        (pool / f"{stem}.json").write_text(json.dumps({"quality": {"low_confidence": low}}))
    assert [e.name for e in load_pool(pool)] == ["sure_kernel_x2.npy", "unsure_kernel_x2.npy"]
    assert [e.name for e in load_pool(pool, skip_low_confidence=True)] == ["sure_kernel_x2.npy"]


def test_srmd_training_draws_its_kernels_from_the_pool(tmp_path):
    pool = _pool(tmp_path / "pool")
    grid = pool_kernels(str(pool), 15)
    assert grid.shape == (5, 15, 15) and np.allclose(grid.sum(axis=(1, 2)), 1)
    rng = np.random.default_rng(0)
    drawn = [draw_k2(rng, 15, grid) for _ in range(30)]
    assert all(any(np.array_equal(d, g) for g in grid) for d in drawn)
    assert TrainSettings(kernels=str(pool)).kernels == str(pool)


def test_noise_patches_are_flat_zero_mean_and_a_textured_photo_gives_none(tmp_path):
    rng = np.random.default_rng(0)
    flat = np.clip(0.45 + rng.normal(0, 3 / 255, (160, 200, 3)), 0, 1).astype(np.float32)
    flat[:, 100:] = natural_image(160, 100)  # the right half is textured: no patch there
    settings = PatchSettings(size=64)
    patches = flat_patches(flat, settings)
    assert len(patches) >= 2 and all(p.left + 64 <= 100 for p in patches)
    for p in patches:
        assert np.abs(p.noise.mean(axis=(0, 1))).max() < 1e-6 and max(p.variance) < 20
        assert 5 < np.mean(p.variance) < 14  # 3² = 9 on the 8-bit scale
    assert flat_patches(natural_image(160, 200), settings) == []
    write_image(tmp_path / "flat.png", flat)
    write_image(tmp_path / "busy.png", natural_image(160, 200))
    result = run_cli("noise-patches", tmp_path / "flat.png", tmp_path / "busy.png", "-o", tmp_path / "noise",
                     "--size", 64, "--json")
    events = {e["image"].rsplit("/", 1)[-1]: e for e in json_lines(result.output)}
    assert result.exit_code == 0 and events["busy.png"]["patches"] == 0 and events["flat.png"]["patches"] >= 2
    saved = np.load(tmp_path / "noise" / "flat_noise_00.npy")
    assert saved.shape == (64, 64, 3) and np.abs(saved.mean(axis=(0, 1))).max() < 1e-6


def test_noise_patches_are_added_before_jpeg_and_recorded(tmp_path):
    rng = np.random.default_rng(1)
    write_image(tmp_path / "flat.png", np.clip(0.5 + rng.normal(0, 4 / 255, (256, 256, 3)), 0, 1).astype(np.float32))
    assert run_cli("noise-patches", tmp_path / "flat.png", "-o", tmp_path / "noise", "-q").exit_code == 0
    hr = photo_folder(tmp_path / "hr", 2, 128, 160)
    for out, extra in (("clean", []), ("noisy", ["--noise-patches", tmp_path / "noise"])):
        assert run_cli("degrade", hr, "-o", tmp_path / out, "-q", *extra).exit_code == 0
    entry = _manifest(tmp_path / "noisy")["p00"]
    assert entry["noise_patch"]["file"].startswith("flat_noise_") and {"op": "noise", "kind": "patch"} in entry["choices"]
    diff = read_image(tmp_path / "noisy" / "p00.png") - read_image(tmp_path / "clean" / "p00.png")
    assert 2.5 < diff.std() * 255 < 5.5 and abs(diff.mean()) * 255 < 0.5


def test_bad_pools_and_patch_folders_give_one_line_and_write_nothing(tmp_path):
    hr = photo_folder(tmp_path / "hr", 1, 128, 160)
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "k.npy", np.full((5, 5), np.nan))
    cases = [("--kernels", tmp_path / "empty", "no kernels in the pool"),
             ("--kernels", bad, "NaN"),
             ("--kernels", tmp_path / "missing", "no such kernel-pool folder"),
             ("--noise-patches", tmp_path / "empty", "no noise patches")]
    for option, folder, message in cases:
        result = run_cli("degrade", hr, "-o", tmp_path / "out", option, folder)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    rng = np.random.default_rng(2)
    write_image(tmp_path / "flat.png", np.clip(0.5 + rng.normal(0, 3 / 255, (64, 64, 3)), 0, 1).astype(np.float32))
    assert run_cli("noise-patches", tmp_path / "flat.png", "-o", tmp_path / "small", "--size", 32, "-q").exit_code == 0
    result = run_cli("degrade", hr, "-o", tmp_path / "out2", "--noise-patches", tmp_path / "small")
    assert result.exit_code == 1 and "smaller than its LR (80x64)" in result.output
    assert not list((tmp_path / "out2").glob("*.png"))


def test_the_report_compares_estimates_as_a_pool_with_the_truth_and_an_image_blind_pool(tmp_path):
    hr = photo_folder(tmp_path / "hr", 4, 192, 192)
    assert run_cli("degrade", hr, "-o", tmp_path / "lr", "-q").exit_code == 0
    assert run_cli("estimate", tmp_path / "lr", "-o", tmp_path / "est", "-q").exit_code == 0
    assert run_cli("report", tmp_path / "est", "--gt", tmp_path / "lr").exit_code == 0
    page = (tmp_path / "est" / "report.html").read_text()
    assert "As a kernel pool" in page and "fixed kernel (image-blind)" in page and "KS statistic" in page
