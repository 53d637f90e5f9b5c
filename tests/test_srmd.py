"""SRMD backend: kernel PCA, network, shipped weights, training command."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SAMPLES, SHARED_DATA, natural_image, photo_folder, shared
from kernelgan.errors import InputError
from kernelgan.io import load_kernel, read_image
from kernelgan.kernels import random_kernel
from kernelgan.metrics import psnr_y
from kernelgan.sr import get_backend
from kernelgan.sr.kernel_pca import GRID, family_kernels, fit_pca, to_grid
from kernelgan.sr.srmd import SRMDNet, SRMDShape, SRMDWeights, shipped_weights, super_resolve
from kernelgan.sr.srmd_train import Photos, TrainSettings, train_srmd
from kernelgan.synth import degrade
from kernelgan_cli.app import app

runner = CliRunner()


def relative_error(pca, kernels):
    errors = [np.linalg.norm(pca.reconstruct(pca.project(k)) - to_grid(k)) / np.linalg.norm(to_grid(k)) for k in kernels]
    return float(np.mean(errors))


def test_pca_basis_is_orthonormal_and_reconstructs_family_kernels():
    pca = fit_pca(family_kernels(np.random.default_rng(0), 2000), 15)
    assert np.allclose(pca.basis @ pca.basis.T, np.eye(15), atol=1e-10)
    fresh = family_kernels(np.random.default_rng(1), 50)
    assert relative_error(pca, fresh) < 0.15
    # far fewer components reconstruct clearly worse: the test can tell a good basis from a poor one
    poor = fit_pca(family_kernels(np.random.default_rng(0), 2000), 2)
    assert relative_error(poor, fresh) > 1.5 * relative_error(pca, fresh)


def test_projection_accepts_any_size_and_centring():
    pca = fit_pca(family_kernels(np.random.default_rng(0), 500), 15)
    k = random_kernel(np.random.default_rng(3), size=11)
    wide = np.pad(k, 4)  # the same kernel on a 19x19 grid
    shifted = np.roll(k, 1, axis=1)  # centred half a pixel elsewhere: centring undoes it
    assert pca.project(k).shape == (15,)
    assert np.allclose(pca.project(k), pca.project(wide), atol=1e-5)
    assert np.abs(pca.project(k) - pca.project(shifted)).max() < 0.25 * np.abs(pca.project(k)).max()


def test_network_shapes():
    for scale in (2, 4):
        net = SRMDNet(SRMDShape(scale=scale, channels=8))
        out = net(torch.rand(2, 3, 10, 12), torch.zeros(2, 16))
        assert out.shape == (2, 3, 10 * scale, 12 * scale)


@pytest.mark.parametrize("kind", ["classical", "real"])
def test_shipped_weights_exist_are_small_and_record_their_training(kind):
    for scale in (2, 4):
        path = shipped_weights(scale, kind)
        assert path.stat().st_size < 10 * 2 ** 20
        w = SRMDWeights.load(path)
        assert w.net.shape.scale == scale and w.pca.dims == 15 and w.pca.size == GRID
        assert w.settings["val_history"]
        assert w.settings.get("preset", "classical") == ("classical" if kind == "classical" else "mix")
        assert_trained_on_bsd100_and_set14_only(w.settings["train_photos"] + w.settings["val_photos"])


def assert_trained_on_bsd100_and_set14_only(names: list[str]) -> None:
    """The recorded photo names are BSD100/Set14 files: never DIV2KRK (im_N.png) or Set5; with ../shared/data
    present, each name must be one of those folders' files."""
    import re

    set5 = {"baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"}
    assert names and not [n for n in names if re.fullmatch(r"im_\d+\.png", n) or n in set5]
    if SHARED_DATA.is_dir():
        allowed = {p.name for d in ("BSD100", "Set14") for p in (SHARED_DATA / d).glob("*.png")}
        assert set(names) <= allowed


