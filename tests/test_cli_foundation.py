import json

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SAMPLES, natural_image, shared
from kernelgan.io import load_kernel, read_image, save_kernel, write_image
from kernelgan.kernels import analytic_x4
from kernelgan_cli.app import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> bool:
    text = result.output.strip()
    return result.exit_code != 0 and "Traceback" not in text and text.count("\n") == 0 and "error" in text


@pytest.fixture()
def hr_dir(tmp_path):
    d = tmp_path / "hr"
    d.mkdir()
    write_image(d / "a.png", natural_image(61, 83, seed=1))
    write_image(d / "b.png", natural_image(64, 64, seed=2))
    return d


def test_degrade_writes_lr_kernels_and_manifest(tmp_path, hr_dir):
    out = tmp_path / "lr"
    result = run("degrade", hr_dir, "-o", out, "--seed", "5", "--quiet")
    assert result.exit_code == 0, result.output
    lr = read_image(out / "a.png")
    assert lr.shape == (30, 41, 3)  # HR cropped to 60x82 first
    k = load_kernel(out / "a_gt_kernel_x2.npy")
    np.testing.assert_allclose(k, load_kernel(out / "a_gt_kernel_x2.mat"), rtol=1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["image"] for e in manifest["images"]] == ["a", "b"]
    assert manifest["images"][0]["seed"] == 5 and manifest["images"][0]["lr_size"] == [41, 30]
    # deterministic per seed; a rerun with the same input and settings is skipped, with others it is refused
    # without --force
    again = run("degrade", hr_dir, "-o", out, "--seed", "5", "--json")
    assert again.exit_code == 0 and {json.loads(x)["status"] for x in again.output.splitlines()} == {"skipped"}
    changed = run("degrade", hr_dir, "-o", out, "--seed", "7", "--quiet")
    assert changed.exit_code == 1 and "exists" in changed.output
    assert run("degrade", hr_dir, "-o", out, "--seed", "5", "--quiet", "--force").exit_code == 0
    np.testing.assert_array_equal(load_kernel(out / "a_gt_kernel_x2.npy"), k)
    other = tmp_path / "other"
    run("degrade", hr_dir, "-o", other, "--seed", "6", "--quiet")
    assert not np.allclose(load_kernel(other / "a_gt_kernel_x2.npy"), k)


def test_degrade_x4_applies_the_x2_kernel_twice(tmp_path, hr_dir):
    out = tmp_path / "lr4"
    assert run("degrade", hr_dir / "b.png", "-o", out, "--scale", "4", "--quiet").exit_code == 0
    x2 = tmp_path / "lr2"
    run("degrade", hr_dir / "b.png", "-o", x2, "--scale", "2", "--quiet")
    k2 = load_kernel(x2 / "b_gt_kernel_x2.npy")
    np.testing.assert_allclose(load_kernel(out / "b_gt_kernel_x4.npy"), analytic_x4(k2), atol=1e-6)
    assert read_image(out / "b.png").shape == (16, 16, 3)


def test_degrade_with_kernel_file(tmp_path, hr_dir):
    k = np.zeros((5, 5))
    k[2, 2] = 1.0
    save_kernel(tmp_path / "delta.npy", k)
    out = tmp_path / "o"
    assert run("degrade", hr_dir / "b.png", "-o", out, "--kernel", tmp_path / "delta.npy", "-q").exit_code == 0
    hr = read_image(hr_dir / "b.png")
    np.testing.assert_allclose(read_image(out / "b.png"), hr[::2, ::2], atol=1 / 255)


def test_degrade_bad_inputs(tmp_path, hr_dir):
    assert one_line_error(run("degrade", hr_dir, "-o", tmp_path / "o", "--scale", "3"))
    np.save(tmp_path / "bad.npy", np.ones((2, 2, 2)))
    assert one_line_error(run("degrade", hr_dir, "-o", tmp_path / "o", "--kernel", tmp_path / "bad.npy"))
    np.save(tmp_path / "neg.npy", -np.ones((3, 3)))
    assert one_line_error(run("degrade", hr_dir, "-o", tmp_path / "o", "--kernel", tmp_path / "neg.npy"))
    (hr_dir / "zero.png").write_bytes(b"")
    result = run("degrade", hr_dir, "-o", tmp_path / "o", "-q")  # batch goes on past the bad file
    assert result.exit_code == 1 and "zero.png" in result.output
    assert (tmp_path / "o" / "a.png").exists() and (tmp_path / "o" / "b.png").exists()


def test_eval_true_kernels_against_themselves_and_floor(tmp_path):
    result = run("eval", "--est", SAMPLES, "--gt", SAMPLES, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["images"]) == 3
    assert data["summary"]["estimate"]["kernel_psnr"] == 100.0
    assert data["summary"]["bicubic"]["kernel_psnr"] < 45


