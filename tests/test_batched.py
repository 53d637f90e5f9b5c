"""The batched trainer and ``estimate --batch``: each run is the single-run trainer's run; a bad image fails alone."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import natural_image
from kernelgan.errors import InputError
from kernelgan.estimator import EstimatorConfig
from kernelgan.estimator.api import estimate_kernels
from kernelgan.estimator.batched import BatchedSchedule, train_kernels
from kernelgan.estimator.schedule import Schedule
from kernelgan.estimator.train import early_prior_kernel, train_kernel
from kernelgan.io import write_image
from kernelgan_cli.app import app

CPU = torch.device("cpu")


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(a).max())


@pytest.mark.parametrize("steps, tolerance", [(1, 1e-4), (2, 5e-2)])
def test_each_batched_run_is_the_single_run(steps, tolerance, device=CPU):
    """Two images of other sizes, two seeds. After one step the runs agree to float rounding; training
    amplifies rounding fast (Adam's first steps follow the gradients' signs: a 1e-7 change of the input moves
    the single-run trainer's own kernel by 0.5% within 5 steps, README), hence the looser bound at 2 steps
    (3 steps gave 3.5% on another machine's CPU); a wrong D update would show from step 2 on."""
    images = [natural_image(96, 128, seed=1), natural_image(112, 100, seed=2)]
    config = EstimatorConfig(iters=steps)
    targets = [early_prior_kernel(im, config)[0] for im in images]
    kernels, tails = train_kernels(images, [3, 11], config, device, targets)
    for image, seed, target, kernel, tail in zip(images, [3, 11], targets, kernels, tails, strict=True):
        single, single_tail = train_kernel(image, config, seed, device, target=target)
        assert relative_error(single, kernel) < tolerance
        assert tail["d"] == pytest.approx(single_tail["d"], rel=tolerance)
    assert relative_error(kernels[0], kernels[1]) > 0.2  # the runs really are different runs


def test_batched_schedule_follows_the_single_schedule():
    config = EstimatorConfig(bicubic_decay_every=5)
    rng = np.random.default_rng(0)
    losses = np.abs(rng.normal(0.3, 0.2, size=(60, 3)))
    losses[:, 2] = 1.0  # one run never starts decaying
    singles = [Schedule(config) for _ in range(3)]
    batched = BatchedSchedule(config, 3, CPU)
    for step, row in enumerate(losses, start=1):
        for schedule, loss in zip(singles, row, strict=True):
            schedule.update(step, float(loss))
        batched.update(step, torch.tensor(row, dtype=torch.float32))
        np.testing.assert_allclose(batched.lambda_bicubic.numpy(), [s.lambda_bicubic for s in singles], rtol=1e-12)
        np.testing.assert_array_equal(batched.lambda_sparse.numpy(), [s.lambda_sparse for s in singles])
    assert singles[0].lambda_bicubic < config.lambda_bicubic and singles[2].lambda_bicubic == config.lambda_bicubic


def test_an_unusable_image_fails_alone_in_a_batch():
    images = [natural_image(96, 128, seed=1), natural_image(40, 40, seed=2), natural_image(100, 96, seed=3)]
    results = estimate_kernels(images, config=EstimatorConfig(iters=20), seed=0, device="cpu")
    assert isinstance(results[1], InputError) and "40x40" in str(results[1])
    for r in (results[0], results[2]):
        assert not isinstance(r, Exception)
        assert np.isclose(r.kernel_x2.sum(), 1) and r.attempts[-1]["rejected"] is None


def test_estimate_batch_cli(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_image(d / f"p{i}.png", natural_image(96, 128, seed=i))
    (d / "broken.png").write_bytes(b"not an image")
    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["estimate", str(d), "-o", str(out), "-e", "kernelgan", "--iters", "20", "--batch", "4",
                            "--device", "cpu", "--json"])
    assert r.exit_code == 1
    assert "broken.png" in r.output and r.output.count('"status": "ok"') == 3
    for i in range(3):
        assert (out / f"p{i}_kernel_x2.npy").exists() and (out / f"p{i}.json").exists()
    r = runner.invoke(app, ["estimate", str(d), "-o", str(out), "--batch", "2", "--jobs", "2"])
    assert r.exit_code != 0 and "--batch" in r.output