def test_shipped_prior_weights_record_their_training():
    from kernelgan.estimator.prior import PriorWeights, shipped_weights_path
    from kernelgan.estimator.prior_train import PriorTrainSettings

    for name in ("prior", "prior_sharp", "software"):
        w = PriorWeights.load(shipped_weights_path(name))
        assert len(w.settings["history"]) == w.settings["epochs"]
        assert_trained_on_bsd100_and_set14_only(w.settings["train_photos"] + w.settings["held_out_photos"])
    assert PriorWeights.load(shipped_weights_path("software")).shape.software_head
    # the default weights are what `train-prior` makes at its defaults (softened copies of the photos included)
    assert tuple(PriorWeights.load(shipped_weights_path("prior")).settings["pre_scales"]) == PriorTrainSettings().pre_scales


def test_shipped_basis_reconstructs_div2krk_style_kernels():
    pca = SRMDWeights.load(shipped_weights(2)).pca
    div2krk_like = [random_kernel(np.random.default_rng(i), size=11) for i in range(30)]
    assert relative_error(pca, div2krk_like) < 0.15


def _synthetic_case(scale):
    hr = read_image(SAMPLES / "hr" / "zebra.png")[:128, :160]
    k = random_kernel(np.random.default_rng(4))
    lr, _ = degrade(hr, scale, k2=k)
    return hr[: lr.shape[0] * scale, : lr.shape[1] * scale], lr, k


@pytest.mark.parametrize("scale", [2, 4])
def test_shipped_weights_beat_bicubic_with_the_true_kernel(scale):
    hr, lr, k = _synthetic_case(scale)
    sr = get_backend("srmd").upscale(lr, k, scale)
    assert sr.shape == hr.shape and sr.dtype == np.float32 and 0 <= sr.min() and sr.max() <= 1
    bicubic = psnr_y(get_backend("bicubic").upscale(lr, k, scale), hr, scale)
    trained = psnr_y(sr, hr, scale)
    assert trained > bicubic + 2.0  # measured: +7.1 dB at x2, +4.2 dB at x4
    # the same network with untrained weights does not: the gain comes from the shipped weights
    shipped = SRMDWeights.load(shipped_weights(scale))
    torch.manual_seed(0)
    untrained = replace(shipped, net=SRMDNet(shipped.net.shape).eval())
    assert psnr_y(super_resolve(untrained, lr, k, 0.0, torch.device("cpu")), hr, scale) < trained - 0.5


def test_srmd_uses_the_kernel():
    hr, lr, k = _synthetic_case(2)
    right = psnr_y(get_backend("srmd").upscale(lr, k, 2), hr, 2)
    sharp = np.zeros((11, 11))
    sharp[5:7, 5:7] = 0.25  # a near-delta kernel: the network should sharpen less than needed
    assert right > psnr_y(get_backend("srmd").upscale(lr, sharp, 2), hr, 2) + 0.3


def test_srmd_true_kernel_on_a_div2krk_crop():
    lr = read_image(shared("DIV2KRK", "lr_x2", "im_3.png"))[100:228, 200:328]
    hr = read_image(shared("DIV2KRK", "gt", "im_3.png"))[200:456, 400:656]
    k = load_kernel(shared("DIV2KRK", "gt_k_x2", "kernel_3.mat"))
    assert psnr_y(get_backend("srmd").upscale(lr, k, 2), hr, 2) > psnr_y(get_backend("bicubic").upscale(lr, k, 2), hr, 2) + 1


def test_srmd_bad_input(tmp_path):
    lr = natural_image(20, 20)
    k = random_kernel(np.random.default_rng(0))
    srmd = get_backend("srmd")
    with pytest.raises(InputError, match="noise"):
        srmd.upscale(lr, k, 2, noise=60)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not usable SRMD weights"):
        srmd.upscale(lr, k, 2, weights=tmp_path / "junk.pt")
    with pytest.raises(InputError, match="x2, not x4"):
        srmd.upscale(lr, k, 4, weights=shipped_weights(2))
    with pytest.raises(InputError, match="not found"):
        srmd.upscale(lr, k, 2, weights=tmp_path / "missing.pt")