def test_eval_table_csv_and_redegradation(tmp_path):
    est = tmp_path / "est"
    est.mkdir()
    k = load_kernel(SAMPLES / "zebra_gt_kernel_x2.npy")
    noisy = np.clip(k + 0.002 * np.random.default_rng(0).standard_normal(k.shape), 0, None)
    save_kernel(est / "zebra_kernel_x2.npy", noisy)
    result = run("eval", "--est", est, "--gt", SAMPLES, "--hr", SAMPLES / "hr", "--csv", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    assert "zebra" in result.output and "floor" in result.output and "re-degr" in result.output
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0].startswith("image,row,kernel_psnr") and lines[1].startswith("zebra,estimate,")
    assert [line.split(",")[1] for line in lines[1:]] == ["estimate", "bicubic", "fixed", "true"]
    data = json.loads(run("eval", "--est", est, "--gt", SAMPLES, "--hr", SAMPLES / "hr", "--json").output)
    rows = data["images"][0]["rows"]
    assert rows["estimate"]["kernel_psnr"] > rows["bicubic"]["kernel_psnr"]
    assert rows["estimate"]["redeg_psnr"] > rows["bicubic"]["redeg_psnr"]


def test_eval_bad_inputs(tmp_path):
    assert one_line_error(run("eval", "--est", tmp_path / "nope", "--gt", SAMPLES))
    (tmp_path / "e").mkdir()
    assert one_line_error(run("eval", "--est", tmp_path / "e", "--gt", SAMPLES))
    (tmp_path / "e" / "zebra_kernel_x2.npy").write_bytes(b"garbage")
    result = run("eval", "--est", tmp_path / "e", "--gt", SAMPLES)  # a malformed file is a failed row
    assert result.exit_code == 1 and "zebra" in result.output and "Traceback" not in result.output
    assert one_line_error(run("eval", "--est", SAMPLES, "--gt", SAMPLES, "--scale", "5"))


def test_eval_div2krk_true_kernels_score_maximum():
    gt = shared("DIV2KRK", "gt_k_x2")
    data = json.loads(run("eval", "--est", gt, "--gt", gt, "--json").output)
    assert len(data["images"]) == 100
    assert all(r["rows"]["estimate"]["kernel_psnr"] == 100.0 for r in data["images"])
    assert data["summary"]["bicubic"]["kernel_psnr"] < 40
    assert 47 < data["summary"]["fixed"]["kernel_psnr"] < 49  # DIV2KRK's fixed Gaussian, fitted on its generator only


def test_degrade_normalises_a_kernel_with_a_warning_and_writes_the_normalised_truth(tmp_path, hr_dir):
    np.save(tmp_path / "big.npy", np.ones((3, 3)))
    out = tmp_path / "o"
    result = run("degrade", hr_dir / "b.png", "-o", out, "--kernel", tmp_path / "big.npy", "-q")
    assert result.exit_code == 0 and "warning" in result.output and "normalised" in result.output
    assert load_kernel(out / "b_gt_kernel_x2.npy").sum() == pytest.approx(1.0, abs=1e-6)


def test_train_prior_rejects_bad_pre_scales_in_one_line(tmp_path, hr_dir):
    for d in range(10):  # enough photos to get past the count check
        write_image(hr_dir / f"p{d}.png", natural_image(64, 64, seed=10 + d))
    for bad in ("x", "0.01", ""):
        result = run("train-prior", hr_dir, "-o", tmp_path / "w.pt", "--pre-scales", bad)
        assert one_line_error(result) and "--pre-scales" in result.output
    assert not (tmp_path / "w.pt").exists()


def test_train_prior_can_start_from_weights(tmp_path, hr_dir):
    from kernelgan.estimator.prior import PriorWeights

    for d in range(10):
        write_image(hr_dir / f"p{d}.png", natural_image(160, 160, seed=20 + d))
    args = ["train-prior", str(hr_dir), "--samples", "300", "--epochs", "1", "-q", "--pre-scales", "1"]
    assert run(*args, "-o", str(tmp_path / "a.pt")).exit_code == 0
    tuned = run(*args, "-o", str(tmp_path / "b.pt"), "--init", str(tmp_path / "a.pt"), "--lr", "1e-5",
                "--recipe", "camera-cfa")
    assert tuned.exit_code == 0, tuned.output
    a, b = PriorWeights.load(tmp_path / "a.pt"), PriorWeights.load(tmp_path / "b.pt")
    assert b.settings["init"] == "a.pt" and b.settings["demosaic_p"] == 0.2
    # two Adam steps at a small learning rate move it a little from its start (a fresh network would be far off)
    drift = max(float((a.state[k] - b.state[k]).abs().max()) for k in a.state)
    assert 0 < drift < 1e-3
    # a 13x13 start is widened for a recipe with a larger grid
    wide = run(*args, "-o", str(tmp_path / "w.pt"), "--init", str(tmp_path / "a.pt"), "--recipe", "camera-wide")
    assert wide.exit_code == 0, wide.output
    w = PriorWeights.load(tmp_path / "w.pt")
    assert a.shape.kernel_size == 13 and w.shape.kernel_size == 19 and w.settings["widened_from"] == 13
    missing = run(*args, "-o", str(tmp_path / "c.pt"), "--init", str(tmp_path / "none.pt"))
    assert missing.exit_code != 0 and "none.pt" in missing.output