def test_sr_cli_with_srmd(tmp_path):
    k = SAMPLES / "zebra_gt_kernel_x2.npy"
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), "--kernel", str(k), "--backend", "srmd", "-o",
                            str(tmp_path), "--noise", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "zebra_x2_srmd.png").shape == (390, 586, 3)
    r = runner.invoke(app, ["sr", str(SAMPLES / "zebra.png"), "--kernel", str(k), "--backend", "srmd", "-o",
                            str(tmp_path), "--weights", str(tmp_path / "none.pt")])
    assert r.exit_code == 2 and "no such file" in r.output and r.output.strip().count("\n") == 0


TINY = TrainSettings(channels=8, steps=4, batch=2, patch=8, pca_kernels=300, val_every=2, val_crop=16)


def _photos():
    imgs = [natural_image(48, 56, seed=i) for i in range(4)]
    return Photos(imgs[:3], imgs[3:], {"train": ["a", "b", "c"], "val": ["d"]})


def _weights(path):
    return {k: v.clone() for k, v in SRMDWeights.load(path).net.state_dict().items()}


def test_training_is_deterministic_and_resume_continues_exactly(tmp_path):
    events = []
    train_srmd(_photos(), TINY, tmp_path / "a.pt", False, torch.device("cpu"), events.append)
    train_srmd(_photos(), TINY, tmp_path / "b.pt", False, torch.device("cpu"), lambda e: None)

    def interrupt(event):  # Ctrl-C during step 3, after the step-2 checkpoint
        if event["event"] == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_srmd(_photos(), TINY, tmp_path / "c.pt", False, torch.device("cpu"), interrupt)
    assert not (tmp_path / "c.pt").exists()
    train_srmd(_photos(), TINY, tmp_path / "c.pt", True, torch.device("cpu"), lambda e: None)
    a, b, c = (_weights(tmp_path / f"{n}.pt") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a[k], c[k]) for k in a)
    assert [e["step"] for e in events if e["event"] == "validation"] == [2, 4]
    assert SRMDWeights.load(tmp_path / "a.pt").settings["val_history"][-1][0] == 4
    with pytest.raises(InputError, match="channels"):
        train_srmd(_photos(), replace(TINY, channels=4), tmp_path / "c.pt", True, torch.device("cpu"), lambda e: None)


def test_widened_weights_compute_the_same_and_train_apart(tmp_path):
    train_srmd(_photos(), TINY, tmp_path / "narrow.pt", False, torch.device("cpu"), lambda e: None)
    narrow = SRMDWeights.load(tmp_path / "narrow.pt")
    wide = narrow.widened(20)
    assert wide.net.shape == replace(narrow.net.shape, channels=20)
    lr, cond = torch.rand(2, 3, 12, 12), torch.randn(2, narrow.net.shape.pca_dims + 1)
    with torch.no_grad():
        assert torch.allclose(wide.net(lr, cond), narrow.net(lr, cond), atol=1e-5)
    with pytest.raises(InputError, match="narrowed"):
        narrow.widened(4)
    # --init with narrower weights widens them; the copies of a channel then learn different filters
    train_srmd(_photos(), replace(TINY, channels=16, init=str(tmp_path / "narrow.pt")), tmp_path / "wide.pt", False,
               torch.device("cpu"), lambda e: None)
    first = SRMDWeights.load(tmp_path / "wide.pt").net.convs[0].weight.detach()
    assert first.shape[0] == 16 and not torch.allclose(first[:8], first[8:])
    with pytest.raises(InputError, match="shape"):
        train_srmd(_photos(), replace(TINY, layers=6, init=str(tmp_path / "narrow.pt")), tmp_path / "x.pt", False,
                   torch.device("cpu"), lambda e: None)


def test_train_srmd_cli(tmp_path):
    photos = photo_folder(tmp_path / "photos", 10, 48, 48)
    weights = tmp_path / "w.pt"
    args = ["train-srmd", str(photos), "-o", str(weights), "--steps", "2", "--channels", "4", "--batch", "2",
            "--patch", "8", "--val-every", "1", "--json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.output.splitlines()]
    assert [e["event"] for e in events] == ["validation", "validation", "done"]
    assert get_backend("srmd").upscale(natural_image(12, 12), np.ones((3, 3)) / 9, 2, weights=weights).shape == (24, 24, 3)
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(app, ["train-srmd", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.pt")])
    assert r.exit_code == 2 and "Traceback" not in r.output
